namespace DiffusionSharp.Pipelines;

/// <summary>How far a text-to-image run is from a recorded diffusers run (see <see cref="StableDiffusionChainCheck"/>).</summary>
/// <param name="Steps">Steps compared.</param>
/// <param name="TokensMatch">Whether the prompt and the negative prompt tokenize to the reference's <c>cond_input_ids</c> / <c>uncond_input_ids</c>.</param>
/// <param name="InitialLatentsMaxAbsError">max |initial latents − reference| (drawn from the seed, or the reference's noise).</param>
/// <param name="StepMaxAbsErrors">For each step, max |latents − reference <c>step{i}.latents_out</c>|.</param>
/// <param name="StepTolerances">For each step, the allowed error: relative tolerance · max(1, max |reference|).</param>
/// <param name="ImageMaxAbsError">max |decoded image − reference <c>image</c>| (float, before clamping).</param>
/// <param name="ImageTolerance">The allowed image error.</param>
/// <param name="PixelMaxDiff">max |PNG byte − reference <c>image_uint8</c>| (allowed: 1, rounding).</param>
public sealed record StableDiffusionChainCheckResult(
    int Steps,
    bool TokensMatch,
    double InitialLatentsMaxAbsError,
    IReadOnlyList<double> StepMaxAbsErrors,
    IReadOnlyList<double> StepTolerances,
    double ImageMaxAbsError,
    double ImageTolerance,
    int PixelMaxDiff)
{
    /// <summary>Every quantity within its tolerance.</summary>
    public bool Passed => TokensMatch
        && StepMaxAbsErrors.Zip(StepTolerances).All(p => p.First <= p.Second)
        && ImageMaxAbsError <= ImageTolerance
        && PixelMaxDiff <= 1;
}
