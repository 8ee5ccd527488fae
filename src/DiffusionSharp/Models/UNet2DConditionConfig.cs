using System.Text;
using System.Text.Json;
using DiffusionSharp.Conditioning;
using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>
/// The architecture of a <see cref="UNet2DConditionModel"/>: the constructor arguments of diffusers' (0.30.3)
/// <c>UNet2DConditionModel</c> that Stable Diffusion 1.x/2.x use. Defaults are diffusers' defaults; <see cref="FromJson"/> /
/// <see cref="ToJson"/> use diffusers' snake_case keys. The many diffusers options for other pipelines (added embeddings,
/// encoder projections, dual cross-attention, ...) are accepted only at their default value; any other value is an error
/// naming the key and value.
/// </summary>
/// <remarks>
/// <see cref="AttentionHeadDim"/> keeps diffusers' misnomer: in 0.30.3 <c>num_attention_heads</c> must be null and
/// <c>attention_head_dim</c> is used as the <b>number of heads</b> of each level's Transformer2DModel, each head
/// <c>channels / heads</c> wide (SD 1.5: 8 heads of 40 to 160 channels; SD 2.x: [5, 10, 20, 20] heads of 64).
/// </remarks>
public sealed record UNet2DConditionConfig : IDenoiserConfig
{
    /// <summary>diffusers' class name, written as <c>_class_name</c>.</summary>
    public const string ClassName = "UNet2DConditionModel";

    /// <summary>Most resolution levels accepted.</summary>
    public const int MaxLevels = 16;

    /// <summary>Most resnets per block, or transformer blocks per attention, accepted.</summary>
    public const int MaxLayers = 64;

    /// <summary>Largest channel or class count accepted: a sanity bound against corrupt configs.</summary>
    public const int MaxChannels = 1 << 16;

    /// <summary><c>sample_size</c>: training resolution of the latents (informational).</summary>
    public int? SampleSize { get; init; }

    /// <summary><c>in_channels</c>.</summary>
    public int InChannels { get; init; } = 4;

    /// <summary><c>out_channels</c>.</summary>
    public int OutChannels { get; init; } = 4;

    /// <summary><c>center_input_sample</c>: map the input with 2x-1 first.</summary>
    public bool CenterInputSample { get; init; }

    /// <summary><c>flip_sin_to_cos</c>: cos first in the sinusoidal time embedding.</summary>
    public bool FlipSinToCos { get; init; } = true;

    /// <summary><c>freq_shift</c>: the sinusoid's frequency denominator is half_dim - freq_shift.</summary>
    public double FreqShift { get; init; }

    /// <summary><c>down_block_types</c>, highest resolution first.</summary>
    public IReadOnlyList<CrossAttnDownBlockType> DownBlockTypes { get; init; } =
    [
        CrossAttnDownBlockType.CrossAttnDownBlock2D, CrossAttnDownBlockType.CrossAttnDownBlock2D,
        CrossAttnDownBlockType.CrossAttnDownBlock2D, CrossAttnDownBlockType.DownBlock2D,
    ];

    /// <summary><c>mid_block_type</c>.</summary>
    public CrossAttnMidBlockType MidBlockType { get; init; } = CrossAttnMidBlockType.UNetMidBlock2DCrossAttn;

    /// <summary><c>up_block_types</c>, lowest resolution first.</summary>
    public IReadOnlyList<CrossAttnUpBlockType> UpBlockTypes { get; init; } =
    [
        CrossAttnUpBlockType.UpBlock2D, CrossAttnUpBlockType.CrossAttnUpBlock2D,
        CrossAttnUpBlockType.CrossAttnUpBlock2D, CrossAttnUpBlockType.CrossAttnUpBlock2D,
    ];

    /// <summary><c>block_out_channels</c>, one per level.</summary>
    public IReadOnlyList<int> BlockOutChannels { get; init; } = [320, 640, 1280, 1280];

    /// <summary><c>layers_per_block</c>: resnets per down block (up blocks have one more).</summary>
    public int LayersPerBlock { get; init; } = 2;

