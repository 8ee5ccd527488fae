namespace DiffusionSharp.Pipelines;

/// <summary>
/// The knobs of an image edit (<see cref="ImageEditor"/>): how far into the noise the input goes, how many sampler steps
/// the full schedule has, and RePaint's resampling for inpainting.
/// </summary>
public sealed record EditOptions
{
    /// <summary>
    /// How much of the schedule to redo, in (0, 1]: the input is noised to the timestep <c>strength</c> of the way up the
    /// schedule and denoised from there (SDEdit, Meng et al. 2021). Small values keep the input, 1 starts from pure noise.
    /// </summary>
    public double Strength { get; init; } = 0.6;

    /// <summary>Sampler steps of the full schedule; an edit runs <c>floor(Steps·Strength)</c> of them (diffusers' img2img rule).</summary>
    public int Steps { get; init; } = 50;

    /// <summary>
    /// RePaint's resampling (Lugmayr et al. 2022, algorithm 1): after each step but the last, re-noise back one step with
    /// q(x_t | x_{t-1}) and redo it, this many times, so the repainted region harmonises with the kept one. Inpainting
    /// with DDPM or DDIM only; 0 = off. Each costs one more model call per step.
    /// </summary>
    public int Resample { get; init; }

    /// <summary>The number of steps an edit runs: diffusers' <c>init_timestep = min(int(steps·strength), steps)</c>.</summary>
    public int StepsToRun => Math.Min((int)(Steps * Strength), Steps);

    /// <summary>Checks every value, naming its property.</summary>
    /// <exception cref="InvalidInputException">A value is out of range, or strength·steps leaves no step to run.</exception>
    public void Validate()
    {
        if (!(Strength > 0 && Strength <= 1))
            throw InvalidInputException.For<EditOptions>(nameof(Strength), $" must lie in (0, 1] (got {Strength})");
        if (Steps < 1) throw InvalidInputException.For<EditOptions>(nameof(Steps), $" must be at least 1 (got {Steps})");
        if (Resample < 0) throw InvalidInputException.For<EditOptions>(nameof(Resample), $" must be 0 or more (got {Resample})");
        if (StepsToRun < 1)
            throw new InvalidInputException(
                $"{nameof(Strength)} {Strength} with {nameof(Steps)} {Steps} runs no step (strength x steps must be at least 1); raise either",
                $"{nameof(EditOptions)}.{nameof(Strength)}", $"{nameof(EditOptions)}.{nameof(Steps)}");
    }
}
