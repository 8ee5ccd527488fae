using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Models.Blocks;

/// <summary>
/// Exact softmax attention for heads of 8 channels on the CPU, forward and backward, vectorised over the keys.
/// libtorch's <c>scaled_dot_product_attention</c> runs such heads at a few percent of the machine's peak (its tiles
/// multiply 8-deep matrices); the U-Net presets all use 8-channel heads, where attention took half of a training step.
/// The result equals SDPA's up to float rounding (a different summation order and Cephes expf's polynomial exp; outputs
/// within 2e-6 and gradients within 1e-5 relative in <c>SmallHeadAttentionTests</c>). Each head is computed start to end by one thread in a fixed order, so the
/// numbers do not depend on the thread count or on the other images of the batch.
/// </summary>
public static class SmallHeadAttention
{
    private static readonly AsyncLocal<bool> s_disabled = new();

    /// <summary>
    /// Whether <see cref="Attend"/> uses this kernel where it applies (default true; <c>diffuse bench --attention sdpa</c>
    /// turns it off). The setting belongs to the current flow of execution (an <see cref="AsyncLocal{T}"/>): it holds for
    /// the code that sets it and what that code calls or starts, not for other threads.
    /// </summary>
    public static bool Enabled
    {
        get => !s_disabled.Value;
        set => s_disabled.Value = !value;
    }

    /// <summary>The only head width the kernel takes.</summary>
    public const int HeadDim = 8;

    /// <summary>Whether the kernel takes these [B, H, N, D] queries and [B, H, M, D] keys and values.</summary>
    public static bool Applies(Tensor q, Tensor k, Tensor v) =>
        Enabled && q.device_type == DeviceType.CPU && q.dtype == ScalarType.Float32 && k.dtype == ScalarType.Float32
        && v.dtype == ScalarType.Float32 && q.dim() == 4 && k.dim() == 4 && v.dim() == 4 && q.shape[3] == HeadDim
        && k.shape[3] == HeadDim && v.shape[3] == HeadDim && k.shape[2] == v.shape[2] && q.shape[0] == k.shape[0]
        && q.shape[1] == k.shape[1] && k.shape[0] == v.shape[0] && k.shape[1] == v.shape[1] && k.shape[2] > 0;

    /// <summary>
    /// softmax(q kᵀ / √d) v over [B, H, N, D] queries, [B, H, M, D] keys and values (plus an additive mask if given):
    /// this kernel when autograd records the call and the kernel applies, SDPA otherwise. Training is where it pays
    /// (a mnist-small step at batch 128 took 1.07-1.13x less time, paired in one process, docs/benchmarks.md); without
    /// gradients SDPA's forward is as fast at these shapes, so inference keeps libtorch's.
    /// </summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? maskBias = null)
    {
        var recorded = is_grad_enabled() && (q.requires_grad || k.requires_grad || v.requires_grad);
        if (maskBias is not null || !recorded || !Applies(q, k, v)) return F.scaled_dot_product_attention(q, k, v, maskBias);
        return Function.apply(q, k, v)[0];
    }

    /// <summary>
    /// The kernel's forward alone, without autograd (for tests and benchmarks); same conditions as <see cref="Applies"/>.
    /// <paramref name="threads"/>: how many threads share the heads (default: libtorch's thread count).
    /// </summary>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, int? threads = null)
    {
        if (!Applies(q, k, v)) throw new ArgumentException("SmallHeadAttention.Forward takes float32 CPU tensors with 8-channel heads");
        if (threads is < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "at least 1");
        using var scope = NewDisposeScope();
        using (no_grad()) return Run(q, k, v, threads).Output.MoveToOuterDisposeScope();
    }

    private sealed record Saved(Tensor Output, Tensor Lse, Tensor Q, Tensor KT, Tensor VT);

    // Queries are read where they are when each row's 8 channels are contiguous (the attention layers' transposed views
    // of their projections are); keys and values are copied transposed to [B, H, 8, Mp], Mp = M rounded up to 8, zeros
    // after M. The output is written as [B, N, H, 8] and returned as its [B, H, N, 8] view, so the layer's transpose back
    // to tokens x channels costs no copy (as with SDPA's own output).
    private static unsafe Saved Run(Tensor q, Tensor k, Tensor v, int? threads = null)
    {
        var (b, h, n, m) = (q.shape[0], q.shape[1], q.shape[2], k.shape[2]);
        var mp = (m + Kernel.Width - 1) / Kernel.Width * Kernel.Width;
        var qr = q.stride(3) == 1 ? q.alias() : q.contiguous();
        var kt = F.pad(k.transpose(2, 3), [0, mp - m]).contiguous();
        var vt = F.pad(v.transpose(2, 3), [0, mp - m]).contiguous();
        var o = empty(b, n, h, HeadDim).transpose(1, 2);
        var lse = empty(b, h, n);
        Kernel.Forward(Rows.Of(qr), Ptr(kt), Ptr(vt), Rows.Of(o), Ptr(lse), checked((int)(b * h)), checked((int)n), checked((int)m), (int)mp,
            threads ?? get_num_threads());
        return new Saved(o, lse, qr, kt, vt);
    }

