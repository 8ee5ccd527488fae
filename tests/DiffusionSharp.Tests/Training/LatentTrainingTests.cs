using System.Text.Json.Nodes;
using DiffusionSharp.Data;
using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Data;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Training;

/// <summary>Latent training: the latent cache, training a U-Net on VAE latents, and sampling, trajectories and editing through the VAE.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class LatentTrainingTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A three-level AutoencoderKL, 64x64 RGB to 16x16x4 (factor 4), 8 channels wide.</summary>
    internal static AutoencoderKLConfig Vae64Config(double scaling = 0.7) => TinyVae.Config() with
    {
        BlockOutChannels = [8, 8, 8],
        SampleSize = 64,
        ScalingFactor = scaling,
    };

    /// <summary>A two-level U-Net over 4x16x16 latents.</summary>
    internal static UNet2DConfig LatentUNet(int? numClassEmbeds = null) => TinyData.TinyUNet(numClassEmbeds) with { SampleSize = 16, InChannels = 4, OutChannels = 4 };

    /// <summary>Writes <paramref name="count"/> 64x64 colour pictures and returns the folder.</summary>
    internal static string WriteImages(string folder, int count, int variant = 0)
    {
        for (int i = 0; i < count; i++)
        {
            int hue = 255 * i / Math.Max(1, count - 1);
            ImageFolderLabelColumnTests.WriteRgba(Path.Combine(folder, $"{i:D2}.png"), 64, 64,
                (x, y) => (hue, (x * 4 + variant) % 256, 255 - (y * 4) % 256, 255));
        }
        return folder;
    }

    /// <summary>Saves a seeded random VAE into a folder and returns the folder.</summary>
    internal static string SaveVae(string folder, long seed = 0, double scaling = 0.7)
    {
        random.manual_seed(seed);
        using var vae = new AutoencoderKL(Vae64Config(scaling));
        vae.SavePretrained(folder);
        return folder;
    }

    private string Images(int count = 6, int variant = 0) => WriteImages(Path.Combine(_dir, $"images-{count}-{variant}"), count, variant);

    private static float[] MeansOf(LatentDataset data)
    {
        var moments = new float[data.Count * data.SampleShape.Aggregate(1, (a, b) => a * b)];
        data.FillBatch(Enumerable.Range(0, data.Count).ToArray(), moments, new long[data.Count]);
        return moments;
    }

    [Fact]
    public void Should_build_the_cache_then_reuse_it_and_rebuild_it_when_the_vae_or_the_data_change()
    {
        // Given a VAE folder and six 64x64 images
        var vaeDir = SaveVae(Path.Combine(_dir, "vae"));
        var spec = new DataSpec(Images(), 64);
        var cache = Path.Combine(_dir, "latents");
        float[] first;
        using (var vae = AutoencoderLoader.FromPretrained(vaeDir))
        {
            // When the cache is asked for the first time, Then it encodes and writes the latents and the key
            var built = LatentCache.LoadOrBuild(cache, vaeDir, vae, spec.Open(64));
            Assert.False(built.Reused);
            Assert.Equal([4, 16, 16], built.LatentShape);
            Assert.Equal([8, 16, 16], built.SampleShape);
            Assert.True(File.Exists(Path.Combine(cache, LatentCache.LatentsFileName)));
            Assert.True(File.Exists(Path.Combine(cache, LatentCache.KeyFileName)));
            first = MeansOf(built);

            // When it is asked again with the same VAE and data, Then it reads the same numbers back
            var again = LatentCache.LoadOrBuild(cache, vaeDir, vae, spec.Open(64));
            Assert.True(again.Reused);
            Assert.Equal(first, MeansOf(again));

            // When the data change (one more image), Then it is rebuilt
            var more = LatentCache.LoadOrBuild(cache, vaeDir, vae, new DataSpec(Images(7), 64).Open(64));
            Assert.False(more.Reused);
            Assert.Equal(7, more.Count);
        }

        // When the VAE's weights change, Then the cache is rebuilt and holds other latents
        SaveVae(vaeDir, seed: 1);
        using (var other = AutoencoderLoader.FromPretrained(vaeDir))
        {
            var rebuilt = LatentCache.LoadOrBuild(cache, vaeDir, other, spec.Open(64));
            Assert.False(rebuilt.Reused);
            Assert.NotEqual(first, MeansOf(rebuilt));
        }

        // When only the config's scaling_factor changes, Then it is rebuilt too
        SaveVae(vaeDir, seed: 1, scaling: 0.35);
        using (var rescaled = AutoencoderLoader.FromPretrained(vaeDir))
            Assert.False(LatentCache.LoadOrBuild(cache, vaeDir, rescaled, spec.Open(64)).Reused);
    }

    [Fact]
    public void Should_cache_the_scaled_posterior_so_that_its_mean_is_the_vae_latent_and_std_scales_with_the_factor()
    {
        // Given a VAE with scaling_factor 0.7 and its cache of six images
        var vaeDir = SaveVae(Path.Combine(_dir, "vae"));
        var images = new DataSpec(Images(), 64).Open(64);
        using var vae = (AutoencoderKL)AutoencoderLoader.FromPretrained(vaeDir);
        var data = LatentCache.LoadOrBuild(Path.Combine(_dir, "latents"), vaeDir, vae, images);

        // When the moments of image 2 are compared with the VAE's own posterior
        var moments = new float[data.SampleShape.Aggregate(1, (a, b) => a * b)];
        data.FillBatch([2], moments, new long[1]);
        var pixels = new float[images.ImageSize];
        images.FillBatch([2], pixels, new long[1]);
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var posterior = vae.Encode(tensor(pixels, [1, 3, 64, 64]));
        var mean = tensor(moments[..(4 * 16 * 16)], [1, 4, 16, 16]);
        var std = tensor(moments[(4 * 16 * 16)..], [1, 4, 16, 16]);

        // Then mean = mu * scaling_factor and std = sigma * scaling_factor
        Assert.True(allclose(mean, posterior.Mean * 0.7, 1e-5, 1e-6));
        Assert.True(allclose(std, posterior.Std * 0.7, 1e-5, 1e-7));
        Assert.True(std.min().item<float>() > 0);
    }

    /// <summary>A latent run of <paramref name="steps"/> steps on six images, through the trainer's own start.</summary>
    private (RunFolder Run, Trainer Trainer) StartLatentRun(int steps, int checkpointEvery = 0)
    {
        var vaeDir = SaveVae(Path.Combine(_dir, "vae"));
        var spec = new DataSpec(Images(), 64);
        var run = RunFolder.Create(Path.Combine(_dir, "run"), overwrite: false);
        run.WriteVae(vaeDir);
        LatentDataset data;
        using (var vae = AutoencoderLoader.FromPretrained(run.VaeDir))
            data = LatentCache.LoadOrBuild(run.LatentsDir, run.VaeDir, vae, spec.Open(64));
        random.manual_seed(0);
        var model = new UNet2DModel(LatentUNet());
        var options = QuickTraining.Options(steps, 4) with { CheckpointEvery = checkpointEvery };
        return (run, Trainer.Start(run, model, data, spec, new NoiseScheduleConfig(), options));
    }

    [Fact]
    public void Should_train_on_latents_and_sample_images_decoded_through_the_runs_vae()
    {
        // Given a 3-step latent run
        var (run, trainer) = StartLatentRun(3);
        using (trainer)
        {
            Assert.True(trainer.IsLatent);
            var outcome = trainer.Train();
            Assert.Equal(StopReason.Finished, outcome.Reason);
        }

        // Then the run folder is a pipeline folder naming unet, vae and scheduler, with vae/ beside unet/ and scheduler/
        var index = JsonNode.Parse(File.ReadAllText(run.ModelIndexPath))!.AsObject();
        Assert.Equal("AutoencoderKL", index["vae"]![1]!.GetValue<string>());
        Assert.Equal("UNet2DModel", index["unet"]![1]!.GetValue<string>());
        Assert.NotNull(index["scheduler"]);
        foreach (var dir in new[] { run.VaeDir, run.UnetDir, run.UnetEmaDir, run.SchedulerDir })
            Assert.True(Directory.Exists(dir), dir);

        // When the folder is loaded and sampled with two samplers, Then the images are decoded to [3, 64, 64]
        foreach (var sampler in new[] { "ddim", "dpmpp-2m" })
        {
            using var pipeline = DiffusionPipeline.Load(run.Root, useEma: true, samplerName: sampler);
            Assert.NotNull(pipeline.Vae);
            Assert.Equal([3, 64, 64], pipeline.OutputShape);
            using var images = pipeline.Generate(2, 3, seed: 5, batchSize: 2);
            Assert.Equal([2L, 3, 64, 64], images.shape);
            Assert.True(images.isfinite().all().item<bool>());
        }
    }

    [Fact]
    public void Should_write_a_scheduler_that_does_not_clip_the_predicted_latents()
    {
        // Given a 1-step latent run
        var (run, trainer) = StartLatentRun(1);
        using (trainer) Assert.Equal(StopReason.Finished, trainer.Train().Reason);

        // When its scheduler config is read, and the folder is loaded with the samplers that clip pixel models' x_0
        var config = JsonNode.Parse(File.ReadAllText(run.SchedulerConfigPath))!.AsObject();

        // Then clip_sample is off (latents of unit scale reach beyond ±1), and so it is for DDPM and DDIM over it
        Assert.False(config["clip_sample"]!.GetValue<bool>());
        foreach (var sampler in new string?[] { null, "ddim" })
        {
            using var pipeline = DiffusionPipeline.Load(run.Root, samplerName: sampler);
            Assert.False(pipeline.Scheduler.ToConfigJson()["clip_sample"]!.GetValue<bool>());
        }
    }

    [Fact]
    public void Should_resume_a_latent_run_from_its_checkpoint_reusing_the_cache()
    {
        // Given a latent run that stopped at a checkpoint after 2 steps
        var (run, trainer) = StartLatentRun(2, checkpointEvery: 2);
        using (trainer) trainer.Train();
        var keyWritten = File.GetLastWriteTimeUtc(Path.Combine(run.LatentsDir, LatentCache.KeyFileName));

        // When it is resumed to 4 steps, Then it reopens its latents (not rewriting the cache) and trains on
        using var resumed = Trainer.Resume(RunFolder.Open(run.Root), steps: 4);
        Assert.True(resumed.IsLatent);
        Assert.Equal(2, resumed.Step);
        Assert.Equal(StopReason.Finished, resumed.Train().Reason);
        Assert.Equal(4, resumed.Step);
        Assert.Equal(keyWritten, File.GetLastWriteTimeUtc(Path.Combine(run.LatentsDir, LatentCache.KeyFileName)));
    }

    [Fact]
    public void Should_leave_the_live_tensor_count_unchanged_over_latent_training_steps()
    {
        // Given a latent run of 5 steps and the live tensor count after every step
        var (_, trainer) = StartLatentRun(5);
        using (trainer)
        {
            var live = new List<long>();
            trainer.StepHook = (_, _) => live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);

            // When it trains, Then after the first step (AdamW's moments) the count does not change
            trainer.Train();
            Assert.Equal(5, live.Count);
            Assert.All(live.Skip(1), n => Assert.Equal(live[1], n));
        }
    }

    [Fact]
    public void Should_decode_the_trajectorys_x_t_and_predicted_x0_through_the_vae()
    {
        // Given a trained latent run and a recorder that decodes through its pipeline
        var (run, trainer) = StartLatentRun(1);
        using (trainer) trainer.Train();
        using var pipeline = DiffusionPipeline.Load(run.Root, samplerName: "ddim");
        var decoded = new List<long[]>();
        using var recorder = new TrajectoryRecorder(3, 2, latents =>
        {
            Assert.Equal([2L, 4, 16, 16], latents.shape);
            var image = pipeline.Decode(latents);
            decoded.Add(image.shape);
            return image;
        });

        // When 4 images are sampled in 4 steps and the filmstrip is written
        using var images = pipeline.Generate(2, 4, seed: 1, batchSize: 2, onStep: (_, s) => recorder.Record(s));
        string png = Path.Combine(_dir, "trajectory.png");
        recorder.Save(png, "ddim");

        // Then x_t and x_0 of each of the 3 kept frames were decoded to images
        Assert.Equal(6, decoded.Count);
        Assert.All(decoded, shape => Assert.Equal([2L, 3, 64, 64], shape));
        Assert.True(new FileInfo(png).Length > 0);
    }

    [Fact]
    public void Should_inpaint_in_latent_space_keeping_the_latents_outside_the_mask()
    {
        // Given a trained latent run, an image and a mask repainting the left half
        var (run, trainer) = StartLatentRun(1);
        using (trainer) trainer.Train();
        using var pipeline = DiffusionPipeline.Load(run.Root, samplerName: "ddim");
        var images = new DataSpec(Images(), 64).Open(64);
        var pixels = new float[images.ImageSize];
        images.FillBatch([1], pixels, new long[1]);
        using var image = tensor(pixels, [1, 3, 64, 64]);
        using var mask = zeros(1, 1, 64, 64);
        mask[.., .., .., ..30] = tensor(1f);

        // When it is inpainted, keeping the latents of the last step
        Tensor? last = null;
        using var result = pipeline.Edit(image, new EditOptions { Strength = 1.0, Steps = 3 }, seed: 2, mask, onStep: step =>
        {
            last?.Dispose();
            last = step.Sample.clone().DetachFromDisposeScope();
        });

        // Then the result is a decoded image; the mask covers latent columns 0..7 (pixels 0..29 touch them), and after the
        // last step the latents outside them are exactly the input's latents
        Assert.Equal([1L, 3, 64, 64], result.Image.shape);
        Assert.Equal([1L, 3, 64, 64], result.Noised.shape);
        using var latentMask = ImageEditing.LatentMask(mask, 4);
        Assert.Equal([1L, 1, 16, 16], latentMask.shape);
        Assert.Equal(8 * 16, latentMask.sum().item<float>());
        using var input = pipeline.Encode(image);
        Assert.NotNull(last);
        using (last)
        {
            Assert.Equal([1L, 4, 16, 16], last.shape);
            Assert.Equal(0f, (last[.., .., .., 8..] - input[.., .., .., 8..]).abs().max().item<float>());
            Assert.True((last[.., .., .., ..8] - input[.., .., .., ..8]).abs().max().item<float>() > 1e-3);
        }
    }
}
