namespace DiffusionSharp.Samplers;

/// <summary>The noise level the last step lands on (diffusers' <c>final_sigmas_type</c>).</summary>
public enum FinalSigmasType
{
    /// <summary><c>zero</c>: the last step goes to sigma = 0, returning the clean prediction.</summary>
    Zero,

    /// <summary><c>sigma_min</c>: the last step stops at sigma of training timestep 0.</summary>
    SigmaMin,
}

/// <summary>Conversions between <see cref="FinalSigmasType"/> and diffusers' strings.</summary>
public static class FinalSigmasTypes
{
    /// <summary>diffusers' string for a final sigma type.</summary>
    public static string ToDiffusersName(this FinalSigmasType type) => type == FinalSigmasType.Zero ? "zero" : "sigma_min";
}
