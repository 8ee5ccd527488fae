using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>
/// The samplers of this folder by their command-line name, with diffusers' default options for everything not given
/// here. (Building a scheduler from a <c>scheduler_config.json</c> is each class's <c>FromConfigJson</c>.)
/// </summary>
public static class SamplerRegistry
{
    /// <summary>The names <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Known { get; } =
        ["dpmpp-2m", "dpmpp-2m-sde", "dpmpp-3m", "euler", "euler-ancestral", "heun", "pndm", "unipc"];

    /// <summary>Whether <see cref="Create"/> accepts <paramref name="name"/>.</summary>
    public static bool IsKnown(string name) => Known.Contains(name);

    /// <summary>Builds the sampler called <paramref name="name"/> on <paramref name="schedule"/>.</summary>
    /// <param name="name">One of <see cref="Known"/>.</param>
    /// <param name="schedule">The training noise schedule of the model.</param>
    /// <param name="predictionType">What the model predicts.</param>
    /// <param name="useKarrasSigmas">Karras et al. 2022 noise levels (dpmpp-*, euler, heun and unipc only).</param>
    /// <param name="timestepSpacing">The spacing; null keeps the sampler's diffusers default (leading for pndm, linspace otherwise).</param>
    /// <param name="stepsOffset">Added to leading timesteps.</param>
    /// <param name="source">What to name in errors (for example the CLI option).</param>
    /// <exception cref="InvalidInputException">The name is unknown (the message lists the known ones) or the options do not fit it.</exception>
    public static IScheduler Create(
        string name,
        NoiseScheduleConfig schedule,
        PredictionType predictionType = PredictionType.Epsilon,
        bool useKarrasSigmas = false,
        TimestepSpacing? timestepSpacing = null,
        int stepsOffset = 0,
        string source = "sampler")
    {
        if (useKarrasSigmas && name is "euler-ancestral" or "pndm")
            throw new InvalidInputException($"{source}: Karras sigmas are not available for '{name}' (only for dpmpp-*, euler, heun and unipc)");
        var linspace = timestepSpacing ?? TimestepSpacing.Linspace;
        return name switch
        {
            "dpmpp-2m" or "dpmpp-2m-sde" or "dpmpp-3m" => new DPMSolverMultistepScheduler(new DPMSolverMultistepOptions(
                schedule,
                predictionType,
                SolverOrder: name == "dpmpp-3m" ? 3 : 2,
                Algorithm: name == "dpmpp-2m-sde" ? DpmSolverAlgorithm.SdeDpmSolverPlusPlus : DpmSolverAlgorithm.DpmSolverPlusPlus,
                UseKarrasSigmas: useKarrasSigmas,
                TimestepSpacing: linspace,
                StepsOffset: stepsOffset)),
            "euler" => new EulerDiscreteScheduler(new EulerDiscreteOptions(
                schedule, predictionType, useKarrasSigmas, TimestepSpacing: linspace, StepsOffset: stepsOffset)),
            "euler-ancestral" => new EulerAncestralDiscreteScheduler(new EulerAncestralDiscreteOptions(
                schedule, predictionType, linspace, stepsOffset)),
            "heun" => new HeunDiscreteScheduler(new HeunDiscreteOptions(
                schedule, predictionType, useKarrasSigmas, TimestepSpacing: linspace, StepsOffset: stepsOffset)),
            "pndm" => new PNDMScheduler(new PNDMOptions(
                schedule, SkipPrkSteps: false, PredictionType: predictionType,
                TimestepSpacing: timestepSpacing ?? TimestepSpacing.Leading, StepsOffset: stepsOffset)),
            "unipc" => new UniPCMultistepScheduler(new UniPCMultistepOptions(
                schedule, predictionType, UseKarrasSigmas: useKarrasSigmas, TimestepSpacing: linspace, StepsOffset: stepsOffset)),
            _ => throw new InvalidInputException($"{source}: unknown sampler '{name}' (known: {string.Join(", ", Known)})"),
        };
    }
}
