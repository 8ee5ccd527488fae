using DiffusionSharp.Conditioning;
using DiffusionSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// What one training step regresses: from a batch x_0, the formulation's noise levels, x_t and target, and the
/// condition the network sees (with label dropping for classifier-free guidance). All randomness comes from the run's
/// CPU generator in a fixed order (levels, noise, drops), drawn for the whole global batch, so a seed gives the same run
/// on any device and however many processes share the batch (each keeps its own rows).
/// </summary>
internal static class TrainingExample
{
    /// <summary>The step's x_t, target, noise levels and condition for this process's rows of the global batch.</summary>
    /// <param name="x0">This process's samples <c>[b, C, ...]</c>, on <paramref name="device"/>.</param>
    /// <param name="fromData">Their condition as the data gave it.</param>
    /// <param name="shard">Where the rows start in the global batch, and its size (<see cref="Data.BatchLoader.LastShard"/>).</param>
    /// <param name="formulation">The objective.</param>
    /// <param name="generator">The run's CPU generator.</param>
    /// <param name="network">The network's architecture (what it is conditioned on, its null class).</param>
    /// <param name="condDrop">The probability of replacing a condition by its null value.</param>
    /// <param name="device">The network's device.</param>
    public static (Tensor Xt, Tensor Target, Tensor Levels, Condition Condition) Draw(Tensor x0, Condition fromData,
        (int Offset, int GlobalRows) shard, IFormulation formulation, Generator generator, IDenoiserConfig network, double condDrop, Device device)
    {
        var (offset, globalRows) = shard;
        long rows = x0.shape[0];
        var levels = Rows(formulation.DrawNoiseLevels(globalRows, generator), offset, rows, device);
        var noise = Rows(torch.randn([globalRows, .. x0.shape[1..]], generator: generator), offset, rows, device);
        var condition = TrainingCondition(fromData, network, condDrop, generator, globalRows, offset, rows, device);
        return (formulation.AddNoise(x0, noise, levels), formulation.Target(x0, noise, levels), levels, condition);
    }

    /// <summary>
    /// The batch's latents z = mean + std · ε from its stacked posterior moments <c>[b, 2C, h, w]</c>; ε is drawn for the whole
    /// global batch from the run's generator before anything else of the step, so resume and sharding stay exact.
    /// </summary>
    public static Tensor DrawLatents(LatentDataset latents, Tensor moments, (int Offset, int GlobalRows) shard, Generator generator, Device device)
    {
        var (offset, globalRows) = shard;
        long[] shape = [globalRows, .. latents.LatentShape.Select(d => (long)d)];
        var noise = Rows(torch.randn(shape, generator: generator), offset, moments.shape[0], device);
        return latents.Sample(moments, noise);
    }

    /// <summary><paramref name="t"/> itself when it is on <paramref name="device"/>, else a copy there.</summary>
    public static Tensor OnDevice(Tensor t, Device device) =>
        t.device_type == device.type && (device.type == DeviceType.CPU || t.device_index == device.index) ? t : t.to(device);

    /// <summary>
    /// The condition the network trains on: none for an unconditional network; for a class-conditional one the labels
    /// with the network's null class, each replaced by it with probability <paramref name="condDrop"/>, so one network
    /// learns both p(x | c) and p(x) for classifier-free guidance (Ho and Salimans 2022). Any other condition is dropped
    /// the same way, to its own null value.
    /// </summary>
    private static Condition TrainingCondition(Condition fromData, IDenoiserConfig network, double condDrop, Generator generator,
        long globalRows, long offset, long rows, Device device)
    {
        if (network.Conditioning == ConditionKind.None) return Condition.None(rows);
        if (fromData.Kind != network.Conditioning)
            throw new InvalidInputException(
                $"Data: the samples carry {Describe(fromData.Kind)} but the network is conditioned on {Describe(network.Conditioning)}", Trainer.DataProperty);
        var condition = fromData is ClassLabelCondition labels ? labels.WithNullClass(network.NumClasses) : fromData;
        if (device.type != DeviceType.CPU) condition = condition.To(device);
        if (condDrop <= 0) return condition;
        var drop = Rows(torch.rand([globalRows], generator: generator) < condDrop, offset, rows, device);
        return condition.Drop(drop);
    }

    private static string Describe(ConditionKind kind) => kind switch
    {
        ConditionKind.None => "no condition",
        ConditionKind.ClassLabel => "class labels",
        ConditionKind.Tokens => "token ids (prompts)",
        _ => "embeddings",
    };

    /// <summary>Rows <c>[offset, offset + rows)</c> of a global draw, on <paramref name="device"/> (the draw itself is always made on the CPU).</summary>
    private static Tensor Rows(Tensor global, long offset, long rows, Device device)
    {
        var mine = offset == 0 && rows == global.shape[0] ? global : global[TensorIndex.Slice(offset, offset + rows)];
        return OnDevice(mine, device);
    }
}
