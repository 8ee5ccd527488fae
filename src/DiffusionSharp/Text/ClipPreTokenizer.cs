using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace DiffusionSharp.Text;

/// <summary>
/// CLIP's word splitter: the regex of openai/CLIP and transformers' <c>CLIPTokenizer</c>,
/// <c>&lt;\|startoftext\|&gt;|&lt;\|endoftext\|&gt;|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+</c> (ignore case),
/// evaluated per code point. .NET's <c>\p{L}</c> sees a UTF-16 surrogate, not the letter, so a .NET regex would split
/// letters and digits outside the BMP (e.g. CJK extension B) differently from Python.
/// </summary>
internal sealed class ClipPreTokenizer : PreTokenizer
{
    private static readonly string[] Specials = ["<|startoftext|>", "<|endoftext|>"];
    private static readonly string[] Contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Split(text);
    }

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => Split(text.ToString());

    /// <summary>The words of <paramref name="text"/> as (offset, length) in UTF-16 units, in order.</summary>
    public static List<(int Offset, int Length)> Split(string text)
    {
        var words = new List<(int, int)>();
        var i = 0;
        while (i < text.Length)
        {
            // Alternatives in the regex's order: the first one that matches at i wins.
            var literal = Specials.Concat(Contractions).FirstOrDefault(p => i + p.Length <= text.Length
                && string.Compare(text, i, p, 0, p.Length, StringComparison.OrdinalIgnoreCase) == 0);
            if (literal is not null)
            {
                words.Add((i, literal.Length));
                i += literal.Length;
                continue;
            }
            var kind = KindAt(text, i, out var width);
            switch (kind)
            {
                case CharKind.Letter:
                    var start = i;
                    while (i < text.Length && KindAt(text, i, out var w) == CharKind.Letter) i += w;
                    words.Add((start, i - start));
                    break;
                case CharKind.Number:
                    words.Add((i, width));
                    i += width;
                    break;
                case CharKind.Other:
                    var from = i;
                    while (i < text.Length && KindAt(text, i, out var w) == CharKind.Other) i += w;
                    words.Add((from, i - from));
                    break;
                default:
                    i += width;
                    break;
            }
        }
        return words;
    }

    private enum CharKind { Space, Letter, Number, Other }

    private static CharKind KindAt(string text, int index, out int width)
    {
        if (Rune.DecodeFromUtf16(text.AsSpan(index), out var rune, out width) != System.Buffers.OperationStatus.Done)
        {
            // A lone surrogate is neither letter, digit nor space: Python's [^\s\p{L}\p{N}].
            width = 1;
            return CharKind.Other;
        }
        // Python's \s also counts the information separators U+001C..U+001F.
        if (Rune.IsWhiteSpace(rune) || rune.Value is >= 0x1C and <= 0x1F) return CharKind.Space;
        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CharKind.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CharKind.Number,
            _ => CharKind.Other,
        };
    }
}
