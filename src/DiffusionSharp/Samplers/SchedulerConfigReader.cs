using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Reads a diffusers <c>scheduler_config.json</c> object key by key, for every sampler. A missing key takes diffusers'
/// default; null only where diffusers' type is optional (the <c>Nullable…</c>, list and <see cref="RequireOff"/> readers);
/// a value of the wrong type is an error naming the source and the key.
/// <para>
/// After a sampler has read its keys, <see cref="RejectUnknownKeys"/> (called by <see cref="SchedulerFactory"/>) fails on what is left, as a typo, except what diffusers'
/// <c>from_config</c> also accepts: keys starting with <c>_</c> (bookkeeping), keys of the other diffusers schedulers (which is
/// how DDIM is built from a DDPM training config), and the legacy keys of diffusers 0.1 to 0.x configs still on the Hub
/// (<c>tensor_format</c>, <c>timestep_values</c>; <c>predict_epsilon</c> is mapped to <c>prediction_type</c>).
/// A key the sampler reads but supports only switched off is read with <see cref="RequireOff"/>, so it still fails when on.
/// </para>
/// </summary>
public sealed class SchedulerConfigReader
{
    /// <summary>
    /// Every key of the diffusers schedulers we know (DDPM, DDIM, PNDM, DPM-Solver, UniPC, Euler, Euler-ancestral, Heun, LMS,
    /// FlowMatchEuler, FlowMatchHeun, EDMEuler, EDMDPMSolver, LCM; 0.30.3 and the feature-off keys later versions added). A key in this set that the target scheduler does not read is ignored.
    /// </summary>
    public static IReadOnlySet<string> KnownDiffusersKeys { get; } = new HashSet<string>
    {
        "num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "rescale_betas_zero_snr",
        "prediction_type", "timestep_spacing", "steps_offset", "variance_type", "clip_sample", "clip_sample_range",
        "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "set_alpha_to_one", "skip_prk_steps",
        "solver_order", "algorithm_type", "solver_type", "lower_order_final", "euler_at_final", "use_karras_sigmas",
        "use_lu_lambdas", "final_sigmas_type", "lambda_min_clipped", "interpolation_type", "sigma_min", "sigma_max",
        "timestep_type", "use_beta_sigmas", "use_exponential_sigmas", "use_flow_sigmas", "flow_shift",
        "use_dynamic_shifting", "time_shift_type", "predict_x0", "disable_corrector", "solver_p",
        // flow matching (FlowMatchEuler, FlowMatchHeun; 0.30.3 and the feature-off keys of later versions) and EDM
        "shift", "base_shift", "max_shift", "base_image_seq_len", "max_image_seq_len", "invert_sigmas", "shift_terminal",
        "stochastic_sampling", "sigma_data", "sigma_schedule", "rho",
        // LCM
        "original_inference_steps", "timestep_scaling",
    };

    /// <summary>Keys early diffusers versions wrote and later ones ignore (<c>predict_epsilon</c> is read by <see cref="PredictionType"/>).</summary>
    public static IReadOnlySet<string> LegacyKeys { get; } = new HashSet<string> { "tensor_format", "timestep_values", "predict_epsilon" };

    private readonly JsonObject _json;
    private readonly string _prefix;
    private readonly HashSet<string> _read = [];

    /// <summary>Wraps a parsed config object.</summary>
    /// <param name="json">The config object.</param>
    /// <param name="source">Names the config in errors (a path); null for none.</param>
    public SchedulerConfigReader(JsonObject json, string? source = null)
    {
        _json = json;
        Source = source;
        _prefix = string.IsNullOrEmpty(source) ? "" : source + ": ";
    }

