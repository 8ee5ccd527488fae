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

/// <summary>The 1-D pieces together through the library: UNet1DModel trained on the bundled spoken digits, sampled, written as WAV.</summary>
public sealed class UNet1DTrainingTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Should_TrainSampleAndWriteWav_When_UNet1DLearnsSpokenDigits()
    {
        // Given the bundled digits cropped to their first 1,024 samples (unlabelled: diffusers' UNet1DModel takes no classes)
        // and a small Dance Diffusion UNet1DModel for that length
        var spec = new DataSpec(DataSpec.SpokenDigits);
        var data = AudioFolderDataset.Open(BundledData.SpokenDigitsDirectory, 8000, 1, 1024, labelColumn: null);
        manual_seed(0);
        using var model = new UNet1DModel(new UNet1DConfig
        {
            InChannels = 1, OutChannels = 1, ExtraInChannels = 16, SampleSize = 1024, SampleRate = 8000, BlockOutChannels = [32, 32, 32],
        });
        var run = RunFolder.Create(Path.Combine(_dir, "run"), overwrite: false);
        var options = new TrainingOptions
        {
            Steps = 3, BatchSize = 4, LearningRate = 1e-3, WarmupSteps = 0, Decay = LearningRateDecay.Constant, CheckpointEvery = 0, Seed = 5,
        };

        // When the unchanged trainer trains it for 3 steps and DDIM samples 2 clips in 2 steps
        using (var trainer = Trainer.Start(run, model, data, spec, new NoiseScheduleConfig(), options))
        {
            Assert.Equal(StopReason.Finished, trainer.Train().Reason);
            using var pipeline = DiffusionPipeline.FromModel(model, SchedulerFactory.Create("ddim", trainer.Schedule));
            using var clips = pipeline.Generate(2, 2, seed: 9, batchSize: 2);
            Assert.Equal([2L, 1, 1024], clips.shape);
            for (var i = 0; i < 2; i++)
            {
                var samples = clips[i, 0].data<float>().ToArray();
                WavFile.Write(Path.Combine(_dir, $"clip-{i}.wav"), new WavAudio(8000, [samples]));
            }
        }

        // Then every loss was finite, and the WAV files hold 1,024 finite samples at 8 kHz that are not all silence
        Assert.All(LossLog.Read(run.LossCsvPath), r => Assert.True(double.IsFinite(r.Loss)));
        var back = WavFile.Read(Path.Combine(_dir, "clip-1.wav"));
        Assert.Equal((8000, 1024), (back.SampleRate, back.Length));
        Assert.Contains(back.Channels[0], v => v != 0);
    }
}
