using System.Text;
using System.Text.Json;

namespace DiffusionSharp.Models;

/// <summary>
/// The architecture of a CLIP text encoder, transformers' <c>CLIPTextConfig</c>: defaults are transformers' defaults, and
/// <see cref="FromJson"/> / <see cref="ToJson"/> read and write its <c>config.json</c> (model_type <c>clip_text_model</c>).
/// </summary>
public sealed record ClipTextConfig
{
    /// <summary>transformers' class name, written in <c>architectures</c>.</summary>
    public const string ClassName = "CLIPTextModel";

    /// <summary>transformers' <c>model_type</c>.</summary>
    public const string ModelType = "clip_text_model";

    /// <summary>The transformers version whose format <see cref="ToJson"/> writes.</summary>
    public const string TransformersVersion = "4.44.2";

    /// <summary>Token vocabulary size V (49408 for CLIP's BPE).</summary>
    public int VocabSize { get; init; } = 49408;

    /// <summary>Width D of the hidden states.</summary>
    public int HiddenSize { get; init; } = 512;

    /// <summary>Hidden width of each MLP.</summary>
    public int IntermediateSize { get; init; } = 2048;

    /// <summary>Width of CLIP's text projection; a <c>CLIPTextModel</c> has no projection, so this only round-trips.</summary>
    public int ProjectionDim { get; init; } = 512;

    /// <summary>Number of transformer layers.</summary>
    public int NumHiddenLayers { get; init; } = 12;

    /// <summary>Number of attention heads; must divide <see cref="HiddenSize"/>.</summary>
    public int NumAttentionHeads { get; init; } = 8;

    /// <summary>Longest sequence L (rows of the position embedding); 77 for CLIP.</summary>
    public int MaxPositionEmbeddings { get; init; } = 77;

    /// <summary>MLP activation.</summary>
    public ClipActivation HiddenAct { get; init; } = ClipActivation.QuickGelu;

    /// <summary>LayerNorm epsilon.</summary>
    public double LayerNormEps { get; init; } = 1e-5;

    /// <summary>Dropout on the attention probabilities, in training mode only.</summary>
    public double AttentionDropout { get; init; }

    /// <summary>Pad token id (metadata in transformers' CLIPTextModel).</summary>
    public int PadTokenId { get; init; } = 1;

    /// <summary>Begin-of-text id (metadata; SD 1.x configs say 0, the tokenizer uses 49406).</summary>
    public int BosTokenId { get; init; } = 49406;

    /// <summary>
    /// End-of-text id, which decides the pooling: 2 (the legacy value of SD 1.x/2.x configs) pools at <c>argmax(input_ids)</c>,
    /// which is the first <c>&lt;|endoftext|&gt;</c> because it is the largest id; any other value pools at the first position of that id.
    /// </summary>
    public int EosTokenId { get; init; } = 49407;

    /// <summary>Std of the normal init (transformers' <c>initializer_range</c>).</summary>
    public double InitializerRange { get; init; } = 0.02;

    /// <summary>Scale of every init std (transformers' <c>initializer_factor</c>).</summary>
    public double InitializerFactor { get; init; } = 1.0;

    /// <summary>openai/clip-vit-large-patch14's text model, the text encoder of Stable Diffusion 1.x (123.06M parameters).</summary>
    public static ClipTextConfig StableDiffusion15 { get; } = new()
    {
        HiddenSize = 768, IntermediateSize = 3072, ProjectionDim = 768, NumHiddenLayers = 12, NumAttentionHeads = 12,
        BosTokenId = 0, EosTokenId = 2,
    };

    /// <summary>
    /// A small text encoder to train from scratch beside a small U-Net: width 128, 4 layers, 4 heads, MLP 512
    /// (7,127,424 parameters, of which 6,324,224 are the 49408 x 128 token embedding).
    /// </summary>
    public static ClipTextConfig Tiny { get; } = new()
    {
        HiddenSize = 128, IntermediateSize = 512, ProjectionDim = 128, NumHiddenLayers = 4, NumAttentionHeads = 4,
    };

    /// <summary>Preset names for <see cref="Get"/>: <c>clip-text-small</c> (<see cref="Tiny"/>, to train from scratch) and <c>sd15</c>.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["clip-text-small", "sd15"];

    /// <summary>The preset called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="InvalidInputException">No such preset; the message lists the available ones.</exception>
    public static ClipTextConfig Get(string name) => name?.ToLowerInvariant() switch
    {
        "clip-text-small" => Tiny,
        "sd15" => StableDiffusion15,
        _ => throw new InvalidInputException($"text encoder preset '{name}' is unknown: expected one of {string.Join(", ", PresetNames)}"),
    };

