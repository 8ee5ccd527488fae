using DiffusionSharp.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Evaluation;

/// <summary>
/// The memorisation check: for every generated sample, the nearest training image in pixel space (L2) and whether it
/// is a near-copy of it. A model that reproduces its training images scores a high near-copy fraction; one that
/// generalises, a fraction near 0 with distances like those between different training images.
/// </summary>
public static class Memorisation
{
    /// <summary>The default near-copy threshold on the RMS distance in [-1, 1] units: 0.1, i.e. about 13 of 255 levels per value.</summary>
    public const double DefaultThreshold = 0.1;

    /// <summary>Training images compared per matrix product.</summary>
    private const int Chunk = 256;

    /// <summary>Finds each sample's nearest training image.</summary>
    /// <param name="samples">Generated images <c>[N, C, H, W]</c> in [-1, 1], float32 on the CPU.</param>
    /// <param name="training">The training set; its images must have the samples' <c>[C, H, W]</c>.</param>
    /// <param name="threshold">RMS distance below which a sample counts as a near-copy; &gt; 0.</param>
    /// <exception cref="InvalidInputException">The shapes differ, the training set is empty, or the threshold is not positive.</exception>
    public static MemorisationReport Check(Tensor samples, IImageDataset training, double threshold = DefaultThreshold)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(training);
        if (!(threshold > 0)) throw new InvalidInputException($"threshold: expected a positive RMS distance, found {threshold}", "Memorisation.threshold");
        long[] expected = [training.Channels, training.Height, training.Width];
        if (samples.dim() != 4 || !samples.shape[1..].SequenceEqual(expected))
            throw new InvalidInputException(
                $"samples: expected [N, {string.Join(", ", expected)}] like the training images, found [{string.Join(", ", samples.shape)}]");
        if (training.Count == 0) throw new InvalidInputException("training: the dataset is empty");

        int n = (int)samples.shape[0], size = training.ImageSize;
        var best = Enumerable.Repeat(double.PositiveInfinity, n).ToArray();
        var nearest = new int[n];
        var buffer = new float[Chunk * size];
        var labels = new long[Chunk];
        using var inference = inference_mode();
        using var flat = samples.reshape(n, size).to(float64);
        using var sampleNorms = flat.square().sum(1);
        for (int start = 0; start < training.Count; start += Chunk)
        {
            using var scope = NewDisposeScope();
            int m = Math.Min(Chunk, training.Count - start);
            var indices = Enumerable.Range(start, m).ToArray();
            training.FillBatch(indices, buffer.AsSpan(0, m * size), labels.AsSpan(0, m));
            var images = tensor(buffer.AsSpan(0, m * size).ToArray(), [m, size]).to(float64);
            // ‖x − y‖² = ‖x‖² + ‖y‖² − 2 x·y, in float64 so that a copy's distance does not drown in rounding.
            var squared = (sampleNorms.unsqueeze(1) + images.square().sum(1).unsqueeze(0) - 2 * flat.matmul(images.t())).clamp_min(0);
            var (values, arg) = squared.min(1);
            var d = values.data<double>().ToArray();
            var a = arg.data<long>().ToArray();
            for (int i = 0; i < n; i++)
                if (d[i] < best[i])
                {
                    best[i] = d[i];
                    nearest[i] = start + (int)a[i];
                }
        }
        var distances = best.Select(d => Math.Sqrt(d / size)).ToArray();
        return new MemorisationReport(distances, nearest, threshold, training.Count);
    }
}
