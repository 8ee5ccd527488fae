using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Models;

/// <summary>
/// Activation recomputation (gradient checkpointing) for one block: the forward pass runs the block under no_grad and keeps
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
