namespace DiffusionSharp.Models.Autoencoders;

/// <summary>
/// The architecture and latent scaling of an <see cref="AutoencoderKL"/>, field for field the constructor arguments of diffusers'
/// (0.30.3) <c>AutoencoderKL</c> with its defaults. <see cref="FromJson"/> / <see cref="ToJson"/> use diffusers' keys, so a
/// <c>config.json</c> round-trips with Python; an unknown key or an option this port does not implement is an error naming it.
/// </summary>
public sealed record AutoencoderKLConfig
{
    /// <summary>diffusers' class name, written as <c>_class_name</c>.</summary>
    public const string ClassName = "AutoencoderKL";

    /// <summary>The only down block type: diffusers' <c>DownEncoderBlock2D</c>.</summary>
    public const string DownBlockType = "DownEncoderBlock2D";

    /// <summary>The only up block type: diffusers' <c>UpDecoderBlock2D</c>.</summary>
    public const string UpBlockType = "UpDecoderBlock2D";

    /// <summary>Largest channel count accepted: a sanity bound against corrupt configs.</summary>
    public const int MaxChannels = 1 << 16;

    /// <summary>Most resolution levels accepted.</summary>
    public const int MaxLevels = 16;

    /// <summary><c>in_channels</c>: image channels.</summary>
    public int InChannels { get; init; } = 3;

    /// <summary><c>out_channels</c>: channels of the decoded image.</summary>
    public int OutChannels { get; init; } = 3;

    /// <summary><c>block_out_channels</c>, one per level, highest resolution first; every level but the last halves H and W.</summary>
    public IReadOnlyList<int> BlockOutChannels { get; init; } = [64];

    /// <summary><c>layers_per_block</c>: resnets per encoder level (decoder levels have one more).</summary>
    public int LayersPerBlock { get; init; } = 1;

    /// <summary><c>act_fn</c>: only <c>"silu"</c> (alias <c>"swish"</c>) is supported.</summary>
    public string ActFn { get; init; } = "silu";

    /// <summary><c>latent_channels</c>: channels of the latent z (the encoder emits twice as many: mean and log-variance).</summary>
    public int LatentChannels { get; init; } = 4;

    /// <summary><c>norm_num_groups</c>: GroupNorm groups everywhere (eps 1e-6, as diffusers' VAE); must divide every channel count.</summary>
    public int NormNumGroups { get; init; } = 32;

    /// <summary><c>sample_size</c>: the training resolution (informational; diffusers uses it only for tiling).</summary>
    public int SampleSize { get; init; } = 32;

    /// <summary><c>scaling_factor</c>: latents are multiplied by it before diffusion and divided by it before decoding.</summary>
    public double ScalingFactor { get; init; } = 0.18215;

    /// <summary><c>shift_factor</c>: subtracted from latents before scaling (SD3, Flux); null = 0.</summary>
    public double? ShiftFactor { get; init; }

    /// <summary><c>force_upcast</c>: diffusers runs such a VAE in float32; this port always computes in the weights' float32, kept for round-tripping.</summary>
    public bool ForceUpcast { get; init; } = true;

    /// <summary><c>use_quant_conv</c>: a 1x1 conv on the encoder's moments.</summary>
    public bool UseQuantConv { get; init; } = true;

    /// <summary><c>use_post_quant_conv</c>: a 1x1 conv on z before the decoder.</summary>
    public bool UsePostQuantConv { get; init; } = true;

    /// <summary><c>mid_block_add_attention</c>: single-head self-attention in both mid blocks.</summary>
    public bool MidBlockAddAttention { get; init; } = true;

    /// <summary>How much smaller the latent is than the image along H and W: 2^(levels - 1).</summary>
    public int DownsamplingFactor => 1 << (BlockOutChannels.Count - 1);

    /// <summary>Reads and validates a diffusers <c>config.json</c>.</summary>
    /// <exception cref="InvalidInputException">Missing file, bad JSON, unknown key, unsupported value.</exception>
    public static AutoencoderKLConfig Load(string path) => FromJson(IO.JsonFile.ReadText(path, "config file"), path);

