using System.Globalization;
using System.Text;
using System.Text.Json;
using DiffusionSharp.Conditioning;
using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>
/// The architecture of an <see cref="AudioUNet1DModel"/>, DiffusionSharp's own class-conditional waveform U-Net (diffusers'
/// <c>UNet1DModel</c> takes no class labels). Its <c>config.json</c> has <c>_class_name</c> <c>"DiffusionSharpUNet1D"</c>,
/// so diffusers does not load it; this library does, through <see cref="Denoisers"/>.
/// </summary>
public sealed record AudioUNet1DConfig : IDenoiserConfig
{
    /// <summary>The <c>_class_name</c> written to <c>config.json</c>.</summary>
    public const string ClassName = "DiffusionSharpUNet1D";

    /// <summary>Largest channel count accepted: a sanity bound against corrupt configs.</summary>
    public const int MaxChannels = 1 << 16;

    /// <summary>Most resolution levels accepted.</summary>
    public const int MaxLevels = 12;

    /// <summary><c>sample_size</c>: the clip length L in samples the model is trained at.</summary>
    public int SampleSize { get; init; } = 8192;

    /// <summary><c>sample_rate</c> in Hz: the rate clips are resampled to, and WAVs are written at.</summary>
    public int SampleRate { get; init; } = 8000;

    /// <summary><c>in_channels</c>.</summary>
    public int InChannels { get; init; } = 1;

    /// <summary><c>out_channels</c>.</summary>
    public int OutChannels { get; init; } = 1;

    /// <summary><c>block_out_channels</c>, one per level, highest resolution first; [0] is also the sinusoid width of the time embedding.</summary>
    public IReadOnlyList<int> BlockOutChannels { get; init; } = [32, 64, 128, 128];

    /// <summary><c>down_factors</c>: how much the length shrinks between level i and i + 1 (2 or 4; one fewer entry than levels).</summary>
    public IReadOnlyList<int> DownFactors { get; init; } = [4, 4, 4];

    /// <summary><c>attention_levels</c>: self-attention after the resnets of each level (one per level).</summary>
    public IReadOnlyList<bool> AttentionLevels { get; init; } = [false, false, false, true];

    /// <summary><c>layers_per_block</c>: resnets per level on the way down (the way up has the same number, the first taking the skip).</summary>
    public int LayersPerBlock { get; init; } = 1;

    /// <summary><c>norm_num_groups</c>.</summary>
    public int NormNumGroups { get; init; } = 8;

    /// <summary>
    /// <c>patch_size</c> P (1, 2, 4 or 8): the network sees a clip of length L as L/P frames of P consecutive samples per
    /// channel (space-to-depth), so its first level runs at L/P with in_channels·P inputs, and its output frames are
    /// unfolded back to L samples. 1 (the default, and what a config without the key means) is the plain waveform U-Net.
    /// </summary>
    public int PatchSize { get; init; } = 1;

    /// <summary>
    /// <c>resnet_time_scale_shift</c>, as diffusers' 2-D U-Nets name it: <c>"default"</c> adds the projected time (and class)
    /// embedding to the first convolution's output; <c>"scale_shift"</c> projects it to a scale and a shift and applies
    /// norm2(h) * (1 + scale) + shift (FiLM, the adaptive GroupNorm of Dhariwal and Nichol 2021): a stronger hold of the
    /// condition on every block. A config without the key means <c>"default"</c>.
    /// </summary>
    public ResnetTimeScaleShift ResnetTimeScaleShift { get; init; } = ResnetTimeScaleShift.Default;

    /// <summary>
    /// <c>data_scale</c> s: the diffusion process runs on s times the waveform, and generated samples are divided by s
    /// (as a latent model's <c>scaling_factor</c> brings its latents to about unit variance). Speech at full scale has a
    /// standard deviation of about 0.1, against about 0.5 for images in [-1, 1], so at s = 1 every noise level holds 25
    /// times less signal than the schedule was made for. A config without the key means 1.
    /// </summary>
    public double DataScale { get; init; } = 1.0;

    /// <summary>Largest <see cref="DataScale"/> accepted.</summary>
    public const double MaxDataScale = 1000;

    /// <summary>Patch sizes accepted.</summary>
    public static IReadOnlyList<int> PatchSizes { get; } = [1, 2, 4, 8];

    /// <summary><c>num_class_embeds</c>: classes + 1 (the last is the null class of guidance), or null for an unconditional model.</summary>
    public int? NumClassEmbeds { get; init; }

    /// <summary>Width of the time (and class) embedding: 4 x block_out_channels[0].</summary>
    public int TimeEmbedDim => 4 * BlockOutChannels[0];

    /// <summary>The patch size times the product of <see cref="DownFactors"/>: a clip length must be a multiple of it.</summary>
    public int Downsampling => PatchSize * DownFactors.Aggregate(1, (a, b) => a * b);

