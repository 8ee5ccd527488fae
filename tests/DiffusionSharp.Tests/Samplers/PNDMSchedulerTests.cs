using DiffusionSharp.Samplers;
using Xunit.Abstractions;

namespace DiffusionSharp.Tests.Samplers;

public sealed class PNDMSchedulerTests(ITestOutputHelper output)
{
    public static TheoryData<string> Trajectories() => new(GoldenTrajectory.NamesFor("PNDMScheduler"));

    [Theory]
    [MemberData(nameof(Trajectories))]
    public void Should_reproduce_the_diffusers_trajectory(string name)
    {
        // Given a diffusers PNDM run (PRK + PLMS, or PLMS only)
        var trajectory = GoldenTrajectory.Find(name);
        var scheduler = SchedulerFactory.FromConfig(GoldenTrajectory.Config(trajectory));

        // When we replay all of its steps (more than N), Then every step agrees within 1e-4 relative
        output.WriteLine($"{name}: {GoldenTrajectory.Replay(scheduler, trajectory)}");
    }

    [Fact]
    public void Should_reject_too_few_steps_for_the_runge_kutta_warm_up()
    {
        var scheduler = new PNDMScheduler(new PNDMOptions());
        var e = Assert.Throws<InvalidInputException>(() => scheduler.SetTimesteps(3));
        Assert.Contains("skip_prk_steps", e.Message);
    }

    [Fact]
    public void Should_reject_sample_prediction_naming_the_key()
    {
        var e = Assert.Throws<InvalidInputException>(() => new PNDMScheduler(new PNDMOptions() with { PredictionType = PredictionType.Sample }));
        Assert.Contains("prediction_type", e.Message);
    }
}
