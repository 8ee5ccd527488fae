using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using DiffusionSharp.Data;
using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// Encodes a dataset once with a VAE and keeps the posteriors in a folder (<c>latents.safetensors</c>: <c>mean</c> and
/// <c>std</c>, <c>[N, C, h, w]</c> float32, already scaled by scaling_factor, shift_factor subtracted; <c>key.json</c>: what they
/// were made from). The key holds SHA-256 hashes of the VAE's <c>config.json</c> and weights and of the dataset's pixels and
/// labels as the loader sees them (so the resolution, background, label column and file list are all in it), plus the
/// shapes; a cache whose key differs in anything is rebuilt.
/// </summary>
/// <remarks>
/// The posterior, not one sample, is cached: the trainer draws z = mean + std · ε every step with its own generator, as
/// diffusers' <c>train_text_to_image</c> samples <c>latent_dist</c> per step (LDM too), at the cost of one fused multiply-add.
/// The key is written last, so a crash while writing leaves a folder without a valid key, which is rebuilt.
/// </remarks>
public static class LatentCache
{
    /// <summary>The posteriors' file and the key file in the cache folder.</summary>
    public const string LatentsFileName = "latents.safetensors", KeyFileName = "key.json";

    private const int Format = 1;
    private const int HashChunk = 256;

    /// <summary>The <see cref="InvalidInputException.Property"/> of errors about the VAE and the data given for latent training.</summary>
    public const string VaeProperty = "LatentCache.Vae", DataProperty = "LatentCache.Data";

