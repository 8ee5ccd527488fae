using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Reads a diffusers <c>scheduler_config.json</c> object with typed getters that name the key in every error.
/// A missing key takes diffusers' default. Keys starting with <c>_</c> are diffusers' bookkeeping and are ignored;
/// keys of other diffusers schedulers are ignored too (diffusers' <c>from_config</c> does the same, which is how a DDIM
/// sampler is built from a DDPM training config); any other key is an error (<see cref="RejectUnknownKeys"/>).
/// </summary>
public sealed class SchedulerConfigReader
{
    /// <summary>
    /// Every key of the diffusers schedulers we know (DDPM, DDIM, PNDM, DPM-Solver, UniPC, Euler, Euler-ancestral, Heun; 0.30.3 and
    /// the feature-off keys 0.35 added). A key in this set that the target scheduler does not read is ignored.
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
    };

    private readonly JsonObject _config;
    private readonly HashSet<string> _read = [];

    /// <summary>Wraps a parsed config object.</summary>
    public SchedulerConfigReader(JsonObject config) => _config = config;

    /// <summary>Parses JSON text.</summary>
    /// <exception cref="InvalidInputException">Not a JSON object.</exception>
    public static SchedulerConfigReader Parse(string json)
    {
        JsonNode? node;
        IO.JsonFile.CheckLength(json, "scheduler config");
        try
        {
            node = JsonNode.Parse(json, documentOptions: IO.JsonFile.DocumentOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"scheduler config is not valid JSON: {e.Message}", e);
        }
        return node is JsonObject obj
            ? new SchedulerConfigReader(obj)
            : throw new InvalidInputException("scheduler config must be a JSON object");
    }

    /// <summary>The raw config object.</summary>
    public JsonObject Json => _config;

    /// <summary>diffusers' <c>_class_name</c>, or null when absent.</summary>
    /// <exception cref="InvalidInputException">Present but not a string.</exception>
    public string? ClassName => _config["_class_name"] is { } node ? ReadString("_class_name", node) : null;

    /// <summary>An integer value, or <paramref name="defaultValue"/> when the key is absent.</summary>
    public int Int(string key, int defaultValue)
    {
        if (Take(key) is not { } node) return defaultValue;
        double v = ReadNumber(key, node, "an integer");
        return v == Math.Floor(v) && v >= int.MinValue && v <= int.MaxValue
            ? (int)v
            : throw new InvalidInputException($"{key}: expected an integer, found {node.ToJsonString()}");
    }

    /// <summary>A number, or <paramref name="defaultValue"/> when the key is absent.</summary>
    public double Double(string key, double defaultValue) => Take(key) is { } node ? ReadNumber(key, node, "a number") : defaultValue;

    /// <summary>A boolean, or <paramref name="defaultValue"/> when the key is absent.</summary>
    public bool Bool(string key, bool defaultValue)
    {
        if (Take(key) is not { } node) return defaultValue;
        return node.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new InvalidInputException($"{key}: expected true or false, found {Show(node)}"),
        };
    }

    /// <summary>A string, or <paramref name="defaultValue"/> when the key is absent.</summary>
    public string String(string key, string defaultValue) => Take(key) is { } node ? ReadString(key, node) : defaultValue;

    /// <summary>A list of numbers, or null when the key is absent or null.</summary>
    public double[]? DoublesOrNull(string key)
    {
        if (Take(key, allowNull: true) is not { } node) return null;
        if (node is not JsonArray array) throw new InvalidInputException($"{key}: expected a list of numbers or null, found {Show(node)}");
        return array.Select(e => e is null ? throw new InvalidInputException($"{key}: expected a list of numbers, found null in it") : ReadNumber(key, e, "a number"))
            .ToArray();
    }

    /// <summary>The training schedule: num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas, rescale_betas_zero_snr.</summary>
    public NoiseScheduleConfig NoiseSchedule()
    {
        var defaults = new NoiseScheduleConfig();
        return new NoiseScheduleConfig(
            Int("num_train_timesteps", defaults.NumTrainTimesteps),
            Double("beta_start", defaults.BetaStart),
            Double("beta_end", defaults.BetaEnd),
            BetaScheduleNames.Parse(String("beta_schedule", defaults.Schedule.ToDiffusersName())),
            Bool("rescale_betas_zero_snr", defaults.RescaleBetasZeroSnr),
            DoublesOrNull("trained_betas"));
    }

    /// <summary><c>prediction_type</c>, default epsilon.</summary>
    public PredictionType PredictionType() => PredictionTypes.Parse(String("prediction_type", "epsilon"));

    /// <summary><c>timestep_spacing</c>, default leading (DDPM, DDIM, PNDM; DPM-Solver and Euler default to linspace).</summary>
    public TimestepSpacing TimestepSpacing(TimestepSpacing defaultValue = Schedules.TimestepSpacing.Leading) =>
        TimestepSpacings.Parse(String("timestep_spacing", defaultValue.ToDiffusersName()));

    /// <summary><c>steps_offset</c>, default 0, never negative.</summary>
    public int StepsOffset()
    {
        int offset = Int("steps_offset", 0);
        return offset >= 0 ? offset : throw new InvalidInputException($"steps_offset must not be negative (got {offset})");
    }

    /// <summary>clip_sample, clip_sample_range, thresholding, dynamic_thresholding_ratio, sample_max_value with diffusers' defaults.</summary>
    public SampleClipping SampleClipping(bool clipSampleDefault = true) => new(
        Bool("clip_sample", clipSampleDefault),
        Double("clip_sample_range", 1.0),
        Bool("thresholding", false),
        Double("dynamic_thresholding_ratio", 0.995),
        Double("sample_max_value", 1.0));

    /// <summary>Fails on the first key that is neither read, nor private (<c>_…</c>), nor a known diffusers scheduler key.</summary>
    /// <exception cref="InvalidInputException">An unknown key, probably a typo.</exception>
    public void RejectUnknownKeys()
    {
        foreach (var (key, _) in _config)
        {
            if (key.StartsWith('_') || _read.Contains(key) || KnownDiffusersKeys.Contains(key)) continue;
            throw new InvalidInputException($"{key}: unknown scheduler config key");
        }
    }

    /// <summary>The value of <paramref name="key"/>, or null when absent; marks the key as read.</summary>
    private JsonNode? Take(string key, bool allowNull = false)
    {
        _read.Add(key);
        if (!_config.TryGetPropertyValue(key, out var node)) return null;
        return node is not null || allowNull ? node : throw new InvalidInputException($"{key}: must not be null");
    }

    private static double ReadNumber(string key, JsonNode node, string expected)
    {
        // Through the JSON text: an in-memory object (e.g. from ToConfigJson) holds ints and doubles that GetValue<double> refuses to convert.
        if (node.GetValueKind() == JsonValueKind.Number) return double.Parse(node.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);
        // Strict JSON writes infinities as strings (the golden files' convention; Python's json writes the bare literal).
        if (node.GetValueKind() == JsonValueKind.String)
        {
            switch (node.GetValue<string>())
            {
                case "Infinity": return double.PositiveInfinity;
                case "-Infinity": return double.NegativeInfinity;
            }
        }
        throw new InvalidInputException($"{key}: expected {expected}, found {Show(node)}");
    }

    private static string ReadString(string key, JsonNode node) => node.GetValueKind() == JsonValueKind.String
        ? node.GetValue<string>()
        : throw new InvalidInputException($"{key}: expected a string, found {Show(node)}");

    private static string Show(JsonNode? node) => node is null ? "null" : node.ToJsonString();
}