    [DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_data(IntPtr handle);

    private static unsafe float* Ptr(Tensor t) => (float*)THSTensor_data(t.Handle);

    /// <summary>Rows of 8 contiguous floats of a [B, H, N, 8] tensor with any strides for B, H and N.</summary>
    internal readonly unsafe struct Rows(float* data, long heads, long batchStride, long headStride, long rowStride)
    {
        public static Rows Of(Tensor t) => new(Ptr(t), t.shape[1], t.stride(0), t.stride(1), t.stride(2));

        /// <summary>Row i of head number <paramref name="head"/> (b · H + h).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float* Row(int head, int i) => data + head / heads * batchStride + head % heads * headStride + i * rowStride;
    }

    private sealed class Function : autograd.MultiTensorFunction<Function>
    {
        public override string Name => nameof(SmallHeadAttention);

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            using var scope = NewDisposeScope();
            var s = Run((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2]);
            // The key count, which the padded transposed keys no longer show.
            ctx.save_data("m", ((Tensor)vars[1]).shape[2]);
            foreach (var t in new[] { s.Output, s.Lse, s.Q, s.KT, s.VT }) t.MoveToOuterDisposeScope();
            ctx.save_for_backward([s.Q, s.KT, s.VT, s.Output, s.Lse]);
            return [s.Output];
        }

        public override unsafe List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
        {
            var saved = ctx.get_saved_variables();
            var (q, kt, vt, o, lse) = (saved[0], saved[1], saved[2], saved[3], saved[4]);
            var (b, h, n, mp) = (q.shape[0], q.shape[1], q.shape[2], kt.shape[3]);
            var m = (long)ctx.get_data("m");
            using var scope = NewDisposeScope();
            var g = gradOutputs[0].stride(3) == 1 ? gradOutputs[0] : gradOutputs[0].contiguous();
            // Gradients in [B, N, H, 8] memory, as the projections' outputs that the layers split into heads.
            var dq = empty(b, n, h, HeadDim).transpose(1, 2);
            var dk = empty(b, m, h, HeadDim).transpose(1, 2);
            var dv = empty(b, m, h, HeadDim).transpose(1, 2);
            Kernel.Backward(Rows.Of(q), Ptr(kt), Ptr(vt), Rows.Of(o), Rows.Of(g), Ptr(lse), Rows.Of(dq), Rows.Of(dk), Rows.Of(dv),
                (int)(b * h), (int)n, (int)m, (int)mp, get_num_threads());
            foreach (var t in saved) t.Dispose();
            return [dq.MoveToOuterDisposeScope(), dk.MoveToOuterDisposeScope(), dv.MoveToOuterDisposeScope()];
        }
    }

    /// <summary>The loops, on raw float pointers. Vector256 (AVX2): 8 keys per vector.</summary>
    private static unsafe class Kernel
    {
        public const int Width = 8;
        private const float Scale = 0.35355339059327373f; // 1 / sqrt(8)

        private static Vector256<float> TailMask(int m)
        {
            var r = m % Width;
            Span<int> bits = stackalloc int[Width];
            for (var i = 0; i < Width; i++) bits[i] = r == 0 || i < r ? -1 : 0;
            return Vector256.Create<int>(bits).AsSingle();
        }