    /// <summary>Parses JSON text.</summary>
    /// <exception cref="InvalidInputException">Not a JSON object.</exception>
    public static SchedulerConfigReader Parse(string json, string? source = null)
    {
        string prefix = string.IsNullOrEmpty(source) ? "" : source + ": ";
        IO.JsonFile.CheckLength(json, source ?? "scheduler config");
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json, documentOptions: IO.JsonFile.DocumentOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{prefix}scheduler config is not valid JSON: {e.Message}", e);
        }
        if (node is not JsonObject obj) throw new InvalidInputException($"{prefix}scheduler config must be a JSON object");
        try
        {
            // JsonObject builds its dictionary on first use and throws there on a repeated key: make that happen here.
            _ = obj.Count;
        }
        catch (ArgumentException e)
        {
            throw new InvalidInputException($"{prefix}scheduler config repeats a key ({e.Message})", e);
        }
        return new SchedulerConfigReader(obj, source);
    }

    /// <summary>The raw config object.</summary>
    public JsonObject Json => _json;

    /// <summary>What names the config in errors (a path), or null.</summary>
    public string? Source { get; }

    /// <summary>diffusers' <c>_class_name</c>, or null when absent.</summary>
    /// <exception cref="InvalidInputException">Present but not a string.</exception>
    public string? ClassName => _json["_class_name"] is { } node ? ReadString("_class_name", node) : null;

    /// <summary>An integer, or <paramref name="defaultValue"/> when the key is absent.</summary>
    public int Int(string key, int defaultValue)
    {
        if (TakeNonNull(key) is not { } node) return defaultValue;
        double v = ReadNumber(key, node, "an integer");
        return v == Math.Floor(v) && v >= int.MinValue && v <= int.MaxValue ? (int)v : throw Wrong(key, "an integer", node);
    }

    /// <summary>A number, or <paramref name="defaultValue"/> when the key is absent.</summary>
    public double Double(string key, double defaultValue) => TakeNonNull(key) is { } node ? ReadNumber(key, node, "a number") : defaultValue;

    /// <summary>A number, or null when the key is absent or null. Infinities may be written as the strings "Infinity"/"inf" (strict JSON has no literal).</summary>
    public double? NullableDouble(string key) => Take(key) is { } node ? ReadNumber(key, node, "a number") : null;

    /// <summary>A boolean, or <paramref name="defaultValue"/> when the key is absent.</summary>
    public bool Bool(string key, bool defaultValue)
    {
        if (TakeNonNull(key) is not { } node) return defaultValue;
        return node.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Wrong(key, "true or false", node),
        };
    }

    /// <summary>A boolean, or null when the key is absent or null.</summary>
    public bool? NullableBool(string key) => Take(key) is { } node
        ? node.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Wrong(key, "true, false or null", node),
        }
        : null;

    /// <summary>A string, or <paramref name="defaultValue"/> when the key is absent.</summary>
    public string String(string key, string defaultValue) => TakeNonNull(key) is { } node ? ReadString(key, node) : defaultValue;

    /// <summary>A string, or null when the key is absent or null.</summary>
    public string? NullableString(string key) => Take(key) is { } node ? ReadString(key, node) : null;

    /// <summary>A list of integers; absent or null is the empty list.</summary>
    public IReadOnlyList<int> IntList(string key)
    {
        if (Take(key) is not { } node) return [];
        if (node is not JsonArray array) throw Wrong(key, "a list of integers", node);
        return array.Select(n => n is null ? throw Wrong(key, "a list of integers", node) : ReadNumber(key, n, "a list of integers"))
            .Select(v => v == Math.Floor(v) && Math.Abs(v) <= int.MaxValue ? (int)v : throw Wrong(key, "a list of integers", node))
            .ToArray();
    }

    /// <summary>A list of numbers, or null when the key is absent or null.</summary>
    public double[]? DoublesOrNull(string key)
    {
        if (Take(key) is not { } node) return null;
        if (node is not JsonArray array) throw Wrong(key, "a list of numbers or null", node);
        return array.Select(n => n is null ? throw Wrong(key, "a list of numbers", node) : ReadNumber(key, n, "a list of numbers")).ToArray();
    }

    /// <summary>
    /// The training schedule: num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas and (unless the
    /// scheduler has no such key) rescale_betas_zero_snr, with <paramref name="defaults"/> (diffusers' defaults when null).
    /// </summary>
    /// <exception cref="InvalidInputException">A value is malformed or out of range.</exception>
    public NoiseScheduleConfig NoiseSchedule(NoiseScheduleConfig? defaults = null, bool hasZeroSnrKey = true)
    {
        defaults ??= new NoiseScheduleConfig();
        var config = new NoiseScheduleConfig(
            Int("num_train_timesteps", defaults.NumTrainTimesteps),
            Double("beta_start", defaults.BetaStart),
            Double("beta_end", defaults.BetaEnd),
            BetaScheduleNames.Parse(String("beta_schedule", defaults.Schedule.ToDiffusersName()), $"{_prefix}beta_schedule"),
            hasZeroSnrKey && Bool("rescale_betas_zero_snr", defaults.RescaleBetasZeroSnr),
            DoublesOrNull("trained_betas"));
        return Build(() =>
        {
            config.Validate();
            return config;
        });
    }

    /// <summary>
    /// <c>prediction_type</c>; a legacy <c>predict_epsilon</c> (true: epsilon, false: sample) stands for it when it is absent,
    /// as in diffusers.
    /// </summary>
    /// <exception cref="InvalidInputException">An unknown name, or both keys given and disagreeing.</exception>
    public PredictionType PredictionType(PredictionType defaultValue = DiffusionSharp.PredictionType.Epsilon)
    {
        string? named = NullableString("prediction_type");
        var fromName = named is null ? (PredictionType?)null : PredictionTypes.Parse(named, $"{_prefix}prediction_type");
        if (Take("predict_epsilon") is null) return fromName ?? defaultValue;
        var legacy = Bool("predict_epsilon", true) ? DiffusionSharp.PredictionType.Epsilon : DiffusionSharp.PredictionType.Sample;
        return fromName is { } given && given != legacy
            ? throw Invalid($"prediction_type '{named}' contradicts the legacy predict_epsilon = {_json["predict_epsilon"]!.ToJsonString()}")
            : legacy;
    }

    /// <summary><c>timestep_spacing</c> (DDPM, DDIM and PNDM default to leading; DPM-Solver, UniPC and Euler to linspace).</summary>
    public TimestepSpacing TimestepSpacing(TimestepSpacing defaultValue = Schedules.TimestepSpacing.Leading) =>
        TimestepSpacings.Parse(String("timestep_spacing", defaultValue.ToDiffusersName()), $"{_prefix}timestep_spacing");

    /// <summary><c>steps_offset</c>, default 0, never negative.</summary>
    public int StepsOffset()
    {
        int offset = Int("steps_offset", 0);
        return offset >= 0 ? offset : throw Invalid($"steps_offset must not be negative (got {offset})");
    }

    /// <summary>clip_sample, clip_sample_range, thresholding, dynamic_thresholding_ratio, sample_max_value with diffusers' defaults.</summary>
    public SampleClipping SampleClipping(bool clipSampleDefault = true) => new(
        Bool("clip_sample", clipSampleDefault),
        Double("clip_sample_range", 1.0),
        Bool("thresholding", false),
        Double("dynamic_thresholding_ratio", 0.995),
        Double("sample_max_value", 1.0));

    /// <summary>diffusers' <c>final_sigmas_type</c>: zero or sigma_min.</summary>
    public FinalSigmasType FinalSigmas(FinalSigmasType defaultValue) => String("final_sigmas_type", defaultValue.ToDiffusersName()) switch
    {
        "zero" => FinalSigmasType.Zero,
        "sigma_min" => FinalSigmasType.SigmaMin,
        var other => throw Invalid($"final_sigmas_type '{other}' is not supported (expected zero or sigma_min)"),
    };

    /// <summary>A key this port only supports in its "off" state (absent, false, null, or <paramref name="offValue"/>).</summary>
    public void RequireOff(string key, string offDescription = "false or null", object? offValue = null)
    {
        if (Take(key) is not { } node || node.GetValueKind() == JsonValueKind.False) return;
        if (offValue is string s && node.GetValueKind() == JsonValueKind.String && node.GetValue<string>() == s) return;
        if (offValue is double d && node.GetValueKind() == JsonValueKind.Number && ReadNumber(key, node, "a number") == d) return;
        throw Invalid($"{key} = {node.ToJsonString()} is not supported (only {offDescription})");
    }

    /// <summary>Reads the keys later diffusers versions (0.35) write, which must keep their features off.</summary>
    public void RequireNewerKeysOff()
    {
        RequireOff("use_beta_sigmas");
        RequireOff("use_exponential_sigmas");
        RequireOff("use_flow_sigmas");
        RequireOff("use_dynamic_shifting");
        RequireOff("flow_shift", "1.0 or null", 1.0);
        RequireOff("time_shift_type", "\"exponential\"", "exponential");
    }

    /// <summary>An error about this config: the message prefixed with the source.</summary>
    public InvalidInputException Invalid(string message) => new(_prefix + message);

    /// <summary>Runs <paramref name="create"/> (building the scheduler from the options read), naming the source in its errors.</summary>
    /// <exception cref="InvalidInputException">The scheduler rejects its options.</exception>
    public T Build<T>(Func<T> create)
    {
        try
        {
            return create();
        }
        catch (InvalidInputException e) when (_prefix.Length > 0 && !e.Message.StartsWith(_prefix, StringComparison.Ordinal))
        {
            throw new InvalidInputException(_prefix + e.Message, e);
        }
    }

    /// <summary>
    /// Fails on the first key that is neither read, nor private (<c>_…</c>), nor a key of another diffusers scheduler, nor a
    /// legacy key (see the class summary).
    /// </summary>
    /// <exception cref="InvalidInputException">An unknown key, probably a typo.</exception>
    public void RejectUnknownKeys()
    {
        foreach (var (key, _) in _json)
        {
            if (key.StartsWith('_') || _read.Contains(key) || KnownDiffusersKeys.Contains(key) || LegacyKeys.Contains(key)) continue;
            throw Invalid($"{key}: unknown scheduler config key");
        }
    }

    /// <summary>The value of <paramref name="key"/>, or null when absent or null; marks the key as read.</summary>
    private JsonNode? Take(string key)
    {
        _read.Add(key);
        return _json.TryGetPropertyValue(key, out var node) ? node : null;
    }

    /// <summary>The value of <paramref name="key"/>, or null when absent; an error when it is null.</summary>
    private JsonNode? TakeNonNull(string key)
    {
        _read.Add(key);
        if (!_json.TryGetPropertyValue(key, out var node)) return null;
        return node ?? throw Invalid($"{key}: must not be null");
    }

    private double ReadNumber(string key, JsonNode node, string expected)
    {
        // Through the JSON text: an in-memory object (from ToConfigJson) holds ints and doubles that GetValue<double> refuses to convert.
        switch (node.GetValueKind())
        {
            case JsonValueKind.Number:
                return double.Parse(node.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);
            case JsonValueKind.String:
                switch (node.GetValue<string>())
                {
                    case "Infinity" or "inf": return double.PositiveInfinity;
                    case "-Infinity" or "-inf": return double.NegativeInfinity;
                }
                break;
        }
        throw Wrong(key, expected, node);
    }

    private string ReadString(string key, JsonNode node) =>
        node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : throw Wrong(key, "a string", node);

    private InvalidInputException Wrong(string key, string expected, JsonNode? found) =>
        Invalid($"{key}: expected {expected}, found {found?.ToJsonString() ?? "null"}");
}
