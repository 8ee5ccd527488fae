using System.Globalization;
using System.Text;
using System.Text.Json;
using DiffusionSharp.Conditioning;
using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>
/// The architecture of a <see cref="UNet1DModel"/>, field for field the constructor arguments of diffusers' (0.30.3) <c>UNet1DModel</c>
/// (defaults = diffusers' defaults = Dance Diffusion's). This port implements the Dance Diffusion block family
/// (<see cref="DownBlock1DType"/>, <see cref="UpBlock1DType"/>, <c>UNetMidBlock1D</c>); the value-function / temporal family
/// (<c>DownResnetBlock1D</c>, <c>use_timestep_embedding</c>, <c>out_block_type</c>, <c>downsample_each_block</c>) is rejected
/// with an error naming the key and value.
/// </summary>
public sealed record UNet1DConfig : IDenoiserConfig
{
    /// <summary>diffusers' class name, written as <c>_class_name</c>.</summary>
    public const string ClassName = "UNet1DModel";

    /// <summary>The diffusers version whose behaviour this port matches.</summary>
    public const string DiffusersVersion = UNet2DConfig.DiffusersVersion;

    /// <summary>Number of frequencies of the Fourier time embedding (diffusers fixes it at 8: 16 embedding channels).</summary>
    public const int FourierFrequencies = 8;

    /// <summary><c>sample_size</c>: the training length L (the model runs at any length divisible by 2^<see cref="Downsamplings"/>).</summary>
    public int SampleSize { get; init; } = 65536;

    /// <summary><c>sample_rate</c>: informational (Hz), null when unknown.</summary>
    public int? SampleRate { get; init; }

    /// <summary><c>in_channels</c>.</summary>
    public int InChannels { get; init; } = 2;

    /// <summary><c>out_channels</c>.</summary>
    public int OutChannels { get; init; } = 2;

    /// <summary><c>extra_in_channels</c>: the time-embedding channels <c>DownBlock1DNoSkip</c> concatenates to the input.</summary>
    public int ExtraInChannels { get; init; }

    /// <summary><c>time_embedding_type</c>: Fourier (8 random frequencies, t used as is) or positional (sinusoids of width block_out_channels[0]).</summary>
    public TimeEmbeddingType TimeEmbeddingType { get; init; } = TimeEmbeddingType.Fourier;

    /// <summary><c>flip_sin_to_cos</c>: cosines first.</summary>
    public bool FlipSinToCos { get; init; } = true;

    /// <summary><c>use_timestep_embedding</c>: only false is supported (the Dance Diffusion blocks take the raw embedding).</summary>
    public bool UseTimestepEmbedding { get; init; }

    /// <summary><c>freq_shift</c> of the positional embedding.</summary>
    public double FreqShift { get; init; }

    /// <summary><c>down_block_types</c>, highest resolution first.</summary>
    public IReadOnlyList<DownBlock1DType> DownBlockTypes { get; init; } =
        [DownBlock1DType.DownBlock1DNoSkip, DownBlock1DType.DownBlock1D, DownBlock1DType.AttnDownBlock1D];

    /// <summary><c>up_block_types</c>, lowest resolution first.</summary>
    public IReadOnlyList<UpBlock1DType> UpBlockTypes { get; init; } =
        [UpBlock1DType.AttnUpBlock1D, UpBlock1DType.UpBlock1D, UpBlock1DType.UpBlock1DNoSkip];

    /// <summary><c>mid_block_type</c>: "UNetMidBlock1D" (true) or null (false, no mid block).</summary>
    public bool HasMidBlock { get; init; } = true;

    /// <summary><c>block_out_channels</c>, one per level.</summary>
    public IReadOnlyList<int> BlockOutChannels { get; init; } = [32, 32, 64];

    /// <summary><c>act_fn</c>: used by diffusers only in blocks this port does not implement; kept for round-tripping.</summary>
    public string? ActFn { get; init; }

    /// <summary><c>norm_num_groups</c>: used by diffusers only in the output blocks this port does not implement; kept for round-tripping.</summary>
    public int NormNumGroups { get; init; } = 8;

    /// <summary><c>layers_per_block</c>: the Dance Diffusion blocks always have three resnets; kept for round-tripping.</summary>
    public int LayersPerBlock { get; init; } = 1;

    /// <summary>Most resolution levels accepted.</summary>
    public const int MaxLevels = 16;

    /// <summary>Largest channel count accepted: a sanity bound against corrupt configs.</summary>
    public const int MaxChannels = 1 << 16;

