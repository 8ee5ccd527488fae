namespace DiffusionSharp.Schedules;

/// <summary>
/// The fixed variance schedule of the forward process, with diffusers' parameter names and defaults
/// (<c>num_train_timesteps</c>, <c>beta_start</c>, <c>beta_end</c>, <c>beta_schedule</c>, <c>trained_betas</c>, <c>rescale_betas_zero_snr</c>).
/// </summary>
/// <param name="NumTrainTimesteps">T, the number of training timesteps (t = 0..T-1).</param>
/// <param name="BetaStart">beta_1 for linear, scaled_linear and sigmoid schedules.</param>
/// <param name="BetaEnd">beta_T for linear, scaled_linear and sigmoid schedules.</param>
/// <param name="Schedule">How betas grow between the two.</param>
/// <param name="RescaleBetasZeroSnr">Rescale so that alpha_bar at t = T-1 is exactly 0 (zero terminal SNR; Lin et al. 2023).</param>
/// <param name="TrainedBetas">Explicit betas; when set, overrides the schedule and its length is T.</param>
public sealed record NoiseScheduleConfig(
    int NumTrainTimesteps = 1000,
    double BetaStart = 0.0001,
    double BetaEnd = 0.02,
    BetaSchedule Schedule = BetaSchedule.Linear,
    bool RescaleBetasZeroSnr = false,
    IReadOnlyList<double>? TrainedBetas = null)
{
    /// <summary>Largest T accepted: diffusers' schedules use 1000 to 4000; the bound keeps a corrupt config from allocating gigabytes of tables.</summary>
    public const int MaxTrainTimesteps = 1_000_000;

    /// <summary>Checks the values a user can get wrong, naming diffusers' key for each.</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        if (NumTrainTimesteps is < 1 or > MaxTrainTimesteps)
            throw new InvalidInputException($"num_train_timesteps must lie in [1, {MaxTrainTimesteps}] (got {NumTrainTimesteps})");
        if (TrainedBetas is not null)
        {
            if (TrainedBetas.Count != NumTrainTimesteps)
                throw new InvalidInputException($"trained_betas has {TrainedBetas.Count} values but num_train_timesteps is {NumTrainTimesteps}");
            if (TrainedBetas.Any(b => !(b > 0 && b < 1)))
                throw new InvalidInputException("trained_betas: every beta must lie in (0, 1)");
            return;
        }
        if (Schedule == BetaSchedule.SquaredCosCapV2) return;
        if (!(BetaStart > 0 && BetaStart < 1))
            throw new InvalidInputException($"beta_start must lie in (0, 1) (got {BetaStart})");
        if (!(BetaEnd > 0 && BetaEnd < 1))
            throw new InvalidInputException($"beta_end must lie in (0, 1) (got {BetaEnd})");
        if (BetaEnd <= BetaStart)
            throw new InvalidInputException($"beta_end ({BetaEnd}) must be greater than beta_start ({BetaStart})");
    }
}
