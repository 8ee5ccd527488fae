using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace DiffusionSharp.Text;

/// <summary>
/// The text cleaning CLIP's tokenizer applies before BPE (openai/CLIP <c>simple_tokenizer.py</c>:
/// <c>whitespace_clean(basic_clean(text)).lower()</c>), without the Python ftfy package: the ftfy fixes that change
/// prompts in practice are done here (UTF-8 read as Windows-1252, C1 controls, Latin ligatures, full-width letters, curly
/// quotes, control characters, NFC), then HTML entities are unescaped twice, whitespace runs become one space, and the text
/// is lower-cased with Python's full case mapping.
/// </summary>
/// <remarks>
/// ftfy's mojibake repair is a scored search over many encodings; here only the common case is repaired: a run of
/// characters whose Windows-1252 (or Latin-1) bytes form complete, valid multi-byte UTF-8 sequences. transformers'
/// <c>CLIPTokenizer</c> without ftfy cleans less (no ftfy fixes, no HTML unescaping, spaces around CJK ideographs) and so
/// gives other ids than openai's tokenizer for such strings; this cleaner follows openai (what the golden ids are).
/// </remarks>
public static partial class ClipTextCleaner
{
    private static readonly Encoding Windows1252 = CodePagesEncodingProvider.Instance.GetEncoding(1252)
        ?? throw new InvalidOperationException("the Windows-1252 code page is not available");

    /// <summary>Char to byte for the 256 byte values read as "sloppy" Windows-1252 (undefined bytes read as C1 controls, as ftfy does).</summary>
    private static readonly Dictionary<char, byte> SloppyBytes = BuildSloppyBytes();

    /// <summary>Cleans one prompt the way CLIP's tokenizer does before splitting it into words.</summary>
    /// <param name="text">Any string; null is refused.</param>
    /// <returns>The cleaned, lower-cased text, without leading or trailing whitespace.</returns>
    public static string Clean(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = FixMojibake(text);
        s = FixCharacters(s).Normalize(NormalizationForm.FormC);
        // openai's basic_clean: html.unescape twice ("&amp;amp;" -> "&"), then strip.
        s = WebUtility.HtmlDecode(WebUtility.HtmlDecode(s));
        s = PythonWhitespace().Replace(s, " ").Trim(' ');
        // Python's str.lower() uses the full mapping: U+0130 (I with dot above) becomes "i" + combining dot above.
        return s.Replace("\u0130", "i\u0307", StringComparison.Ordinal).ToLowerInvariant();
    }

    /// <summary>Python's <c>\s</c> for str patterns: .NET's <c>\s</c> plus U+001C..U+001F, which Python counts as whitespace.</summary>
    [GeneratedRegex(@"[\s\x1C-\x1F]+")]
    private static partial Regex PythonWhitespace();

    /// <summary>ftfy's character fixes that are plain substitutions.</summary>
    private static string FixCharacters(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var c in s)
        {
            switch (c)
            {
                // fix_c1_controls: a C1 control left over is a Windows-1252 byte decoded as Latin-1.
                case >= '\u0080' and <= '\u009F':
                    sb.Append(Windows1252.GetString([(byte)c]) is [var w] && w != '?' ? w : c);
                    break;
                // uncurl_quotes: U+02BC and U+2018..U+201B become ', U+201C..U+201F become ".
                case '\u02BC' or (>= '\u2018' and <= '\u201B'):
                    sb.Append('\'');
                    break;
                case >= '\u201C' and <= '\u201F':
                    sb.Append('"');
                    break;
                // fix_latin_ligatures (ff, fi, fl, ffi, ffl, long st, st; IJ, ij, 'n, DZ/LJ/NJ digraphs): their NFKC form.
                case (>= '\uFB00' and <= '\uFB06') or '\u0132' or '\u0133' or '\u0149' or (>= '\u01C4' and <= '\u01CC'):
                    sb.Append(c.ToString().Normalize(NormalizationForm.FormKC));
                    break;
                // fix_character_width: full-width and half-width forms become their NFKC form; the ideographic space a space.
                case >= '\uFF01' and <= '\uFFEF':
                    sb.Append(c.ToString().Normalize(NormalizationForm.FormKC));
                    break;
                case '\u3000':
                    sb.Append(' ');
                    break;
                // remove_control_chars (the BMP part of ftfy's table): C0 controls other than tab/newline/form feed/CR, DEL,
                // deprecated format characters, the byte-order mark, interlinear annotation and object replacement characters.
                case (<= '\u0008') or '\u000B' or (>= '\u000E' and <= '\u001F') or '\u007F' or (>= '\u206A' and <= '\u206F')
                    or '\uFEFF' or (>= '\uFFF9' and <= '\uFFFC'):
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }
        return sb.ToString();
    }

    /// <summary>
    /// Re-decodes each run of characters that are UTF-8 bytes shown as Windows-1252 or Latin-1 ("cafÃ©" -> "café"): a run
    /// starts at a lead byte (0xC2..0xF4) and is replaced only when it forms one valid UTF-8 sequence.
    /// </summary>
    private static string FixMojibake(string s)
    {
        StringBuilder? sb = null;
        var i = 0;
        var copied = 0;
        while (i < s.Length)
        {
            if (SloppyBytes.TryGetValue(s[i], out var lead) && lead is >= 0xC2 and <= 0xF4)
            {
                var need = lead switch { <= 0xDF => 1, <= 0xEF => 2, _ => 3 };
                if (i + need < s.Length && TryDecode(s, i, need, lead, out var decoded))
                {
                    sb ??= new StringBuilder(s.Length);
                    sb.Append(s, copied, i - copied).Append(decoded);
                    i += need + 1;
                    copied = i;
                    continue;
                }
            }
            i++;
        }
        return sb is null ? s : sb.Append(s, copied, s.Length - copied).ToString();
    }

    private static bool TryDecode(string s, int start, int need, byte lead, out string decoded)
    {
        decoded = "";
        Span<byte> bytes = stackalloc byte[4];
        bytes[0] = lead;
        for (var k = 1; k <= need; k++)
        {
            if (!SloppyBytes.TryGetValue(s[start + k], out var b) || b is < 0x80 or > 0xBF) return false;
            bytes[k] = b;
        }
        try
        {
            decoded = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes[..(need + 1)]);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private static Dictionary<char, byte> BuildSloppyBytes()
    {
        var map = new Dictionary<char, byte>();
        for (var b = 0x80; b <= 0xFF; b++)
        {
            // Latin-1 reading: every byte is the code point of the same value.
            map[(char)b] = (byte)b;
        }
        var strict = (Encoding)Windows1252.Clone();
        strict.DecoderFallback = DecoderFallback.ExceptionFallback;
        for (var b = 0x80; b <= 0x9F; b++)
        {
            try { map[strict.GetString([(byte)b])[0]] = (byte)b; }
            catch (DecoderFallbackException) { }
        }
        return map;
    }
}
