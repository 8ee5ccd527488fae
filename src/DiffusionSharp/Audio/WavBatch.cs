using static TorchSharp.torch;

namespace DiffusionSharp.Audio;

/// <summary>Writes a batch of generated clips as WAV files.</summary>
public static class WavBatch
{
    /// <summary>
    /// Writes clip i of <paramref name="clips"/> as <c>{i:D5}.wav</c> in <paramref name="folder"/> (created if needed), 16-bit PCM at
    /// <paramref name="sampleRate"/>, each file atomically; values outside [-1, 1] are clipped.
    /// </summary>
    /// <param name="clips">[N, C, L] float.</param>
    /// <param name="folder">The folder to write into.</param>
    /// <param name="sampleRate">The rate in Hz written to the headers.</param>
    /// <returns>The paths written, in order.</returns>
    public static IReadOnlyList<string> Save(Tensor clips, string folder, int sampleRate)
    {
        ArgumentNullException.ThrowIfNull(clips);
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (clips.dim() != 3) throw new ArgumentException($"expected clips [N, C, L], got [{string.Join(", ", clips.shape)}]", nameof(clips));
        var (count, channels, length) = ((int)clips.shape[0], (int)clips.shape[1], (int)clips.shape[2]);
        float[] values;
        using (var cpu = clips.detach().to(CPU).to_type(ScalarType.Float32).clamp(-1, 1).contiguous()) values = cpu.data<float>().ToArray();
        Directory.CreateDirectory(folder);
        var paths = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var data = Enumerable.Range(0, channels).Select(c => values.AsSpan((i * channels + c) * length, length).ToArray()).ToArray();
            var path = Path.Combine(folder, $"{i:D5}.wav");
            WavFile.Write(path, new WavAudio(sampleRate, data));
            paths.Add(path);
        }
        return paths;
    }
}
