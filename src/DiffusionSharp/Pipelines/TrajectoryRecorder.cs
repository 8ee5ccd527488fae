using System.Globalization;
using DiffusionSharp.Imaging;
using DiffusionSharp.Samplers;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Pipelines;

/// <summary>
/// Keeps x_t and the predicted x_0 of the first <c>samples</c> images at <c>frames</c> evenly spaced steps of a sampling
/// run, and draws them as a filmstrip: the reverse process, from noise to image. For a latent model, <c>decode</c>
/// (<see cref="DiffusionPipeline.Decode"/>) turns each kept x_t and predicted x_0 into an image as it is recorded.
/// </summary>
/// <param name="frames">How many steps to keep, evenly spaced.</param>
/// <param name="samples">How many of the batch's first samples to keep.</param>
/// <param name="decode">Latents [n, C, h, w] to images (a fresh tensor); null = the samples are images.</param>
public sealed class TrajectoryRecorder(int frames, int samples, Func<Tensor, Tensor>? decode = null) : IDisposable
{
    private readonly List<(double T, Tensor Sample, Tensor? X0)> _frames = [];
    private HashSet<int>? _keep;
    private int _rows;

    /// <summary>Call from the sampling loop's per-step callback; copies what it keeps.</summary>
    public void Record(SamplingStep step)
    {
        // The loop's own step count: Heun and PNDM run more network steps than the requested number.
        _keep ??= Enumerable.Range(0, Math.Min(frames, step.Count))
            .Select(i => (int)Math.Round(i * (step.Count - 1) / (double)Math.Max(1, Math.Min(frames, step.Count) - 1))).ToHashSet();
        if (!_keep.Contains(step.Index)) return;
        _rows = (int)Math.Min(samples, step.Sample.shape[0]);
        var x = Keep(step.Sample[.._rows]);
        var x0 = step.PredOriginalSample is { } predicted ? Keep(predicted[.._rows]) : null;
        _frames.Add((step.Timestep, x, x0));
    }

    private Tensor Keep(Tensor rows)
    {
        using var scope = torch.NewDisposeScope();
        var kept = decode is null ? rows.clone() : decode(rows);
        return kept.DetachFromDisposeScope();
    }

    /// <summary>
    /// Writes the filmstrip: per sample one row of x_t and, where the sampler predicts it, one row of x_0. Images
    /// <c>[C, H, W]</c> are drawn as they are; 1-D samples <c>[C, L]</c> (sound) as the spectrograms of their first channel,
    /// all on one fixed scale (0 to −80 dBFS, see <see cref="WaveformPicture.SpectrogramImage"/>) so steps compare, or, when
    /// shorter than <see cref="MinSpectrogramLength"/> (time series), as their waveforms over [-1, 1].
    /// </summary>
    /// <exception cref="InvalidOperationException">Nothing was recorded.</exception>
    public void Save(string path, string sampler)
    {
        if (_frames.Count == 0) throw new InvalidOperationException("no sampling step was recorded");
        var labels = _frames.Select(f => "t=" + f.T.ToString("0.#", CultureInfo.InvariantCulture)).ToList();
        if (_frames[0].Sample.dim() == 3)
        {
            Save1D(path, sampler, labels);
            return;
        }
        var strip = new Filmstrip(labels) { Title = $"Reverse process ({sampler}): each pair of rows is x_t and the predicted x_0" };
        for (int i = 0; i < _rows; i++)
        {
            using var xs = torch.stack(_frames.Select(f => f.Sample[i]));
            strip.AddRow(xs.clamp(-1, 1), $"x_t #{i + 1}");
            if (_frames.All(f => f.X0 is not null))
            {
                using var x0s = torch.stack(_frames.Select(f => f.X0![i]));
                strip.AddRow(x0s.clamp(-1, 1), $"x_0 #{i + 1}");
            }
        }
        strip.SavePng(path);
    }

    /// <summary>Shortest 1-D sample drawn as a spectrogram (7 frames); shorter ones (time series) are drawn as waveforms.</summary>
    public const int MinSpectrogramLength = 2 * Audio.Spectrogram.WindowSize;

    private void Save1D(string path, string sampler, List<string> labels)
    {
        var spectrograms = _frames[0].Sample.shape[^1] >= MinSpectrogramLength;
        var strip = new Filmstrip(labels)
        {
            Title = spectrograms
                ? $"Reverse process ({sampler}), spectrograms 0 to -{WaveformPicture.DynamicRange:0} dBFS: rows x_t and predicted x_0"
                : $"Reverse process ({sampler}), values over [-1, 1]: rows x_t and predicted x_0",
        };
        var withX0 = _frames.All(f => f.X0 is not null);
        for (int i = 0; i < _rows; i++)
        {
            strip.AddRow(_frames.Select(f => Cell(f.Sample, i, spectrograms)).ToList(), $"x_t #{i + 1}");
            if (withX0) strip.AddRow(_frames.Select(f => Cell(f.X0!, i, spectrograms)).ToList(), $"x_0 #{i + 1}");
        }
        strip.SavePng(path);
    }

    /// <summary>Sample <paramref name="row"/>'s first channel, unclipped: clamping would add harmonics that are not in x_t.</summary>
    private static PixelImage Cell(Tensor samples, int row, bool spectrogram)
    {
        float[] values;
        using (torch.NewDisposeScope()) values = samples[row, 0].to(ScalarType.Float32, CPU).contiguous().data<float>().ToArray();
        return spectrogram
            ? WaveformPicture.SpectrogramImage(values, WaveformPicture.FullScaleDecibels)
            : WaveformPicture.WaveformImage(values, width: 128, height: 64);
    }

    public void Dispose()
    {
        foreach (var (_, x, x0) in _frames)
        {
            x.Dispose();
            x0?.Dispose();
        }
    }
}
