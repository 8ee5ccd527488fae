namespace DiffusionSharp;

/// <summary>
/// The family of training objective a network was trained with, which decides the samplers it pairs with (shared
/// vocabulary of Training and Samplers).
/// </summary>
public enum FormulationKind
{
    /// <summary>
    /// Discrete-time variance-preserving diffusion (Ho et al. 2020): integer timesteps 0..T-1 over a beta schedule,
    /// x_t = sqrt(alpha_bar_t)·x_0 + sqrt(1 - alpha_bar_t)·eps, the network predicting eps, x_0 or v. Every DDPM-family
    /// sampler (DDPM, DDIM, DPM-Solver, UniPC, PNDM, Euler, Heun) samples it.
    /// </summary>
    Ddpm,
}