    /// <summary><c>downsample_padding</c>: padding of the stride-2 downsampling convs (0 = pad right/bottom by one first).</summary>
    public int DownsamplePadding { get; init; } = 1;

    /// <summary><c>mid_block_scale_factor</c>: output_scale_factor of the mid block's resnets.</summary>
    public double MidBlockScaleFactor { get; init; } = 1;

    /// <summary><c>dropout</c> inside every ResnetBlock2D and transformer block, in [0, 1).</summary>
    public double Dropout { get; init; }

    /// <summary><c>act_fn</c>: only <c>"silu"</c> (alias <c>"swish"</c>).</summary>
    public string ActFn { get; init; } = "silu";

    /// <summary><c>norm_num_groups</c>: GroupNorm groups everywhere (resnets, transformer norms, conv_norm_out).</summary>
    public int NormNumGroups { get; init; } = 32;

    /// <summary><c>norm_eps</c>: epsilon of the resnets' and conv_norm_out's GroupNorms (the transformers' GroupNorm uses 1e-6, LayerNorms 1e-5, as diffusers).</summary>
    public double NormEps { get; init; } = 1e-5;

    /// <summary><c>cross_attention_dim</c>: width D of <c>encoder_hidden_states</c> [B, L, D] (CLIP ViT-L/14: 768; OpenCLIP ViT-H: 1024).</summary>
    public int CrossAttentionDim { get; init; } = 1280;

    /// <summary><c>transformer_layers_per_block</c>: BasicTransformerBlocks per Transformer2DModel; one entry for every level, or one per level (JSON: an int or a list).</summary>
    public IReadOnlyList<int> TransformerLayersPerBlock { get; init; } = [1];

    /// <summary><c>attention_head_dim</c>: the <b>number of heads</b> (see the remarks); one entry for every level, or one per level (JSON: an int or a list).</summary>
    public IReadOnlyList<int> AttentionHeadDim { get; init; } = [8];

    /// <summary><c>use_linear_projection</c>: Transformer2DModel's proj_in/proj_out are Linear layers (SD 2.x) instead of 1x1 convs (SD 1.x).</summary>
    public bool UseLinearProjection { get; init; }

    /// <summary><c>upcast_attention</c>: diffusers computes QK^T in float32 for half-precision runs; this port computes in float32 anyway. Kept for round-tripping.</summary>
    public bool UpcastAttention { get; init; }

    /// <summary><c>num_class_embeds</c>: a class lookup table added to the time embedding (class_embed_type null); null = none.</summary>
    public int? NumClassEmbeds { get; init; }

    /// <summary><c>resnet_time_scale_shift</c>.</summary>
    public ResnetTimeScaleShift ResnetTimeScaleShift { get; init; } = ResnetTimeScaleShift.Default;

    /// <summary><c>time_embedding_dim</c>: width of the time embedding; null = 4 x <c>block_out_channels[0]</c>.</summary>
    public int? TimeEmbeddingDim { get; init; }

    /// <summary><c>conv_in_kernel</c>: odd kernel size of conv_in.</summary>
    public int ConvInKernel { get; init; } = 3;

    /// <summary><c>conv_out_kernel</c>: odd kernel size of conv_out.</summary>
    public int ConvOutKernel { get; init; } = 3;

    /// <summary><c>addition_embed_type_num_heads</c>: unused without addition_embed_type; kept for round-tripping.</summary>
    public int AdditionEmbedTypeNumHeads { get; init; } = 64;

    /// <summary>Width of the time embedding.</summary>
    public int TimeEmbedDim => TimeEmbeddingDim ?? BlockOutChannels[0] * 4;

    /// <summary>Whether the model also takes class labels (<c>num_class_embeds</c>).</summary>
    public bool IsClassConditional => NumClassEmbeds is not null;

    /// <summary>Attention heads of level <paramref name="level"/>'s Transformer2DModels (diffusers' <c>num_attention_heads[level]</c>).</summary>
    public int HeadsAt(int level) => AttentionHeadDim.Count == 1 ? AttentionHeadDim[0] : AttentionHeadDim[level];

