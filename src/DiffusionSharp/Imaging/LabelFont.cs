using SkiaSharp;

namespace DiffusionSharp.Imaging;

/// <summary>
/// The typeface for labels in pictures. SkiaSharp.NativeAssets.Linux.NoDependencies does not use fontconfig: it scans
/// /usr/share/fonts itself, so on Linux a TrueType font must be installed there (Debian/Ubuntu: <c>fonts-dejavu-core</c>).
/// Without one, text is left out of the pictures rather than failing the run.
/// </summary>
internal static class LabelFont
{
    private static readonly string[] Preferred = ["DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica", "Segoe UI"];

    private static readonly Lazy<SKTypeface?> Found = new(Find);

    /// <summary>A sans-serif typeface with glyphs, or null when the machine has no usable font.</summary>
    public static SKTypeface? Typeface => Found.Value;

    private static SKTypeface? Find()
    {
        var manager = SKFontManager.Default;
        foreach (var family in Preferred)
        {
            var typeface = manager.MatchFamily(family);
            if (typeface is not null && typeface.GlyphCount > 0 && typeface.FamilyName == family) return typeface;
            typeface?.Dispose();
        }
        if (SKTypeface.Default.GlyphCount > 0) return SKTypeface.Default;
        foreach (var family in manager.FontFamilies)
        {
            var typeface = manager.MatchFamily(family);
            if (typeface is not null && typeface.GlyphCount > 0) return typeface;
            typeface?.Dispose();
        }
        return null;
    }
}
