using DiffusionSharp.Models;
using DiffusionSharp.Tests.Support;
using TorchSharp;
using DiffusionSharp.Tests.Samplers;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Models;

/// <summary>Activation recomputation must not change the loss or any gradient, and must not leak tensors.</summary>
[Collection(TensorCountCollection.Name)]
public sealed class ActivationCheckpointTests
{
    private static (double Loss, Dictionary<string, Tensor> Grads) Step(UNet2DModel model, Tensor x, Tensor t, Tensor? labels, long seed)
    {
        model.train();
        model.zero_grad();
        random.manual_seed(seed);
        using var scope = NewDisposeScope();
        var loss = model.forward(x, t, labels).square().mean();
        loss.backward();
        var grads = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone().MoveToOuterDisposeScope());
        return (loss.item<float>(), grads);
    }

    [Theory]
    [InlineData(0.0, null)]
    [InlineData(0.3, 10)]
    public void Should_give_the_plain_loss_and_every_gradient_when_checkpointing(double dropout, int? classes)
    {
        // Given a tiny U-Net (with dropout and a class embedding in one case) and one batch
        random.manual_seed(3);
        var config = TinyData.TinyUNet(classes) with { SampleSize = 16, Dropout = dropout };
        using var model = new UNet2DModel(config);
        using var g = new Generator(5);
        using var x = randn([3, 1, 16, 16], generator: g);
        using var t = tensor(new long[] { 10, 500, 900 });
        using var labels = classes is null ? null : tensor(new long[] { 1, 2, 3 });

        // When the same step runs plain and checkpointed
        var (plainLoss, plain) = Step(model, x, t, labels, 11);
        model.CheckpointActivations = true;
        var (ckptLoss, ckpt) = Step(model, x, t, labels, 11);

        // Then the loss and every parameter's gradient agree to float reassociation (the attention key biases' gradients
        // are zero in exact arithmetic, a softmax ignores a constant added to a row, so theirs is rounding noise: an
        // absolute floor far below every real gradient)
        Assert.Equal(plainLoss, ckptLoss, 1e-6 * Math.Abs(plainLoss));
        Assert.Equal(plain.Keys.Count, ckpt.Keys.Count);
        foreach (var (name, gp) in plain)
        {
            var gc = ckpt[name];
            double scale = Math.Max(gp.abs().max().item<float>(), 1e-12);
            double diff = (gp - gc).abs().max().item<float>();
            Assert.True(diff <= 1e-5 * scale + 1e-9, $"{name}: max |diff| {diff:g3} vs max |grad| {scale:g3}");
            Assert.True(gp.abs().sum().item<float>() > 0 || name.Contains("class"), $"{name} has no gradient");
        }
        foreach (var gr in plain.Values.Concat(ckpt.Values)) gr.Dispose();
    }

    [Fact]
    public void Should_leave_no_tensor_alive_over_several_checkpointed_steps()
    {
        // Given a checkpointed tiny U-Net and an optimizer
        random.manual_seed(3);
        using var model = new UNet2DModel(TinyData.TinyUNet() with { SampleSize = 16, Dropout = 0.1 }) { CheckpointActivations = true };
        using var opt = optim.Adam(model.parameters(), 1e-3);
        using var x = randn([2, 1, 16, 16]);
        using var t = tensor(new long[] { 10, 500 });
        long after1 = 0;
        // When it trains several steps, each in a dispose scope
        for (var step = 0; step < 4; step++)
        {
            using (var scope = NewDisposeScope())
            {
                opt.zero_grad();
                model.forward(x, t, null).square().mean().backward();
                opt.step();
            }
            if (step == 0) after1 = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        }
        // Then the live-tensor count stays where it was after the first step (grads and optimizer state exist by then)
        Assert.Equal(after1, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
