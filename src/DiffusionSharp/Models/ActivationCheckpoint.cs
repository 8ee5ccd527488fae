using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>
/// Activation recomputation (gradient checkpointing) for one block or layer: the forward pass runs it under no_grad and keeps
/// only its inputs; backward re-runs the block with grad (the default generator's state restored, so dropout replays the
/// same mask), back-propagates the incoming output gradients through it (parameters accumulate their .grad directly) and
/// returns the inputs' gradients. Reentrant, as torch.utils.checkpoint(use_reentrant=True).
/// The block must return distinct tensors that all receive a gradient: TorchSharp 0.107 hands backward a missing output
/// gradient as a <see cref="Tensor"/> over a null handle, which its dispose-scope statistics count as created but never as
/// disposed (no memory is held, but a live-tensor leak test fails). A tensor returned twice is such a case: autograd
/// routes both uses to one output slot and leaves the other without a gradient.
/// </summary>
public sealed class ActivationCheckpoint : autograd.MultiTensorFunction<ActivationCheckpoint>
{
    /// <inheritdoc />
    public override string Name => nameof(ActivationCheckpoint);

    /// <summary>Runs <paramref name="block"/> on <paramref name="inputs"/> checkpointed when grad is enabled, plainly otherwise.</summary>
    public static Tensor[] Run(Func<Tensor[], Tensor[]> block, params Tensor[] inputs)
    {
        if (!is_grad_enabled()) return block(inputs);
        var vars = new object[inputs.Length + 1];
        vars[0] = block;
        for (var i = 0; i < inputs.Length; i++) vars[i + 1] = inputs[i];
        return apply(vars).ToArray();
    }

    /// <summary><paramref name="layer"/>(x) checkpointed when <paramref name="on"/> and grad is enabled.</summary>
    internal static Tensor Layer(nn.Module<Tensor, Tensor> layer, Tensor hidden, bool on) =>
        on ? Run(x => [layer.call(x[0])], hidden)[0] : layer.call(hidden);

    /// <summary>A ResNet block on (<paramref name="hidden"/>, <paramref name="temb"/>), checkpointed when <paramref name="on"/>.</summary>
    internal static Tensor Layer(nn.Module<Tensor, Tensor?, Tensor> resnet, Tensor hidden, Tensor? temb, bool on)
    {
        if (!on) return resnet.call(hidden, temb);
        return temb is null ? Run(x => [resnet.call(x[0], null)], hidden)[0] : Run(x => [resnet.call(x[0], x[1])], hidden, temb)[0];
    }

    /// <summary>
    /// A ResNet block on the channel concatenation of <paramref name="hidden"/> and <paramref name="skip"/> (an up block's
    /// input), checkpointed when <paramref name="on"/>; the concatenation happens inside, so it is not kept as well.
    /// </summary>
    internal static Tensor LayerOnConcat(nn.Module<Tensor, Tensor?, Tensor> resnet, Tensor hidden, Tensor skip, Tensor? temb, bool on)
    {
        if (!on) return resnet.call(cat([hidden, skip], 1), temb);
        return temb is null
            ? Run(x => [resnet.call(cat([x[0], x[1]], 1), null)], hidden, skip)[0]
            : Run(x => [resnet.call(cat([x[0], x[1]], 1), x[2])], hidden, skip, temb)[0];
    }

    /// <inheritdoc />
    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var block = (Func<Tensor[], Tensor[]>)vars[0];
        var inputs = vars.Skip(1).Cast<Tensor>().ToArray();
        ctx.save_data("block", block);
        ctx.set_materialize_grads(false);
        using (var state = random.get_rng_state()) ctx.save_data("rng", state.data<byte>().ToArray());
        ctx.save_for_backward(inputs.ToList());
        using var scope = NewDisposeScope();
        var outputs = block(inputs);
        foreach (var o in outputs) o.MoveToOuterDisposeScope();
        return outputs.ToList();
    }

    /// <inheritdoc />
    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
    {
        var block = (Func<Tensor[], Tensor[]>)ctx.get_data("block");
        var rng = (byte[])ctx.get_data("rng");
        var saved = ctx.get_saved_variables();
        using var scope = NewDisposeScope();
        var inputs = saved.Select(t => t.detach().requires_grad_(t.requires_grad)).ToArray();
        var current = random.get_rng_state();
        random.set_rng_state(tensor(rng));
        Tensor[] outputs;
        try
        {
            using (enable_grad()) outputs = block(inputs);
        }
        finally
        {
            random.set_rng_state(current);
        }
        var pairs = outputs.Zip(gradOutputs).Where(p => p.First.requires_grad && p.Second is not null && !p.Second.IsInvalid).ToList();
        using (enable_grad()) autograd.backward(pairs.Select(p => p.First).ToList(), pairs.Select(p => p.Second).ToList());
        var grads = new List<Tensor> { null! }; // one slot per forward argument: none for the block delegate
        foreach (var x in inputs)
        {
            var g = x.requires_grad ? x.grad : null;
            grads.Add(g?.clone().MoveToOuterDisposeScope()!);
        }
        foreach (var t in saved) t.Dispose();
        return grads;
    }
}