        private static void ForEachHead(int heads, int threads, Action<int> body)
        {
            if (threads <= 1 || heads == 1)
                for (var i = 0; i < heads; i++) body(i);
            else
                Parallel.For(0, heads, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
        }

        /// <summary>
        /// e^x per lane: x = n ln 2 + r with |r| ≤ ln 2 / 2, e^r = 1 + r + r² P(r) with Cephes expf's degree-5 minimax
        /// P, times 2ⁿ built in the exponent bits. Below −87.3 (e^x under float's smallest normal) it returns 0.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Exp(Vector256<float> x)
        {
            var under = Vector256.LessThan(x, Vector256.Create(-87.3f));
            x = Vector256.Min(Vector256.Max(x, Vector256.Create(-87.3f)), Vector256.Create(88.3f));
            var n = Vector256.Round(x * 1.44269504088896341f);
            var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693359375f), x);
            r = Vector256.FusedMultiplyAdd(n, Vector256.Create(2.12194440e-4f), r);
            var p = Vector256.Create(1.9875691500e-4f);
            p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.3981999507e-3f));
            p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(8.3334519073e-3f));
            p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(4.1665795894e-2f));
            p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.6666665459e-1f));
            p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(5.0000001201e-1f));
            var e = Vector256.FusedMultiplyAdd(p, r * r, r + Vector256<float>.One);
            var pow2 = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
            return Vector256.AndNot(e * pow2, under);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static float Max(Vector256<float> v)
        {
            var a = Vector128.Max(v.GetLower(), v.GetUpper());
            a = Vector128.Max(a, Vector128.Shuffle(a, Vector128.Create(2, 3, 0, 1)));
            a = Vector128.Max(a, Vector128.Shuffle(a, Vector128.Create(1, 0, 3, 2)));
            return a.ToScalar();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Fma(float a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(Vector256.Create(a), b, c);

        // Σ_e a[e] · rows[e][c..c+8], in two chains of four so the adds overlap.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Dot8(float* a, float* rows, int stride, int c)
        {
            var x = Vector256.Create(a[0]) * Vector256.Load(rows + c);
            var y = Vector256.Create(a[1]) * Vector256.Load(rows + stride + c);
            x = Fma(a[2], Vector256.Load(rows + 2 * stride + c), x);
            y = Fma(a[3], Vector256.Load(rows + 3 * stride + c), y);
            x = Fma(a[4], Vector256.Load(rows + 4 * stride + c), x);
            y = Fma(a[5], Vector256.Load(rows + 5 * stride + c), y);
            x = Fma(a[6], Vector256.Load(rows + 6 * stride + c), x);
            y = Fma(a[7], Vector256.Load(rows + 7 * stride + c), y);
            return x + y;
        }

        /// <summary>o = softmax(q kᵀ/√8) v and the rows' log-sum-exp, per head.</summary>
        public static void Forward(Rows q, float* kt, float* vt, Rows o, float* lse, int heads, int n, int m, int mp, int threads)
        {
            var tail = TailMask(m);
            var last = mp - Width;
            ForEachHead(heads, threads, head =>
            {
                // Per-head scratch from the shared pool: a training step calls this for every head of every layer.
                var scores = ArrayPool<float>.Shared.Rent(mp);
                var qs = stackalloc float[8];
                try
                {
                    fixed (float* s = scores)
                    {
                        float* k = kt + (long)head * 8 * mp, v = vt + (long)head * 8 * mp;
                        for (var i = 0; i < n; i++)
                        {
                            var qi = q.Row(head, i);
                            for (var e = 0; e < 8; e++) qs[e] = qi[e] * Scale;
                            var maxV = Vector256.Create(float.NegativeInfinity);
                            for (var c = 0; c < mp; c += Width)
                            {
                                var x = Dot8(qs, k, mp, c);
                                if (c == last) x = Vector256.ConditionalSelect(tail, x, Vector256.Create(float.NegativeInfinity));
                                x.Store(s + c);
                                maxV = Vector256.Max(maxV, x);
                            }
                            var max = Max(maxV);
                            var maxB = Vector256.Create(max);
                            var sum = Vector256<float>.Zero;
                            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
                            for (var c = 0; c < mp; c += Width)
                            {
                                var p = Exp(Vector256.Load(s + c) - maxB);
                                sum += p;
                                a0 = Vector256.FusedMultiplyAdd(p, Vector256.Load(v + c), a0);
                                a1 = Vector256.FusedMultiplyAdd(p, Vector256.Load(v + mp + c), a1);
                                a2 = Vector256.FusedMultiplyAdd(p, Vector256.Load(v + 2 * mp + c), a2);
                                a3 = Vector256.FusedMultiplyAdd(p, Vector256.Load(v + 3 * mp + c), a3);
                                a4 = Vector256.FusedMultiplyAdd(p, Vector256.Load(v + 4 * mp + c), a4);
                                a5 = Vector256.FusedMultiplyAdd(p, Vector256.Load(v + 5 * mp + c), a5);
                                a6 = Vector256.FusedMultiplyAdd(p, Vector256.Load(v + 6 * mp + c), a6);
                                a7 = Vector256.FusedMultiplyAdd(p, Vector256.Load(v + 7 * mp + c), a7);
                            }
                            var l = Vector256.Sum(sum);
                            var inv = 1f / l;
                            var oi = o.Row(head, i);
                            oi[0] = Vector256.Sum(a0) * inv; oi[1] = Vector256.Sum(a1) * inv; oi[2] = Vector256.Sum(a2) * inv; oi[3] = Vector256.Sum(a3) * inv;
                            oi[4] = Vector256.Sum(a4) * inv; oi[5] = Vector256.Sum(a5) * inv; oi[6] = Vector256.Sum(a6) * inv; oi[7] = Vector256.Sum(a7) * inv;
                            lse[(long)head * n + i] = max + MathF.Log(l);
                        }
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(scores);
                }
            });
        }

        /// <summary>
        /// Gradients from the saved log-sum-exp: p = exp(s − lse), dp = dO vᵀ, ds = p (dp − rowsum(dO ∘ O)),
        /// dq = ds k/√8, dk = dsᵀ q/√8, dv = pᵀ dO; the key-side sums accumulate in per-head buffers laid out as kᵀ.
        /// </summary>
        public static void Backward(Rows q, float* kt, float* vt, Rows o, Rows go, float* lse, Rows dq, Rows dk, Rows dv,
            int heads, int n, int m, int mp, int threads)
        {
            var tail = TailMask(m);
            var last = mp - Width;
            ForEachHead(heads, threads, head =>
            {
                var keyGrads = ArrayPool<float>.Shared.Rent(16 * mp);
                Array.Clear(keyGrads, 0, 16 * mp);
                var qs = stackalloc float[8];
                try
                {
                    fixed (float* dkt = keyGrads)
                    {
                        var dvt = dkt + 8 * mp;
                        float* k = kt + (long)head * 8 * mp, v = vt + (long)head * 8 * mp;
                        for (var i = 0; i < n; i++)
                        {
                            float* qi = q.Row(head, i), gi = go.Row(head, i), oi = o.Row(head, i);
                            var rowDot = gi[0] * oi[0] + gi[1] * oi[1] + gi[2] * oi[2] + gi[3] * oi[3] + gi[4] * oi[4] + gi[5] * oi[5] + gi[6] * oi[6] + gi[7] * oi[7];
                            var delta = Vector256.Create(rowDot);
                            var lseB = Vector256.Create(lse[(long)head * n + i]);
                            for (var e = 0; e < 8; e++) qs[e] = qi[e] * Scale;
                            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
                            for (var c = 0; c < mp; c += Width)
                            {
                                var p = Exp(Dot8(qs, k, mp, c) - lseB);
                                if (c == last) p = Vector256.ConditionalSelect(tail, p, Vector256<float>.Zero);
                                var ds = p * (Dot8(gi, v, mp, c) - delta);
                                a0 = Vector256.FusedMultiplyAdd(ds, Vector256.Load(k + c), a0);
                                a1 = Vector256.FusedMultiplyAdd(ds, Vector256.Load(k + mp + c), a1);
                                a2 = Vector256.FusedMultiplyAdd(ds, Vector256.Load(k + 2 * mp + c), a2);
                                a3 = Vector256.FusedMultiplyAdd(ds, Vector256.Load(k + 3 * mp + c), a3);
                                a4 = Vector256.FusedMultiplyAdd(ds, Vector256.Load(k + 4 * mp + c), a4);
                                a5 = Vector256.FusedMultiplyAdd(ds, Vector256.Load(k + 5 * mp + c), a5);
                                a6 = Vector256.FusedMultiplyAdd(ds, Vector256.Load(k + 6 * mp + c), a6);
                                a7 = Vector256.FusedMultiplyAdd(ds, Vector256.Load(k + 7 * mp + c), a7);
                                for (var e = 0; e < 8; e++)
                                {
                                    var dke = dkt + e * mp + c;
                                    Fma(qi[e], ds, Vector256.Load(dke)).Store(dke);
                                    var dve = dvt + e * mp + c;
                                    Fma(gi[e], p, Vector256.Load(dve)).Store(dve);
                                }
                            }
                            var dqi = dq.Row(head, i);
                            dqi[0] = Vector256.Sum(a0) * Scale; dqi[1] = Vector256.Sum(a1) * Scale; dqi[2] = Vector256.Sum(a2) * Scale; dqi[3] = Vector256.Sum(a3) * Scale;
                            dqi[4] = Vector256.Sum(a4) * Scale; dqi[5] = Vector256.Sum(a5) * Scale; dqi[6] = Vector256.Sum(a6) * Scale; dqi[7] = Vector256.Sum(a7) * Scale;
                        }
                        for (var j = 0; j < m; j++)
                        {
                            float* dkj = dk.Row(head, j), dvj = dv.Row(head, j);
                            for (var e = 0; e < 8; e++)
                            {
                                dkj[e] = dkt[e * mp + j] * Scale;
                                dvj[e] = dvt[e * mp + j];
                            }
                        }
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(keyGrads);
                }
            });
        }
    }
}
