using System.Diagnostics;
using System.Runtime.InteropServices;
using DiffusionSharp.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffusionSharp.Distributed;

/// <summary>
/// Data-parallel training over a <see cref="IProcessGroup"/> (Horovod's scheme): at every step's gradients-ready point
/// the gradients are copied into a few contiguous float32 buckets, each bucket is summed over the processes with one
/// all-reduce and divided by their number, and copied back; so every process clips, decides "finite or skipped" (one
/// process's NaN makes the sum NaN everywhere), steps AdamW and updates the EMA on the same numbers. The step's loss and
/// a stop flag travel in one more small all-reduce, so a stop asked of any process (a signal) stops every process after
/// the same step (<see cref="Stop"/>). The writer's weights are broadcast when training starts or resumes, and a weight
/// checksum is compared at every checkpoint.
/// </summary>
public sealed class DataParallelReducer : IGradientReducer, IDisposable
{
    /// <summary>The default bucket size: 4 MiB of float32 gradients per all-reduce.</summary>
    public const int DefaultBucketBytes = 4 << 20;

    private readonly IProcessGroup _group;
    private readonly CancellationToken _localStop;
    private readonly CancellationTokenSource _stop = new();
    private readonly int _bucketElements;
    private readonly Stopwatch _allreduceClock = new();
    private Bucket[]? _buckets;

