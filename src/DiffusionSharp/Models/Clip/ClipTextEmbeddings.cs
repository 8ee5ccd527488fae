using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace DiffusionSharp.Models.Clip;

/// <summary>transformers' <c>CLIPTextEmbeddings</c>: token embedding plus learned absolute position embedding.</summary>
internal sealed class ClipTextEmbeddings : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "token_embedding")] private readonly Embedding _tokenEmbedding;
    [ComponentName(Name = "position_embedding")] private readonly Embedding _positionEmbedding;

    private readonly long _maxPositions;

    public ClipTextEmbeddings(ClipTextConfig config, Device? device, Generator? generator) : base("embeddings")
    {
        _maxPositions = config.MaxPositionEmbeddings;
        _tokenEmbedding = nn.Embedding(config.VocabSize, config.HiddenSize, device: device);
        _positionEmbedding = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenSize, device: device);
        var std = 0.02 * config.InitializerFactor;
        ClipInit.Normal(_tokenEmbedding.weight!, null, std, generator);
        ClipInit.Normal(_positionEmbedding.weight!, null, std, generator);
        RegisterComponents();
    }

    /// <summary>int64 ids [B, L] to [B, L, D]: <c>token_embedding[ids] + position_embedding[0..L)</c>.</summary>
    public override Tensor forward(Tensor inputIds)
    {
        var length = inputIds.shape[1];
        if (length > _maxPositions)
            throw new ArgumentException($"input_ids has {length} tokens, the model has {_maxPositions} positions", nameof(inputIds));
        using var positions = arange(length, ScalarType.Int64, inputIds.device);
        using var tokens = _tokenEmbedding.call(inputIds);
        using var placed = _positionEmbedding.call(positions);
        return tokens + placed;
    }
}
