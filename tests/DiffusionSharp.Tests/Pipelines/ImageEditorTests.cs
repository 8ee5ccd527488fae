using DiffusionSharp.Cli;
using DiffusionSharp.Noising;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;
using DiffusionSharp.Tests.Samplers;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Pipelines;

/// <summary>SDEdit and RePaint with closed-form models: a perfect noise predictor for a known x_0, and one that predicts no noise.</summary>
public sealed class ImageEditorTests
{
    private static readonly NoiseSchedule Linear = NoiseSchedule.Create(new NoiseScheduleConfig());

    /// <summary>The exact noise for x_t of <paramref name="target"/>: eps = (x_t - sqrt(ᾱ_t)·x_0) / sqrt(1 - ᾱ_t).</summary>
    private static Func<Tensor, double, Tensor> PerfectModel(ForwardProcess forward, Tensor target) => (x, t) =>
    {
        using var ts = full([x.shape[0]], (long)t, ScalarType.Int64);
        return forward.PredictNoiseFromStart(x, ts, target);
    };

    private static Tensor NoNoise(Tensor x, double t) => zeros_like(x);

    private static Tensor Image(long seed, long batch = 2, long size = 8)
    {
        using var g = new Generator((ulong)seed);
        return rand([batch, 1, size, size], generator: g) * 2 - 1;
    }

    private static IScheduler Ddim(double eta = 0) => new DDIMScheduler(Linear, new DDIMSchedulerOptions { Eta = eta });

    private static IScheduler Ddpm() => new DDPMScheduler(Linear);