    /// <summary>Parses a diffusers AutoencoderKL config; <paramref name="source"/> names the origin in error messages.</summary>
    /// <exception cref="InvalidInputException">Bad JSON, unknown key, wrong type, or an unsupported option (the message names key and value).</exception>
    public static AutoencoderKLConfig FromJson(string json, string source = "config.json")
    {
        var c = new AutoencoderKLConfig();
        int? downBlocks = null, upBlocks = null;
        AutoencoderConfigReader.ForEachKey(json, source, ClassName, (r, p) =>
        {
            var v = p.Value;
            switch (p.Name)
            {
                case "in_channels": c = c with { InChannels = r.Int(p.Name, v) }; break;
                case "out_channels": c = c with { OutChannels = r.Int(p.Name, v) }; break;
                case "down_block_types": downBlocks = r.CountOf(p.Name, v, DownBlockType); break;
                case "up_block_types": upBlocks = r.CountOf(p.Name, v, UpBlockType); break;
                case "block_out_channels": c = c with { BlockOutChannels = r.Ints(p.Name, v) }; break;
                case "layers_per_block": c = c with { LayersPerBlock = r.Int(p.Name, v) }; break;
                case "act_fn": c = c with { ActFn = r.String(p.Name, v) }; break;
                case "latent_channels": c = c with { LatentChannels = r.Int(p.Name, v) }; break;
                case "norm_num_groups": c = c with { NormNumGroups = r.Int(p.Name, v) }; break;
                case "sample_size": c = c with { SampleSize = r.Int(p.Name, v) }; break;
                case "scaling_factor": c = c with { ScalingFactor = r.Double(p.Name, v) }; break;
                case "shift_factor": c = c with { ShiftFactor = r.NullableDouble(p.Name, v) }; break;
                case "force_upcast": c = c with { ForceUpcast = r.Bool(p.Name, v) }; break;
                case "use_quant_conv": c = c with { UseQuantConv = r.Bool(p.Name, v) }; break;
                case "use_post_quant_conv": c = c with { UsePostQuantConv = r.Bool(p.Name, v) }; break;
                case "mid_block_add_attention": c = c with { MidBlockAddAttention = r.Bool(p.Name, v) }; break;
                case "latents_mean" or "latents_std":
                    // Per-channel latent statistics (SDXL-era pipelines): the pipelines use them, the model does not; not implemented here.
                    if (v.ValueKind != System.Text.Json.JsonValueKind.Null) throw r.Bad(p.Name, v, "null (per-channel latent statistics are not supported)");
                    break;
                default: throw r.Unknown(p);
            }
        });
        // diffusers' defaults are one-entry lists; a config that names the block types must name one per level.
        var levels = c.BlockOutChannels.Count;
        if ((downBlocks ?? levels) != levels)
            throw new InvalidInputException($"{source}: down_block_types has {downBlocks} entries, block_out_channels {levels}: expected one block type per level");
        if ((upBlocks ?? levels) != levels)
            throw new InvalidInputException($"{source}: up_block_types has {upBlocks} entries, block_out_channels {levels}: expected one block type per level");
        c.Validate(source);
        return c;
    }

    /// <summary>
    /// Checks values and their combination. GroupNorm divisibility is checked per layer when the model is built, so the error names the layer.
    /// </summary>
    /// <exception cref="InvalidInputException">The first problem found, naming the key and value.</exception>
    public void Validate(string source = "config")
    {
        void Fail(string key, object? value, string expected) =>
            throw new InvalidInputException($"{source}: {key} = {AutoencoderConfigReader.Format(value)} is not supported: expected {expected}");

        if (InChannels is < 1 or > MaxChannels) Fail("in_channels", InChannels, $"an integer in [1, {MaxChannels}]");
        if (OutChannels is < 1 or > MaxChannels) Fail("out_channels", OutChannels, $"an integer in [1, {MaxChannels}]");
        if (LatentChannels is < 1 or > MaxChannels) Fail("latent_channels", LatentChannels, $"an integer in [1, {MaxChannels}]");
        if (BlockOutChannels.Count is 0 or > MaxLevels || BlockOutChannels.Any(ch => ch is < 1 or > MaxChannels))
            Fail("block_out_channels", BlockOutChannels, $"1 to {MaxLevels} integers in [1, {MaxChannels}]");
        if (LayersPerBlock is < 1 or > 64) Fail("layers_per_block", LayersPerBlock, "an integer in [1, 64]");
        if (ActFn is not ("silu" or "swish")) Fail("act_fn", ActFn, "\"silu\" (or \"swish\")");
        if (NormNumGroups < 1) Fail("norm_num_groups", NormNumGroups, "an integer >= 1");
        if (SampleSize < 1) Fail("sample_size", SampleSize, "an integer >= 1");
        if (!(ScalingFactor > 0) || !double.IsFinite(ScalingFactor)) Fail("scaling_factor", ScalingFactor, "a positive number");
        if (ShiftFactor is double s && !double.IsFinite(s)) Fail("shift_factor", s, "a finite number or null");
    }

    /// <summary>The config as diffusers writes it: sorted keys, two-space indent, <c>_class_name</c> and <c>_diffusers_version</c> first.</summary>
    public string ToJson() => AutoencoderConfigWriter.ToJson(ClassName, new Dictionary<string, object?>
    {
        ["act_fn"] = ActFn,
        ["block_out_channels"] = BlockOutChannels,
        ["down_block_types"] = Enumerable.Repeat(DownBlockType, BlockOutChannels.Count).ToList(),
        ["force_upcast"] = ForceUpcast,
        ["in_channels"] = InChannels,
        ["latent_channels"] = LatentChannels,
        ["latents_mean"] = null,
        ["latents_std"] = null,
        ["layers_per_block"] = LayersPerBlock,
        ["mid_block_add_attention"] = MidBlockAddAttention,
        ["norm_num_groups"] = NormNumGroups,
        ["out_channels"] = OutChannels,
        ["sample_size"] = SampleSize,
        ["scaling_factor"] = ScalingFactor,
        ["shift_factor"] = ShiftFactor,
        ["up_block_types"] = Enumerable.Repeat(UpBlockType, BlockOutChannels.Count).ToList(),
        ["use_post_quant_conv"] = UsePostQuantConv,
        ["use_quant_conv"] = UseQuantConv,
    });

    /// <summary>Value equality including the channel list (records compare lists by reference).</summary>
    public bool Equals(AutoencoderKLConfig? other) => other is not null && ToJson() == other.ToJson();

    /// <inheritdoc />
    public override int GetHashCode() => ToJson().GetHashCode(StringComparison.Ordinal);
}
