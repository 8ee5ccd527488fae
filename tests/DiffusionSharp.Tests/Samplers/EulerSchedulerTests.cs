using DiffusionSharp.Samplers;
using Xunit.Abstractions;

namespace DiffusionSharp.Tests.Samplers;

public sealed class EulerSchedulerTests(ITestOutputHelper output)
{
    public static TheoryData<string> EulerTrajectories() => new(GoldenTrajectory.NamesFor("EulerDiscreteScheduler"));

    public static TheoryData<string> AncestralTrajectories() => new(GoldenTrajectory.NamesFor("EulerAncestralDiscreteScheduler"));

    [Theory]
    [MemberData(nameof(EulerTrajectories))]
    public void Should_reproduce_the_diffusers_euler_trajectory(string name)
    {
        // Given a diffusers EulerDiscrete run (s_churn = 0) and its config
        var trajectory = GoldenTrajectory.Find(name);
        var scheduler = SchedulerFactory.FromConfig(GoldenTrajectory.Config(trajectory));

        // When we replay it, Then model inputs, x0 predictions and samples agree within 1e-4 relative
        output.WriteLine($"{name}: {GoldenTrajectory.Replay(scheduler, trajectory)}");
    }

    [Theory]
    [MemberData(nameof(AncestralTrajectories))]
    public void Should_reproduce_the_diffusers_euler_ancestral_trajectory(string name)
    {
        // Given a diffusers EulerAncestral run whose randn was replaced by the stored noise
        var trajectory = GoldenTrajectory.Find(name);
        var scheduler = SchedulerFactory.FromConfig(GoldenTrajectory.Config(trajectory));

        // When we replay it passing that noise as varianceNoise, Then every step agrees
        output.WriteLine($"{name}: {GoldenTrajectory.Replay(scheduler, trajectory)}");
    }
}
