using System.Globalization;
using System.Text;
using System.Text.Json;
using DiffusionSharp.Conditioning;
using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>
/// The architecture of a <see cref="UNet2DModel"/>, field for field the constructor arguments of diffusers' (0.30.3) <c>UNet2DModel</c>.
/// Defaults are diffusers' defaults; <see cref="FromJson"/> / <see cref="ToJson"/> use diffusers' snake_case keys, so a
/// <c>config.json</c> round-trips with Python. Options diffusers has but this port does not implement are rejected, never ignored.
/// </summary>
public sealed record UNet2DConfig : IDenoiserConfig
{
    /// <summary>diffusers' class name, written as <c>_class_name</c>.</summary>
    public const string ClassName = "UNet2DModel";

    /// <summary>The diffusers version whose behaviour this port matches, written as <c>_diffusers_version</c>.</summary>
    public const string DiffusersVersion = "0.30.3";

    /// <summary><c>sample_size</c>: training resolution (informational: the model runs at any size divisible by 2^(levels-1)).</summary>
    public int? SampleSize { get; init; }

    /// <summary><c>in_channels</c>: channels of the input sample.</summary>
    public int InChannels { get; init; } = 3;

    /// <summary><c>out_channels</c>: channels of the output.</summary>
    public int OutChannels { get; init; } = 3;

    /// <summary><c>center_input_sample</c>: map the input with 2x-1 first.</summary>
    public bool CenterInputSample { get; init; }

    /// <summary><c>time_embedding_type</c>.</summary>
    public TimeEmbeddingType TimeEmbeddingType { get; init; } = TimeEmbeddingType.Positional;

    /// <summary><c>freq_shift</c>: the sinusoid's frequency denominator is half_dim - freq_shift (DDPM checkpoints: 1).</summary>
    public double FreqShift { get; init; }

    /// <summary><c>flip_sin_to_cos</c>: cos first, then sin (DDPM checkpoints: false).</summary>
    public bool FlipSinToCos { get; init; } = true;

    /// <summary><c>down_block_types</c>, one per resolution level, highest resolution first.</summary>
    public IReadOnlyList<DownBlockType> DownBlockTypes { get; init; } =
        [DownBlockType.DownBlock2D, DownBlockType.AttnDownBlock2D, DownBlockType.AttnDownBlock2D, DownBlockType.AttnDownBlock2D];

    /// <summary><c>up_block_types</c>, lowest resolution first.</summary>
    public IReadOnlyList<UpBlockType> UpBlockTypes { get; init; } =
        [UpBlockType.AttnUpBlock2D, UpBlockType.AttnUpBlock2D, UpBlockType.AttnUpBlock2D, UpBlockType.UpBlock2D];

    /// <summary><c>mid_block_type</c> (a later diffusers key; 0.30.3 always has the mid block).</summary>
    public MidBlockType MidBlockType { get; init; } = MidBlockType.UNetMidBlock2D;

    /// <summary><c>block_out_channels</c>, one per level.</summary>
    public IReadOnlyList<int> BlockOutChannels { get; init; } = [224, 448, 672, 896];

    /// <summary><c>layers_per_block</c>: resnets per down block (up blocks have one more).</summary>
    public int LayersPerBlock { get; init; } = 2;

    /// <summary><c>mid_block_scale_factor</c>: output_scale_factor of the mid block's resnets and attention.</summary>
    public double MidBlockScaleFactor { get; init; } = 1;

    /// <summary><c>downsample_padding</c>: 1 = symmetric padding; 0 = pad right/bottom by one then conv (original DDPM).</summary>
    public int DownsamplePadding { get; init; } = 1;

    /// <summary><c>downsample_type</c> (AttnDownBlock2D only, as in diffusers).</summary>
    public ResampleType DownsampleType { get; init; } = ResampleType.Conv;

    /// <summary><c>upsample_type</c> (AttnUpBlock2D only, as in diffusers).</summary>
    public ResampleType UpsampleType { get; init; } = ResampleType.Conv;

    /// <summary><c>dropout</c> inside every ResnetBlock2D, in [0, 1).</summary>
    public double Dropout { get; init; }

    /// <summary><c>act_fn</c>: only <c>"silu"</c> (alias <c>"swish"</c>) is supported.</summary>
    public string ActFn { get; init; } = "silu";

    /// <summary><c>attention_head_dim</c>: channels per head; null = one head over all channels.</summary>
    public int? AttentionHeadDim { get; init; } = 8;

