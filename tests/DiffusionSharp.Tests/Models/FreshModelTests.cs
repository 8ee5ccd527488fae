using DiffusionSharp.Models;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Models;

public sealed class FreshModelTests
{
    [Fact]
    public void Should_start_group_norms_at_one_and_zero_and_give_finite_outputs()
    {
        // Given a freshly built model (PyTorch's initialisation, not loaded weights)
        using var model = new UNet2DModel(ModelPresets.Get("mnist-tiny"));

        // Then every GroupNorm starts as the identity affine map, as in PyTorch
        foreach (var (name, p) in model.named_parameters().Where(n => n.name.Contains("norm")))
        {
            float expected = name.EndsWith(".weight", StringComparison.Ordinal) ? 1f : 0f;
            Assert.True(p.data<float>().ToArray().All(v => v == expected), $"{name} should start at {expected}");
        }

        // And its output on noise is finite
        using var _ = no_grad();
        using var x = randn(2, 1, 28, 28);
        using var t = tensor(new long[] { 0, 999 });
        using var y = model.forward(x, t, null);
        Assert.True(y.isfinite().all().item<bool>());
    }
}
