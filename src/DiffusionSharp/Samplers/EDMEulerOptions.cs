using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>The options of <see cref="EDMEulerScheduler"/>, with diffusers' defaults (config keys in brackets).</summary>
/// <param name="Schedule">The noise levels and σ_data (sigma_min, sigma_max, sigma_data, sigma_schedule, num_train_timesteps, rho).</param>
/// <param name="PredictionType">epsilon or v_prediction: the sign of c_out (prediction_type).</param>
public sealed record EDMEulerOptions(EdmSchedule Schedule, PredictionType PredictionType = PredictionType.Epsilon)
{
    /// <summary>diffusers' defaults (the paper's: σ from 0.002 to 80, ρ = 7, σ_data = 0.5).</summary>
    public EDMEulerOptions() : this(new EdmSchedule()) { }
}
