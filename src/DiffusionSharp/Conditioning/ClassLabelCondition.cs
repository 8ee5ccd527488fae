using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Conditioning;

/// <summary>
/// A class label per sample. The null value is the class <see cref="NullClass"/>: by this project's convention the
/// last class embedding (a model with <c>num_class_embeds</c> = K + 1 knows the K real classes 0..K-1 and the null class K).
/// </summary>
public sealed class ClassLabelCondition : Condition
{
    /// <summary>Labels with their null class.</summary>
    /// <param name="labels">int64 <c>[B]</c>; not copied, and owned by this condition from now on.</param>
    /// <param name="nullClass">The label of "no class".</param>
    public ClassLabelCondition(Tensor labels, long nullClass)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.dim() != 1) throw new ArgumentException($"labels must be [B], got [{string.Join(", ", labels.shape)}]", nameof(labels));
        Labels = labels;
        NullClass = nullClass;
    }

    /// <summary>int64 <c>[B]</c>.</summary>
    public Tensor Labels { get; }

    /// <summary>The label of the unconditional input.</summary>
    public long NullClass { get; }

    /// <inheritdoc />
    public override ConditionKind Kind => ConditionKind.ClassLabel;

    /// <inheritdoc />
    public override long BatchSize => Labels.shape[0];

    /// <summary>The same labels with another null class (the network's, when it differs from the dataset's).</summary>
    public ClassLabelCondition WithNullClass(long nullClass) => new(Labels.alias(), nullClass);

    /// <inheritdoc />
    public override Condition Slice(long start, long length) =>
        new ClassLabelCondition(Labels[TensorIndex.Slice(start, start + length)], NullClass);

    /// <inheritdoc />
    public override Condition Unconditional() => new ClassLabelCondition(torch.full_like(Labels, NullClass), NullClass);

    /// <inheritdoc />
    public override Condition Concat(Condition other) =>
        new ClassLabelCondition(torch.cat([Labels, Same<ClassLabelCondition>(other).Labels]), NullClass);

    /// <inheritdoc />
    public override Condition Drop(Tensor drop) =>
        new ClassLabelCondition(torch.where(drop, torch.full_like(Labels, NullClass), Labels), NullClass);

    /// <inheritdoc />
    public override Condition To(Device device) => new ClassLabelCondition(Labels.to(device), NullClass);

    /// <inheritdoc />
    protected override void DisposeTensors() => Labels.Dispose();
}