    /// <summary><c>norm_num_groups</c>: GroupNorm groups everywhere; must divide every normalised channel count.</summary>
    public int NormNumGroups { get; init; } = 32;

    /// <summary><c>attn_norm_num_groups</c>: groups of the mid block's attention norm; null = <see cref="NormNumGroups"/> (default shift) or no norm (scale_shift).</summary>
    public int? AttnNormNumGroups { get; init; }

    /// <summary><c>norm_eps</c>: epsilon of every GroupNorm.</summary>
    public double NormEps { get; init; } = 1e-5;

    /// <summary><c>resnet_time_scale_shift</c>.</summary>
    public ResnetTimeScaleShift ResnetTimeScaleShift { get; init; } = ResnetTimeScaleShift.Default;

    /// <summary><c>add_attention</c>: attention in the mid block.</summary>
    public bool AddAttention { get; init; } = true;

    /// <summary><c>class_embed_type</c>.</summary>
    public ClassEmbedType ClassEmbedType { get; init; } = ClassEmbedType.None;

    /// <summary><c>num_class_embeds</c>: size of the class lookup table when <see cref="ClassEmbedType"/> is None.</summary>
    public int? NumClassEmbeds { get; init; }

    /// <summary><c>num_train_timesteps</c>: only used by diffusers' "learned" time embedding; kept for round-tripping.</summary>
    public int? NumTrainTimesteps { get; init; }

    /// <summary>Most resolution levels accepted (diffusers' published UNet2DModels have at most 6).</summary>
    public const int MaxLevels = 16;

    /// <summary>Most resnets per down block accepted.</summary>
    public const int MaxLayersPerBlock = 64;

    /// <summary>Largest channel count (in, out, per level, attention head) or class count accepted: a sanity bound against corrupt configs.</summary>
    public const int MaxChannels = 1 << 16;

    /// <summary>Width of the time embedding: 4 x <c>block_out_channels[0]</c>.</summary>
    public int TimeEmbedDim => BlockOutChannels[0] * 4;

    /// <summary>Whether the model takes class labels.</summary>
    public bool IsClassConditional => ClassEmbedType != ClassEmbedType.None || NumClassEmbeds is not null;

    string IDenoiserConfig.ClassName => ClassName;

    /// <summary><c>[in_channels, sample_size, sample_size]</c>, or null without a sample_size.</summary>
    public IReadOnlyList<int>? SampleShape => SampleSize is int s ? [InChannels, s, s] : null;

    /// <summary>Class labels when <see cref="IsClassConditional"/>, otherwise none.</summary>
    public ConditionKind Conditioning => IsClassConditional ? ConditionKind.ClassLabel : ConditionKind.None;

    /// <summary>The real classes of a <c>num_class_embeds</c> model: all embeddings but the last, the null class.</summary>
    public int NumClasses => NumClassEmbeds is int n ? n - 1 : 0;

    /// <inheritdoc />
    public IDenoiser Build(Device? device = null) => new UNet2DModel(this, device);

    /// <summary>Reads and validates a diffusers <c>config.json</c>.</summary>
    /// <exception cref="InvalidInputException">Missing file, bad JSON, unknown key, unsupported value.</exception>
    public static UNet2DConfig Load(string path)
    {
        return FromJson(IO.JsonFile.ReadText(path, "config file"), path);
    }

