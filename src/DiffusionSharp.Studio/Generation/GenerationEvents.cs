using System.Text.Json.Serialization;

namespace DiffusionSharp.Studio.Generation;

/// <summary>One server-sent event of a generation: its <see cref="Name"/> is the SSE event name, the rest its JSON data.</summary>
public abstract record GenerationEvent
{
    /// <summary>The SSE event name.</summary>
    [JsonIgnore]
    public abstract string Name { get; }
}

/// <summary>The request waits behind <paramref name="Ahead"/> generations.</summary>
public sealed record QueuedEvent(int Ahead) : GenerationEvent
{
    public override string Name => "queued";
}

/// <summary>The model is loaded and sampling starts.</summary>
/// <param name="Sampler">The sampler's name.</param>
/// <param name="Steps">Steps asked for (the step events carry the loop's own count: Heun and PNDM run more).</param>
/// <param name="Count">Images (with class "all": one row of each class).</param>
/// <param name="Nrow">Images per grid row, or null for the default.</param>
/// <param name="Batches">Network batches the images are drawn in.</param>
/// <param name="Command">The <c>diffuse sample</c> command that makes the same final image.</param>
/// <param name="LoadMs">Milliseconds the model took to load.</param>
public sealed record StartEvent(string Sampler, int Steps, int Count, int? Nrow, int Batches, string Command, double LoadMs) : GenerationEvent
{
    public override string Name => "start";
}

/// <summary>One step of the reverse process.</summary>
/// <param name="Batch">The batch, 0-based.</param>
/// <param name="Index">The step, 0-based.</param>
/// <param name="Count">Steps of the batch.</param>
/// <param name="Timestep">The timestep the step started from.</param>
/// <param name="StepMs">Milliseconds since the previous event: the network call, the sampler step and the encoding.</param>
/// <param name="ElapsedMs">Milliseconds since the request was admitted.</param>
/// <param name="Xt">PNG grid of the batch's x_t after the step, one pixel per pixel (values clamped to [-1, 1]).</param>
/// <param name="X0">PNG grid of the step's predicted x_0, when the sampler predicts one.</param>
public sealed record StepEvent(int Batch, int Index, int Count, double Timestep, double StepMs, double ElapsedMs, byte[] Xt, byte[]? X0) : GenerationEvent
{
    public override string Name => "step";
}

/// <summary>The final grid: byte for byte the PNG <c>diffuse sample</c> writes for the same options.</summary>
/// <param name="Count">Samples.</param>
/// <param name="Seconds">Seconds since the request was admitted.</param>
/// <param name="Png">The grid (audio models: waveforms above spectrograms, as <c>diffuse sample --out</c>).</param>
/// <param name="Clips">Audio models: one entry per clip, to play; null for images.</param>
public sealed record DoneEvent(int Count, double Seconds, byte[] Png, IReadOnlyList<ClipInfo>? Clips = null) : GenerationEvent
{
    public override string Name => "done";
}

/// <summary>One generated clip.</summary>
/// <param name="Wav">Where the page fetches its WAV (16-bit PCM, as <c>diffuse sample --individual</c> writes it).</param>
/// <param name="Png">Its waveform above its spectrogram.</param>
/// <param name="Seconds">Its duration.</param>
public sealed record ClipInfo(string Wav, byte[] Png, double Seconds);

/// <summary>The generation failed; the message names the request field where it is about one.</summary>
public sealed record ErrorEvent(string Error, string? Field) : GenerationEvent
{
    public override string Name => "error";
}
