using System.Diagnostics;
using System.Globalization;
using DiffusionSharp.Audio;
using DiffusionSharp.Imaging;
using DiffusionSharp.Models;
using DiffusionSharp.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionSharp.Studio.Generation;

/// <summary>
/// One generation, run on the studio's tensor thread: the one place the studio builds a pipeline and generates, through
/// the library's own halves of <see cref="DiffusionPipeline.Load"/> (<see cref="DiffusionPipeline.LoadScheduler"/>, the
/// network of <see cref="DiffusionPipeline.NetworkFolder"/> and, for a latent model, the autoencoder of
/// <see cref="DiffusionPipeline.VaeFolder"/>) and <see cref="DiffusionPipeline.Generate(int, int, long, IReadOnlyList{long}?, double, int, Action{int, Samplers.SamplingStep}?)"/>
/// with <c>diffuse sample</c>'s options, or for a Stable Diffusion folder <see cref="StableDiffusionPipeline.Generate"/> once per
/// seed as <c>diffuse sample --prompt</c> runs it; so that its final picture is that command's PNG byte for byte.
/// </summary>
/// <param name="Request">The checked request.</param>
/// <param name="Folder">The model's folder (from the catalog).</param>
/// <param name="DisplayFolder">The folder as the user gave it (for the equivalent command).</param>
/// <param name="BatchSize">Images per network batch.</param>
/// <param name="Clips">Where an audio model's WAVs are kept for the page to play; null = none kept (the clips are not offered).</param>
/// <param name="LatentPreviews">A latent model's step pictures decode at most this many images of the batch (<see cref="StudioOptions.LatentPreviews"/>).</param>
internal sealed record GenerationJob(GenerateRequest Request, string Folder, string DisplayFolder, int BatchSize, ClipStore? Clips = null, int LatentPreviews = 4)
{
    /// <summary>
    /// Loads the pipeline, generates, and posts a start event, one step event per step (x_t and the predicted x_0 of
    /// the batch as small PNGs, decoded through the VAE for a latent model) and the final picture. <paramref name="post"/>
    /// may block (the client's queue is full); cancelling <paramref name="token"/> stops the run at the next step.
    /// </summary>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="InvalidInputException">The model or an option is refused by the library.</exception>
    public void Run(NetworkCache networks, Action<GenerationEvent> post, Stopwatch clock, CancellationToken token)
    {
        token.ThrowIfCancellationRequested();
        if (StableDiffusionPipeline.IsTextToImageFolder(Folder))
        {
            RunTextToImage(networks, post, clock, token);
            return;
        }
        var r = Request;
        double loadStart = clock.Elapsed.TotalMilliseconds;
        // DiffusionPipeline.Load's parts, the network (and a latent model's VAE) kept between runs.
        var scheduler = DiffusionPipeline.LoadScheduler(Folder, r.Ema, r.Sampler, r.Eta, r.Karras, r.TimestepSpacing);
        var model = networks.Get(DiffusionPipeline.NetworkFolder(Folder, r.Ema), DiffusionPipeline.VaeFolder(Folder));
        using var pipeline = DiffusionPipeline.FromModel(model.Network, scheduler, model.Vae);
        var (labels, count, nrow) = SampleClasses.Resolve(r.Class, r.Count, pipeline.NumClasses, r.Guidance);
        var audio = pipeline.Denoiser.Config as AudioUNet1DConfig;
        int batches = (count + BatchSize - 1) / BatchSize;
        post(new StartEvent(pipeline.Scheduler.Name, r.Steps, count, nrow, batches, Command(audio is not null), clock.Elapsed.TotalMilliseconds - loadStart));
        // A latent model's x_t and x_0 are shown decoded, as diffuse sample --trajectory draws them. Two VAE decodes per
        // step cost more than the latent U-Net's step, so only the batch's first LatentPreviews images are decoded.
        bool cut = pipeline.Vae is not null && Math.Min(count, BatchSize) > LatentPreviews;
        int? previewRows = cut ? null : nrow;
        Tensor Preview(Tensor x) => !pipeline.DecodesSamples ? x : pipeline.Decode(cut && x.shape[0] > LatentPreviews ? x[..LatentPreviews] : x);
        double last = clock.Elapsed.TotalMilliseconds;
        try
        {
            using var images = pipeline.Generate(count, r.Steps, r.Seed, labels, r.Guidance, BatchSize, (batch, step) =>
            {
                token.ThrowIfCancellationRequested();
                byte[] xt = Picture(Preview(step.Sample), previewRows, audio is not null, scale: 1);
                byte[]? x0 = step.PredOriginalSample is { } p ? Picture(Preview(p), previewRows, audio is not null, scale: 1) : null;
                double now = clock.Elapsed.TotalMilliseconds;
                post(new StepEvent(batch, step.Index, step.Count, step.Timestep, now - last, now, xt, x0));
                last = clock.Elapsed.TotalMilliseconds;
            });
            token.ThrowIfCancellationRequested();
            byte[] picture;
            List<ClipInfo>? clips;
            // The pictures' tensor views are freed here, outside the sampling loop's per-step scopes.
            using (torch.NewDisposeScope())
            {
                picture = Picture(images, nrow, audio is not null);
                clips = audio is null ? null : (Clips is { } store ? ClipsOf(images, audio.SampleRate, store) : null);
            }
            post(new DoneEvent(count, clock.Elapsed.TotalSeconds, picture, clips));
        }
        finally
        {
            // A multistep sampler keeps its last run's history until SetTimesteps (its contract): free it now, as the
            // scheduler is dropped with the pipeline.
            scheduler.SetTimesteps(1);
        }
    }

