using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>
/// Reads one diffusers <c>scheduler_config.json</c> object key by key with defaults, and rejects what it does not
/// understand: a wrong <c>_class_name</c>, a value of the wrong type, or a key no reader asked for
/// (<see cref="EnsureNoUnknownKeys"/>). Keys starting with <c>_</c> (diffusers' private keys) are ignored.
/// Every error is one line naming the file and key.
/// </summary>
internal sealed class DiffusersConfigReader
{
    private readonly JsonObject _json;
    private readonly string _source;
    private readonly HashSet<string> _read = [];

    public DiffusersConfigReader(JsonObject json, string className, string source)
    {
        _json = json;
        _source = source;
        if (json["_class_name"] is { } name && name.GetValueKind() == JsonValueKind.String && name.GetValue<string>() != className)
            throw new InvalidInputException($"{source}: _class_name is '{name.GetValue<string>()}', expected '{className}'");
    }

    private JsonNode? Take(string key)
    {
        _read.Add(key);
        return _json[key];
    }

    private InvalidInputException Wrong(string key, string expected, JsonNode? found) =>
        new($"{_source}: {key} must be {expected}, found {found?.ToJsonString() ?? "null"}");

    public int Int(string key, int defaultValue)
    {
        var node = Take(key);
        if (node is null) return defaultValue;
        if (node.GetValueKind() == JsonValueKind.Number && node.AsValue().TryGetValue(out int value)) return value;
        if (node.GetValueKind() == JsonValueKind.Number && double.TryParse(node.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
            && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue)
            return (int)d;
        throw Wrong(key, "an integer", node);
    }

    public double Double(string key, double defaultValue) => NullableDouble(key) ?? defaultValue;

    /// <summary>A number, null, or one of the strings "Infinity" / "-Infinity" (strict JSON has no infinity literal).</summary>
    public double? NullableDouble(string key)
    {
        var node = Take(key);
        if (node is null) return null;
        switch (node.GetValueKind())
        {
            case JsonValueKind.Number:
                return node.GetValue<double>();
            case JsonValueKind.String:
                var text = node.GetValue<string>();
                if (text is "Infinity" or "inf") return double.PositiveInfinity;
                if (text is "-Infinity" or "-inf") return double.NegativeInfinity;
                break;
        }
        throw Wrong(key, "a number", node);
    }

    public bool Bool(string key, bool defaultValue)
    {
        var node = Take(key);
        if (node is null) return defaultValue;
        return node.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Wrong(key, "true or false", node),
        };
    }

    public string String(string key, string defaultValue) => NullableString(key) ?? defaultValue;

    public string? NullableString(string key)
    {
        var node = Take(key);
        if (node is null) return null;
        if (node.GetValueKind() == JsonValueKind.String) return node.GetValue<string>();
        throw Wrong(key, "a string", node);
    }

    /// <summary>A list of integers; null or missing is the empty list.</summary>
    public IReadOnlyList<int> IntList(string key)
    {
        var node = Take(key);
        if (node is null) return [];
        if (node is JsonArray array && array.All(n => n is not null && n.GetValueKind() == JsonValueKind.Number && n.AsValue().TryGetValue(out int _)))
            return array.Select(n => n!.GetValue<int>()).ToArray();
        throw Wrong(key, "a list of integers", node);
    }

    /// <summary>diffusers' <c>final_sigmas_type</c>: zero or sigma_min.</summary>
    public FinalSigmasType FinalSigmas(FinalSigmasType defaultValue) => String("final_sigmas_type", defaultValue.ToDiffusersName()) switch
    {
        "zero" => FinalSigmasType.Zero,
        "sigma_min" => FinalSigmasType.SigmaMin,
        var other => throw new InvalidInputException($"{_source}: final_sigmas_type '{other}' is not supported (expected zero or sigma_min)"),
    };

    /// <summary>A key this port only supports in its "off" state (false, null, or the given value).</summary>
    public void RequireOff(string key, string offDescription = "false or null", object? offValue = null)
    {
        var node = Take(key);
        if (node is null || node.GetValueKind() == JsonValueKind.False) return;
        if (offValue is not null && node.GetValueKind() == JsonValueKind.String && node.GetValue<string>() == offValue as string) return;
        if (offValue is double d && node.GetValueKind() == JsonValueKind.Number && node.GetValue<double>() == d) return;
        throw new InvalidInputException($"{_source}: {key} = {node.ToJsonString()} is not supported (only {offDescription})");
    }

    /// <summary>The noise-schedule keys every DDPM-family scheduler shares, defaulting to <paramref name="defaults"/>.</summary>
    public NoiseScheduleConfig Schedule(NoiseScheduleConfig defaults, bool hasZeroSnrKey = true)
    {
        int t = Int("num_train_timesteps", defaults.NumTrainTimesteps);
        double start = Double("beta_start", defaults.BetaStart);
        double end = Double("beta_end", defaults.BetaEnd);
        var schedule = BetaScheduleNames.Parse(String("beta_schedule", defaults.Schedule.ToDiffusersName()), $"{_source}: beta_schedule");
        bool zeroSnr = hasZeroSnrKey && Bool("rescale_betas_zero_snr", defaults.RescaleBetasZeroSnr);
        var trainedNode = Take("trained_betas");
        IReadOnlyList<double>? trained = null;
        if (trainedNode is JsonArray array)
        {
            trained = array.Select(n => n is not null && n.GetValueKind() == JsonValueKind.Number
                ? n.GetValue<double>()
                : throw Wrong("trained_betas", "a list of numbers", trainedNode)).ToArray();
        }
        else if (trainedNode is not null)
        {
            throw Wrong("trained_betas", "a list of numbers or null", trainedNode);
        }
        var config = new NoiseScheduleConfig(t, start, end, schedule, zeroSnr, trained);
        try
        {
            config.Validate();
        }
        catch (InvalidInputException e)
        {
            throw new InvalidInputException($"{_source}: {e.Message}", e);
        }
        return config;
    }

    public PredictionType Prediction(PredictionType defaultValue) =>
        PredictionTypes.Parse(String("prediction_type", defaultValue.ToDiffusersName()), $"{_source}: prediction_type");

    public TimestepSpacing Spacing(TimestepSpacing defaultValue) =>
        TimestepSpacings.Parse(String("timestep_spacing", defaultValue.ToDiffusersName()), $"{_source}: timestep_spacing");

    /// <summary>Builds the scheduler from the options read, naming the file in an out-of-range error.</summary>
    /// <exception cref="InvalidInputException">The scheduler rejects its options.</exception>
    public T Build<T>(Func<T> create)
    {
        try
        {
            return create();
        }
        catch (InvalidInputException e)
        {
            throw new InvalidInputException($"{_source}: {e.Message}", e);
        }
    }

    /// <summary>Throws on the first key that no reader method asked for.</summary>
    public void EnsureNoUnknownKeys()
    {
        foreach (var (key, _) in _json)
        {
            if (key.StartsWith('_') || _read.Contains(key)) continue;
            throw new InvalidInputException($"{_source}: unknown or unsupported key '{key}'");
        }
    }

    /// <summary>Writes the shared noise-schedule keys in diffusers' order.</summary>
    public static void WriteSchedule(JsonObject json, NoiseScheduleConfig schedule)
    {
        json["num_train_timesteps"] = schedule.NumTrainTimesteps;
        json["beta_start"] = schedule.BetaStart;
        json["beta_end"] = schedule.BetaEnd;
        json["beta_schedule"] = schedule.Schedule.ToDiffusersName();
        json["trained_betas"] = schedule.TrainedBetas is { } b ? new JsonArray(b.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()) : null;
    }
}
