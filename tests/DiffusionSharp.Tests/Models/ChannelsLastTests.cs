using DiffusionSharp.Models;
using Xunit;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Models;

/// <summary>Given a network switched to channels-last, its outputs, gradients and saved weights must be those of the standard layout.</summary>
public sealed class ChannelsLastTests
{
    private static readonly UNet2DConfig Config = ModelPresets.MnistNano;

    [Fact]
    public void Should_StoreConvolutionWeightsChannelsLast_When_Switched()
    {
        using var model = new UNet2DModel(Config);
        model.UseChannelsLast();
        var conv = model.parameters().First(p => p.dim() == 4 && p.shape[1] > 1);
        var strides = conv.stride();
        Assert.Equal(1, strides[1]);
        Assert.False(conv.is_contiguous());
        Assert.True(model.ChannelsLast);
    }

    [Fact]
    public void Should_GiveTheSameLossAndGradients_When_TrainingChannelsLast()
    {
        random.manual_seed(3);
        using var standard = new UNet2DModel(Config);
        using var channelsLast = new UNet2DModel(Config);
        channelsLast.load_state_dict(standard.state_dict());
        channelsLast.UseChannelsLast();
        using var generator = new Generator(5);
        using var x = randn([4, 1, 28, 28], generator: generator);
        using var t = tensor(new long[] { 1, 200, 500, 999 });

        var (lossA, gradsA) = LossAndGradients(standard, x, t);
        var (lossB, gradsB) = LossAndGradients(channelsLast, x, t);
        Assert.Equal(lossA, lossB, 1e-5);
        Assert.Equal(gradsA.Count, gradsB.Count);
        for (int i = 0; i < gradsA.Count; i++)
        {
            var scale = Math.Max(1e-3, gradsA[i].abs().max().item<float>());
            var err = (gradsA[i] - gradsB[i]).abs().max().item<float>() / scale;
            Assert.True(err < 1e-3, $"gradient {i}: relative error {err}");
        }
    }

    [Fact]
    public void Should_SaveTheSameWeights_When_ChannelsLast()
    {
        random.manual_seed(4);
        using var model = new UNet2DModel(Config);
        var before = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        model.UseChannelsLast();
        var dir = Directory.CreateTempSubdirectory("diffuse-cl-");
        try
        {
            model.SavePretrained(dir.FullName);
            using var loaded = UNet2DModel.FromPretrained(dir.FullName);
            foreach (var (key, value) in loaded.state_dict())
                Assert.True(value.eq(before[key]).all().item<bool>(), $"{key} changed");
        }
        finally
        {
            dir.Delete(recursive: true);
            foreach (var t in before.Values) t.Dispose();
        }
    }

    private static (double Loss, List<Tensor> Grads) LossAndGradients(UNet2DModel model, Tensor x, Tensor t)
    {
        model.zero_grad();
        using var output = model.forward(x, t);
        using var loss = output.square().mean();
        loss.backward();
        return (loss.item<float>(), model.parameters().Select(p => p.grad!.contiguous().clone()).ToList());
    }
}