    /// <summary>Width of one attention head.</summary>
    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Keys of transformers' config files that do not change the text model's forward.</summary>
    private static readonly HashSet<string> Harmless = new(StringComparer.Ordinal)
    {
        "torch_dtype", "transformers_version", "dropout", "output_hidden_states", "output_attentions", "return_dict",
        "use_bfloat16", "torchscript", "is_encoder_decoder", "is_decoder", "add_cross_attention", "tie_word_embeddings",
        "id2label", "label2id", "problem_type", "finetuning_task", "tokenizer_class", "prefix", "sep_token_id",
        "decoder_start_token_id", "task_specific_params", "max_length", "min_length", "do_sample", "early_stopping",
        "num_beams", "num_beam_groups", "diversity_penalty", "temperature", "top_k", "top_p", "typical_p",
        "repetition_penalty", "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
        "num_return_sequences", "chunk_size_feed_forward", "output_scores", "return_dict_in_generate", "forced_bos_token_id",
        "forced_eos_token_id", "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
        "begin_suppress_tokens", "tie_encoder_decoder", "cross_attention_hidden_size",
    };

    /// <summary>Reads and validates a transformers <c>config.json</c>.</summary>
    /// <exception cref="InvalidInputException">Missing file, bad JSON, unknown key, unsupported value.</exception>
    public static ClipTextConfig Load(string path) => FromJson(IO.JsonFile.ReadText(path, "config file"), path);

