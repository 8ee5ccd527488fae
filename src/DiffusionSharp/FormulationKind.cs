namespace DiffusionSharp;

/// <summary>
/// The family of forward process and parameterisation a model was trained in, which decides the samplers that can
/// sample it (<see cref="Samplers.SamplerCapabilities.Formulations"/>). Flow matching and EDM will be further members.
/// </summary>
public enum FormulationKind
{
    /// <summary>DDPM's variance-preserving process x_t = sqrt(ᾱ_t)·x_0 + sqrt(1 - ᾱ_t)·ε over discrete training timesteps, with an ε, x_0 or v target.</summary>
    VariancePreserving,
}
