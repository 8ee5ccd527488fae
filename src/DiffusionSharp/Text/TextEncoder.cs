using DiffusionSharp.Conditioning;
using DiffusionSharp.Models;
using static TorchSharp.torch;

namespace DiffusionSharp.Text;

/// <summary>
/// Prompts to text embeddings for a conditional U-Net: a <see cref="ClipTokenizer"/> makes 77-token rows and a
/// <see cref="ClipTextModel"/> turns them into <c>last_hidden_state</c> <c>[B, L, D]</c>, diffusers'
/// <c>encoder_hidden_states</c> (no attention mask, as Stable Diffusion's pipelines). The null value of the
/// <see cref="EmbeddingCondition"/> is the encoding of the empty prompt, diffusers' unconditional input for
/// classifier-free guidance.
/// </summary>
public sealed class TextEncoder : IDisposable
{
    private Tensor? _nullHidden;

    /// <summary>Pairs a tokenizer with a text model; the encoder owns the model from now on and disposes it.</summary>
    /// <exception cref="InvalidInputException">The tokenizer's rows are longer than the model's positions, or its ids exceed the model's vocabulary.</exception>
    public TextEncoder(ClipTokenizer tokenizer, ClipTextModel model)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(model);
        if (tokenizer.ModelMaxLength > model.Config.MaxPositionEmbeddings)
            throw new InvalidInputException($"tokenizer model_max_length = {tokenizer.ModelMaxLength} exceeds the text encoder's max_position_embeddings = {model.Config.MaxPositionEmbeddings}");
        if (tokenizer.VocabSize > model.Config.VocabSize)
            throw new InvalidInputException($"tokenizer has {tokenizer.VocabSize} tokens, the text encoder's vocab_size is {model.Config.VocabSize}");
        Tokenizer = tokenizer;
        Model = model;
    }

    /// <summary>The tokenizer.</summary>
    public ClipTokenizer Tokenizer { get; }

    /// <summary>The text model.</summary>
    public ClipTextModel Model { get; }

    /// <summary>Largest number of prompts encoded in one forward call; longer lists are split.</summary>
    public int MaxBatch { get; init; } = 16;

    /// <summary>Loads <c>tokenizer/</c> and <c>text_encoder/</c> of a Stable Diffusion pipeline folder.</summary>
    /// <param name="pipelineFolder">The pipeline folder.</param>
    /// <param name="device">Where the text model runs (null = the CPU).</param>
    /// <param name="encoderFolder">The text model's subfolder: <c>text_encoder</c>, or <c>text_encoder_ema</c> for a text-to-image training run's EMA weights.</param>
    /// <exception cref="InvalidInputException">A missing or malformed file (see <see cref="ClipTokenizer.FromPretrained"/> and <see cref="ClipTextModel.FromPretrained"/>).</exception>
    public static TextEncoder FromPretrained(string pipelineFolder, Device? device = null, string encoderFolder = "text_encoder")
    {
        ArgumentException.ThrowIfNullOrEmpty(pipelineFolder);
        var tokenizer = ClipTokenizer.FromPretrained(Path.Combine(pipelineFolder, "tokenizer"));
        var model = ClipTextModel.FromPretrained(Path.Combine(pipelineFolder, encoderFolder), device);
        try
        {
            return new TextEncoder(tokenizer, model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The encoding of the empty prompt, float <c>[L, D]</c>; computed once and owned by this encoder.</summary>
    public Tensor NullHidden
    {
        get
        {
            if (_nullHidden is null)
            {
                using var rows = EncodeHidden([""]);
                using var row = rows.squeeze(0);
                _nullHidden = row.clone().DetachFromDisposeScope();
            }
            return _nullHidden;
        }
    }

    /// <summary>Encodes prompts in batches of at most <see cref="MaxBatch"/>, in inference mode.</summary>
    /// <param name="prompts">B prompts.</param>
    /// <param name="onTruncated">Called for each prompt cut to fit the rows (B-relative index); null = ignore.</param>
    /// <returns>float <c>[B, L, D]</c> on the model's device; the caller owns it.</returns>
    public Tensor EncodeHidden(IReadOnlyList<string> prompts, Action<PromptTruncation>? onTruncated = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("at least one prompt is needed", nameof(prompts));
        var wasTraining = Model.training;
        Model.eval();
        try
        {
            using var mode = inference_mode();
            using var scope = NewDisposeScope();
            var parts = new List<Tensor>();
            for (var start = 0; start < prompts.Count; start += MaxBatch)
            {
                var chunk = prompts.Skip(start).Take(MaxBatch).ToList();
                var rows = Tokenizer.Tokenize(chunk);
                foreach (var t in rows.Truncations) onTruncated?.Invoke(t with { Index = t.Index + start });
                using var ids = rows.InputIdsTensor(Model.Device);
                using var output = Model.forward(ids, null);
                parts.Add(output.LastHiddenState.clone());
            }
            return (parts.Count == 1 ? parts[0] : cat(parts)).MoveToOuterDisposeScope();
        }
        finally
        {
            if (wasTraining) Model.train();
        }
    }

    /// <summary>
    /// Encodes prompts into an <see cref="EmbeddingCondition"/>: <c>Hidden</c> <c>[B, L, D]</c>, no mask, and
    /// <see cref="NullHidden"/> as its unconditional value (owned by this encoder: dispose the condition first).
    /// </summary>
    public EmbeddingCondition Encode(IReadOnlyList<string> prompts, Action<PromptTruncation>? onTruncated = null) =>
        new(EncodeHidden(prompts, onTruncated), null, NullHidden);

    /// <inheritdoc />
    public void Dispose()
    {
        _nullHidden?.Dispose();
        _nullHidden = null;
        Model.Dispose();
    }
}