    /// <summary>Parses a diffusers UNet2DModel config; <paramref name="source"/> names the origin in error messages.</summary>
    /// <exception cref="InvalidInputException">Bad JSON, unknown key, wrong type, or an unsupported option (the message names key and value).</exception>
    public static UNet2DConfig FromJson(string json, string source = "config.json")
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
            var r = new Reader(source);
            var c = new UNet2DConfig();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                var v = p.Value;
                c = p.Name switch
                {
                    "_class_name" => r.CheckClassName(v, c),
                    "sample_size" => c with { SampleSize = r.NullableInt(p.Name, v) },
                    "in_channels" => c with { InChannels = r.Int(p.Name, v) },
                    "out_channels" => c with { OutChannels = r.Int(p.Name, v) },
                    "center_input_sample" => c with { CenterInputSample = r.Bool(p.Name, v) },
                    "time_embedding_type" => c with { TimeEmbeddingType = r.Enum(p.Name, v, TimeEmbeddingNames) },
                    "freq_shift" => c with { FreqShift = r.Double(p.Name, v) },
                    "flip_sin_to_cos" => c with { FlipSinToCos = r.Bool(p.Name, v) },
                    "down_block_types" => c with { DownBlockTypes = r.List(p.Name, v, e => r.Enum(p.Name, e, DownBlockNames)) },
                    "up_block_types" => c with { UpBlockTypes = r.List(p.Name, v, e => r.Enum(p.Name, e, UpBlockNames)) },
                    "mid_block_type" => c with { MidBlockType = v.ValueKind == JsonValueKind.Null ? MidBlockType.None : r.Enum(p.Name, v, MidBlockNames) },
                    "block_out_channels" => c with { BlockOutChannels = r.List(p.Name, v, e => r.Int(p.Name, e)) },
                    "layers_per_block" => c with { LayersPerBlock = r.Int(p.Name, v) },
                    "mid_block_scale_factor" => c with { MidBlockScaleFactor = r.Double(p.Name, v) },
                    "downsample_padding" => c with { DownsamplePadding = r.Int(p.Name, v) },
                    "downsample_type" => c with { DownsampleType = r.Enum(p.Name, v, ResampleNames) },
                    "upsample_type" => c with { UpsampleType = r.Enum(p.Name, v, ResampleNames) },
                    "dropout" => c with { Dropout = r.Double(p.Name, v) },
                    "act_fn" => c with { ActFn = r.String(p.Name, v) },
                    "attention_head_dim" => c with { AttentionHeadDim = r.NullableInt(p.Name, v) },
                    "norm_num_groups" => c with { NormNumGroups = r.Int(p.Name, v) },
                    "attn_norm_num_groups" => c with { AttnNormNumGroups = r.NullableInt(p.Name, v) },
                    "norm_eps" => c with { NormEps = r.Double(p.Name, v) },
                    "resnet_time_scale_shift" => c with { ResnetTimeScaleShift = r.Enum(p.Name, v, TimeScaleShiftNames) },
                    "add_attention" => c with { AddAttention = r.Bool(p.Name, v) },
                    "class_embed_type" => c with { ClassEmbedType = v.ValueKind == JsonValueKind.Null ? ClassEmbedType.None : r.Enum(p.Name, v, ClassEmbedNames) },
                    "num_class_embeds" => c with { NumClassEmbeds = r.NullableInt(p.Name, v) },
                    "num_train_timesteps" => c with { NumTrainTimesteps = r.NullableInt(p.Name, v) },
                    _ when p.Name.StartsWith('_') => c,
                    _ => throw new InvalidInputException($"{source}: unknown UNet2DModel key '{p.Name}' (value {Short(v)}); this port implements diffusers {DiffusersVersion} UNet2DModel options only"),
                };
            }
            c.Validate(source);
            return c;
        }
    }

    /// <summary>
    /// Checks the option values and their combination (list lengths, ranges, supported act_fn).
    /// GroupNorm divisibility is checked per layer when the model is built, so the error can name the layer.
    /// </summary>
    /// <exception cref="InvalidInputException">The first problem found, naming the key and value.</exception>
    public void Validate(string source = "config")
    {
        void Fail(string key, object? value, string expected) =>
            throw new InvalidInputException($"{source}: {key} = {Format(value)} is not supported: expected {expected}");

        if (InChannels is < 1 or > MaxChannels) Fail("in_channels", InChannels, $"an integer in [1, {MaxChannels}]");
        if (OutChannels is < 1 or > MaxChannels) Fail("out_channels", OutChannels, $"an integer in [1, {MaxChannels}]");
        if (SampleSize is < 1) Fail("sample_size", SampleSize, "an integer >= 1 or null");
        if (BlockOutChannels.Count is 0 or > MaxLevels || BlockOutChannels.Any(ch => ch is < 1 or > MaxChannels))
            Fail("block_out_channels", BlockOutChannels, $"1 to {MaxLevels} integers in [1, {MaxChannels}]");
        if (DownBlockTypes.Count != BlockOutChannels.Count)
        {
            Fail("down_block_types", DownBlockTypes, $"one entry per block_out_channels entry ({BlockOutChannels.Count})");
        }
        if (UpBlockTypes.Count != BlockOutChannels.Count)
        {
            Fail("up_block_types", UpBlockTypes, $"one entry per block_out_channels entry ({BlockOutChannels.Count})");
        }
        if (LayersPerBlock is < 1 or > MaxLayersPerBlock) Fail("layers_per_block", LayersPerBlock, $"an integer in [1, {MaxLayersPerBlock}]");
        if (DownsamplePadding is not (0 or 1)) Fail("downsample_padding", DownsamplePadding, "0 or 1");
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout)) Fail("dropout", Dropout, "a probability in [0, 1)");
        if (ActFn is not ("silu" or "swish")) Fail("act_fn", ActFn, "\"silu\" (or \"swish\")");
        if (NormNumGroups < 1) Fail("norm_num_groups", NormNumGroups, "an integer >= 1");
        if (AttnNormNumGroups is < 1) Fail("attn_norm_num_groups", AttnNormNumGroups, "an integer >= 1 or null");
        if (!(NormEps > 0)) Fail("norm_eps", NormEps, "a positive number");
        if (!(MidBlockScaleFactor > 0)) Fail("mid_block_scale_factor", MidBlockScaleFactor, "a positive number");
        if (!double.IsFinite(FreqShift) || FreqShift >= BlockOutChannels[0] / 2) Fail("freq_shift", FreqShift, $"a number below half of block_out_channels[0] ({BlockOutChannels[0] / 2})");
        if (BlockOutChannels[0] % 2 != 0 && TimeEmbeddingType == TimeEmbeddingType.Positional)
        {
            Fail("block_out_channels", BlockOutChannels, "an even block_out_channels[0] (the sinusoidal embedding width)");
        }
        if (AttentionHeadDim is int hd)
        {
            if (hd < 1) Fail("attention_head_dim", hd, "an integer >= 1 or null");
            foreach (var ch in BlockOutChannels)
            {
                if (ch < hd) Fail("attention_head_dim", hd, $"at most the channel count of every level (block_out_channels {Format(BlockOutChannels)})");
            }
        }
        if (NumClassEmbeds is < 1 or > MaxChannels) Fail("num_class_embeds", NumClassEmbeds, $"an integer in [1, {MaxChannels}] or null");
        if (TimeEmbeddingType == TimeEmbeddingType.Fourier && ClassEmbedType == ClassEmbedType.Timestep)
        {
            Fail("class_embed_type", "timestep", "not \"timestep\" together with time_embedding_type \"fourier\"");
        }
    }

    /// <summary>The config as diffusers writes it: sorted keys, two-space indent, <c>_class_name</c> and <c>_diffusers_version</c> first.</summary>
    public string ToJson()
    {
        var entries = new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["_class_name"] = ClassName,
            ["_diffusers_version"] = DiffusersVersion,
            ["act_fn"] = ActFn,
            ["add_attention"] = AddAttention,
            ["attention_head_dim"] = AttentionHeadDim,
            ["attn_norm_num_groups"] = AttnNormNumGroups,
            ["block_out_channels"] = BlockOutChannels,
            ["center_input_sample"] = CenterInputSample,
            ["class_embed_type"] = ClassEmbedType == ClassEmbedType.None ? null : ClassEmbedNames[ClassEmbedType],
            ["down_block_types"] = DownBlockTypes.Select(t => DownBlockNames[t]).ToList(),
            ["downsample_padding"] = DownsamplePadding,
            ["downsample_type"] = ResampleNames[DownsampleType],
            ["dropout"] = Dropout,
            ["flip_sin_to_cos"] = FlipSinToCos,
            ["freq_shift"] = FreqShift,
            ["in_channels"] = InChannels,
            ["layers_per_block"] = LayersPerBlock,
            ["mid_block_scale_factor"] = MidBlockScaleFactor,
            ["norm_eps"] = NormEps,
            ["norm_num_groups"] = NormNumGroups,
            ["num_class_embeds"] = NumClassEmbeds,
            ["num_train_timesteps"] = NumTrainTimesteps,
            ["out_channels"] = OutChannels,
            ["resnet_time_scale_shift"] = TimeScaleShiftNames[ResnetTimeScaleShift],
            ["sample_size"] = SampleSize,
            ["time_embedding_type"] = TimeEmbeddingNames[TimeEmbeddingType],
            ["up_block_types"] = UpBlockTypes.Select(t => UpBlockNames[t]).ToList(),
            ["upsample_type"] = ResampleNames[UpsampleType],
        };
        // diffusers 0.30.3 has no mid_block_type key; write it only when it says something 0.30.3 cannot express.
        if (MidBlockType == MidBlockType.None) entries["mid_block_type"] = null;

        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            foreach (var (k, v) in entries)
            {
                w.WritePropertyName(k);
                WriteValue(w, v);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static void WriteValue(Utf8JsonWriter w, object? v)
    {
        switch (v)
        {
            case null: w.WriteNullValue(); break;
            case string s: w.WriteStringValue(s); break;
            case bool b: w.WriteBooleanValue(b); break;
            case int i: w.WriteNumberValue(i); break;
            case double d when d == Math.Floor(d) && Math.Abs(d) < 1e15: w.WriteNumberValue((long)d); break;
            case double d: w.WriteRawValue(d.ToString("R", CultureInfo.InvariantCulture)); break;
            case IEnumerable<int> list:
                w.WriteStartArray();
                foreach (var x in list) w.WriteNumberValue(x);
                w.WriteEndArray();
                break;
            case IEnumerable<string> list:
                w.WriteStartArray();
                foreach (var x in list) w.WriteStringValue(x);
                w.WriteEndArray();
                break;
            default: throw new InvalidOperationException($"cannot write {v.GetType()}");
        }
    }

    internal static readonly IReadOnlyDictionary<DownBlockType, string> DownBlockNames = new Dictionary<DownBlockType, string>
    {
        [DownBlockType.DownBlock2D] = "DownBlock2D",
        [DownBlockType.AttnDownBlock2D] = "AttnDownBlock2D",
    };

    internal static readonly IReadOnlyDictionary<UpBlockType, string> UpBlockNames = new Dictionary<UpBlockType, string>
    {
        [UpBlockType.UpBlock2D] = "UpBlock2D",
        [UpBlockType.AttnUpBlock2D] = "AttnUpBlock2D",
    };

    private static readonly IReadOnlyDictionary<MidBlockType, string> MidBlockNames = new Dictionary<MidBlockType, string>
    {
        [MidBlockType.UNetMidBlock2D] = "UNetMidBlock2D",
    };

    private static readonly IReadOnlyDictionary<TimeEmbeddingType, string> TimeEmbeddingNames = new Dictionary<TimeEmbeddingType, string>
    {
        [TimeEmbeddingType.Positional] = "positional",
        [TimeEmbeddingType.Fourier] = "fourier",
    };

    private static readonly IReadOnlyDictionary<ResampleType, string> ResampleNames = new Dictionary<ResampleType, string>
    {
        [ResampleType.Conv] = "conv",
        [ResampleType.Resnet] = "resnet",
    };

    private static readonly IReadOnlyDictionary<ResnetTimeScaleShift, string> TimeScaleShiftNames = new Dictionary<ResnetTimeScaleShift, string>
    {
        [ResnetTimeScaleShift.Default] = "default",
        [ResnetTimeScaleShift.ScaleShift] = "scale_shift",
    };

    private static readonly IReadOnlyDictionary<ClassEmbedType, string> ClassEmbedNames = new Dictionary<ClassEmbedType, string>
    {
        [ClassEmbedType.Timestep] = "timestep",
        [ClassEmbedType.Identity] = "identity",
    };

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

    /// <summary>Typed JSON getters whose errors name the file, the key and the value found.</summary>
    private sealed class Reader(string source)
    {
        private InvalidInputException Bad(string key, JsonElement v, string expected) =>
            new($"{source}: {key} = {Short(v)} is not supported: expected {expected}");

        public UNet2DConfig CheckClassName(JsonElement v, UNet2DConfig c) =>
            v.ValueKind == JsonValueKind.String && v.GetString() == ClassName ? c : throw Bad("_class_name", v, $"\"{ClassName}\"");

        public int Int(string key, JsonElement v) =>
            v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw Bad(key, v, "an integer");

        public int? NullableInt(string key, JsonElement v) => v.ValueKind == JsonValueKind.Null ? null : Int(key, v);

        public double Double(string key, JsonElement v) =>
            v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) ? d : throw Bad(key, v, "a number");

        public bool Bool(string key, JsonElement v) => v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Bad(key, v, "true or false"),
        };

        public string String(string key, JsonElement v) =>
            v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Bad(key, v, "a string");

        public T Enum<T>(string key, JsonElement v, IReadOnlyDictionary<T, string> names) where T : struct, Enum
        {
            var expected = string.Join(", ", names.Values.Select(n => "\"" + n + "\""));
            if (v.ValueKind != JsonValueKind.String) throw Bad(key, v, "one of " + expected);
            var s = v.GetString()!;
            // diffusers strips the legacy "UNetRes" prefix from block type names.
            if (s.StartsWith("UNetRes", StringComparison.Ordinal)) s = s["UNetRes".Length..];
            foreach (var (value, name) in names)
            {
                if (name == s) return value;
            }
            throw Bad(key, v, "one of " + expected);
        }

        public IReadOnlyList<T> List<T>(string key, JsonElement v, Func<JsonElement, T> item) =>
            v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(item).ToList() : throw Bad(key, v, "a list");
    }
}
