using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;

namespace DiffusionSharp.Studio.Generation;

/// <summary>A denoising network in eval mode and, for a latent model, the autoencoder whose latents it samples.</summary>
internal sealed record DenoiserModel(IDenoiser Network, IAutoencoder? Vae) : IDisposable
{
    public static DenoiserModel Load(string networkFolder, string? vaeFolder)
    {
        var network = Denoisers.FromPretrained(networkFolder);
        try
        {
            network.Module.eval();
            return new DenoiserModel(network, vaeFolder is null ? null : AutoencoderLoader.FromPretrained(vaeFolder));
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Network.Dispose();
        Vae?.Dispose();
    }
}
