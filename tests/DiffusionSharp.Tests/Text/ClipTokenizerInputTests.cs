using DiffusionSharp.Tests.Support;
using DiffusionSharp.Text;
using Xunit;

namespace DiffusionSharp.Tests.Text;

/// <summary>Given a broken tokenizer folder, loading fails with one InvalidInputException naming the file (and line or key).</summary>
public sealed class ClipTokenizerInputTests : IDisposable
{
    private static readonly string Golden = Path.Combine(TestPaths.Golden, "clip_tokenizer");
    private readonly string _dir = TestPaths.NewTempDir();

    public ClipTokenizerInputTests()
    {
        foreach (var f in new[] { "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json" })
            File.Copy(Path.Combine(Golden, f), Path.Combine(_dir, f));
    }

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Should_NameVocabFile_When_VocabIsMissing()
    {
        File.Delete(Path.Combine(_dir, "vocab.json"));
        var e = Assert.Throws<InvalidInputException>(() => ClipTokenizer.FromPretrained(_dir));
        Assert.Contains("vocab.json", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Should_NameFileAndLine_When_MergesLineIsMalformed()
    {
        var path = Path.Combine(_dir, "merges.txt");
        var lines = File.ReadAllLines(path);
        lines[5] = "abc";
        File.WriteAllLines(path, lines);
        var e = Assert.Throws<InvalidInputException>(() => ClipTokenizer.FromPretrained(_dir));
        Assert.Contains("merges.txt:6:", e.Message);
        Assert.Contains("'abc'", e.Message);
    }

    [Fact]
    public void Should_NameFileAndLine_When_MergeUsesUnknownSymbol()
    {
        var path = Path.Combine(_dir, "merges.txt");
        var lines = File.ReadAllLines(path);
        lines[3] = "qqqzz xx";
        File.WriteAllLines(path, lines);
        var e = Assert.Throws<InvalidInputException>(() => ClipTokenizer.FromPretrained(_dir));
        Assert.Contains("merges.txt:4:", e.Message);
    }

    [Fact]
    public void Should_NameKey_When_SpecialTokenIsNotInVocab()
    {
        File.WriteAllText(Path.Combine(_dir, "special_tokens_map.json"), """{"pad_token": "<|pad|>"}""");
        var e = Assert.Throws<InvalidInputException>(() => ClipTokenizer.FromPretrained(_dir));
        Assert.Contains("special_tokens_map.json", e.Message);
        Assert.Contains("pad_token '<|pad|>'", e.Message);
    }

    [Fact]
    public void Should_NameKey_When_TokenizerClassIsNotClip()
    {
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), """{"tokenizer_class": "T5Tokenizer", "model_max_length": 77}""");
        var e = Assert.Throws<InvalidInputException>(() => ClipTokenizer.FromPretrained(_dir));
        Assert.Contains("tokenizer_config.json: tokenizer_class", e.Message);
    }

    [Fact]
    public void Should_NameFile_When_VocabIsNotJson()
    {
        File.WriteAllText(Path.Combine(_dir, "vocab.json"), "{\n\"a\": 1,\n oops");
        var e = Assert.Throws<InvalidInputException>(() => ClipTokenizer.FromPretrained(_dir));
        Assert.Contains("vocab.json:3:", e.Message);
    }

    [Fact]
    public void Should_KeepAstralLettersInOneWord_When_TextHasCjkExtensionB()
    {
        // U+20000 is a letter (Lo) outside the BMP: Python's [\p{L}]+ keeps "a𠀀b" one word (one </w>); a UTF-16 regex
        // sees two surrogates there and would make three words.
        var tokenizer = ClipTokenizer.FromPretrained(_dir);
        var tokens = tokenizer.EncodeToTokens("a\U00020000b");
        Assert.Single(tokens, t => t.EndsWith("</w>", StringComparison.Ordinal));
        Assert.EndsWith("b</w>", tokens[^1]);
    }

    [Fact]
    public void Should_SplitLikeOpenAiRegex_When_SpecialTokenFollowsPunctuation()
    {
        // openai's regex tries <|endoftext|> only where a match starts: after "!!" the punctuation run "!!<|" wins, so
        // "!!<|endoftext|>" is the three words "!!<|", "endoftext", "|>" and no end-of-text id.
        var tokenizer = ClipTokenizer.FromPretrained(_dir);
        var words = new[] { "!!<|", "endoftext", "|>" }.SelectMany(tokenizer.Encode).ToList();
        Assert.Equal(words, tokenizer.Encode("!!<|endoftext|>"));
        Assert.DoesNotContain(tokenizer.EosTokenId, words);
        Assert.Equal([tokenizer.EosTokenId], tokenizer.Encode("<|endoftext|>"));
    }
}
