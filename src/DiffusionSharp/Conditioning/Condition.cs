using static TorchSharp.torch;

namespace DiffusionSharp.Conditioning;

/// <summary>
/// What a batch is conditioned on, carried from the data to the network: nothing, a class label per sample, or
/// embeddings (e.g. text). Each kind knows its own null value, so classifier-free guidance (Ho and Salimans 2022) works
/// on any of them: training replaces a random subset of rows by it (<see cref="Drop"/>), sampling runs the conditional
/// and the unconditional rows as one doubled batch (<see cref="Concat"/> of <see cref="Unconditional"/>).
/// </summary>
/// <remarks>
/// Every tensor is batch-first (<c>[B, ...]</c>, the same B as the samples). Operations return a new condition with
/// fresh tensors (in the current dispose scope) and never dispose their inputs; <see cref="Dispose"/> releases this
/// condition's own tensors.
/// </remarks>
public abstract class Condition : IDisposable
{
    /// <summary>What this condition is.</summary>
    public abstract ConditionKind Kind { get; }

    /// <summary>Rows, B.</summary>
    public abstract long BatchSize { get; }

    /// <summary>Rows <c>[start, start + length)</c> (a micro-batch or a process's shard).</summary>
    public abstract Condition Slice(long start, long length);

    /// <summary>The null value in every row: the unconditional input of classifier-free guidance.</summary>
    public abstract Condition Unconditional();

    /// <summary>This condition's rows followed by <paramref name="other"/>'s (same kind): the doubled batch of guidance.</summary>
    public abstract Condition Concat(Condition other);

    /// <summary>The rows where <paramref name="drop"/> ([B] bool) is true replaced by the null value (label dropping for guidance).</summary>
    public abstract Condition Drop(Tensor drop);

    /// <summary>The same condition with its tensors on <paramref name="device"/>.</summary>
    public abstract Condition To(Device device);

    /// <summary>No condition for a batch of <paramref name="batchSize"/>.</summary>
    public static Condition None(long batchSize) => new NoCondition(batchSize);

    /// <inheritdoc />
    public void Dispose()
    {
        DisposeTensors();
        GC.SuppressFinalize(this);
    }

    /// <summary>Disposes the tensors this condition holds.</summary>
    protected abstract void DisposeTensors();

    /// <summary>Checks that <paramref name="other"/> is of this condition's type, for <see cref="Concat"/>.</summary>
    protected T Same<T>(Condition other) where T : Condition =>
        other as T ?? throw new ArgumentException($"cannot join a {Kind} condition with a {other.Kind} one", nameof(other));
}
