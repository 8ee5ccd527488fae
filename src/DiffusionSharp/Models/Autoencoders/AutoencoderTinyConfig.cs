namespace DiffusionSharp.Models.Autoencoders;

/// <summary>
/// The architecture and latent scaling of an <see cref="AutoencoderTiny"/> (TAESD), field for field the constructor arguments of
/// diffusers' (0.30.3) <c>AutoencoderTiny</c> with its defaults (the published TAESD: 64 channels, blocks (1,3,3,3) / (3,3,3,1)).
/// diffusers' config also holds <c>block_out_channels</c> (it registers the decoder's channels under that name and ignores the key on
/// load); it is read, checked against <see cref="DecoderBlockOutChannels"/> and written back the same way.
/// </summary>
public sealed record AutoencoderTinyConfig
{
    /// <summary>diffusers' class name, written as <c>_class_name</c>.</summary>
    public const string ClassName = "AutoencoderTiny";

    /// <summary>Largest channel count accepted: a sanity bound against corrupt configs.</summary>
    public const int MaxChannels = 1 << 16;

    /// <summary><c>in_channels</c>: image channels.</summary>
    public int InChannels { get; init; } = 3;

    /// <summary><c>out_channels</c>: channels of the decoded image.</summary>
    public int OutChannels { get; init; } = 3;

    /// <summary><c>encoder_block_out_channels</c>, one per encoder stage; every stage after the first starts with a stride-2 conv.</summary>
    public IReadOnlyList<int> EncoderBlockOutChannels { get; init; } = [64, 64, 64, 64];

    /// <summary><c>decoder_block_out_channels</c>, one per decoder stage; every stage but the last ends with an upsampling.</summary>
    public IReadOnlyList<int> DecoderBlockOutChannels { get; init; } = [64, 64, 64, 64];

    /// <summary><c>act_fn</c> inside the blocks: <c>"relu"</c> (TAESD), <c>"silu"</c>/<c>"swish"</c>, <c>"gelu"</c> or <c>"mish"</c>.</summary>
    public string ActFn { get; init; } = "relu";

    /// <summary><c>upsample_fn</c>: only <c>"nearest"</c> is supported.</summary>
    public string UpsampleFn { get; init; } = "nearest";

    /// <summary><c>latent_channels</c>.</summary>
    public int LatentChannels { get; init; } = 4;

    /// <summary><c>upsampling_scaling_factor</c>: the decoder's upsampling factor per stage.</summary>
    public int UpsamplingScalingFactor { get; init; } = 2;

    /// <summary><c>num_encoder_blocks</c>: AutoencoderTinyBlocks per encoder stage.</summary>
    public IReadOnlyList<int> NumEncoderBlocks { get; init; } = [1, 3, 3, 3];

    /// <summary><c>num_decoder_blocks</c>: AutoencoderTinyBlocks per decoder stage.</summary>
    public IReadOnlyList<int> NumDecoderBlocks { get; init; } = [3, 3, 3, 1];

    /// <summary><c>latent_magnitude</c>: <c>forward</c> maps latents to [0, 1] by x / (2 · magnitude) + shift before quantising them.</summary>
    public double LatentMagnitude { get; init; } = 3;

    /// <summary><c>latent_shift</c>: see <see cref="LatentMagnitude"/>.</summary>
    public double LatentShift { get; init; } = 0.5;

    /// <summary><c>force_upcast</c>: always false in diffusers' AutoencoderTiny (its constructor overwrites it).</summary>
    public bool ForceUpcast { get; init; }

    /// <summary><c>scaling_factor</c>: TAESD latents are used unscaled (1.0).</summary>
    public double ScalingFactor { get; init; } = 1.0;

    /// <summary><c>shift_factor</c>: 0 for TAESD.</summary>
    public double ShiftFactor { get; init; }

    /// <summary>Image size / latent size along H and W: 2^(encoder stages - 1).</summary>
    public int DownsamplingFactor => 1 << (EncoderBlockOutChannels.Count - 1);

    /// <summary>Reads and validates a diffusers <c>config.json</c>.</summary>
    /// <exception cref="InvalidInputException">Missing file, bad JSON, unknown key, unsupported value.</exception>
    public static AutoencoderTinyConfig Load(string path) => FromJson(IO.JsonFile.ReadText(path, "config file"), path);

