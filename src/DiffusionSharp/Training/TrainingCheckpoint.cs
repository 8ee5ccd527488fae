using System.Text;
using DiffusionSharp.IO;
using DiffusionSharp.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// What one checkpoint folder holds, and how it is written and read back: the network (<c>unet/</c>) and its EMA
/// (<c>unet_ema/</c>) as diffusers model folders (a text-to-image run adds <c>text_encoder/</c> and <c>text_encoder_ema/</c>), the AdamW moments (<c>optimizer.bin</c>), the generator state
/// (<c>rng.bin</c>) and the <see cref="TrainingState"/> (<c>state.json</c>, written last: a folder without it is not a checkpoint).
/// Everything needed for an exact resume.
/// </summary>
public static class TrainingCheckpoint
{
    private const string OptimizerFile = "optimizer.bin", RngFile = "rng.bin", StateFile = "state.json";

    /// <summary>Writes every file of a checkpoint into <paramref name="folder"/> (a temporary folder that <see cref="RunFolder.WriteCheckpoint"/> renames).</summary>
    public static void Write(string folder, TrainingState state, IDenoiser model, IDenoiser ema, AdamW optimizer, Generator generator)
    {
        model.SavePretrained(RunFolder.ModelDirIn(folder));
        ema.SavePretrained(RunFolder.EmaDirIn(folder));
        if (model is TextConditionedUNet text && ema is TextConditionedUNet textEma)
        {
            text.SaveTextEncoder(RunFolder.TextEncoderDirIn(folder));
            textEma.SaveTextEncoder(RunFolder.TextEncoderEmaDirIn(folder));
        }
        WriteOptimizerAndGenerator(folder, optimizer, generator);
        AtomicFile.WriteAllText(Path.Combine(folder, StateFile), state.ToJson());
    }

    /// <summary>Writes the AdamW moments (<c>optimizer.bin</c>) and the generator state (<c>rng.bin</c>): the part of a checkpoint every trainer shares.</summary>
    internal static void WriteOptimizerAndGenerator(string folder, AdamW optimizer, Generator generator)
    {
        AtomicFile.Write(Path.Combine(folder, OptimizerFile), s =>
        {
            using var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true);
            optimizer.save_state_dict(w);
        });
        using var rng = generator.get_state();
        AtomicFile.Write(Path.Combine(folder, RngFile), s => s.Write(rng.data<byte>().ToArray()));
    }

    /// <summary>Reads back what <see cref="WriteOptimizerAndGenerator"/> wrote into the live optimizer and generator.</summary>
    internal static void RestoreOptimizerAndGenerator(string checkpoint, AdamW optimizer, Generator generator)
    {
        using (var r = new BinaryReader(File.OpenRead(Path.Combine(checkpoint, OptimizerFile))))
            optimizer.load_state_dict(r);
        var rngBytes = File.ReadAllBytes(Path.Combine(checkpoint, RngFile));
        using var rng = torch.tensor(rngBytes, dtype: ScalarType.Byte);
        generator.set_state(rng);
    }

    /// <summary>The state recorded in a checkpoint.</summary>
    /// <exception cref="InvalidInputException">Unreadable or malformed <c>state.json</c>.</exception>
    public static TrainingState ReadState(string checkpoint)
    {
        string path = Path.Combine(checkpoint, StateFile);
        return TrainingState.FromJson(JsonFile.ReadText(path, "training state"), path);
    }

    /// <summary>The checkpoint's network, on <paramref name="device"/> (null = the CPU): a <see cref="TextConditionedUNet"/> when it holds <c>text_encoder/</c>.</summary>
    public static IDenoiser ReadModel(string checkpoint, Device? device = null) => Read(RunFolder.ModelDirIn(checkpoint), RunFolder.TextEncoderDirIn(checkpoint), device);

    private static IDenoiser Read(string unet, string textEncoder, Device? device) => Directory.Exists(textEncoder)
        ? TextConditionedUNet.FromPretrained(unet, textEncoder, device)
        : Denoisers.FromPretrained(unet, device);

    /// <summary>Copies the checkpoint's EMA weights, optimizer moments and generator state into the live objects.</summary>
    public static void Restore(string checkpoint, IDenoiser ema, AdamW optimizer, Generator generator)
    {
        using (var emaWeights = Read(RunFolder.EmaDirIn(checkpoint), RunFolder.TextEncoderEmaDirIn(checkpoint), ema.Device))
            ema.Module.load_state_dict(emaWeights.Module.state_dict());
        RestoreOptimizerAndGenerator(checkpoint, optimizer, generator);
    }
}
