using System.Diagnostics;
using DiffusionSharp.Conditioning;
using DiffusionSharp.Models;
using DiffusionSharp.Models.Blocks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffusionSharp.Benchmarks;

/// <summary>
/// Where a network call's time goes, by op class (convolution, GroupNorm, SiLU, attention, linear), measured by replay:
/// one forward pass records every convolution, GroupNorm, linear and attention layer with the shape it was given
/// (forward pre-hooks); each recorded call is then timed alone on a random input of that shape, forward only
/// (sampling) or forward + backward (training), and the times are summed per class. SiLU is replayed on the output of
/// every GroupNorm outside attention (a U-Net applies it there, and after the time embedding). What the replayed
/// classes do not cover (additions, up/down-sampling, the loss, autograd's bookkeeping) is the caller's remainder:
/// the measured phase time minus the replayed sum.
/// </summary>
/// <remarks>
/// A layer run alone finds its input in cache less often than inside the network, so replayed times are an upper bound
/// per class; their sum is compared with the measured step in the report.
/// </remarks>
public static class OpProfile
{
    /// <summary>Time of one op class per network call (training: forward + backward).</summary>
    /// <param name="Op">conv, group_norm, silu, attention, linear.</param>
    /// <param name="Calls">Layers of this class called per network call.</param>
    /// <param name="Ms">Replayed milliseconds per network call.</param>
    /// <param name="GFlops">FLOPs of the class per network call (training: 3x the forward), in GFLOP; 0 for memory-bound classes.</param>
    public sealed record OpTime(string Op, int Calls, double Ms, double GFlops)
    {
        /// <summary>Achieved GFLOP/s of the class (0 when it has no FLOP count).</summary>
        public double GFlopsPerSecond => Ms > 0 ? GFlops / (Ms / 1e3) : 0;
    }

    /// <summary>
    /// <see cref="Measure(IDenoiser, Tensor, Tensor, Condition, bool, int, CancellationToken)"/> on a seeded random batch of
    /// <paramref name="rows"/> samples of the network's shape, mid-range timesteps and the null condition.
    /// </summary>
    public static IReadOnlyList<OpTime> Measure(IDenoiser model, long rows, bool training, int repeats = 3, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var shape = model.Config.SampleShape ?? throw new InvalidInputException("the model's config has no sample size, so there is no shape to profile at", "OpProfile.model");
        using var scope = NewDisposeScope();
        using var generator = new Generator(0);
        var sample = randn([rows, .. shape.Select(d => (long)d)], generator: generator).to(model.Device);
        var timestep = full([rows], 500L, dtype: ScalarType.Int64, device: model.Device);
        using var condition = ForwardBenchmark.NullCondition(model.Config, rows, model.Device);
        return Measure(model, sample, timestep, condition, training, repeats, cancellationToken);
    }

    private sealed record Call(string Op, nn.Module<Tensor, Tensor> Layer, long[] Shape, long Flops);