    /// <summary>BasicTransformerBlocks in each of level <paramref name="level"/>'s Transformer2DModels.</summary>
    public int TransformerLayersAt(int level) => TransformerLayersPerBlock.Count == 1 ? TransformerLayersPerBlock[0] : TransformerLayersPerBlock[level];

    string IDenoiserConfig.ClassName => ClassName;

    /// <summary><c>[in_channels, sample_size, sample_size]</c>, or null without a sample_size.</summary>
    public IReadOnlyList<int>? SampleShape => SampleSize is int s ? [InChannels, s, s] : null;

    /// <summary>Always <see cref="ConditionKind.Embedding"/>: the model attends to <c>encoder_hidden_states</c>.</summary>
    public ConditionKind Conditioning => ConditionKind.Embedding;

    /// <summary>0: the condition is an embedding sequence, not a class label.</summary>
    public int NumClasses => 0;

    /// <inheritdoc />
    public IDenoiser Build(Device? device = null) => new UNet2DConditionModel(this, device);

    /// <summary>Reads and validates a diffusers <c>config.json</c>.</summary>
    /// <exception cref="InvalidInputException">Missing file, bad JSON, unknown key, unsupported value.</exception>
    public static UNet2DConditionConfig Load(string path) => FromJson(IO.JsonFile.ReadText(path, "config file"), path);