    /// <summary>Parses a diffusers AutoencoderTiny config; <paramref name="source"/> names the origin in error messages.</summary>
    /// <exception cref="InvalidInputException">Bad JSON, unknown key, wrong type, or an unsupported option (the message names key and value).</exception>
    public static AutoencoderTinyConfig FromJson(string json, string source = "config.json")
    {
        var c = new AutoencoderTinyConfig();
        IReadOnlyList<int>? registered = null;
        AutoencoderConfigReader.ForEachKey(json, source, ClassName, (r, p) =>
        {
            var v = p.Value;
            switch (p.Name)
            {
                case "in_channels": c = c with { InChannels = r.Int(p.Name, v) }; break;
                case "out_channels": c = c with { OutChannels = r.Int(p.Name, v) }; break;
                case "encoder_block_out_channels": c = c with { EncoderBlockOutChannels = r.Ints(p.Name, v) }; break;
                case "decoder_block_out_channels": c = c with { DecoderBlockOutChannels = r.Ints(p.Name, v) }; break;
                case "block_out_channels": registered = r.Ints(p.Name, v); break;
                case "act_fn": c = c with { ActFn = r.String(p.Name, v) }; break;
                case "upsample_fn": c = c with { UpsampleFn = r.String(p.Name, v) }; break;
                case "latent_channels": c = c with { LatentChannels = r.Int(p.Name, v) }; break;
                case "upsampling_scaling_factor": c = c with { UpsamplingScalingFactor = r.Int(p.Name, v) }; break;
                case "num_encoder_blocks": c = c with { NumEncoderBlocks = r.Ints(p.Name, v) }; break;
                case "num_decoder_blocks": c = c with { NumDecoderBlocks = r.Ints(p.Name, v) }; break;
                case "latent_magnitude": c = c with { LatentMagnitude = r.Double(p.Name, v) }; break;
                case "latent_shift": c = c with { LatentShift = r.Double(p.Name, v) }; break;
                case "force_upcast": c = c with { ForceUpcast = r.Bool(p.Name, v) }; break;
                case "scaling_factor": c = c with { ScalingFactor = r.Double(p.Name, v) }; break;
                case "shift_factor": c = c with { ShiftFactor = r.NullableDouble(p.Name, v) ?? 0.0 }; break;
                default: throw r.Unknown(p);
            }
        });
        // diffusers ignores block_out_channels on load (its constructor re-registers the decoder's); warn by refusing a contradiction.
        if (registered is not null && !registered.SequenceEqual(c.DecoderBlockOutChannels))
        {
            throw new InvalidInputException(
                $"{source}: block_out_channels = {AutoencoderConfigReader.Format(registered)} contradicts decoder_block_out_channels = {AutoencoderConfigReader.Format(c.DecoderBlockOutChannels)}; diffusers writes the decoder's channels there");
        }
        c.Validate(source);
        return c;
    }

    /// <summary>Checks values and their combination.</summary>
    /// <exception cref="InvalidInputException">The first problem found, naming the key and value.</exception>
    public void Validate(string source = "config")
    {
        void Fail(string key, object? value, string expected) =>
            throw new InvalidInputException($"{source}: {key} = {AutoencoderConfigReader.Format(value)} is not supported: expected {expected}");

        if (InChannels is < 1 or > MaxChannels) Fail("in_channels", InChannels, $"an integer in [1, {MaxChannels}]");
        if (OutChannels is < 1 or > MaxChannels) Fail("out_channels", OutChannels, $"an integer in [1, {MaxChannels}]");
        if (LatentChannels is < 1 or > MaxChannels) Fail("latent_channels", LatentChannels, $"an integer in [1, {MaxChannels}]");
        CheckStages("encoder_block_out_channels", EncoderBlockOutChannels, "num_encoder_blocks", NumEncoderBlocks, Fail);
        CheckStages("decoder_block_out_channels", DecoderBlockOutChannels, "num_decoder_blocks", NumDecoderBlocks, Fail);
        if (ActFn is not ("relu" or "silu" or "swish" or "gelu" or "mish")) Fail("act_fn", ActFn, "\"relu\", \"silu\", \"swish\", \"gelu\" or \"mish\"");
        if (UpsampleFn != "nearest") Fail("upsample_fn", UpsampleFn, "\"nearest\"");
        if (UpsamplingScalingFactor is < 1 or > 16) Fail("upsampling_scaling_factor", UpsamplingScalingFactor, "an integer in [1, 16]");
        if (!(LatentMagnitude > 0)) Fail("latent_magnitude", LatentMagnitude, "a positive number");
        if (!(ScalingFactor > 0)) Fail("scaling_factor", ScalingFactor, "a positive number");
    }

    private static void CheckStages(string channelsKey, IReadOnlyList<int> channels, string blocksKey, IReadOnlyList<int> blocks, Action<string, object?, string> fail)
    {
        if (channels.Count is 0 or > 16 || channels.Any(ch => ch is < 1 or > MaxChannels)) fail(channelsKey, channels, $"1 to 16 integers in [1, {MaxChannels}]");
        if (blocks.Count != channels.Count) fail(blocksKey, blocks, $"one entry per {channelsKey} entry ({channels.Count})");
        if (blocks.Any(n => n is < 0 or > 64)) fail(blocksKey, blocks, "integers in [0, 64]");
        // diffusers builds each stage's resampling conv as C_i -> C_i, so its model only runs when all stages have the same width.
        if (channels.Distinct().Count() > 1) fail(channelsKey, channels, "equal entries (diffusers' AutoencoderTiny cannot run with different stage widths)");
    }

    /// <summary>The config as diffusers writes it (including the registered <c>block_out_channels</c>).</summary>
    public string ToJson() => AutoencoderConfigWriter.ToJson(ClassName, new Dictionary<string, object?>
    {
        ["act_fn"] = ActFn,
        ["block_out_channels"] = DecoderBlockOutChannels,
        ["decoder_block_out_channels"] = DecoderBlockOutChannels,
        ["encoder_block_out_channels"] = EncoderBlockOutChannels,
        ["force_upcast"] = ForceUpcast,
        ["in_channels"] = InChannels,
        ["latent_channels"] = LatentChannels,
        ["latent_magnitude"] = LatentMagnitude,
        ["latent_shift"] = LatentShift,
        ["num_decoder_blocks"] = NumDecoderBlocks,
        ["num_encoder_blocks"] = NumEncoderBlocks,
        ["out_channels"] = OutChannels,
        ["scaling_factor"] = ScalingFactor,
        ["shift_factor"] = ShiftFactor,
        ["upsample_fn"] = UpsampleFn,
        ["upsampling_scaling_factor"] = UpsamplingScalingFactor,
    });

    /// <summary>Value equality including the lists (records compare lists by reference).</summary>
    public bool Equals(AutoencoderTinyConfig? other) => other is not null && ToJson() == other.ToJson();

    /// <inheritdoc />
    public override int GetHashCode() => ToJson().GetHashCode(StringComparison.Ordinal);
}
