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
/// network of <see cref="DiffusionPipeline.NetworkFolder"/>) and <see cref="DiffusionPipeline.Generate(int, int, long, IReadOnlyList{long}?, double, int, Action{int, Samplers.SamplingStep}?)"/>
/// with <c>diffuse sample</c>'s options, so that its final grid is that command's PNG byte for byte.
/// </summary>
/// <param name="Request">The checked request.</param>
/// <param name="Folder">The model's folder (from the catalog).</param>
/// <param name="DisplayFolder">The folder as the user gave it (for the equivalent command).</param>
/// <param name="BatchSize">Images per network batch.</param>
/// <param name="Clips">Where an audio model's WAVs are kept for the page to play; null = none kept (the clips are not offered).</param>
internal sealed record GenerationJob(GenerateRequest Request, string Folder, string DisplayFolder, int BatchSize, ClipStore? Clips = null)
{
    /// <summary>
    /// Loads the pipeline, generates, and posts a start event, one step event per step (x_t and the predicted x_0 of
    /// the batch as small PNGs) and the final grid. <paramref name="post"/> may block (the client's queue is full);
    /// cancelling <paramref name="token"/> stops the run at the next step.
    /// </summary>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="InvalidInputException">The model or an option is refused by the library.</exception>
    public void Run(NetworkCache networks, Action<GenerationEvent> post, Stopwatch clock, CancellationToken token)
    {
        token.ThrowIfCancellationRequested();
        var r = Request;
        double loadStart = clock.Elapsed.TotalMilliseconds;
        if (DiffusionPipeline.VaeFolder(Folder) is not null)
            throw new InvalidInputException(
                $"folder: {r.Model} is a latent model (its model_index.json names a vae); the studio does not decode latents yet (use diffuse sample)",
                DiffusionPipeline.FolderProperty);
        // DiffusionPipeline.Load's two halves, the network kept between runs.
        var scheduler = DiffusionPipeline.LoadScheduler(Folder, r.Ema, r.Sampler, r.Eta, r.Karras, r.TimestepSpacing);
        using var pipeline = DiffusionPipeline.FromModel(networks.Get(DiffusionPipeline.NetworkFolder(Folder, r.Ema)), scheduler);
        var (labels, count, nrow) = SampleClasses.Resolve(r.Class, r.Count, pipeline.NumClasses, r.Guidance);
        var audio = pipeline.Denoiser.Config as AudioUNet1DConfig;
        int batches = (count + BatchSize - 1) / BatchSize;
        post(new StartEvent(pipeline.Scheduler.Name, r.Steps, count, nrow, batches, Command(audio is not null), clock.Elapsed.TotalMilliseconds - loadStart));
        double last = clock.Elapsed.TotalMilliseconds;
        try
        {
            using var images = pipeline.Generate(count, r.Steps, r.Seed, labels, r.Guidance, BatchSize, (batch, step) =>
            {
                token.ThrowIfCancellationRequested();
                byte[] xt = Picture(step.Sample, nrow, audio is not null, scale: 1);
                byte[]? x0 = step.PredOriginalSample is { } p ? Picture(p, nrow, audio is not null, scale: 1) : null;
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
        if (r.Ema) words.Add("--ema");
        if (r.Sampler is not null) words.AddRange(["--sampler", r.Sampler]);
        words.AddRange(["--steps", Str(r.Steps)]);
        if (r.Class is not null) words.AddRange(["--class", Quote(r.Class)]);
        if (r.Guidance != 1.0) words.AddRange(["--guidance", Str(r.Guidance)]);
        if (r.Karras) words.Add("--karras");
        if (r.Eta != 0) words.AddRange(["--eta", Str(r.Eta)]);
        if (r.Spacing is not null) words.AddRange(["--spacing", r.Spacing]);
        words.AddRange(["--seed", Str(r.Seed), "--count", Str(r.Count), "--batch", Str(BatchSize)]);
        if (audio) words.AddRange(["--individual", "clips"]);
        words.AddRange(["--out", "samples.png"]);
        return string.Join(' ', words);
    }

    private static string Str(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static string Quote(string s) => s.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-') ? s : "'" + s.Replace("'", "'\\''") + "'";
}