    /// <summary>
    /// Text to image as <c>diffuse sample --prompt</c> runs it: image i from seed + i through
    /// <see cref="StableDiffusionPipeline.Generate"/>, one image as its own PNG, several as a grid. Each image is one batch of
    /// the step events; x_t and the predicted x_0 are decoded through the pipeline's VAE.
    /// </summary>
    private void RunTextToImage(NetworkCache networks, Action<GenerationEvent> post, Stopwatch clock, CancellationToken token)
    {
        var r = Request;
        double loadStart = clock.Elapsed.TotalMilliseconds;
        var loaded = networks.GetTextToImage(Folder);
        var scheduler = DiffusionPipeline.LoadScheduler(Folder, samplerName: r.Sampler, eta: r.Eta, karrasSigmas: r.Karras, spacing: r.TimestepSpacing);
        using var sd = loaded.WithScheduler(scheduler);
        using var decoder = DiffusionPipeline.FromModel(sd.Unet, scheduler, sd.Vae);
        post(new StartEvent(scheduler.Name, r.Steps, r.Count, null, r.Count, Command(), clock.Elapsed.TotalMilliseconds - loadStart));
        double last = clock.Elapsed.TotalMilliseconds;
        var images = new List<Tensor>();
        try
        {
            for (int i = 0; i < r.Count; i++)
            {
                int image = i;
                using var result = sd.Generate(r.Prompt!, r.NegativePrompt, r.Guidance, r.Steps, seed: r.Seed + i, onStep: step =>
                {
                    token.ThrowIfCancellationRequested();
                    byte[] xt = ImageGrid.ToPng(decoder.Decode(step.Sample), scale: 1);
                    byte[]? x0 = step.PredOriginalSample is { } p ? ImageGrid.ToPng(decoder.Decode(p), scale: 1) : null;
                    double now = clock.Elapsed.TotalMilliseconds;
                    post(new StepEvent(image, step.Index, step.Count, step.Timestep, now - last, now, xt, x0));
                    last = clock.Elapsed.TotalMilliseconds;
                });
                images.Add(result.Image.clone());
            }
            token.ThrowIfCancellationRequested();
            byte[] picture;
            using (var batch = torch.cat(images, 0))
                picture = images.Count == 1 ? ImageFile.ToPng(PixelImage.FromBatch(batch)[0]) : ImageGrid.ToPng(batch);
            post(new DoneEvent(r.Count, clock.Elapsed.TotalSeconds, picture));
        }
        finally
        {
            foreach (var t in images) t.Dispose();
            scheduler.SetTimesteps(1);
        }
    }

