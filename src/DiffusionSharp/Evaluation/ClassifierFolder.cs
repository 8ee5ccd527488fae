using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using DiffusionSharp.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Evaluation;

/// <summary>
/// What the evaluation classifiers (<see cref="DigitClassifier"/>, <see cref="ImageClassifier"/>,
/// <see cref="SpokenDigitClassifier"/>) share about their folders: a <c>config.json</c> with <c>_class_name</c> first and
/// snake_case keys, an optional <c>class_names.json</c>, strictly loaded float32 <c>model.safetensors</c>, and PyTorch's
/// default initialisation drawn from a seeded generator.
/// </summary>
internal static class ClassifierFolder
{
    /// <summary>File name of the weights inside a classifier folder.</summary>
    public const string WeightsFileName = "model.safetensors";

    /// <summary>File name of the config inside a classifier folder.</summary>
    public const string ConfigFileName = "config.json";

    /// <summary>File name of the class names (a JSON array of strings) inside a classifier folder.</summary>
    public const string ClassNamesFileName = "class_names.json";

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        WriteIndented = true,
    };

    /// <summary>The config's JSON text, <c>_class_name</c> first, then its properties in snake_case.</summary>
    public static string ConfigToJson<T>(T config, string className)
    {
        var body = JsonSerializer.SerializeToNode(config, Options)!.AsObject();
        var json = new JsonObject { ["_class_name"] = className };
        foreach (var (key, value) in body.ToList())
        {
            body.Remove(key);
            json[key] = value;
        }
        return json.ToJsonString(Options) + "\n";
    }

    /// <summary>Parses a config written by <see cref="ConfigToJson"/>, checks its class name, then <paramref name="validate"/>s it.</summary>
    /// <exception cref="InvalidInputException">Invalid JSON, an unknown key, another class name, or what <paramref name="validate"/> throws; all name <paramref name="source"/>.</exception>
    public static T ConfigFromJson<T>(string json, string className, string source, Action<T, string> validate) where T : class
    {
        try
        {
            var node = JsonNode.Parse(json)?.AsObject()
                ?? throw new InvalidInputException($"{source}: expected a JSON object, found null");
            var name = node["_class_name"]?.GetValue<string>();
            if (name != className)
                throw new InvalidInputException($"{source}: _class_name: expected \"{className}\", found {(name is null ? "none" : $"\"{name}\"")}");
            node.Remove("_class_name");
            var config = node.Deserialize<T>(Options)
                ?? throw new InvalidInputException($"{source}: expected a JSON object, found null");
            validate(config, source);
            return config;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidInputException($"{source}: not a valid classifier config: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }

    /// <summary>The <c>_class_name</c> of <paramref name="folder"/>'s config, or null when it has none or is unreadable.</summary>
    public static string? ClassNameOf(string folder)
    {
        var path = Path.Combine(folder, ConfigFileName);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonNode.Parse(File.ReadAllText(path))?["_class_name"]?.GetValue<string>();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or IOException)
        {
            return null;
        }
    }

    /// <summary>Reads the config file of <paramref name="folder"/> with <paramref name="parse"/> (text, source name).</summary>
    /// <exception cref="InvalidInputException">The folder or its config is missing, or <paramref name="parse"/> refuses it.</exception>
    public static T ReadConfig<T>(string folder, Func<string, string, T> parse)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder)) throw new InvalidInputException($"{folder}: classifier folder not found");
        var path = Path.Combine(folder, ConfigFileName);
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: classifier config not found");
        return parse(File.ReadAllText(path), path);
    }

    /// <summary>Writes the class names as <c>class_names.json</c> (atomically).</summary>
    public static void WriteClassNames(string folder, IReadOnlyList<string> names) =>
        AtomicFile.WriteAllText(Path.Combine(folder, ClassNamesFileName),
            JsonSerializer.Serialize(names, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");

    /// <summary>Reads <c>class_names.json</c>.</summary>
    /// <exception cref="InvalidInputException">Missing, or not a JSON array of strings.</exception>
    public static string[] ReadClassNames(string folder)
    {
        var path = Path.Combine(folder, ClassNamesFileName);
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: class names not found");
        try
        {
            return JsonSerializer.Deserialize<string[]>(File.ReadAllText(path)) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{path}: expected a JSON array of strings: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }

    /// <summary>
    /// Copies <c>model.safetensors</c> of <paramref name="folder"/> into <paramref name="model"/>'s state dict. Strict: every
    /// tensor present with its shape as float32, no other stored; all problems in one line. Leaves the model in eval mode.
    /// </summary>
    /// <exception cref="InvalidInputException">The file is missing or does not match the model.</exception>
    public static void LoadWeights(nn.Module model, string folder)
    {
        var weightsPath = Path.Combine(folder, WeightsFileName);
        if (!File.Exists(weightsPath)) throw new InvalidInputException($"{weightsPath}: classifier weights not found");
        var stored = SafetensorsFile.Load(weightsPath);
        try
        {
            var targets = model.state_dict();
            var problems = new List<string>();
            foreach (var (name, target) in targets.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (!stored.TryGetValue(name, out var t)) problems.Add($"{name} missing");
                else if (!t.shape.SequenceEqual(target.shape))
                    problems.Add($"{name} is [{string.Join(", ", t.shape)}], expected [{string.Join(", ", target.shape)}]");
                else if (t.dtype != ScalarType.Float32) problems.Add($"{name} is {t.dtype}, expected float32");
            }
            problems.AddRange(stored.Keys.Where(k => !targets.ContainsKey(k)).Order(StringComparer.Ordinal).Select(k => $"{k} unexpected"));
            if (problems.Count > 0)
                throw new InvalidInputException($"{weightsPath}: weights do not match {ConfigFileName}: {string.Join("; ", problems)}");
            using (no_grad())
            {
                foreach (var (name, target) in targets) target.copy_(stored[name]);
            }
            model.eval();
        }
        finally
        {
            foreach (var t in stored.Values) t.Dispose();
        }
    }

    /// <summary>PyTorch's default initialisation of conv/linear layers (weights and biases uniform in ±1/√fan_in), drawn from <paramref name="generator"/>.</summary>
    public static void Initialize(IEnumerable<nn.Module> layers, Generator generator)
    {
        using var noGrad = no_grad();
        foreach (var layer in layers)
        {
            var weight = layer.get_parameter("weight")!;
            var fanIn = weight.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
            var bound = 1.0 / Math.Sqrt(fanIn);
            foreach (var p in new[] { weight, layer.get_parameter("bias")! })
            {
                using var u = rand(p.shape, generator: generator);
                p.copy_(u.mul_(2 * bound).sub_(bound));
            }
        }
    }
}
