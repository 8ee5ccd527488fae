using DiffusionSharp.Samplers;
using DiffusionSharp.Tests.Support;
using Xunit.Abstractions;

namespace DiffusionSharp.Tests.Samplers;

public sealed class DPMSolverMultistepSchedulerTests(ITestOutputHelper output)
{
    public static TheoryData<string> Trajectories() => new(GoldenTrajectory.NamesFor("DPMSolverMultistepScheduler"));

    [Theory]
    [MemberData(nameof(Trajectories))]
    public void Should_reproduce_the_diffusers_trajectory(string name)
    {
        // Given a diffusers DPMSolverMultistep run and its config
        var trajectory = GoldenTrajectory.Find(name);
        var scheduler = SchedulerFactory.FromConfig(GoldenTrajectory.Config(trajectory));

        // When we replay the loop with the toy model and the stored noise
        var errors = GoldenTrajectory.Replay(scheduler, trajectory);

        // Then every step agrees within 1e-4 relative
        output.WriteLine($"{name}: {errors}");
    }
}
