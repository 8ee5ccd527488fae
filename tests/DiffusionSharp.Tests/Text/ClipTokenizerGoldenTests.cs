using DiffusionSharp.Tests.Support;
using DiffusionSharp.Text;
using Xunit;

namespace DiffusionSharp.Tests.Text;

/// <summary>Given openai/CLIP's ids for 64 strings (../shared/golden/visible/clip_tokenizer/tokens.json), the tokenizer must give the same ids.</summary>
public sealed class ClipTokenizerGoldenTests
{
    private static readonly string Folder = Path.Combine(TestPaths.Golden, "clip_tokenizer");
    private static readonly Lazy<ClipTokenizer> Tokenizer = new(() => ClipTokenizer.FromPretrained(Folder));

    public static TheoryData<int> Entries()
    {
        var data = new TheoryData<int>();
        var n = Golden.Load("clip_tokenizer/tokens.json").GetProperty("entries").GetArrayLength();
        for (var i = 0; i < n; i++) data.Add(i);
        return data;
    }

    private static readonly Lazy<ClipTokenizer> Bundled = new(() => ClipTokenizer.FromPretrained(DiffusionSharp.Data.BundledData.ClipTokenizerDirectory));

    [Fact]
    public void Should_ShipTheGoldenTokenizerFilesByteForByte_When_LookingInDataClipTokenizer()
    {
        // Given the bundled data/clip-tokenizer (what diffuse train --prompt-column reads), Then its four files are the golden ones
        var bundled = DiffusionSharp.Data.BundledData.ClipTokenizerDirectory;
        foreach (var f in new[] { "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json" })
            Assert.True(File.ReadAllBytes(Path.Combine(Folder, f)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(bundled, f))), f);
        Assert.True(File.Exists(Path.Combine(bundled, "LICENSE-openai-clip.txt")));
        Assert.Equal(49408, Bundled.Value.VocabSize);
        Assert.Equal(49407, Bundled.Value.PadTokenId);
    }

    [Theory]
    [MemberData(nameof(Entries))]
    public void Should_MatchPipelineRows_When_TokenizingWithTheBundledCopy(int index)
    {
        var e = Golden.Load("clip_tokenizer/tokens.json").GetProperty("entries")[index];
        var rows = Bundled.Value.Tokenize([e.GetProperty("text").GetString()!]);
        Assert.Equal(Golden.Longs(e.GetProperty("input_ids_77_pad49407")), rows.InputIds);
    }

    [Fact]
    public void Should_ReadSd1Settings_When_LoadingGoldenFolder()
    {
        var t = Tokenizer.Value;
        var root = Golden.Load("clip_tokenizer/tokens.json");
        Assert.Equal(49408, t.VocabSize);
        Assert.Equal(root.GetProperty("bos_id").GetInt32(), t.BosTokenId);
        Assert.Equal(root.GetProperty("eos_id").GetInt32(), t.EosTokenId);
        Assert.Equal(root.GetProperty("pad_id_sd1").GetInt32(), t.PadTokenId);
        Assert.Equal(root.GetProperty("model_max_length").GetInt32(), t.ModelMaxLength);
    }

    [Theory]
    [MemberData(nameof(Entries))]
    public void Should_MatchOpenAiIds_When_EncodingGoldenString(int index)
    {
        var e = Golden.Load("clip_tokenizer/tokens.json").GetProperty("entries")[index];
        var text = e.GetProperty("text").GetString()!;
        Assert.Equal(e.GetProperty("cleaned_text").GetString(), ClipTextCleaner.Clean(text));
        Assert.Equal(Golden.Longs(e.GetProperty("ids")), Tokenizer.Value.Encode(text).Select(i => (long)i).ToArray());
        Assert.Equal(e.GetProperty("bpe_tokens").EnumerateArray().Select(x => x.GetString()), Tokenizer.Value.EncodeToTokens(text));
        Assert.Equal(e.GetProperty("decoded").GetString(), Tokenizer.Value.Decode(Tokenizer.Value.Encode(text)));
    }

    [Theory]
    [MemberData(nameof(Entries))]
    public void Should_MatchPipelineRows_When_PaddingTo77(int index)
    {
        var e = Golden.Load("clip_tokenizer/tokens.json").GetProperty("entries")[index];
        var rows = Tokenizer.Value.Tokenize([e.GetProperty("text").GetString()!]);
        Assert.Equal(Golden.Longs(e.GetProperty("input_ids_77_pad49407")), rows.InputIds);
        Assert.Equal(Golden.Longs(e.GetProperty("attention_mask_77")), rows.AttentionMask);
        var truncated = e.GetProperty("truncated").GetBoolean();
        Assert.Equal(truncated ? 1 : 0, rows.Truncations.Count);
        if (truncated)
        {
            Assert.Equal(e.GetProperty("num_ids").GetInt32(), rows.Truncations[0].TokenCount);
            Assert.Equal(75, rows.Truncations[0].KeptTokens);
            Assert.NotEmpty(rows.Truncations[0].DroppedText.Trim());
        }
    }

    [Fact]
    public void Should_PadWithExclamationMark_When_ConfigNamesSd2PadToken()
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            foreach (var f in new[] { "vocab.json", "merges.txt", "tokenizer_config.json" }) File.Copy(Path.Combine(Folder, f), Path.Combine(dir, f));
            File.WriteAllText(Path.Combine(dir, "special_tokens_map.json"),
                """{"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "!", "unk_token": "<|endoftext|>"}""");
            var sd2 = ClipTokenizer.FromPretrained(dir);
            Assert.Equal(0, sd2.PadTokenId);
            foreach (var e in Golden.Load("clip_tokenizer/tokens.json").GetProperty("entries").EnumerateArray().Take(12))
            {
                var rows = sd2.Tokenize([e.GetProperty("text").GetString()!]);
                Assert.Equal(Golden.Longs(e.GetProperty("input_ids_77_pad0")), rows.InputIds);
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