    /// <summary>Records one forward pass of <paramref name="model"/> at <paramref name="sample"/>'s shape and replays it by op class.</summary>
    /// <param name="model">Any network; only its convolution, GroupNorm, linear and attention layers are hooked.</param>
    /// <param name="sample">[B, C, ...] input of the recorded pass.</param>
    /// <param name="timestep">[B] timesteps.</param>
    /// <param name="condition">The condition of the recorded pass.</param>
    /// <param name="training">Replay forward + backward (true) or forward under inference mode (false).</param>
    /// <param name="repeats">Timed replays of every call (after one untimed); the mean is reported.</param>
    /// <param name="cancellationToken">Checked between calls.</param>
    public static IReadOnlyList<OpTime> Measure(IDenoiser model, Tensor sample, Tensor timestep, Condition condition, bool training,
        int repeats = 3, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        var calls = Record(model, sample, timestep, condition);
        var byOp = new Dictionary<string, (int Calls, double Seconds, long Flops)>();
        void Add(string op, double seconds, long flops)
        {
            var (c, s, f) = byOp.GetValueOrDefault(op);
            byOp[op] = (c + 1, s + seconds, f + flops);
        }
        foreach (var call in calls)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Add(call.Op, Replay(x => call.Layer.call(x), call.Shape, training, repeats), call.Flops);
            if (call.Op == "group_norm") Add("silu", Replay(x => nn.functional.silu(x), call.Shape, training, repeats), 0);
        }
        double factor = training ? 3 : 1;
        string[] order = ["conv", "group_norm", "silu", "attention", "linear"];
        return order.Where(byOp.ContainsKey)
            .Select(op => new OpTime(op, byOp[op].Calls, byOp[op].Seconds * 1e3, factor * byOp[op].Flops / 1e9))
            .ToList();
    }

    private static List<Call> Record(IDenoiser model, Tensor sample, Tensor timestep, Condition condition)
    {
        var calls = new List<Call>();
        var removers = new List<IDisposable>();
        int insideAttention = 0;
        foreach (var (_, module) in model.Module.named_modules())
        {
            switch (module)
            {
                case Attention attention:
                    removers.Add(Hook(attention, (m, x) =>
                    {
                        if (insideAttention++ == 0)
                            calls.Add(new Call("attention", m, x.shape, attention.Flops(x.shape[2], x.shape[3]) * x.shape[0]));
                    }, () => insideAttention--));
                    break;
                case Conv2d conv:
                    removers.Add(HookAfter(conv, (m, x, y) =>
                    {
                        if (insideAttention > 0) return;
                        var k = conv.weight!.shape;
                        calls.Add(new Call("conv", m, x.shape, 2 * k[1] * k[0] * k[2] * k[3] * (y.numel() / y.shape[1])));
                    }));
                    break;
                case GroupNorm norm:
                    removers.Add(Hook(norm, (m, x) => { if (insideAttention == 0) calls.Add(new Call("group_norm", m, x.shape, 0)); }));
                    break;
                case Linear linear:
                    removers.Add(Hook(linear, (m, x) =>
                    {
                        if (insideAttention == 0)
                            calls.Add(new Call("linear", m, x.shape, 2 * linear.in_features * linear.out_features * (x.numel() / x.shape[^1])));
                    }));
                    break;
            }
        }
        try
        {
            using var scope = NewDisposeScope();
            using var mode = no_grad();
            model.Forward(sample, timestep, condition);
        }
        finally
        {
            foreach (var r in removers) r.Dispose();
        }
        return calls;
    }

    private sealed class Remover(Action remove) : IDisposable
    {
        public void Dispose() => remove();
    }

    private static IDisposable Hook(nn.Module<Tensor, Tensor> layer, Action<nn.Module<Tensor, Tensor>, Tensor> before, Action? after = null)
    {
        var pre = layer.register_forward_pre_hook((m, x) => { before(m, x); return x; });
        var post = after is null ? null : layer.register_forward_hook((m, x, y) => { after(); return y; });
        return new Remover(() => { pre.remove(); post?.remove(); });
    }

    private static IDisposable HookAfter(nn.Module<Tensor, Tensor> layer, Action<nn.Module<Tensor, Tensor>, Tensor, Tensor> after)
    {
        var post = layer.register_forward_hook((m, x, y) => { after(m, x, y); return y; });
        return new Remover(post.remove);
    }

    /// <summary>Mean seconds of <paramref name="op"/> on a random input of <paramref name="shape"/>, after one untimed run.</summary>
    private static double Replay(Func<Tensor, Tensor> op, long[] shape, bool training, int repeats)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(0);
        var input = randn(shape, generator: generator);
        var clock = new Stopwatch();
        for (int i = 0; i <= repeats; i++)
        {
            using var step = NewDisposeScope();
            if (i == 1) clock.Start();
            if (training)
            {
                var x = input.detach().requires_grad_(true);
                var y = op(x);
                y.backward([ones_like(y)]);
            }
            else
            {
                using var mode = inference_mode();
                op(input);
            }
        }
        clock.Stop();
        return clock.Elapsed.TotalSeconds / repeats;
    }
}
