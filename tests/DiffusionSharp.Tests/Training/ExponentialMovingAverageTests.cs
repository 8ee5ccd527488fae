using DiffusionSharp.Models;
using DiffusionSharp.Tests.Samplers;
using DiffusionSharp.Training;
using TorchSharp;

namespace DiffusionSharp.Tests.Training;

[Collection(TensorCountCollection.Name)]
public sealed class ExponentialMovingAverageTests
{
    [Fact]
    public void Should_leave_no_tensor_alive_after_updates()
    {
        // Given an EMA of the tiny preset and the number of live tensors on this thread
        using var live = new UNet2DModel(ModelPresets.MnistTiny);
        using var ema = new ExponentialMovingAverage(live, 0.999);
        ema.Update(1);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        // When it is updated a few times
        for (int i = 2; i <= 4; i++) ema.Update(i);

        // Then no tensor was left for the finalizer (the benchmark's leak check counts these)
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Should_move_each_weight_towards_the_live_one_by_one_minus_the_decay()
    {
        // Given an EMA whose live model then changes one weight by +1
        using var live = new UNet2DModel(ModelPresets.MnistTiny);
        using var ema = new ExponentialMovingAverage(live, 0.999);
        var name = live.named_parameters().First().name;
        float before = ema.Model.Module.state_dict()[name].flatten()[0].item<float>();
        using (torch.no_grad()) live.state_dict()[name].add_(1.0);

        // When it is updated at update 5 (decay (1 + 5)/(10 + 5) = 0.4)
        ema.Update(5);

        // Then that weight moved by 0.6
        Assert.Equal(before + 0.6f, ema.Model.Module.state_dict()[name].flatten()[0].item<float>(), 5);
    }
}
