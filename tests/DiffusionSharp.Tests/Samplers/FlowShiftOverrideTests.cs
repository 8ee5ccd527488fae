using DiffusionSharp.Samplers;
using DiffusionSharp.Schedules;

namespace DiffusionSharp.Tests.Samplers;

/// <summary>
/// The single flow shift as a sampler override (<see cref="SamplerOverrides.SingleShift"/>, <c>diffuse sample --single-shift</c>):
/// diffusers 0.30.3 shifts twice by default (its issue #13243), the override applies σ' = s·σ/(1 + (s − 1)·σ) once.
/// </summary>
public sealed class FlowShiftOverrideTests
{
    [Theory]
    [InlineData("flow-euler")]
    [InlineData("flow-heun")]
    public void Should_shift_once_when_asked_and_twice_by_default(string name)
    {
        // Given a flow sampler of shift 3 (what a flow run's folder names), by default and with the override
        var folder = new FlowMatchEulerDiscreteScheduler(new FlowMatchEulerDiscreteOptions(new FlowMatchSchedule(Shift: 3.0)));
        var twice = (TimelineScheduler)SchedulerFactory.WithSampler(folder, name);
        var once = (TimelineScheduler)SchedulerFactory.WithSampler(folder, name, new SamplerOverrides { SingleShift = true });

        // When both choose 10 steps
        twice.SetTimesteps(10);
        once.SetTimesteps(10);

        // Then the last non-zero sigma is diffusers 0.30.3's 0.008928572 by default and the single shift's 0.002994012
        // (the numbers; the shifted σ = 0.001 end of the training sigmas), both starting at σ = 1
        Assert.Equal(0.008928572f, twice.Sigmas[^2], 6);
        Assert.Equal(0.002994012f, once.Sigmas[^2], 6);
        Assert.Equal(1f, once.Sigmas[0]);
    }

    [Fact]
    public void Should_refuse_the_single_shift_for_a_sampler_without_a_flow_shift()
    {
        var ddpm = SchedulerFactory.Create("ddpm", new NoiseScheduleConfig(), PredictionType.Epsilon, TimestepSpacing.Trailing);
        var e = Assert.Throws<InvalidInputException>(() => SchedulerFactory.WithSampler(ddpm, "ddim", new SamplerOverrides { SingleShift = true }));
        Assert.Equal("SingleShift: the ddim sampler has no flow shift (samplers that have: flow-euler, flow-heun)", e.Message);
        Assert.Equal("SamplerOverrides.SingleShift", e.Properties[0]);
    }
}
