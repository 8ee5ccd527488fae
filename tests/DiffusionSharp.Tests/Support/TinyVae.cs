using DiffusionSharp.Models.Autoencoders;
using DiffusionSharp.Tests.Data;

namespace DiffusionSharp.Tests.Support;

/// <summary>A two-level AutoencoderKL (16x16 RGB to 8x8x4) and a folder of small colour pictures to train it on in seconds.</summary>
public static class TinyVae
{
    public static AutoencoderKLConfig Config() => new()
    {
        InChannels = 3,
        OutChannels = 3,
        BlockOutChannels = [8, 16],
        LayersPerBlock = 1,
        LatentChannels = 4,
        NormNumGroups = 4,
        SampleSize = 16,
        ScalingFactor = 1.0,
        ForceUpcast = false,
    };

    /// <summary>Writes <paramref name="count"/> 16x16 PNGs of diagonal colour gradients (one per image) into <paramref name="folder"/>.</summary>
    public static string WriteImages(string folder, int count)
    {
        for (int i = 0; i < count; i++)
        {
            int hue = 255 * i / Math.Max(1, count - 1);
            ImageFolderLabelColumnTests.WriteRgba(Path.Combine(folder, $"{i:D2}.png"), 16, 16,
                (x, y) => (hue, (x * 16) % 256, 255 - (y * 16) % 256, 255));
        }
        return folder;
    }
}
