using static TorchSharp.torch;

namespace DiffusionSharp.Conditioning;

/// <summary>An unconditional batch: its null value is itself, so guidance has nothing to steer by.</summary>
public sealed class NoCondition : Condition
{
    /// <summary>No condition for <paramref name="batchSize"/> rows.</summary>
    public NoCondition(long batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batchSize);
        BatchSize = batchSize;
    }

    /// <inheritdoc />
    public override ConditionKind Kind => ConditionKind.None;

    /// <inheritdoc />
    public override long BatchSize { get; }

    /// <inheritdoc />
    public override Condition Slice(long start, long length) => new NoCondition(length);

    /// <inheritdoc />
    public override Condition Unconditional() => this;

    /// <inheritdoc />
    public override Condition Concat(Condition other) => new NoCondition(BatchSize + Same<NoCondition>(other).BatchSize);

    /// <inheritdoc />
    public override Condition Drop(Tensor drop) => this;

    /// <inheritdoc />
    public override Condition To(Device device) => this;

    /// <inheritdoc />
    protected override void DisposeTensors() { }
}