    /// <param name="group">The processes training together.</param>
    /// <param name="localStop">This process's own stop request (e.g. a signal); shared with the others at the next step.</param>
    /// <param name="bucketBytes">Bytes of gradients per all-reduce.</param>
    public DataParallelReducer(IProcessGroup group, CancellationToken localStop = default, int bucketBytes = DefaultBucketBytes)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketBytes, sizeof(float));
        _group = group;
        _localStop = localStop;
        _bucketElements = bucketBytes / sizeof(float);
    }

    /// <summary>Cancelled on every process after the first step at whose end any process had been asked to stop.</summary>
    public CancellationToken Stop => _stop.Token;

    /// <summary>Time spent in the gradient all-reduces so far (the buckets' all-reduce calls only).</summary>
    public TimeSpan AllreduceTime => _allreduceClock.Elapsed;

    /// <summary>Steps reduced so far.</summary>
    public int Steps { get; private set; }

    /// <summary>The buckets' sizes in float32 values (after the first step).</summary>
    public IReadOnlyList<long> BucketSizes => _buckets?.Select(b => b.Buffer.shape[0]).ToArray() ?? [];

    /// <inheritdoc />
    public void GradientsReady(IReadOnlyList<Parameter> parameters)
    {
        using var noGrad = torch.no_grad();
        _buckets ??= Plan(parameters);
        float scale = 1f / _group.Count;
        foreach (var bucket in _buckets)
        {
            for (int i = 0; i < bucket.Parameters.Length; i++)
            {
                using var grad = bucket.Parameters[i].grad;
                if (grad is null) bucket.Views[i].zero_();
                else bucket.Views[i].copy_(grad);
            }
            _allreduceClock.Start();
            _group.AllreduceSum(MemoryMarshal.Cast<byte, float>(bucket.Buffer.bytes));
            _allreduceClock.Stop();
            bucket.Buffer.mul_(scale);
            for (int i = 0; i < bucket.Parameters.Length; i++)
            {
                using var grad = bucket.Parameters[i].grad;
                grad?.copy_(bucket.Views[i]);
            }
        }
        Steps++;
    }

    /// <inheritdoc />
    public double ReduceLoss(double loss)
    {
        Span<double> values = [loss / _group.Count, _localStop.IsCancellationRequested ? 1 : 0];
        _group.AllreduceSum(values);
        if (values[1] > 0 && !_stop.IsCancellationRequested) _stop.Cancel();
        return values[0];
    }

    /// <inheritdoc />
    public void WeightsReady(IReadOnlyList<Tensor> weights)
    {
        using var noGrad = torch.no_grad();
        foreach (var w in weights)
        {
            if (w.device_type == DeviceType.CPU && w.is_contiguous())
            {
                _group.Broadcast(w.bytes, 0);
                continue;
            }
            using var host = w.cpu().contiguous();
            _group.Broadcast(host.bytes, 0);
            w.copy_(host);
        }
    }

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">A process holds other weights than the writer (an internal error).</exception>
    public void CheckpointReached(int step, IReadOnlyList<Tensor> weights)
    {
        var (sum, squares) = Checksum(weights);
        var reference = new double[] { sum, squares };
        _group.Broadcast(MemoryMarshal.AsBytes(reference.AsSpan()), 0);
        var differs = new double[_group.Count];
        differs[_group.Rank] = BitConverter.DoubleToInt64Bits(reference[0]) != BitConverter.DoubleToInt64Bits(sum)
            || BitConverter.DoubleToInt64Bits(reference[1]) != BitConverter.DoubleToInt64Bits(squares) ? 1 : 0;
        _group.AllreduceSum(differs);
        var ranks = Enumerable.Range(0, _group.Count).Where(r => differs[r] > 0).ToArray();
        if (ranks.Length > 0)
            throw new InvalidOperationException(
                $"at step {step} the weights of rank(s) {string.Join(", ", ranks)} differ from rank 0's (checksum {reference[0]:R} vs this rank's {sum:R}): the processes no longer train one model");
    }

    /// <summary>
    /// Σw and Σw² over every value, in float64 and in one fixed order on the CPU, so that equal weights give bit-equal
    /// checksums whatever the thread count.
    /// </summary>
    public static (double Sum, double Squares) Checksum(IReadOnlyList<Tensor> weights)
    {
        double sum = 0, squares = 0;
        foreach (var w in weights)
        {
            using var host = w.device_type == DeviceType.CPU && w.is_contiguous() && w.dtype == ScalarType.Float32 ? w.alias() : w.detach().to_type(ScalarType.Float32).cpu().contiguous();
            foreach (float v in MemoryMarshal.Cast<byte, float>(host.bytes))
            {
                sum += v;
                squares += (double)v * v;
            }
        }
        return (sum, squares);
    }

    /// <summary>Groups the parameters, in order, into buckets of at most the bucket size (a larger parameter has one to itself).</summary>
    private Bucket[] Plan(IReadOnlyList<Parameter> parameters)
    {
        var buckets = new List<Bucket>();
        var members = new List<Parameter>();
        long size = 0;
        void Close()
        {
            if (members.Count == 0) return;
            buckets.Add(new Bucket(members.ToArray(), size));
            members.Clear();
            size = 0;
        }
        foreach (var p in parameters)
        {
            if (!p.requires_grad) continue;
            long n = p.numel();
            if (size > 0 && size + n > _bucketElements) Close();
            members.Add(p);
            size += n;
        }
        Close();
        return buckets.ToArray();
    }

    public void Dispose()
    {
        foreach (var b in _buckets ?? []) b.Dispose();
        _buckets = null;
        _stop.Dispose();
    }

    /// <summary>One contiguous float32 buffer and, for each of its parameters, a view of it shaped like the parameter.</summary>
    private sealed class Bucket : IDisposable
    {
        public Bucket(Parameter[] parameters, long size)
        {
            Parameters = parameters;
            Buffer = torch.zeros(size, dtype: ScalarType.Float32).DetachFromDisposeScope();
            Views = new Tensor[parameters.Length];
            long offset = 0;
            for (int i = 0; i < parameters.Length; i++)
            {
                long n = parameters[i].numel();
                using var slice = Buffer.narrow(0, offset, n);
                Views[i] = slice.view(parameters[i].shape).DetachFromDisposeScope();
                offset += n;
            }
        }

        public Parameter[] Parameters { get; }
        public Tensor Buffer { get; }
        public Tensor[] Views { get; }

        public void Dispose()
        {
            foreach (var v in Views) v.Dispose();
            Buffer.Dispose();
        }
    }
}
