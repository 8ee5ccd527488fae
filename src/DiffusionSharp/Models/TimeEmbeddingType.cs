namespace DiffusionSharp.Models;

/// <summary>diffusers <c>time_embedding_type</c>.</summary>
public enum TimeEmbeddingType
{
    /// <summary><c>"positional"</c>: sinusoidal <c>Timesteps</c> projection.</summary>
    Positional,

    /// <summary><c>"fourier"</c>: <c>GaussianFourierProjection</c> of log(t) (score-SDE style); the output is divided by t.</summary>
    Fourier,
}
