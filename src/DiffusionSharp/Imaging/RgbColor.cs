using System.Globalization;

namespace DiffusionSharp.Imaging;

/// <summary>An opaque 8-bit sRGB colour: the background transparent images are composited onto.</summary>
/// <param name="R">Red, 0..255.</param>
/// <param name="G">Green, 0..255.</param>
/// <param name="B">Blue, 0..255.</param>
public readonly record struct RgbColor(byte R, byte G, byte B)
{
    /// <summary>(255, 255, 255): the background of the bundled emoji and of most icon sets.</summary>
    public static RgbColor White { get; } = new(255, 255, 255);

    /// <summary>(0, 0, 0).</summary>
    public static RgbColor Black { get; } = new(0, 0, 0);

    /// <summary>
    /// Reads <c>white</c>, <c>black</c>, <c>gray</c> (128, 128, 128) or a hex triplet <c>#RRGGBB</c> (the <c>#</c> optional),
    /// case-insensitive.
    /// </summary>
    /// <param name="text">The colour as a user wrote it.</param>
    /// <param name="property">The <c>Type.Member</c> the text was given for; the error message starts with its member name.</param>
    /// <exception cref="InvalidInputException">Anything else.</exception>
    public static RgbColor Parse(string text, string property)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(property);
        switch (text.Trim().ToLowerInvariant())
        {
            case "white": return White;
            case "black": return Black;
            case "gray" or "grey": return new(128, 128, 128);
        }
        var hex = text.Trim().TrimStart('#');
        if (hex.Length == 6 && uint.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint v))
            return new((byte)(v >> 16), (byte)(v >> 8), (byte)v);
        throw new InvalidInputException(
            $"{InvalidInputException.MemberOf(property)}: '{text}' is not a colour (expected white, black, gray or #RRGGBB)", property);
    }

    /// <summary>The colour as <c>#rrggbb</c>, which <see cref="Parse"/> reads back.</summary>
    public override string ToString() => $"#{R:x2}{G:x2}{B:x2}";
}