    private static double MaxAbs(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    [Theory]
    [InlineData("ddim", 0.6)]
    [InlineData("ddim", 0.1)]
    [InlineData("ddpm", 0.6)]
    [InlineData("ddpm", 1.0)]
    public void Should_recover_the_input_with_a_perfect_model(string sampler, double strength)
    {
        // Given a model that knows x_0 exactly
        using var forward = new ForwardProcess(Linear);
        using var x0 = Image(1);
        var editor = new ImageEditor(sampler == "ddim" ? Ddim() : Ddpm(), PerfectModel(forward, x0));
        using var g = new Generator(2);

        // When it edits x_0 at any strength
        using var result = editor.Edit(x0, new EditOptions { Strength = strength, Steps = 20 }, g);

        // Then every predicted x_0 is x_0, and the last step (alpha_bar_prev = 1) lands on it
        Assert.True(MaxAbs(result.Image, x0) < 1e-4, $"max |result - x0| = {MaxAbs(result.Image, x0)}");
    }

    [Fact]
    public void Should_stay_close_to_the_input_as_strength_goes_to_zero()
    {
        // Given a model that predicts no noise at all, so whatever noise goes in stays in the result
        using var x0 = Image(3);
        var editor = new ImageEditor(Ddim(), NoNoise);
        double Distance(double strength)
        {
            using var g = new Generator(4);
            using var result = editor.Edit(x0, new EditOptions { Strength = strength, Steps = 50 }, g);
            return (result.Image - x0).abs().mean().item<float>();
        }

        // When the strength shrinks, then the result approaches the input (SDEdit's realism-faithfulness trade-off)
        double small = Distance(0.02), medium = Distance(0.3), full = Distance(1.0);
        Assert.True(small < 0.02, $"strength 0.02: mean |result - x0| = {small}");
        Assert.True(small < medium && medium < full, $"distances {small}, {medium}, {full} should grow with strength");
    }

    [Fact]
    public void Should_start_at_the_timestep_strength_selects_and_run_the_rest()
    {
        // Given DDIM with 50 leading timesteps 980, 960, ..., 0
        var seen = new List<double>();
        var editor = new ImageEditor(Ddim(), (x, t) =>
        {
            seen.Add(t);
            return zeros_like(x);
        });
        using var x0 = Image(5);
        using var g = new Generator(6);
        var reported = new List<(int Index, int Count)>();

        // When strength 0.6 edits
        using var result = editor.Edit(x0, new EditOptions { Strength = 0.6, Steps = 50 }, g, onStep: s => reported.Add((s.Index, s.Count)));

        // Then diffusers' rule holds: int(50·0.6) = 30 steps from timesteps[50 - 30] = 580
        Assert.Equal(580.0, result.StartTimestep);
        Assert.Equal(30, result.StepsRun);
        Assert.Equal(30, result.ModelCalls);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => 580.0 - 20 * i), seen);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => (i, 30)), reported);
    }

    [Fact]
    public void Should_equal_plain_sampling_from_the_same_seed_at_strength_1()
    {
        // Given stochastic DDPM and a toy model
        using var a = Image(7);
        using var b = Image(8);
        Tensor Edit(Tensor x0)
        {
            var editor = new ImageEditor(Ddpm(), GoldenScheduler.ToyModel);
            using var g = new Generator(9);
            using var r = editor.Edit(x0, new EditOptions { Strength = 1.0, Steps = 10 }, g);
            return r.Image.clone();
        }

        // When two different images are edited at strength 1, and the loop samples with the same seed
        using var fromA = Edit(a);
        using var fromB = Edit(b);
        using var g = new Generator(9);
        using var sampled = new SamplingLoop(Ddpm(), GoldenScheduler.ToyModel).Sample([2, 1, 8, 8], 10, g);

        // Then all three are the same: strength 1 starts from pure noise, independent of the input
        Assert.Equal(sampled.data<float>().ToArray(), fromA.data<float>().ToArray());
        Assert.Equal(sampled.data<float>().ToArray(), fromB.data<float>().ToArray());
    }

    [Theory]
    [InlineData("ddim")]
    [InlineData("ddpm")]
    public void Should_keep_the_known_pixels_exactly_and_fill_the_masked_region(string sampler)
    {
        // Given an image, a mask repainting its left half, and a model that knows an image which is x_0 on the right
        // and a constant 0.5 on the left
        using var forward = new ForwardProcess(Linear);
        using var x0 = Image(10);
        using var mask = zeros([1, 1, 8, 8]);
        mask[.., .., .., ..4] = tensor(1f);
        using var target = where(mask >= 0.5, full_like(x0, 0.5f), x0);
        var editor = new ImageEditor(sampler == "ddim" ? Ddim() : Ddpm(), PerfectModel(forward, target));
        using var g = new Generator(11);
        var keptDuringRun = new List<double>();

        // When it inpaints at strength 1
        using var result = editor.Edit(x0, new EditOptions { Strength = 1.0, Steps = 10 }, g, mask,
            onStep: s => keptDuringRun.Add(MaxAbs(s.Sample[.., .., .., 4..], x0[.., .., .., 4..])));

        // Then the kept half is x_0 bit for bit, noised during the run and clean after the last step,
        // and the repainted half is what the model knows
        Assert.Equal(x0[.., .., .., 4..].data<float>().ToArray(), result.Image[.., .., .., 4..].data<float>().ToArray());
        Assert.True(keptDuringRun[0] > 0.1, "the kept region is noised while the run goes on");
        Assert.True(MaxAbs(result.Image[.., .., .., ..4], full([2, 1, 8, 4], 0.5f)) < 1e-4);
    }

    [Theory]
    [InlineData("euler")]
    [InlineData("euler-ancestral")]
    [InlineData("heun")]
    [InlineData("dpmpp-2m")]
    [InlineData("dpmpp-2m-sde")]
    public void Should_inpaint_and_edit_with_the_sigma_based_samplers(string sampler)
    {
        // Given a sigma-based sampler and a toy model
        var scheduler = ImageEditing.CreateScheduler(Ddpm(), sampler);
        var editor = new ImageEditor(scheduler, GoldenScheduler.ToyModel);
        using var x0 = Image(12);
        using var mask = zeros([1, 1, 8, 8]);
        mask[.., .., 2..6, 2..6] = tensor(1f);
        using var g = new Generator(13);

        // When it inpaints at strength 0.5 and edits the whole image at strength 0.5
        using var inpainted = editor.Edit(x0, new EditOptions { Strength = 0.5, Steps = 10 }, g, mask);
        using var edited = editor.Edit(x0, new EditOptions { Strength = 0.5, Steps = 10 }, g);

        // Then half the steps run (Heun: two calls per step but the last), the kept pixels are exact, and all is finite
        int calls = sampler == "heun" ? 9 : 5;
        Assert.Equal(calls, inpainted.ModelCalls);
        Assert.Equal(calls, edited.ModelCalls);
        using var keep = (mask < 0.5).expand_as(x0);
        Assert.Equal(x0.masked_select(keep).data<float>().ToArray(), inpainted.Image.masked_select(keep).data<float>().ToArray());
        Assert.True(inpainted.Image.isfinite().all().item<bool>() && edited.Image.isfinite().all().item<bool>());
        Assert.True(MaxAbs(inpainted.Image, x0) > 1e-3, "the masked region changed");
    }

    [Theory]
    [InlineData("euler")]
    [InlineData("euler-ancestral")]
    [InlineData("heun")]
    [InlineData("dpmpp-2m")]
    [InlineData("ddim")]
    public void Should_keep_the_trained_schedulers_spacing_for_every_editing_sampler(string sampler)
    {
        // Given a model's DDPM scheduler with trailing spacing (what diffuse train writes)
        var trained = new DDPMScheduler(Linear, new DDPMSchedulerOptions { TimestepSpacing = TimestepSpacing.Trailing });

        // When editing picks another sampler over it
        var scheduler = ImageEditing.CreateScheduler(trained, sampler);

        // Then the sampler keeps the folder's spacing, as sampling does, and its first timestep is the trailing one
        Assert.Equal("trailing", scheduler.ToConfigJson()["timestep_spacing"]!.GetValue<string>());
        scheduler.SetTimesteps(10);
        Assert.Equal(999.0, scheduler.Timesteps[0], 3);
        Assert.Equal(899.0, scheduler.Timesteps[scheduler.Order], 3);
    }

    [Theory]
    [InlineData("ddpm", 1)]
    [InlineData("ddim", 3)]
    public void Should_redo_each_step_but_the_last_resample_times(string sampler, int resample)
    {
        // Given a counting model
        var seen = new List<double>();
        var editor = new ImageEditor(sampler == "ddim" ? Ddim(eta: 1) : Ddpm(), (x, t) =>
        {
            seen.Add(t);
            return GoldenScheduler.ToyModel(x, t);
        });
        using var x0 = Image(14);
        using var mask = zeros([1, 1, 8, 8]);
        mask[.., .., ..4, ..] = tensor(1f);
        using var g = new Generator(15);

        // When it inpaints 5 steps with resampling
        using var result = editor.Edit(x0, new EditOptions { Strength = 1.0, Steps = 5, Resample = resample }, g, mask);

        // Then each step but the last runs 1 + R times in a row (RePaint, algorithm 1), and the kept half is exact
        Assert.Equal(5 + resample * 4, result.ModelCalls);
        var expected = new[] { 800.0, 600, 400, 200 }.SelectMany(t => Enumerable.Repeat(t, resample + 1)).Append(0.0);
        Assert.Equal(expected, seen);
        Assert.Equal(x0[.., .., 4.., ..].data<float>().ToArray(), result.Image[.., .., 4.., ..].data<float>().ToArray());
    }

    [Theory]
    [InlineData(0.0, 50, "--strength must lie in (0, 1]")]
    [InlineData(1.5, 50, "--strength must lie in (0, 1]")]
    [InlineData(double.NaN, 50, "--strength must lie in (0, 1]")]
    [InlineData(0.01, 50, "runs no step")]
    [InlineData(0.5, 0, "--steps must be at least 1")]
    public void Should_reject_strengths_and_steps_out_of_range(double strength, int steps, string message)
    {
        var editor = new ImageEditor(Ddim(), NoNoise);
        using var x0 = Image(18);
        using var g = new Generator(19);
        var e = Assert.Throws<InvalidInputException>(() => editor.Edit(x0, new EditOptions { Strength = strength, Steps = steps }, g));
        Assert.Contains(message, CliNames.ForUser(e));
        Assert.DoesNotContain("--", e.Message);
    }

    [Fact]
    public void Should_reject_a_mask_of_another_size_and_resampling_it_cannot_do()
    {
        using var x0 = Image(20);
        using var g = new Generator(21);
        using var smallMask = ones([1, 1, 4, 4]);
        var ddim = new ImageEditor(Ddim(), NoNoise);
        Assert.Contains("--mask: the mask is 4x4 but the image is 8x8",
            CliNames.ForUser(Assert.Throws<InvalidInputException>(() => ddim.Edit(x0, new EditOptions(), g, smallMask))));
        Assert.Contains("--resample needs --mask",
            CliNames.ForUser(Assert.Throws<InvalidInputException>(() => ddim.Edit(x0, new EditOptions { Resample = 1 }, g))));

        using var mask = ones([1, 1, 8, 8]);
        var euler = new ImageEditor(ImageEditing.CreateScheduler(Ddpm(), "euler"), NoNoise);
        Assert.Contains("only ddpm and ddim can redo a step",
            Assert.Throws<InvalidInputException>(() => euler.Edit(x0, new EditOptions { Resample = 1 }, g, mask)).Message);
    }

    [Fact]
    public void Should_name_the_known_samplers_for_an_unknown_or_unsuitable_one()
    {
        var unknown = Assert.Throws<InvalidInputException>(() => ImageEditing.CreateScheduler(Ddpm(), "plms"));
        Assert.Contains("unknown sampler 'plms'", unknown.Message);
        Assert.Contains("ddpm, ddim, dpmpp-2m", unknown.Message);
        Assert.Contains("cannot start mid-schedule", Assert.Throws<InvalidInputException>(() => ImageEditing.CheckSamplerName("pndm")).Message);
        Assert.Contains("--sampler unipc cannot edit", CliNames.ForUser(Assert.Throws<InvalidInputException>(() => ImageEditing.CheckSamplerName("unipc"))));
        Assert.Throws<InvalidInputException>(() => new ImageEditor(SamplerCatalog.Create("pndm", new SamplerBasis(Linear.Config)), NoNoise));
        Assert.Contains("only the ddim sampler takes eta",
            Assert.Throws<InvalidInputException>(() => ImageEditing.CreateScheduler(Ddpm(), "euler", eta: 0.5)).Message);

        var ddim = Assert.IsType<DDIMScheduler>(ImageEditing.CreateScheduler(Ddpm(), "ddim", eta: 0.5));
        Assert.Equal(0.5, ddim.Eta);
        Assert.Equal(Linear.Config, ddim.Schedule.Config);
    }
}

/// <summary>Live-tensor counts are per thread but any test can disturb them, so this runs with the other leak tests.</summary>
[Collection(TensorCountCollection.Name)]
public sealed class ImageEditorLeakTests
{
    private static readonly NoiseSchedule Linear = NoiseSchedule.Create(new NoiseScheduleConfig());

    [Theory]
    [InlineData("ddpm", 0.5, 1)]
    [InlineData("ddim", 1.0, 0)]
    [InlineData("euler", 0.5, 0)]
    public void Should_leave_no_tensor_alive_but_the_results(string sampler, double strength, int resample)
    {
        // Given an inpainting edit and the number of live tensors on this thread
        var editor = new ImageEditor(ImageEditing.CreateScheduler(new DDPMScheduler(Linear), sampler), GoldenScheduler.ToyModel);
        using var g = new Generator(17);
        using var x0 = rand([2, 1, 8, 8], generator: g);
        using var mask = ones([1, 1, 8, 8]);
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        // When it runs and the result is disposed
        editor.Edit(x0, new EditOptions { Strength = strength, Steps = 10, Resample = resample }, g, mask).Dispose();

        // Then the count is back where it started
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