    /// <summary>True when <paramref name="path"/> is a JSON object saying <c>model_type</c> clip_text_model or <c>architectures</c> CLIPTextModel.</summary>
    public static bool IsClipTextConfig(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(IO.JsonFile.ReadText(path, "config file"), IO.JsonFile.DocumentOptions);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return false;
            if (root.TryGetProperty("model_type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == ModelType) return true;
            return root.TryGetProperty("architectures", out var a) && a.ValueKind == JsonValueKind.Array
                && a.EnumerateArray().Any(e => e.ValueKind == JsonValueKind.String && e.GetString()!.StartsWith("CLIPText", StringComparison.Ordinal));
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Parses a transformers CLIPTextModel config; <paramref name="source"/> names the origin in error messages.</summary>
    /// <exception cref="InvalidInputException">Bad JSON, unknown key, wrong type, or an unsupported option (the message names key and value).</exception>
    public static ClipTextConfig FromJson(string json, string source = "config.json")
    {
        IO.JsonFile.CheckLength(json, source);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, IO.JsonFile.DocumentOptions); }
        catch (JsonException e) { throw new InvalidInputException($"{source}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidInputException($"{source}: expected a JSON object, found {doc.RootElement.ValueKind}");
            var c = new ClipTextConfig();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                var v = p.Value;
                c = p.Name switch
                {
                    "architectures" => CheckArchitectures(source, v, c),
                    "model_type" => v.ValueKind == JsonValueKind.String && v.GetString() == ModelType ? c : throw Bad(source, p.Name, v, $"\"{ModelType}\""),
                    "vocab_size" => c with { VocabSize = Int(source, p.Name, v) },
                    "hidden_size" => c with { HiddenSize = Int(source, p.Name, v) },
                    "intermediate_size" => c with { IntermediateSize = Int(source, p.Name, v) },
                    "projection_dim" => c with { ProjectionDim = Int(source, p.Name, v) },
                    "num_hidden_layers" => c with { NumHiddenLayers = Int(source, p.Name, v) },
                    "num_attention_heads" => c with { NumAttentionHeads = Int(source, p.Name, v) },
                    "max_position_embeddings" => c with { MaxPositionEmbeddings = Int(source, p.Name, v) },
                    "hidden_act" => c with { HiddenAct = Activation(source, v) },
                    "layer_norm_eps" => c with { LayerNormEps = Double(source, p.Name, v) },
                    "attention_dropout" => c with { AttentionDropout = Double(source, p.Name, v) },
                    "pad_token_id" => c with { PadTokenId = Int(source, p.Name, v) },
                    "bos_token_id" => c with { BosTokenId = Int(source, p.Name, v) },
                    "eos_token_id" => c with { EosTokenId = Int(source, p.Name, v) },
                    "initializer_range" => c with { InitializerRange = Double(source, p.Name, v) },
                    "initializer_factor" => c with { InitializerFactor = Double(source, p.Name, v) },
                    "pruned_heads" => v.ValueKind == JsonValueKind.Object && !v.EnumerateObject().Any() ? c : throw Bad(source, p.Name, v, "{} (pruned heads are not supported)"),
                    _ when p.Name.StartsWith('_') || Harmless.Contains(p.Name) => c,
                    _ => throw new InvalidInputException($"{source}: unknown CLIPTextModel key '{p.Name}' (value {Short(v)}); this port implements transformers' CLIPTextModel options only"),
                };
            }
            c.Validate(source);
            return c;
        }
    }

    /// <summary>Checks sizes and their combination.</summary>
    /// <exception cref="InvalidInputException">A size is not positive, or the heads do not divide the width.</exception>
    public void Validate(string source = "config")
    {
        foreach (var (key, value) in new[]
                 {
                     ("vocab_size", VocabSize), ("hidden_size", HiddenSize), ("intermediate_size", IntermediateSize),
                     ("num_hidden_layers", NumHiddenLayers), ("num_attention_heads", NumAttentionHeads), ("max_position_embeddings", MaxPositionEmbeddings),
                 })
        {
            if (value < 1) throw new InvalidInputException($"{source}: {key} = {value} is not supported: expected a positive integer");
        }
        if (HiddenSize % NumAttentionHeads != 0)
            throw new InvalidInputException($"{source}: hidden_size = {HiddenSize} is not divisible by num_attention_heads = {NumAttentionHeads}");
        if (!(LayerNormEps > 0)) throw new InvalidInputException($"{source}: layer_norm_eps = {LayerNormEps} is not supported: expected a positive number");
        if (!(AttentionDropout is >= 0 and < 1)) throw new InvalidInputException($"{source}: attention_dropout = {AttentionDropout} is not supported: expected 0 <= p < 1");
    }

    /// <summary>The config as transformers 4.44 <c>save_pretrained</c> writes it: sorted keys, two-space indent.</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("architectures");
            w.WriteStringValue(ClassName);
            w.WriteEndArray();
            w.WriteNumber("attention_dropout", AttentionDropout);
            w.WriteNumber("bos_token_id", BosTokenId);
            w.WriteNumber("eos_token_id", EosTokenId);
            w.WriteString("hidden_act", HiddenAct == ClipActivation.Gelu ? "gelu" : "quick_gelu");
            w.WriteNumber("hidden_size", HiddenSize);
            w.WriteNumber("initializer_factor", InitializerFactor);
            w.WriteNumber("initializer_range", InitializerRange);
            w.WriteNumber("intermediate_size", IntermediateSize);
            w.WriteNumber("layer_norm_eps", LayerNormEps);
            w.WriteNumber("max_position_embeddings", MaxPositionEmbeddings);
            w.WriteString("model_type", ModelType);
            w.WriteNumber("num_attention_heads", NumAttentionHeads);
            w.WriteNumber("num_hidden_layers", NumHiddenLayers);
            w.WriteNumber("pad_token_id", PadTokenId);
            w.WriteNumber("projection_dim", ProjectionDim);
            w.WriteString("torch_dtype", "float32");
            w.WriteString("transformers_version", TransformersVersion);
            w.WriteNumber("vocab_size", VocabSize);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static ClipTextConfig CheckArchitectures(string source, JsonElement v, ClipTextConfig c) =>
        v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 1 && v[0].ValueKind == JsonValueKind.String && v[0].GetString() == ClassName
            ? c
            : throw Bad(source, "architectures", v, $"[\"{ClassName}\"] (CLIPTextModelWithProjection and others are not supported)");

    private static ClipActivation Activation(string source, JsonElement v) => v.ValueKind == JsonValueKind.String ? v.GetString() switch
    {
        "quick_gelu" => ClipActivation.QuickGelu,
        "gelu" => ClipActivation.Gelu,
        _ => throw Bad(source, "hidden_act", v, "\"quick_gelu\" or \"gelu\""),
    } : throw Bad(source, "hidden_act", v, "\"quick_gelu\" or \"gelu\"");

    private static int Int(string source, string key, JsonElement v) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw Bad(source, key, v, "an integer");

    private static double Double(string source, string key, JsonElement v) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) ? d : throw Bad(source, key, v, "a number");

    private static InvalidInputException Bad(string source, string key, JsonElement v, string expected) =>
        new($"{source}: {key} = {Short(v)} is not supported: expected {expected}");

    private static string Short(JsonElement v)
    {
        var raw = v.GetRawText();
        return raw.Length > 60 ? raw[..57] + "..." : raw;
    }
}