    /// <summary>Channels of the time embedding the first block concatenates: 16 (Fourier) or block_out_channels[0] (positional).</summary>
    public int TimeEmbeddingChannels => TimeEmbeddingType == TimeEmbeddingType.Fourier ? 2 * FourierFrequencies : BlockOutChannels[0];

    /// <summary>How many times the length is halved on the way down (down blocks with a downsampler, plus the mid block).</summary>
    public int Downsamplings => DownBlockTypes.Count(t => t != DownBlock1DType.DownBlock1DNoSkip) + (HasMidBlock ? 1 : 0);

    string IDenoiserConfig.ClassName => ClassName;

    /// <summary><c>[in_channels, sample_size]</c>.</summary>
    public IReadOnlyList<int>? SampleShape => [InChannels, SampleSize];

    /// <summary>Always <see cref="ConditionKind.None"/>: diffusers' UNet1DModel takes no class labels.</summary>
    public ConditionKind Conditioning => ConditionKind.None;

    /// <summary>0: no classes.</summary>
    public int NumClasses => 0;

    /// <inheritdoc />
    public IDenoiser Build(Device? device = null) => new UNet1DModel(this, device);

    /// <summary>Reads and validates a diffusers <c>config.json</c>.</summary>
    /// <exception cref="InvalidInputException">Missing file, bad JSON, unknown key, unsupported value.</exception>
    public static UNet1DConfig Load(string path) => FromJson(IO.JsonFile.ReadText(path, "config file"), path);