    /// <summary>How the model shortens a clip, for messages: e.g. <c>4 x 4</c>, or <c>patches of 4, then 4 x 4</c>.</summary>
    public string DownsamplingText => (PatchSize > 1 ? $"patches of {PatchSize}, then " : "") + string.Join(" x ", DownFactors);

    string IDenoiserConfig.ClassName => ClassName;

    /// <summary><c>[in_channels, sample_size]</c>.</summary>
    public IReadOnlyList<int>? SampleShape => [InChannels, SampleSize];

    /// <inheritdoc />
    public ConditionKind Conditioning => NumClassEmbeds is null ? ConditionKind.None : ConditionKind.ClassLabel;

    /// <inheritdoc />
    public int NumClasses => NumClassEmbeds is int n ? n - 1 : 0;

    /// <inheritdoc />
    public IDenoiser Build(Device? device = null) => new AudioUNet1DModel(this, device);

    /// <summary>Reads and validates a <c>config.json</c>.</summary>
    /// <exception cref="InvalidInputException">Missing file, bad JSON, unknown key, unsupported value.</exception>
    public static AudioUNet1DConfig Load(string path) => FromJson(IO.JsonFile.ReadText(path, "config file"), path);

    /// <summary>Parses a config; <paramref name="source"/> names the origin in error messages.</summary>
    /// <exception cref="InvalidInputException">Bad JSON, unknown key, wrong type, or an invalid value (the message names key and value).</exception>
    public static AudioUNet1DConfig FromJson(string json, string source = "config.json")
    {
        IO.JsonFile.CheckLength(json, source);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, IO.JsonFile.DocumentOptions); }
        catch (JsonException e) { throw new InvalidInputException($"{source}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidInputException($"{source}: expected a JSON object, found {doc.RootElement.ValueKind}");
            var c = new AudioUNet1DConfig();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                var (k, v) = (p.Name, p.Value);
                c = k switch
                {
                    "_class_name" => v.ValueKind == JsonValueKind.String && v.GetString() == ClassName ? c : throw Bad(source, k, v, $"\"{ClassName}\""),
                    "sample_size" => c with { SampleSize = Int(source, k, v) },
                    "sample_rate" => c with { SampleRate = Int(source, k, v) },
                    "in_channels" => c with { InChannels = Int(source, k, v) },
                    "out_channels" => c with { OutChannels = Int(source, k, v) },
                    "block_out_channels" => c with { BlockOutChannels = List(source, k, v, e => Int(source, k, e)) },
                    "down_factors" => c with { DownFactors = List(source, k, v, e => Int(source, k, e)) },
                    "attention_levels" => c with { AttentionLevels = List(source, k, v, e => e.ValueKind is JsonValueKind.True or JsonValueKind.False ? e.GetBoolean() : throw Bad(source, k, e, "true or false")) },
                    "layers_per_block" => c with { LayersPerBlock = Int(source, k, v) },
                    "norm_num_groups" => c with { NormNumGroups = Int(source, k, v) },
                    "patch_size" => c with { PatchSize = Int(source, k, v) },
                    "resnet_time_scale_shift" => c with
                    {
                        ResnetTimeScaleShift = v.ValueKind == JsonValueKind.String ? v.GetString() switch
                        {
                            "default" => ResnetTimeScaleShift.Default,
                            "scale_shift" => ResnetTimeScaleShift.ScaleShift,
                            _ => throw Bad(source, k, v, "\"default\" or \"scale_shift\""),
                        } : throw Bad(source, k, v, "\"default\" or \"scale_shift\""),
                    },
                    "data_scale" => c with { DataScale = v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw Bad(source, k, v, "a number") },
                    "num_class_embeds" => c with { NumClassEmbeds = v.ValueKind == JsonValueKind.Null ? null : Int(source, k, v) },
                    _ when k.StartsWith('_') => c,
                    _ => throw new InvalidInputException($"{source}: unknown {ClassName} key '{k}'"),
                };
            }
            c.Validate(source);
            return c;
        }
    }

    /// <summary>Checks ranges and that the lists agree with the level count.</summary>
    /// <exception cref="InvalidInputException">The first problem found, naming the key and value.</exception>
    public void Validate(string source = "config")
    {
        void Fail(string key, object? value, string expected) =>
            throw new InvalidInputException($"{source}: {key} = {Format(value)} is not supported: expected {expected}");

        if (InChannels is < 1 or > MaxChannels) Fail("in_channels", InChannels, $"an integer in [1, {MaxChannels}]");
        if (OutChannels is < 1 or > MaxChannels) Fail("out_channels", OutChannels, $"an integer in [1, {MaxChannels}]");
        if (SampleRate is < 1 or > Audio.WavFile.MaxSampleRate) Fail("sample_rate", SampleRate, $"an integer in [1, {Audio.WavFile.MaxSampleRate}]");
        if (BlockOutChannels.Count is 0 or > MaxLevels || BlockOutChannels.Any(ch => ch is < 1 or > MaxChannels))
            Fail("block_out_channels", BlockOutChannels, $"1 to {MaxLevels} integers in [1, {MaxChannels}]");
        if (DownFactors.Count != BlockOutChannels.Count - 1 || DownFactors.Any(f => f is not (2 or 4)))
            Fail("down_factors", DownFactors, $"{BlockOutChannels.Count - 1} entries (one between each two levels), each 2 or 4");
        if (AttentionLevels.Count != BlockOutChannels.Count) Fail("attention_levels", AttentionLevels, $"{BlockOutChannels.Count} entries (one per level)");
        if (!PatchSizes.Contains(PatchSize)) Fail("patch_size", PatchSize, "1, 2, 4 or 8");
        if (LayersPerBlock is < 1 or > 16) Fail("layers_per_block", LayersPerBlock, "an integer in [1, 16]");
        if (NormNumGroups < 1 || BlockOutChannels.Any(ch => ch % NormNumGroups != 0))
            Fail("norm_num_groups", NormNumGroups, "a positive divisor of every block_out_channels entry");
        for (var i = 0; i < BlockOutChannels.Count; i++)
        {
            if (AttentionLevels[i] && BlockOutChannels[i] % Blocks1D.SelfAttention1D.ChannelsPerHead != 0)
                Fail("attention_levels", AttentionLevels, $"attention only at levels whose channels are multiples of {Blocks1D.SelfAttention1D.ChannelsPerHead} (heads of 32; level {i} has {BlockOutChannels[i]})");
        }
        if (BlockOutChannels[^1] % Blocks1D.SelfAttention1D.ChannelsPerHead != 0)
            Fail("block_out_channels", BlockOutChannels, $"a last entry that is a multiple of {Blocks1D.SelfAttention1D.ChannelsPerHead} (the mid block's attention)");
        if (NumClassEmbeds is < 2 or > MaxChannels) Fail("num_class_embeds", NumClassEmbeds, $"null or an integer in [2, {MaxChannels}] (classes + the null class)");
        if (!double.IsFinite(DataScale) || DataScale <= 0 || DataScale > MaxDataScale)
            Fail("data_scale", DataScale, $"a number in (0, {MaxDataScale}]");
        if (SampleSize < Downsampling || SampleSize % Downsampling != 0)
            Fail("sample_size", SampleSize, $"a positive multiple of {Downsampling}, " + (PatchSize > 1 ? "patch_size times the product of down_factors" : "the product of down_factors"));
    }

    /// <summary>The config as JSON: sorted keys, two-space indent.</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("_class_name", ClassName);
            w.WriteStartArray("attention_levels");
            foreach (var a in AttentionLevels) w.WriteBooleanValue(a);
            w.WriteEndArray();
            WriteInts(w, "block_out_channels", BlockOutChannels);
            if (DataScale != 1) w.WriteNumber("data_scale", DataScale);
            WriteInts(w, "down_factors", DownFactors);
            w.WriteNumber("in_channels", InChannels);
            w.WriteNumber("layers_per_block", LayersPerBlock);
            w.WriteNumber("norm_num_groups", NormNumGroups);
            if (NumClassEmbeds is int n) w.WriteNumber("num_class_embeds", n);
            else w.WriteNull("num_class_embeds");
            w.WriteNumber("out_channels", OutChannels);
            if (PatchSize != 1) w.WriteNumber("patch_size", PatchSize);
            if (ResnetTimeScaleShift == ResnetTimeScaleShift.ScaleShift) w.WriteString("resnet_time_scale_shift", "scale_shift");
            w.WriteNumber("sample_rate", SampleRate);
            w.WriteNumber("sample_size", SampleSize);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static void WriteInts(Utf8JsonWriter w, string name, IEnumerable<int> values)
    {
        w.WriteStartArray(name);
        foreach (var x in values) w.WriteNumberValue(x);
        w.WriteEndArray();
    }

    private static InvalidInputException Bad(string source, string key, JsonElement v, string expected) =>
        new($"{source}: {key} = {Short(v)} is not supported: expected {expected}");

    private static int Int(string source, string key, JsonElement v) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw Bad(source, key, v, "an integer");

    private static List<T> List<T>(string source, string key, JsonElement v, Func<JsonElement, T> item) =>
        v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(item).ToList() : throw Bad(source, key, v, "a list");

    private static string Short(JsonElement v)
    {
        var raw = v.GetRawText();
        return raw.Length > 60 ? raw[..57] + "..." : raw;
    }

    private static string Format(object? v) => v switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        System.Collections.IEnumerable e => "[" + string.Join(", ", e.Cast<object>().Select(Format)) + "]",
        _ => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "?",
    };
}
