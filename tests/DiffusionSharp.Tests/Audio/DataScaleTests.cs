using DiffusionSharp.Audio;
using DiffusionSharp.Data;
using DiffusionSharp.Models;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Training;
using Xunit;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Audio;

/// <summary>A waveform model's <c>data_scale</c>: training sees s times the clips, generation divides by s.</summary>
public sealed class DataScaleTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static AudioUNet1DConfig Tiny(double scale) => new()
    {
        SampleSize = 64,
        BlockOutChannels = [32, 32],
        DownFactors = [2],
        AttentionLevels = [false, true],
        DataScale = scale,
    };

    [Fact]
    public void Should_RoundTripDataScale_And_LeaveItOut_When_ItIsOne()
    {
        var json = Tiny(5).ToJson();
        Assert.Contains("\"data_scale\": 5", json);
        var back = AudioUNet1DConfig.FromJson(json);
        Assert.Equal((5.0, json), (back.DataScale, back.ToJson()));
        Assert.Equal(5.0, ((IDenoiserConfig)back).DataScale);
        Assert.DoesNotContain("data_scale", Tiny(1).ToJson());
        Assert.Equal(1.0, AudioUNet1DConfig.FromJson("""{"_class_name": "DiffusionSharpUNet1D"}""").DataScale);
        // Other networks have none.
        Assert.Equal(1.0, ((IDenoiserConfig)ModelPresets.MnistNano).DataScale);
    }

    [Theory]
    [InlineData("0", "data_scale = 0 is not supported")]
    [InlineData("-2", "data_scale = -2 is not supported")]
    [InlineData("1e6", "data_scale = 1000000 is not supported")]
    [InlineData("\"5\"", "data_scale = \"5\" is not supported: expected a number")]
    public void Should_NameDataScale_When_ItIsNotAPositiveNumber(string value, string expected)
    {
        var e = Assert.Throws<InvalidInputException>(() =>
            AudioUNet1DConfig.FromJson($$"""{"_class_name": "DiffusionSharpUNet1D", "data_scale": {{value}}}""", "unet/config.json"));
        Assert.StartsWith("unet/config.json: " + expected, e.Message);
    }

    [Fact]
    public void Should_GenerateTheUnscaledModelsClipsOverS_When_OnlyTheDataScaleDiffers()
    {
        // Given two models with the same weights, one with data_scale 4
        manual_seed(2);
        using var plain = new AudioUNet1DModel(Tiny(1) with { NumClassEmbeds = null });
        using var scaled = new AudioUNet1DModel(Tiny(4) with { NumClassEmbeds = null });
        scaled.load_state_dict(plain.state_dict());
        plain.eval();
        scaled.eval();
        var schedule = new NoiseScheduleConfig();

        // When each samples the same 2 clips in 3 DDIM steps, the trajectory recorded through Decode
        using var a = DiffusionPipeline.FromModel(plain, SchedulerFactory.Create("ddim", schedule));
        using var b = DiffusionPipeline.FromModel(scaled, SchedulerFactory.Create("ddim", schedule));
        using var clipsA = a.Generate(2, 3, seed: 9, batchSize: 2);
        using var clipsB = b.Generate(2, 3, seed: 9, batchSize: 2);

        // Then the scaled model's clips are the plain model's divided by 4: the process ran on 4x the waveform's units
        Assert.False(a.DecodesSamples);
        Assert.True(b.DecodesSamples);
        Assert.Equal(0, (clipsA / 4 - clipsB).abs().max().item<float>(), 6);
        Assert.True(clipsA.abs().max().item<float>() > 0.1f);
        using var x = ones(1, 1, 64);
        using var encoded = b.Encode(x);
        Assert.Equal(4f, encoded.mean().item<float>());
        using var decoded = b.Decode(encoded);
        Assert.Equal(1f, decoded.mean().item<float>());
    }

    [Fact]
    public void Should_TrainOnSTimesTheClips_When_DataScaleIsSet()
    {
        // Given four non-silent 64-sample clips and an x0-predicting model whose output layer is zero,
        // so that a step's loss is the mean of (s x0)^2 over the batch
        for (var i = 0; i < 4; i++)
        {
            var samples = Enumerable.Range(0, 64).Select(n => 0.5f * MathF.Sin(0.3f * (i + 1) * n)).ToArray();
            WavFile.Write(Path.Combine(_dir, $"c{i}.wav"), new WavAudio(8000, [samples], WavSampleFormat.Float32));
        }
        double FirstLoss(double scale)
        {
            var data = AudioFolderDataset.Open(_dir, 8000, 1, 64, labelColumn: null);
            var spec = new DataSpec(_dir);
            using var model = new AudioUNet1DModel(Tiny(scale) with { NumClassEmbeds = null });
            using (no_grad())
            {
                foreach (var (name, p) in model.named_parameters())
                    if (name.StartsWith("conv_out.", StringComparison.Ordinal)) p.zero_();
            }
            var run = RunFolder.Create(Path.Combine(_dir, $"run-{scale}"), overwrite: false);
            var options = new TrainingOptions
            {
                Steps = 1, BatchSize = 4, LearningRate = 1e-3, WarmupSteps = 0, Decay = LearningRateDecay.Constant, CheckpointEvery = 0, Seed = 5,
                PredictionType = PredictionType.Sample,
            };
            using (var trainer = Trainer.Start(run, model, data, spec, new NoiseScheduleConfig(), options))
                Assert.Equal(StopReason.Finished, trainer.Train().Reason);
            return LossLog.Read(run.LossCsvPath).Single().Loss;
        }

        // When the same step runs at data_scale 1 and 3
        var one = FirstLoss(1);
        var three = FirstLoss(3);

        // Then the loss is 9 times as large: the target, the clips themselves, was 3 times as large
        Assert.True(one > 1e-3, $"the clips are not silent (loss {one})");
        Assert.Equal(9.0, three / one, 4);
    }
}
