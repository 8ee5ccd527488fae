namespace DiffusionSharp.Training;

/// <summary>The reconstruction term of the VAE objective: the pixel distance between an image and its decoded posterior sample.</summary>
public enum ReconstructionLoss
{
    /// <summary>Mean absolute error, |x − x̂| (LDM's autoencoders train with L1 plus perceptual and adversarial terms).</summary>
    L1,

    /// <summary>Mean squared error, (x − x̂)², the Gaussian decoder's negative log-likelihood up to a constant.</summary>
    L2,
}
