using System.Diagnostics;
using System.Globalization;
using DiffusionSharp.Imaging;
using DiffusionSharp.Pipelines;

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
internal sealed record GenerationJob(GenerateRequest Request, string Folder, string DisplayFolder, int BatchSize)
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
        // DiffusionPipeline.Load's two halves, the network kept between runs.
        var scheduler = DiffusionPipeline.LoadScheduler(Folder, r.Ema, r.Sampler, r.Eta, r.Karras, r.TimestepSpacing);
        using var pipeline = DiffusionPipeline.FromModel(networks.Get(DiffusionPipeline.NetworkFolder(Folder, r.Ema)), scheduler);
        var (labels, count, nrow) = SampleClasses.Resolve(r.Class, r.Count, pipeline.NumClasses, r.Guidance);
        int batches = (count + BatchSize - 1) / BatchSize;
        post(new StartEvent(pipeline.Scheduler.Name, r.Steps, count, nrow, batches, Command(), clock.Elapsed.TotalMilliseconds - loadStart));
        double last = clock.Elapsed.TotalMilliseconds;
        try
        {
            using var images = pipeline.Generate(count, r.Steps, r.Seed, labels, r.Guidance, BatchSize, (batch, step) =>
            {
                token.ThrowIfCancellationRequested();
                byte[] xt = ImageGrid.ToPng(step.Sample, nrow, scale: 1);
                byte[]? x0 = step.PredOriginalSample is { } p ? ImageGrid.ToPng(p, nrow, scale: 1) : null;
                double now = clock.Elapsed.TotalMilliseconds;
                post(new StepEvent(batch, step.Index, step.Count, step.Timestep, now - last, now, xt, x0));
                last = clock.Elapsed.TotalMilliseconds;
            });
            token.ThrowIfCancellationRequested();
            post(new DoneEvent(count, clock.Elapsed.TotalSeconds, ImageGrid.ToPng(images, nrow)));
        }
        finally
        {
            // A multistep sampler keeps its last run's history until SetTimesteps (its contract): free it now, as the
            // scheduler is dropped with the pipeline.
            scheduler.SetTimesteps(1);
        }
    }

    /// <summary>The <c>diffuse sample</c> command with the same options.</summary>
    public string Command()
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
        words.AddRange(["--seed", Str(r.Seed), "--count", Str(r.Count), "--batch", Str(BatchSize), "--out", "samples.png"]);
        return string.Join(' ', words);
    }

    private static string Str(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static string Quote(string s) => s.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-') ? s : "'" + s.Replace("'", "'\\''") + "'";
}
