namespace DiffusionSharp.Training;

/// <summary>What a latent run records about its latents besides the data: the image side the run's <c>vae/</c> encodes.</summary>
/// <param name="Resolution">The side of the encoded images; the latent side is Resolution / the VAE's factor.</param>
public sealed record LatentSpec(int Resolution);