    /// <summary>
    /// A grid of images, or of audio clips (waveform above spectrogram, <see cref="WaveformPicture"/>): the picture
    /// <c>diffuse sample --out</c> writes, byte for byte, at the default scale.
    /// </summary>
    private static byte[] Picture(Tensor samples, int? nrow, bool audio, int? scale = null) =>
        audio ? ImageFile.ToPng(WaveformPicture.Draw(samples, nrow)) : ImageGrid.ToPng(samples, nrow, scale: scale);

    /// <summary>Each clip as the WAV <c>diffuse sample --individual</c> writes (kept in the store) and its own picture.</summary>
    private static List<ClipInfo> ClipsOf(Tensor clips, int sampleRate, ClipStore store)
    {
        var (count, channels, length) = ((int)clips.shape[0], (int)clips.shape[1], (int)clips.shape[2]);
        float[] values;
        using (torch.NewDisposeScope()) values = clips.detach().to(ScalarType.Float32, torch.CPU).clamp(-1, 1).contiguous().data<float>().ToArray();
        var wavs = new List<byte[]>(count);
        for (var i = 0; i < count; i++)
        {
            var data = Enumerable.Range(0, channels).Select(c => values.AsSpan((i * channels + c) * length, length).ToArray()).ToArray();
            wavs.Add(WavFile.Encode(new WavAudio(sampleRate, data)));
        }
        var id = store.Add(wavs);
        var result = new List<ClipInfo>(count);
        for (var i = 0; i < count; i++)
        {
            using var one = clips.narrow(0, i, 1);
            result.Add(new ClipInfo($"/api/clips/{id}/{i}.wav", ImageFile.ToPng(WaveformPicture.Draw(one, 1)), length / (double)sampleRate));
        }
        return result;
    }

    /// <summary>The <c>diffuse sample</c> command with the same options.</summary>
    /// <param name="audio">The model makes sound: the command also writes the clips as WAVs (<c>--individual clips</c>).</param>
    public string Command(bool audio = false)
    {
        var r = Request;
        var words = new List<string> { "diffuse", "sample", "--model", Quote(DisplayFolder) };
        if (r.Prompt is not null) words.AddRange(["--prompt", Quote(r.Prompt)]);
        if (r.NegativePrompt is not null) words.AddRange(["--negative-prompt", Quote(r.NegativePrompt)]);
        if (r.Ema) words.Add("--ema");
        if (r.Sampler is not null) words.AddRange(["--sampler", r.Sampler]);
        words.AddRange(["--steps", Str(r.Steps)]);
        if (r.Class is not null) words.AddRange(["--class", Quote(r.Class)]);
        if (r.Guidance != 1.0) words.AddRange(["--guidance", Str(r.Guidance)]);
        if (r.Karras) words.Add("--karras");
        if (r.Eta != 0) words.AddRange(["--eta", Str(r.Eta)]);
        if (r.Spacing is not null) words.AddRange(["--spacing", r.Spacing]);
        words.AddRange(["--seed", Str(r.Seed), "--count", Str(r.Count)]);
        // Text to image draws one image at a time (--batch does not apply).
        if (r.Prompt is null) words.AddRange(["--batch", Str(BatchSize)]);
        if (audio) words.AddRange(["--individual", "clips"]);
        words.AddRange(["--out", "samples.png"]);
        return string.Join(' ', words);
    }

    private static string Str(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A POSIX shell word: as it is when plain, else in single quotes (a quote inside as <c>'\''</c>).</summary>
    private static string Quote(string s) => s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-') ? s : "'" + s.Replace("'", "'\\''") + "'";
}
