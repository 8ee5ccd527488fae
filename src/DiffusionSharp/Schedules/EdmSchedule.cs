namespace DiffusionSharp.Schedules;

/// <summary>
/// The noise levels of EDM (Karras et al. 2022) as diffusers' <c>EDMEulerScheduler</c> and
/// <c>EDMDPMSolverMultistepScheduler</c> build them, with their config keys and defaults (<c>sigma_min</c>, <c>sigma_max</c>,
/// <c>sigma_data</c>, <c>sigma_schedule</c>, <c>num_train_timesteps</c>, <c>rho</c>). Plain arrays; the sigmas are float32
/// like diffusers' tensors.
/// </summary>
/// <param name="SigmaMin">The lowest noise level of a run (sigma_min; 0.002 in the paper).</param>
/// <param name="SigmaMax">The highest (sigma_max; 80 in the paper).</param>
/// <param name="SigmaData">The standard deviation of the data, which the preconditioning assumes (sigma_data; 0.5 in the paper).</param>
/// <param name="SigmaSchedule">How a run's sigmas are spaced (sigma_schedule).</param>
/// <param name="NumTrainTimesteps">The size of the constructor's table (num_train_timesteps); sampling does not use it.</param>
/// <param name="Rho">The Karras schedule's ρ (rho; 7 in the paper).</param>
public sealed record EdmSchedule(
    double SigmaMin = 0.002,
    double SigmaMax = 80.0,
    double SigmaData = 0.5,
    EdmSigmaSchedule SigmaSchedule = EdmSigmaSchedule.Karras,
    int NumTrainTimesteps = 1000,
    double Rho = 7.0)
{
    /// <summary>Checks the values a user can get wrong, naming diffusers' key for each.</summary>
    /// <exception cref="InvalidInputException">A value is out of range.</exception>
    public void Validate()
    {
        if (!(SigmaMin > 0) || double.IsInfinity(SigmaMin)) throw new InvalidInputException($"sigma_min must be a positive number (got {SigmaMin})");
        if (!(SigmaMax > SigmaMin) || double.IsInfinity(SigmaMax)) throw new InvalidInputException($"sigma_max must be a number above sigma_min {SigmaMin} (got {SigmaMax})");
        if (!(SigmaData > 0) || double.IsInfinity(SigmaData)) throw new InvalidInputException($"sigma_data must be a positive number (got {SigmaData})");
        if (!(Rho > 0) || double.IsInfinity(Rho)) throw new InvalidInputException($"rho must be a positive number (got {Rho})");
        if (NumTrainTimesteps is < 1 or > NoiseScheduleConfig.MaxTrainTimesteps)
            throw new InvalidInputException($"num_train_timesteps must lie in [1, {NoiseScheduleConfig.MaxTrainTimesteps}] (got {NumTrainTimesteps})");
    }

    /// <summary>
    /// <paramref name="n"/> sigmas from σ_max down to σ_min, float32: Karras et al. 2022, eq. 5,
    /// (σ_max^(1/ρ) + r·(σ_min^(1/ρ) - σ_max^(1/ρ)))^ρ over a float32 ramp r = 0..1 in float32 arithmetic (so σ_max comes out
    /// as 79.999985, as in diffusers); or exponential: exp of a float32 linspace from log σ_max down to log σ_min.
    /// </summary>
    /// <exception cref="InvalidInputException">n below 1.</exception>
    public float[] Sigmas(int n)
    {
        if (n < 1) throw new InvalidInputException($"number of inference steps must be at least 1 (got {n})");
        var sigmas = new float[n];
        if (SigmaSchedule == EdmSigmaSchedule.Karras)
        {
            // diffusers: python-float exponents, then float32 tensor arithmetic with the float32 ramp
            double minInvRho = Math.Pow(SigmaMin, 1 / Rho), maxInvRho = Math.Pow(SigmaMax, 1 / Rho);
            float max = (float)maxInvRho, span = (float)(minInvRho - maxInvRho), rho = (float)Rho;
            for (int i = 0; i < n; i++)
            {
                float ramp = (float)TimestepSpacings.NumpyLinspace(0, 1, n, i);
                sigmas[i] = MathF.Pow(max + ramp * span, rho);
            }
        }
        else
        {
            // torch.linspace(log σ_min, log σ_max, n) (float32) .exp().flip(0)
            for (int i = 0; i < n; i++)
                sigmas[n - 1 - i] = MathF.Exp((float)TimestepSpacings.NumpyLinspace(Math.Log(SigmaMin), Math.Log(SigmaMax), n, i));
        }
        return sigmas;
    }
}

/// <summary>How EDM spaces a run's noise levels (diffusers' <c>sigma_schedule</c>).</summary>
public enum EdmSigmaSchedule
{
    /// <summary><c>karras</c>: Karras et al. 2022, eq. 5, with ρ.</summary>
    Karras,

    /// <summary><c>exponential</c>: evenly spaced in log σ (used by stabilityai/cosxl).</summary>
    Exponential,
}

/// <summary>Conversions between <see cref="EdmSigmaSchedule"/> and diffusers' strings.</summary>
public static class EdmSigmaSchedules
{
    /// <summary>diffusers' string.</summary>
    public static string ToDiffusersName(this EdmSigmaSchedule schedule) => schedule == EdmSigmaSchedule.Karras ? "karras" : "exponential";

    /// <summary>Parses diffusers' <c>sigma_schedule</c>.</summary>
    /// <exception cref="InvalidInputException">Not karras or exponential.</exception>
    public static EdmSigmaSchedule Parse(string name, string source = "sigma_schedule") => name switch
    {
        "karras" => EdmSigmaSchedule.Karras,
        "exponential" => EdmSigmaSchedule.Exponential,
        _ => throw new InvalidInputException($"{source}: unknown sigma schedule '{name}' (expected karras or exponential)"),
    };
}