    /// <summary>Parses a diffusers UNet2DConditionModel config; <paramref name="source"/> names the origin in error messages.</summary>
    /// <exception cref="InvalidInputException">Bad JSON, unknown key, wrong type, or an unsupported option (the message names key and value).</exception>
    public static UNet2DConditionConfig FromJson(string json, string source = "config.json")
    {
        IO.JsonFile.CheckLength(json, source);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, IO.JsonFile.DocumentOptions); }
        catch (JsonException e) { throw new InvalidInputException($"{source}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidInputException($"{source}: expected a JSON object, found {doc.RootElement.ValueKind}");
            var r = new DiffusersConfigReader(source);
            var c = new UNet2DConditionConfig();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                var v = p.Value;
                var k = p.Name;
                c = k switch
                {
                    "_class_name" => r.ClassName(v, ClassName) ? c : c,
                    "sample_size" => c with { SampleSize = r.NullableInt(k, v) },
                    "in_channels" => c with { InChannels = r.Int(k, v) },
                    "out_channels" => c with { OutChannels = r.Int(k, v) },
                    "center_input_sample" => c with { CenterInputSample = r.Bool(k, v) },
                    "flip_sin_to_cos" => c with { FlipSinToCos = r.Bool(k, v) },
                    "freq_shift" => c with { FreqShift = r.Double(k, v) },
                    "down_block_types" => c with { DownBlockTypes = r.List(k, v, e => r.Enum(k, e, DownBlockNames)) },
                    "mid_block_type" => c with { MidBlockType = v.ValueKind == JsonValueKind.Null ? CrossAttnMidBlockType.None : r.Enum(k, v, MidBlockNames) },
                    "up_block_types" => c with { UpBlockTypes = r.List(k, v, e => r.Enum(k, e, UpBlockNames)) },
                    "block_out_channels" => c with { BlockOutChannels = r.List(k, v, e => r.Int(k, e)) },
                    "layers_per_block" => c with { LayersPerBlock = r.Int(k, v, "an integer (one layers_per_block for every level)") },
                    "downsample_padding" => c with { DownsamplePadding = r.Int(k, v) },
                    "mid_block_scale_factor" => c with { MidBlockScaleFactor = r.Double(k, v) },
                    "dropout" => c with { Dropout = r.Double(k, v) },
                    "act_fn" => c with { ActFn = r.String(k, v) },
                    "norm_num_groups" => c with { NormNumGroups = r.Int(k, v, "an integer (null, no normalisation, is not supported)") },
                    "norm_eps" => c with { NormEps = r.Double(k, v) },
                    "cross_attention_dim" => c with { CrossAttentionDim = r.Int(k, v, "an integer (one cross_attention_dim for every block)") },
                    "transformer_layers_per_block" => c with { TransformerLayersPerBlock = r.IntOrList(k, v) },
                    "attention_head_dim" => c with { AttentionHeadDim = r.IntOrList(k, v) },
                    "use_linear_projection" => c with { UseLinearProjection = r.Bool(k, v) },
                    "upcast_attention" => c with { UpcastAttention = r.Bool(k, v) },
                    "num_class_embeds" => c with { NumClassEmbeds = r.NullableInt(k, v) },
                    "resnet_time_scale_shift" => c with { ResnetTimeScaleShift = r.Enum(k, v, TimeScaleShiftNames) },
                    "time_embedding_dim" => c with { TimeEmbeddingDim = r.NullableInt(k, v) },
                    "conv_in_kernel" => c with { ConvInKernel = r.Int(k, v) },
                    "conv_out_kernel" => c with { ConvOutKernel = r.Int(k, v) },
                    "addition_embed_type_num_heads" => c with { AdditionEmbedTypeNumHeads = r.Int(k, v) },
                    _ when FixedKeys.TryGetValue(k, out var fixedValue) => r.Fixed(k, v, fixedValue) ? c : c,
                    _ when k.StartsWith('_') => c,
                    _ => throw new InvalidInputException(
                        $"{source}: unknown UNet2DConditionModel key '{k}' (value {DiffusersConfigReader.Short(v)}); this port implements diffusers {UNet2DConfig.DiffusersVersion} UNet2DConditionModel options only"),
                };
            }
            c.Validate(source);
            return c;
        }
    }

    /// <summary>Checks the option values and their combination; GroupNorm divisibility is checked per layer when the model is built.</summary>
    /// <exception cref="InvalidInputException">The first problem found, naming the key and value.</exception>
    public void Validate(string source = "config")
    {
        void Fail(string key, object? value, string expected) =>
            throw new InvalidInputException($"{source}: {key} = {DiffusersConfigReader.Format(value)} is not supported: expected {expected}");

        var levels = BlockOutChannels.Count;
        if (InChannels is < 1 or > MaxChannels) Fail("in_channels", InChannels, $"an integer in [1, {MaxChannels}]");
        if (OutChannels is < 1 or > MaxChannels) Fail("out_channels", OutChannels, $"an integer in [1, {MaxChannels}]");
        if (SampleSize is < 1) Fail("sample_size", SampleSize, "an integer >= 1 or null");
        if (levels is 0 or > MaxLevels || BlockOutChannels.Any(ch => ch is < 1 or > MaxChannels))
            Fail("block_out_channels", BlockOutChannels, $"1 to {MaxLevels} integers in [1, {MaxChannels}]");
        if (DownBlockTypes.Count != levels) Fail("down_block_types", DownBlockTypes, $"one entry per block_out_channels entry ({levels})");
        if (UpBlockTypes.Count != levels) Fail("up_block_types", UpBlockTypes, $"one entry per block_out_channels entry ({levels})");
        if (LayersPerBlock is < 1 or > MaxLayers) Fail("layers_per_block", LayersPerBlock, $"an integer in [1, {MaxLayers}]");
        if (DownsamplePadding is not (0 or 1)) Fail("downsample_padding", DownsamplePadding, "0 or 1");
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout)) Fail("dropout", Dropout, "a probability in [0, 1)");
        if (ActFn is not ("silu" or "swish")) Fail("act_fn", ActFn, "\"silu\" (or \"swish\")");
        if (NormNumGroups < 1) Fail("norm_num_groups", NormNumGroups, "an integer >= 1");
        if (!(NormEps > 0)) Fail("norm_eps", NormEps, "a positive number");
        if (!(MidBlockScaleFactor > 0)) Fail("mid_block_scale_factor", MidBlockScaleFactor, "a positive number");
        if (CrossAttentionDim is < 1 or > MaxChannels) Fail("cross_attention_dim", CrossAttentionDim, $"an integer in [1, {MaxChannels}]");
        if (TimeEmbeddingDim is < 1 or > MaxChannels) Fail("time_embedding_dim", TimeEmbeddingDim, $"an integer in [1, {MaxChannels}] or null");
        if (NumClassEmbeds is < 1 or > MaxChannels) Fail("num_class_embeds", NumClassEmbeds, $"an integer in [1, {MaxChannels}] or null");
        if (ConvInKernel is < 1 or > 15 || ConvInKernel % 2 == 0) Fail("conv_in_kernel", ConvInKernel, "an odd integer in [1, 15]");
        if (ConvOutKernel is < 1 or > 15 || ConvOutKernel % 2 == 0) Fail("conv_out_kernel", ConvOutKernel, "an odd integer in [1, 15]");
        if (BlockOutChannels[0] % 2 != 0) Fail("block_out_channels", BlockOutChannels, "an even block_out_channels[0] (the sinusoidal embedding width)");
        if (!double.IsFinite(FreqShift) || FreqShift >= BlockOutChannels[0] / 2)
            Fail("freq_shift", FreqShift, $"a number below half of block_out_channels[0] ({BlockOutChannels[0] / 2})");
        if (TransformerLayersPerBlock.Count is not 1 && TransformerLayersPerBlock.Count != levels || TransformerLayersPerBlock.Any(n => n is < 1 or > MaxLayers))
            Fail("transformer_layers_per_block", TransformerLayersPerBlock, $"an integer in [1, {MaxLayers}] or one per level ({levels})");
        if (AttentionHeadDim.Count is not 1 && AttentionHeadDim.Count != levels) Fail("attention_head_dim", AttentionHeadDim, $"an integer or one per level ({levels})");
        for (var i = 0; i < levels; i++)
        {
            // Levels without attention never read their entry, as in diffusers; the mid block reads the last one.
            bool used = DownBlockTypes[i] == CrossAttnDownBlockType.CrossAttnDownBlock2D
                || UpBlockTypes[levels - 1 - i] == CrossAttnUpBlockType.CrossAttnUpBlock2D
                || (i == levels - 1 && MidBlockType == CrossAttnMidBlockType.UNetMidBlock2DCrossAttn);
            if (used && (HeadsAt(i) < 1 || HeadsAt(i) > BlockOutChannels[i]))
                Fail("attention_head_dim", AttentionHeadDim, $"a head count in [1, channels] for every level with attention (block_out_channels {DiffusersConfigReader.Format(BlockOutChannels)})");
        }
    }

    /// <summary>The config as diffusers writes it: sorted keys, two-space indent, every key diffusers 0.30.3 writes.</summary>
    public string ToJson()
    {
        static object Compact(IReadOnlyList<int> values) => values.All(v => v == values[0]) ? values[0] : values;
        var entries = new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["_class_name"] = ClassName,
            ["_diffusers_version"] = UNet2DConfig.DiffusersVersion,
            ["act_fn"] = ActFn,
            ["addition_embed_type_num_heads"] = AdditionEmbedTypeNumHeads,
            ["attention_head_dim"] = Compact(AttentionHeadDim),
            ["block_out_channels"] = BlockOutChannels,
            ["center_input_sample"] = CenterInputSample,
            ["conv_in_kernel"] = ConvInKernel,
            ["conv_out_kernel"] = ConvOutKernel,
            ["cross_attention_dim"] = CrossAttentionDim,
            ["down_block_types"] = DownBlockTypes.Select(t => DownBlockNames[t]).ToList(),
            ["downsample_padding"] = DownsamplePadding,
            ["dropout"] = Dropout,
            ["flip_sin_to_cos"] = FlipSinToCos,
            ["freq_shift"] = FreqShift,
            ["in_channels"] = InChannels,
            ["layers_per_block"] = LayersPerBlock,
            ["mid_block_scale_factor"] = MidBlockScaleFactor,
            ["mid_block_type"] = MidBlockType == CrossAttnMidBlockType.None ? null : MidBlockNames[MidBlockType],
            ["norm_eps"] = NormEps,
            ["norm_num_groups"] = NormNumGroups,
            ["num_class_embeds"] = NumClassEmbeds,
            ["out_channels"] = OutChannels,
            ["resnet_time_scale_shift"] = TimeScaleShiftNames[ResnetTimeScaleShift],
            ["sample_size"] = SampleSize,
            ["time_embedding_dim"] = TimeEmbeddingDim,
            ["transformer_layers_per_block"] = Compact(TransformerLayersPerBlock),
            ["up_block_types"] = UpBlockTypes.Select(t => UpBlockNames[t]).ToList(),
            ["upcast_attention"] = UpcastAttention,
            ["use_linear_projection"] = UseLinearProjection,
        };
        foreach (var (key, value) in FixedKeys) entries[key] = value.Write;

        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            foreach (var (k, v) in entries)
            {
                w.WritePropertyName(k);
                DiffusersConfigReader.WriteValue(w, v);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>
    /// diffusers options for other pipelines (SDXL's added embeddings, Kandinsky's encoder projection, Versatile
    /// Diffusion's dual attention, ...): accepted at their default only, written back as that default.
    /// </summary>
    private static readonly IReadOnlyDictionary<string, DiffusersConfigReader.FixedValue> FixedKeys =
        new Dictionary<string, DiffusersConfigReader.FixedValue>
        {
            ["addition_embed_type"] = DiffusersConfigReader.FixedValue.Null,
            ["addition_time_embed_dim"] = DiffusersConfigReader.FixedValue.Null,
            ["attention_type"] = DiffusersConfigReader.FixedValue.Text("default"),
            ["class_embed_type"] = DiffusersConfigReader.FixedValue.Null,
            ["class_embeddings_concat"] = DiffusersConfigReader.FixedValue.False,
            ["cross_attention_norm"] = DiffusersConfigReader.FixedValue.Null,
            ["dual_cross_attention"] = DiffusersConfigReader.FixedValue.False,
            ["encoder_hid_dim"] = DiffusersConfigReader.FixedValue.Null,
            ["encoder_hid_dim_type"] = DiffusersConfigReader.FixedValue.Null,
            ["mid_block_only_cross_attention"] = DiffusersConfigReader.FixedValue.NullOrFalse,
            ["num_attention_heads"] = DiffusersConfigReader.FixedValue.Null,
            ["only_cross_attention"] = DiffusersConfigReader.FixedValue.False,
            ["projection_class_embeddings_input_dim"] = DiffusersConfigReader.FixedValue.Null,
            ["resnet_out_scale_factor"] = DiffusersConfigReader.FixedValue.Number(1.0),
            ["resnet_skip_time_act"] = DiffusersConfigReader.FixedValue.False,
            ["reverse_transformer_layers_per_block"] = DiffusersConfigReader.FixedValue.Null,
            ["time_cond_proj_dim"] = DiffusersConfigReader.FixedValue.Null,
            ["time_embedding_act_fn"] = DiffusersConfigReader.FixedValue.Null,
            ["time_embedding_type"] = DiffusersConfigReader.FixedValue.Text("positional"),
            ["timestep_post_act"] = DiffusersConfigReader.FixedValue.Null,
        };

    internal static readonly IReadOnlyDictionary<CrossAttnDownBlockType, string> DownBlockNames = new Dictionary<CrossAttnDownBlockType, string>
    {
        [CrossAttnDownBlockType.DownBlock2D] = "DownBlock2D",
        [CrossAttnDownBlockType.CrossAttnDownBlock2D] = "CrossAttnDownBlock2D",
    };

    internal static readonly IReadOnlyDictionary<CrossAttnUpBlockType, string> UpBlockNames = new Dictionary<CrossAttnUpBlockType, string>
    {
        [CrossAttnUpBlockType.UpBlock2D] = "UpBlock2D",
        [CrossAttnUpBlockType.CrossAttnUpBlock2D] = "CrossAttnUpBlock2D",
    };

    private static readonly IReadOnlyDictionary<CrossAttnMidBlockType, string> MidBlockNames = new Dictionary<CrossAttnMidBlockType, string>
    {
        [CrossAttnMidBlockType.UNetMidBlock2DCrossAttn] = "UNetMidBlock2DCrossAttn",
    };

    private static readonly IReadOnlyDictionary<ResnetTimeScaleShift, string> TimeScaleShiftNames = new Dictionary<ResnetTimeScaleShift, string>
    {
        [ResnetTimeScaleShift.Default] = "default",
        [ResnetTimeScaleShift.ScaleShift] = "scale_shift",
    };
}
