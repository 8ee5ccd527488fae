using DiffusionSharp.Models;
using DiffusionSharp.Tests.Support;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Pipelines;

/// <summary>Tiny U-Nets (channels 8 and 16, one resnet per level) saved as bare UNet2DModel folders, for pipeline and CLI tests.</summary>
internal static class TinyModels
{
    public static UNet2DConfig Config(int sampleSize = 8, int? numClassEmbeds = null) => new()
    {
        SampleSize = sampleSize,
        InChannels = 1,
        OutChannels = 1,
        BlockOutChannels = [8, 16],
        LayersPerBlock = 1,
        DownBlockTypes = [DownBlockType.DownBlock2D, DownBlockType.DownBlock2D],
        UpBlockTypes = [UpBlockType.UpBlock2D, UpBlockType.UpBlock2D],
        NormNumGroups = 4,
        NumClassEmbeds = numClassEmbeds,
    };

    /// <summary>A freshly initialised model saved into a new temp folder; the caller deletes <c>Root</c>.</summary>
    public static (string Root, string ModelDir) SaveFresh(int? numClassEmbeds = null, long seed = 1)
    {
        string root = TestPaths.NewTempDir();
        string dir = Path.Combine(root, "model");
        random.manual_seed(seed);
        using var model = new UNet2DModel(Config(numClassEmbeds: numClassEmbeds));
        model.SavePretrained(dir);
        return (root, dir);
    }
}