    /// <summary>Parses a diffusers UNet1DModel config; <paramref name="source"/> names the origin in error messages.</summary>
    /// <exception cref="InvalidInputException">Bad JSON, unknown key, wrong type, or an unsupported option (the message names key and value).</exception>
    public static UNet1DConfig FromJson(string json, string source = "config.json")
    {
        IO.JsonFile.CheckLength(json, source);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, IO.JsonFile.DocumentOptions); }
        catch (JsonException e) { throw new InvalidInputException($"{source}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidInputException($"{source}: expected a JSON object, found {doc.RootElement.ValueKind}");
            }
            var c = new UNet1DConfig();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                var (k, v) = (p.Name, p.Value);
                c = k switch
                {
                    "_class_name" => String(source, k, v) == ClassName ? c : throw Bad(source, k, v, $"\"{ClassName}\""),
                    "sample_size" => c with { SampleSize = Int(source, k, v) },
                    "sample_rate" => c with { SampleRate = v.ValueKind == JsonValueKind.Null ? null : Int(source, k, v) },
                    "in_channels" => c with { InChannels = Int(source, k, v) },
                    "out_channels" => c with { OutChannels = Int(source, k, v) },
                    "extra_in_channels" => c with { ExtraInChannels = Int(source, k, v) },
                    "time_embedding_type" => c with { TimeEmbeddingType = Enum(source, k, v, TimeEmbeddingNames) },
                    "flip_sin_to_cos" => c with { FlipSinToCos = Bool(source, k, v) },
                    "use_timestep_embedding" => Bool(source, k, v)
                        ? throw Bad(source, k, v, "false (the time-MLP variant belongs to the value-function blocks, which this port does not implement)")
                        : c,
                    "freq_shift" => c with { FreqShift = Double(source, k, v) },
                    "down_block_types" => c with { DownBlockTypes = List(source, k, v, e => Enum(source, k, e, DownBlockNames)) },
                    "up_block_types" => c with { UpBlockTypes = List(source, k, v, e => Enum(source, k, e, UpBlockNames)) },
                    "mid_block_type" => c with
                    {
                        HasMidBlock = v.ValueKind == JsonValueKind.Null ? false
                            : String(source, k, v) == "UNetMidBlock1D" ? true : throw Bad(source, k, v, "\"UNetMidBlock1D\" or null"),
                    },
                    "out_block_type" => v.ValueKind == JsonValueKind.Null ? c
                        : throw Bad(source, k, v, "null (OutConv1DBlock and ValueFunction are not implemented)"),
                    "block_out_channels" => c with { BlockOutChannels = List(source, k, v, e => Int(source, k, e)) },
                    "act_fn" => c with { ActFn = v.ValueKind == JsonValueKind.Null ? null : String(source, k, v) },
                    "norm_num_groups" => c with { NormNumGroups = Int(source, k, v) },
                    "layers_per_block" => c with { LayersPerBlock = Int(source, k, v) },
                    "downsample_each_block" => Bool(source, k, v) ? throw Bad(source, k, v, "false (the experimental no-upsampling UNet is not implemented)") : c,
                    _ when k.StartsWith('_') => c,
                    _ => throw new InvalidInputException($"{source}: unknown UNet1DModel key '{k}' (value {Short(v)}); this port implements diffusers {DiffusersVersion} UNet1DModel options only"),
                };
            }
            c.Validate(source);
            return c;
        }
    }

    /// <summary>Checks ranges and the block combination (mirrored levels, the time-embedding concatenation).</summary>
    /// <exception cref="InvalidInputException">The first problem found, naming the key and value.</exception>
    public void Validate(string source = "config")
    {
        void Fail(string key, object? value, string expected) =>
            throw new InvalidInputException($"{source}: {key} = {Format(value)} is not supported: expected {expected}");

        if (InChannels is < 1 or > MaxChannels) Fail("in_channels", InChannels, $"an integer in [1, {MaxChannels}]");
        if (OutChannels is < 1 or > MaxChannels) Fail("out_channels", OutChannels, $"an integer in [1, {MaxChannels}]");
        if (SampleSize < 1) Fail("sample_size", SampleSize, "an integer >= 1");
        if (SampleRate is < 1) Fail("sample_rate", SampleRate, "a positive integer or null");
        if (BlockOutChannels.Count is 0 or > MaxLevels || BlockOutChannels.Any(ch => ch is < 1 or > MaxChannels))
            Fail("block_out_channels", BlockOutChannels, $"1 to {MaxLevels} integers in [1, {MaxChannels}]");
        if (DownBlockTypes.Count != BlockOutChannels.Count)
            Fail("down_block_types", DownBlockTypes, $"one entry per block_out_channels entry ({BlockOutChannels.Count})");
        if (UpBlockTypes.Count != BlockOutChannels.Count)
            Fail("up_block_types", UpBlockTypes, $"one entry per block_out_channels entry ({BlockOutChannels.Count})");
        if (LayersPerBlock < 1) Fail("layers_per_block", LayersPerBlock, "an integer >= 1");
        if (!double.IsFinite(FreqShift)) Fail("freq_shift", FreqShift, "a finite number");
        if (TimeEmbeddingType == TimeEmbeddingType.Positional && FreqShift >= BlockOutChannels[0] / 2)
            Fail("freq_shift", FreqShift, $"a number below half of block_out_channels[0] ({BlockOutChannels[0] / 2})");
        for (var i = 1; i < DownBlockTypes.Count; i++)
        {
            // Only the first block can concatenate the time embedding: later blocks were built for their input's channels alone.
            if (DownBlockTypes[i] == DownBlock1DType.DownBlock1DNoSkip)
                Fail("down_block_types", DownBlockTypes, "DownBlock1DNoSkip only as the first block");
        }
        var concatenates = DownBlockTypes[0] == DownBlock1DType.DownBlock1DNoSkip;
        if (ExtraInChannels != (concatenates ? TimeEmbeddingChannels : 0))
        {
            Fail("extra_in_channels", ExtraInChannels, concatenates
                ? $"{TimeEmbeddingChannels}, the width of the {TimeEmbeddingNames[TimeEmbeddingType]} time embedding DownBlock1DNoSkip concatenates"
                : "0 (only DownBlock1DNoSkip as the first block takes extra input channels)");
        }
        for (var i = 0; i < DownBlockTypes.Count; i++)
        {
            // Skips are concatenated at equal length: a level that keeps the length on the way down must keep it on the way up.
            var downKeeps = DownBlockTypes[i] == DownBlock1DType.DownBlock1DNoSkip;
            var upKeeps = UpBlockTypes[UpBlockTypes.Count - 1 - i] == UpBlock1DType.UpBlock1DNoSkip;
            if (downKeeps != upKeeps)
                Fail("up_block_types", UpBlockTypes, $"UpBlock1DNoSkip exactly at the levels mirroring DownBlock1DNoSkip (down_block_types {Format(DownBlockTypes)})");
        }
        if (SampleSize % (1 << Downsamplings) != 0 || SampleSize >> Downsamplings < 4)
            Fail("sample_size", SampleSize, $"a multiple of 2^{Downsamplings} = {1 << Downsamplings} with at least 4 samples at the lowest resolution");
    }

    /// <summary>The config as diffusers writes it: sorted keys, two-space indent.</summary>
    public string ToJson()
    {
        var entries = new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["_class_name"] = ClassName,
            ["_diffusers_version"] = DiffusersVersion,
            ["act_fn"] = ActFn,
            ["block_out_channels"] = BlockOutChannels,
            ["down_block_types"] = DownBlockTypes.Select(t => DownBlockNames[t]).ToList(),
            ["downsample_each_block"] = false,
            ["extra_in_channels"] = ExtraInChannels,
            ["flip_sin_to_cos"] = FlipSinToCos,
            ["freq_shift"] = FreqShift,
            ["in_channels"] = InChannels,
            ["layers_per_block"] = LayersPerBlock,
            ["mid_block_type"] = HasMidBlock ? "UNetMidBlock1D" : null,
            ["norm_num_groups"] = NormNumGroups,
            ["out_block_type"] = null,
            ["out_channels"] = OutChannels,
            ["sample_rate"] = SampleRate,
            ["sample_size"] = SampleSize,
            ["time_embedding_type"] = TimeEmbeddingNames[TimeEmbeddingType],
            ["up_block_types"] = UpBlockTypes.Select(t => UpBlockNames[t]).ToList(),
            ["use_timestep_embedding"] = false,
        };
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            foreach (var (k, v) in entries)
            {
                w.WritePropertyName(k);
                switch (v)
                {
                    case null: w.WriteNullValue(); break;
                    case string s: w.WriteStringValue(s); break;
                    case bool b: w.WriteBooleanValue(b); break;
                    case int i: w.WriteNumberValue(i); break;
                    case double d: w.WriteRawValue(d.ToString("0.0###############", CultureInfo.InvariantCulture)); break;
                    case IEnumerable<int> list: w.WriteStartArray(); foreach (var x in list) w.WriteNumberValue(x); w.WriteEndArray(); break;
                    case IEnumerable<string> list: w.WriteStartArray(); foreach (var x in list) w.WriteStringValue(x); w.WriteEndArray(); break;
                    default: throw new InvalidOperationException($"cannot write {v.GetType()}");
                }
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static readonly IReadOnlyDictionary<DownBlock1DType, string> DownBlockNames = new Dictionary<DownBlock1DType, string>
    {
        [DownBlock1DType.DownBlock1D] = "DownBlock1D",
        [DownBlock1DType.AttnDownBlock1D] = "AttnDownBlock1D",
        [DownBlock1DType.DownBlock1DNoSkip] = "DownBlock1DNoSkip",
    };

    private static readonly IReadOnlyDictionary<UpBlock1DType, string> UpBlockNames = new Dictionary<UpBlock1DType, string>
    {
        [UpBlock1DType.UpBlock1D] = "UpBlock1D",
        [UpBlock1DType.AttnUpBlock1D] = "AttnUpBlock1D",
        [UpBlock1DType.UpBlock1DNoSkip] = "UpBlock1DNoSkip",
    };

    private static readonly IReadOnlyDictionary<TimeEmbeddingType, string> TimeEmbeddingNames = new Dictionary<TimeEmbeddingType, string>
    {
        [TimeEmbeddingType.Positional] = "positional",
        [TimeEmbeddingType.Fourier] = "fourier",
    };

    private static InvalidInputException Bad(string source, string key, JsonElement v, string expected) =>
        new($"{source}: {key} = {Short(v)} is not supported: expected {expected}");

    private static int Int(string source, string key, JsonElement v) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw Bad(source, key, v, "an integer");

    private static double Double(string source, string key, JsonElement v) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) ? d : throw Bad(source, key, v, "a number");

    private static bool Bool(string source, string key, JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Bad(source, key, v, "true or false"),
    };

    private static string String(string source, string key, JsonElement v) =>
        v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Bad(source, key, v, "a string");

    private static T Enum<T>(string source, string key, JsonElement v, IReadOnlyDictionary<T, string> names) where T : struct, Enum
    {
        if (v.ValueKind == JsonValueKind.String)
        {
            var s = v.GetString();
            foreach (var (value, name) in names)
            {
                if (name == s) return value;
            }
        }
        throw Bad(source, key, v, "one of " + string.Join(", ", names.Values.Select(n => "\"" + n + "\"")));
    }

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
        string s => "\"" + s + "\"",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        System.Collections.IEnumerable e => "[" + string.Join(", ", e.Cast<object>().Select(x => x is Enum ? "\"" + x + "\"" : Format(x))) + "]",
        _ => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "?",
    };
}
