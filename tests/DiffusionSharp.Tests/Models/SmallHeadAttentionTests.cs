using DiffusionSharp.Models;
using DiffusionSharp.Models.Blocks;
using DiffusionSharp.Tests.Samplers;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace DiffusionSharp.Tests.Models;

/// <summary>The 8-channel-head attention kernel against libtorch's SDPA: values, gradients, determinism, fallbacks, leaks.</summary>
[Collection(TensorCountCollection.Name)]
public sealed class SmallHeadAttentionTests
{
    private static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    private static double MaxAbs(Tensor a) => Math.Max(a.abs().max().item<float>(), 1e-12);

    [Theory]
    [InlineData(2, 3, 196, 196, 1.0)] // 14x14 self-attention; 196 keys leave a tail of 4
    [InlineData(2, 2, 49, 49, 1.0)] // 7x7; a tail of 1
    [InlineData(1, 2, 64, 64, 1.0)] // no tail
    [InlineData(2, 1, 10, 77, 1.0)] // cross-attention: 10 queries, 77 keys
    [InlineData(1, 2, 5, 1, 1.0)] // a single key
    [InlineData(1, 2, 33, 33, 12.0)] // large logits: the softmax must subtract its row maximum
    public void Should_give_sdpa_values_and_gradients(int batch, int heads, int queries, int keys, double spread)
    {
        // Given queries as the attention layers make them (a transposed view) and keys and values
        using var scope = NewDisposeScope();
        using var g = new Generator(7);
        var q = randn([batch, queries, heads, 8], generator: g).mul(spread).transpose(1, 2).detach().requires_grad_(true);
        var k = randn([batch, heads, keys, 8], generator: g).mul(spread).requires_grad_(true);
        var v = randn([batch, heads, keys, 8], generator: g).requires_grad_(true);
        var dOut = randn([batch, heads, queries, 8], generator: g);
        Assert.True(SmallHeadAttention.Applies(q, k, v));

        // When libtorch's SDPA and the kernel compute the same attention, forward and backward
        var reference = F.scaled_dot_product_attention(q, k, v);
        reference.backward([dOut]);
        var (gq, gk, gv) = (q.grad!.clone(), k.grad!.clone(), v.grad!.clone());
        q.grad!.zero_(); k.grad!.zero_(); v.grad!.zero_();
        var output = SmallHeadAttention.Attend(q, k, v);
        output.backward([dOut]);
        using (no_grad()) Assert.True(MaxDiff(SmallHeadAttention.Forward(q, k, v), output) == 0);

        // Then the output and the three gradients agree to float rounding: a logit s carries a rounding error of about
        // 1e-7 |s|, which becomes that relative error of its softmax weight, so the tolerance grows with the largest logit
        // (an exact zero, such as dq for a single key, comes out as rounding noise on both sides)
        double maxLogit;
        using (no_grad()) maxLogit = MaxAbs(matmul(q, k.transpose(2, 3)) / Math.Sqrt(8));
        var rounding = 2e-6 + 2e-7 * maxLogit;
        Assert.True(MaxDiff(reference, output) <= rounding * MaxAbs(reference), $"output: {MaxDiff(reference, output):g3}");
        foreach (var (name, expected, actual) in new[] { ("dq", gq, q.grad!), ("dk", gk, k.grad!), ("dv", gv, v.grad!) })
            Assert.True(MaxDiff(expected, actual) <= 5 * rounding * MaxAbs(expected) + 1e-6,
                $"{name}: max |diff| {MaxDiff(expected, actual):g3} vs max {MaxAbs(expected):g3}");
        Assert.True(gq.abs().sum().item<float>() > 0 && gk.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void Should_give_the_same_bits_whatever_the_thread_count_and_the_rest_of_the_batch()
    {
        // Given a batch of four and its first image alone
        using var scope = NewDisposeScope();
        using var g = new Generator(3);
        var q = randn([4, 8, 196, 8], generator: g);
        var k = randn([4, 8, 196, 8], generator: g);
        var v = randn([4, 8, 196, 8], generator: g);
        // When the kernel runs the batch on one and on two threads, and the first image on its own (the thread count is
        // the kernel's own: libtorch's, which other tests running in parallel share, is left alone)
        var one = SmallHeadAttention.Forward(q, k, v, threads: 1);
        var two = SmallHeadAttention.Forward(q, k, v, threads: 2);
        var alone = SmallHeadAttention.Forward(q[..1], k[..1], v[..1], threads: 2);

        // Then every result is bit for bit the same
        Assert.True(one.eq(two).all().item<bool>());
        Assert.True(alone.eq(one[..1]).all().item<bool>());
    }

    [Fact]
    public void Should_leave_other_cases_to_sdpa()
    {
        using var scope = NewDisposeScope();
        var q8 = randn(1, 2, 5, 8);
        // Other head widths, doubles, a mask and calls without gradients go to SDPA
        Assert.False(SmallHeadAttention.Applies(randn(1, 2, 5, 16), randn(1, 2, 5, 16), randn(1, 2, 5, 16)));
        Assert.False(SmallHeadAttention.Applies(q8.to(float64), q8.to(float64), q8.to(float64)));
        Assert.True(SmallHeadAttention.Applies(q8, q8, q8));
        var mask = zeros(1, 1, 1, 5);
        mask[0, 0, 0, 4] = tensor(float.NegativeInfinity);
        Assert.True(MaxDiff(SmallHeadAttention.Attend(q8, q8, q8, mask), F.scaled_dot_product_attention(q8, q8, q8, mask)) == 0);
        Assert.True(MaxDiff(SmallHeadAttention.Attend(q8, q8, q8), F.scaled_dot_product_attention(q8, q8, q8)) == 0);
        Assert.Throws<ArgumentException>(() => SmallHeadAttention.Forward(q8.to(float64), q8.to(float64), q8.to(float64)));
        SmallHeadAttention.Enabled = false;
        try { Assert.False(SmallHeadAttention.Applies(q8, q8, q8)); }
        finally { SmallHeadAttention.Enabled = true; }
    }

    [Fact]
    public void Should_train_a_unet_as_sdpa_does_and_leave_no_tensor_alive()
    {
        // Given mnist-nano (8-channel attention heads at 4x4 and in the mid block) at 16x16 and one batch
        random.manual_seed(3);
        using var model = new UNet2DModel(ModelPresets.MnistNano with { SampleSize = 16 });
        using var opt = optim.Adam(model.parameters(), 1e-3);
        using var x = randn([2, 1, 16, 16]);
        using var t = tensor(new long[] { 10, 500 });

        // When one step's gradients are taken with SDPA and with the kernel
        Dictionary<string, Tensor> Grads()
        {
            model.zero_grad();
            using var s = NewDisposeScope();
            model.forward(x, t, null).square().mean().backward();
            return model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone().MoveToOuterDisposeScope());
        }
        SmallHeadAttention.Enabled = false;
        Dictionary<string, Tensor> reference;
        try { reference = Grads(); }
        finally { SmallHeadAttention.Enabled = true; }
        var kernel = Grads();

        // Then every parameter's gradient agrees to float rounding (the key biases' gradients are zero in exact arithmetic:
        // a softmax does not change when one constant is added to every logit of a row)
        foreach (var (name, expected) in reference)
            Assert.True(MaxDiff(expected, kernel[name]) <= 1e-5 * MaxAbs(expected) + 1e-9, $"{name}: {MaxDiff(expected, kernel[name]):g3}");
        foreach (var tensor in reference.Values.Concat(kernel.Values)) tensor.Dispose();

        // And training steps through it keep the live-tensor count flat
        long after1 = 0;
        for (var step = 0; step < 3; step++)
        {
            using (var s = NewDisposeScope())
            {
                opt.zero_grad();
                model.forward(x, t, null).square().mean().backward();
                opt.step();
            }
            using (no_grad())
            using (var s = NewDisposeScope())
                model.forward(x, t, null);
            if (step == 0) after1 = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        }
        Assert.Equal(after1, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