    /// <summary>
    /// The latents of <paramref name="images"/>: read from <paramref name="cacheDir"/> when its key matches, otherwise encoded
    /// (posterior mean and std, <paramref name="batchSize"/> images at a time, in inference mode) and written there.
    /// </summary>
    /// <param name="cacheDir">The cache folder (a run's <c>latents/</c>); created when missing.</param>
    /// <param name="vaeFolder">The folder <paramref name="vae"/> was loaded from (its <c>config.json</c> and weights are hashed).</param>
    /// <param name="vae">The autoencoder.</param>
    /// <param name="images">The images, in [-1, 1], of the VAE's channels and a side divisible by its factor.</param>
    /// <param name="batchSize">Images per encoder batch.</param>
    /// <param name="progress">Told (images encoded, total) while encoding.</param>
    /// <exception cref="InvalidInputException">The images do not fit the VAE.</exception>
    public static LatentDataset LoadOrBuild(string cacheDir, string vaeFolder, IAutoencoder vae, IImageDataset images,
        int batchSize = 32, IProgress<(int Done, int Total)>? progress = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(cacheDir);
        ArgumentNullException.ThrowIfNull(vae);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        CheckFits(vae, images);
        int f = vae.DownsamplingFactor;
        int[] latentShape = [vae.LatentChannels, images.Height / f, images.Width / f];
        var (dataHash, labels) = HashData(images);
        var key = Key(vaeFolder, vae, images, dataHash, latentShape);
        string latentsPath = Path.Combine(cacheDir, LatentsFileName), keyPath = Path.Combine(cacheDir, KeyFileName);
        if (TryRead(latentsPath, keyPath, key, images.Count, latentShape) is { } cached)
            return new LatentDataset(cached.Mean, cached.Std, labels, latentShape, images.Height, images.NumClasses, images.ClassNames, vae.ClassName, reused: true);

        var (mean, std) = Encode(vae, images, latentShape, batchSize, progress);
        Directory.CreateDirectory(cacheDir);
        // An old key must not vouch for the new file while it is being written.
        File.Delete(keyPath);
        long[] shape = [images.Count, .. latentShape.Select(d => (long)d)];
        using (var meanTensor = torch.tensor(mean, shape))
        using (var stdTensor = torch.tensor(std, shape))
            SafetensorsFile.Save(latentsPath, new Dictionary<string, Tensor> { ["mean"] = meanTensor, ["std"] = stdTensor });
        AtomicFile.WriteAllText(keyPath, key.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return new LatentDataset(mean, std, labels, latentShape, images.Height, images.NumClasses, images.ClassNames, vae.ClassName, reused: false);
    }

    /// <summary>Checks that <paramref name="images"/> fit <paramref name="vae"/>: its channels, and sides divisible by its factor.</summary>
    /// <exception cref="InvalidInputException">They do not; the message names what differs.</exception>
    public static void CheckFits(IAutoencoder vae, IImageDataset images)
    {
        if (images.Channels != vae.InChannels)
            throw new InvalidInputException($"Data: the images have {images.Channels} channel(s) but the VAE encodes {vae.InChannels}", DataProperty);
        int f = vae.DownsamplingFactor;
        if (images.Height % f != 0 || images.Width % f != 0)
            throw new InvalidInputException($"Data: the images are {images.Width}x{images.Height}, not a multiple of the VAE's factor {f}", DataProperty);
        if (images.Count == 0) throw new InvalidInputException("Data: the dataset is empty", DataProperty);
    }

    private static JsonObject Key(string vaeFolder, IAutoencoder vae, IImageDataset images, string dataHash, int[] latentShape)
    {
        string weights = AutoencoderLoader.ResolveWeightsPath(vaeFolder);
        string config = Path.Combine(Path.GetDirectoryName(weights)!, UNet2DModel.ConfigFileName);
        return new JsonObject
        {
            ["format"] = Format,
            ["vae_class"] = vae.ClassName,
            ["vae_config_sha256"] = HashFile(config),
            ["vae_weights_sha256"] = HashFile(weights),
            ["images"] = images.Count,
            ["image_shape"] = new JsonArray(images.Channels, images.Height, images.Width),
            ["num_classes"] = images.NumClasses,
            ["data_sha256"] = dataHash,
            ["latent_shape"] = new JsonArray([.. latentShape.Select(d => (JsonNode)d)]),
        };
    }

    private static string HashFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>SHA-256 over every image's floats and label as the loader fills them, and the labels themselves.</summary>
    private static (string Hash, long[] Labels) HashData(IImageDataset images)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var labels = new long[images.Count];
        int size = images.ImageSize;
        var buffer = new float[HashChunk * size];
        var indices = new int[HashChunk];
        for (int start = 0; start < images.Count; start += HashChunk)
        {
            int n = Math.Min(HashChunk, images.Count - start);
            for (int i = 0; i < n; i++) indices[i] = start + i;
            images.FillBatch(indices.AsSpan(0, n), buffer.AsSpan(0, n * size), labels.AsSpan(start, n));
            hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(buffer.AsSpan(0, n * size)));
        }
        if (images.NumClasses > 0)
        {
            hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(labels.AsSpan()));
            foreach (var name in images.ClassNames) hash.AppendData(System.Text.Encoding.UTF8.GetBytes(name + "\n"));
        }
        return (Convert.ToHexStringLower(hash.GetHashAndReset()), labels);
    }

    private static (float[] Mean, float[] Std)? TryRead(string latentsPath, string keyPath, JsonObject key, int count, int[] latentShape)
    {
        if (!File.Exists(latentsPath) || !File.Exists(keyPath)) return null;
        try
        {
            if (!JsonNode.DeepEquals(JsonNode.Parse(File.ReadAllText(keyPath)), key)) return null;
            var tensors = SafetensorsFile.Load(latentsPath);
            try
            {
                long[] shape = [count, .. latentShape.Select(d => (long)d)];
                if (!tensors.TryGetValue("mean", out var mean) || !tensors.TryGetValue("std", out var std)
                    || !mean.shape.SequenceEqual(shape) || !std.shape.SequenceEqual(shape)
                    || mean.dtype != ScalarType.Float32 || std.dtype != ScalarType.Float32)
                    return null;
                return (mean.data<float>().ToArray(), std.data<float>().ToArray());
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
        }
        catch (Exception e) when (e is JsonException or InvalidInputException or IOException)
        {
            // An unreadable cache is rebuilt, like a stale one.
            return null;
        }
    }

    private static (float[] Mean, float[] Std) Encode(IAutoencoder vae, IImageDataset images, int[] latentShape, int batchSize,
        IProgress<(int Done, int Total)>? progress)
    {
        int latentSize = latentShape.Aggregate(1, (a, b) => a * b), size = images.ImageSize;
        var mean = new float[(long)images.Count * latentSize];
        var std = new float[mean.Length];
        var buffer = new float[batchSize * size];
        var indices = new int[batchSize];
        var labels = new long[batchSize];
        long[] imageShape = [images.Channels, images.Height, images.Width];
        bool training = vae.Module.training;
        vae.Module.eval();
        try
        {
            using var inference = torch.inference_mode();
            for (int start = 0; start < images.Count; start += batchSize)
            {
                using var scope = torch.NewDisposeScope();
                int n = Math.Min(batchSize, images.Count - start);
                for (int i = 0; i < n; i++) indices[i] = start + i;
                images.FillBatch(indices.AsSpan(0, n), buffer.AsSpan(0, n * size), labels);
                var batch = torch.tensor(buffer.AsSpan(0, n * size).ToArray(), [n, .. imageShape]);
                if (vae.Device.type != DeviceType.CPU) batch = batch.to(vae.Device);
                var (m, s) = vae.EncodePosterior(batch);
                m.cpu().contiguous().data<float>().CopyTo(mean.AsSpan(start * latentSize, n * latentSize));
                s.cpu().contiguous().data<float>().CopyTo(std.AsSpan(start * latentSize, n * latentSize));
                progress?.Report((start + n, images.Count));
            }
        }
        finally
        {
            if (training) vae.Module.train();
        }
        return (mean, std);
    }
}
