using System.Globalization;
using System.Text.Json.Nodes;
using DiffusionSharp.IO;
using DiffusionSharp.Models;

namespace DiffusionSharp.Training;

/// <summary>
/// A training run's folder. It is a diffusers pipeline folder (<c>model_index.json</c>, <c>unet/</c>, <c>unet_ema/</c>,
/// <c>scheduler/</c>) plus <c>training_state/step-NNNNNNN/</c> checkpoints, <c>loss.csv</c>, <c>loss.png</c> and <c>samples/</c>.
/// This type alone decides the layout and writes the pipeline files (<see cref="WritePipeline"/>, <see cref="Publish"/>);
/// what a checkpoint holds is <see cref="TrainingCheckpoint"/>'s business, the loss log <see cref="LossLog"/>'s.
/// </summary>
/// <remarks>
/// A checkpoint is written whole into a hidden temporary folder and then renamed into place, so a crash at any moment
/// leaves either the previous checkpoint or the new one, never half of one. The top-level <c>unet/</c> and
/// <c>unet_ema/</c> are refreshed from the newest checkpoint, one atomically replaced file at a time.
/// </remarks>
public sealed class RunFolder
{
    private const string CheckpointPrefix = "step-";
    private const string TempPrefix = ".tmp-";

    /// <summary>The <see cref="InvalidInputException.Property"/> of errors about the folder to create, and about the run to resume.</summary>
    public const string RootProperty = "RunFolder.Root", ResumeProperty = "RunFolder.Resume";

    private RunFolder(string root) => Root = Path.GetFullPath(root);

    /// <summary>The run's folder.</summary>
    public string Root { get; }

    public string UnetDir => Path.Combine(Root, "unet");
    public string UnetEmaDir => Path.Combine(Root, "unet_ema");
    public string SchedulerDir => Path.Combine(Root, "scheduler");

    /// <summary>A text-to-image run's text encoder (transformers' CLIPTextModel folder), published from the newest checkpoint like <c>unet/</c>.</summary>
    public string TextEncoderDir => Path.Combine(Root, TextEncoderComponent);

    /// <summary>The EMA copy of the text encoder.</summary>
    public string TextEncoderEmaDir => Path.Combine(Root, TextEncoderEmaComponent);

    /// <summary>A text-to-image run's CLIP tokenizer (<c>vocab.json</c>, <c>merges.txt</c>, configs), copied in at the start.</summary>
    public string TokenizerDir => Path.Combine(Root, "tokenizer");

    /// <summary>A latent run's autoencoder (diffusers' component name <c>vae</c>), copied in at the start.</summary>
    public string VaeDir => Path.Combine(Root, Models.Autoencoders.AutoencoderLoader.PipelineSubfolder);

    /// <summary>A latent run's cache of encoded data (<see cref="LatentCache"/>); kept when the run is overwritten, and reused if its key still matches.</summary>
    public string LatentsDir => Path.Combine(Root, "latents");
    public string TrainingStateDir => Path.Combine(Root, "training_state");
    public string LossCsvPath => Path.Combine(Root, "loss.csv");
    public string LossPlotPath => Path.Combine(Root, "loss.png");
    public string SamplesDir => Path.Combine(Root, "samples");
    public string ModelIndexPath => Path.Combine(Root, "model_index.json");
    public string SchedulerConfigPath => Path.Combine(SchedulerDir, "scheduler_config.json");

    /// <summary>The class names of a class-conditional run (<see cref="Pipelines.ClassNamesFile"/>).</summary>
    public string ClassNamesPath => Path.Combine(Root, Pipelines.ClassNamesFile.FileName);

    /// <summary>The network's folder inside a checkpoint (diffusers' component name).</summary>
    public static string ModelDirIn(string checkpoint) => Path.Combine(checkpoint, "unet");

    /// <summary>The EMA network's folder inside a checkpoint.</summary>
    public static string EmaDirIn(string checkpoint) => Path.Combine(checkpoint, "unet_ema");

    /// <summary>diffusers' component names of a text encoder and (ours) of its EMA copy.</summary>
    public const string TextEncoderComponent = "text_encoder", TextEncoderEmaComponent = "text_encoder_ema";

    /// <summary>The text encoder's folder inside a checkpoint of a text-to-image run.</summary>
    public static string TextEncoderDirIn(string checkpoint) => Path.Combine(checkpoint, TextEncoderComponent);

    /// <summary>The EMA text encoder's folder inside a checkpoint.</summary>
    public static string TextEncoderEmaDirIn(string checkpoint) => Path.Combine(checkpoint, TextEncoderEmaComponent);

    /// <summary>
    /// Whether <paramref name="folder"/> looks like a training run: it has <c>training_state/</c> (created first, so a run
    /// killed before it wrote <c>model_index.json</c> can still be replaced by <see cref="Create"/> with overwrite).
    /// </summary>
    public static bool IsRun(string folder) => Directory.Exists(Path.Combine(folder, "training_state"));

    /// <summary>
    /// A view of the run in <paramref name="root"/> for a process that does not write it (a reader while another process
    /// trains in it, or another rank of a data-parallel run): unlike <see cref="Open"/>, it creates, checks and cleans up
    /// nothing.
    /// </summary>
    public static RunFolder At(string root) => new(root);

    /// <summary>Prepares a new run folder.</summary>
    /// <exception cref="InvalidInputException">The folder holds a run and <paramref name="overwrite"/> is false, or it holds something else.</exception>
    public static RunFolder Create(string root, bool overwrite)
    {
        if (File.Exists(root)) throw new InvalidInputException($"Root: {root} is a file, not a folder", RootProperty);
        if (Directory.Exists(root) && Directory.EnumerateFileSystemEntries(root).Any())
        {
            if (!IsRun(root))
                throw new InvalidInputException($"Root: {root} exists and is not empty, and is not a training run; choose a new folder", RootProperty);
            if (!overwrite)
                throw new InvalidInputException($"Root: {root} already holds a training run; resume it (Open) or replace it (overwrite)", RootProperty);
            var run = new RunFolder(root);
            foreach (var dir in new[] { run.UnetDir, run.UnetEmaDir, run.SchedulerDir, run.VaeDir, run.TrainingStateDir, run.SamplesDir,
                         run.TextEncoderDir, run.TextEncoderEmaDir, run.TokenizerDir })
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            foreach (var file in new[] { run.LossCsvPath, run.LossPlotPath, run.ModelIndexPath, run.ClassNamesPath })
                File.Delete(file);
        }
        Directory.CreateDirectory(root);
        var created = new RunFolder(root);
        Directory.CreateDirectory(created.TrainingStateDir);
        return created;
    }

    /// <summary>Opens an existing run to resume it.</summary>
    /// <exception cref="InvalidInputException">The folder is not a run or has no complete checkpoint.</exception>
    public static RunFolder Open(string root)
    {
        if (!Directory.Exists(root)) throw new InvalidInputException($"Resume: {root} does not exist", ResumeProperty);
        if (!IsRun(root)) throw new InvalidInputException($"Resume: {root} is not a training run (no training_state/)", ResumeProperty);
        var run = new RunFolder(root);
        if (run.LatestCheckpoint() is null)
            throw new InvalidInputException($"Resume: {root} has no complete checkpoint in training_state/ (start again, overwriting it)", ResumeProperty);
        run.DeleteStrayTemporaries();
        return run;
    }

    /// <summary>
    /// Deletes what a crashed process left behind: temporary checkpoint folders (<c>training_state/.tmp-*</c>) and the
    /// temporary files of atomic writes (<c>.NAME.XXXXXXXX.tmp</c>) in the run's own folders.
    /// </summary>
    public void DeleteStrayTemporaries()
    {
        if (Directory.Exists(TrainingStateDir))
            foreach (var stray in Directory.EnumerateDirectories(TrainingStateDir, TempPrefix + "*"))
                TryDelete(stray);
        foreach (var dir in new[] { Root, UnetDir, UnetEmaDir, SchedulerDir, VaeDir, LatentsDir, SamplesDir, TextEncoderDir, TextEncoderEmaDir, TokenizerDir })
        {
            if (!Directory.Exists(dir)) continue;
            foreach (var file in Directory.EnumerateFiles(dir, ".*.tmp"))
            {
                try { File.Delete(file); }
                catch (IOException) { }
            }
        }
    }

    /// <summary>Complete checkpoints, oldest first.</summary>
    public IReadOnlyList<(int Step, string Path)> Checkpoints()
    {
        if (!Directory.Exists(TrainingStateDir)) return [];
        return Directory.EnumerateDirectories(TrainingStateDir, CheckpointPrefix + "*")
            .Select(d => (Ok: int.TryParse(Path.GetFileName(d)[CheckpointPrefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int s), Step: s, Path: d))
            .Where(x => x.Ok && File.Exists(Path.Combine(x.Path, "state.json")))
            .OrderBy(x => x.Step)
            .Select(x => (x.Step, x.Path))
            .ToList();
    }

    /// <summary>The newest complete checkpoint folder, or null.</summary>
    public string? LatestCheckpoint() => Checkpoints() is { Count: > 0 } list ? list[^1].Path : null;

    /// <summary>
    /// Writes a checkpoint for <paramref name="step"/>: <paramref name="fill"/> writes its files into a temporary folder,
    /// which is then renamed to <c>step-NNNNNNN</c>. Older checkpoints beyond <paramref name="keep"/> are removed afterwards,
    /// and stray temporary folders from an earlier crash are cleaned up.
    /// </summary>
    public string WriteCheckpoint(int step, Action<string> fill, int keep)
    {
        string name = CheckpointPrefix + step.ToString("D7", CultureInfo.InvariantCulture);
        string final = Path.Combine(TrainingStateDir, name);
        string temp = Path.Combine(TrainingStateDir, TempPrefix + name + "-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        try
        {
            fill(temp);
        }
        catch
        {
            // E.g. a full disk: leave no half-written folder behind; the previous checkpoint is untouched.
            TryDelete(temp);
            throw;
        }
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(temp, final);
        DirectorySync.Flush(TrainingStateDir);
        foreach (var stray in Directory.EnumerateDirectories(TrainingStateDir, TempPrefix + "*"))
            TryDelete(stray);
        var all = Checkpoints();
        foreach (var (_, path) in all.Take(Math.Max(0, all.Count - keep)))
            TryDelete(path);
        return final;
    }

    /// <summary>
    /// Copies a checkpoint's <c>unet/</c> and <c>unet_ema/</c> (and a text-to-image run's <c>text_encoder/</c> and
    /// <c>text_encoder_ema/</c>) to the run's top level, file by file, atomically.
    /// </summary>
    public void Publish(string checkpoint)
    {
        foreach (var sub in new[] { "unet", "unet_ema", TextEncoderComponent, TextEncoderEmaComponent })
        {
            string from = Path.Combine(checkpoint, sub), to = Path.Combine(Root, sub);
            if (!Directory.Exists(from)) continue;
            Directory.CreateDirectory(to);
            foreach (var file in Directory.EnumerateFiles(from))
            {
                string target = Path.Combine(to, Path.GetFileName(file));
                AtomicFile.Write(target, s =>
                {
                    using var src = File.OpenRead(file);
                    src.CopyTo(s);
                });
            }
        }
    }

    /// <summary>
    /// Writes the pipeline's own files: <c>scheduler/scheduler_config.json</c> and <c>model_index.json</c>, so that
    /// diffusers' DDPMPipeline.from_pretrained reads the folder once <see cref="Publish"/> has put the networks in place.
    /// </summary>
    /// <param name="networkClass">The network's diffusers class (<see cref="IDenoiserConfig.ClassName"/>).</param>
    /// <param name="schedulerClass">The scheduler's diffusers class.</param>
    /// <param name="schedulerConfigJson">Its <c>scheduler_config.json</c>.</param>
    /// <param name="vaeClass">A latent run's autoencoder class (<c>vae/</c>, see <see cref="WriteVae"/>); null for pixel space.</param>
    public void WritePipeline(string networkClass, string schedulerClass, string schedulerConfigJson, string? vaeClass = null)
    {
        Directory.CreateDirectory(SchedulerDir);
        AtomicFile.WriteAllText(SchedulerConfigPath, schedulerConfigJson);
        // diffusers has no unconditional pipeline class over a KL VAE (LDMPipeline takes a VQModel named vqvae), so a latent
        // run names its own class; each component still loads with diffusers' from_pretrained(folder, subfolder=...).
        var index = new JsonObject
        {
            ["_class_name"] = vaeClass is null ? "DDPMPipeline" : LatentPipelineClassName,
            ["_diffusers_version"] = UNet2DConfig.DiffusersVersion,
            ["scheduler"] = new JsonArray("diffusers", schedulerClass),
            ["unet"] = new JsonArray("diffusers", networkClass),
        };
        if (vaeClass is not null) index["vae"] = new JsonArray("diffusers", vaeClass);
        AtomicFile.WriteAllText(ModelIndexPath, index.ToJsonString(new() { WriteIndented = true }));
    }

    /// <summary>
    /// Writes the pipeline files of a text-to-image run: <c>scheduler/scheduler_config.json</c> and a diffusers
    /// <c>StableDiffusionPipeline</c> <c>model_index.json</c> (text_encoder and tokenizer from transformers, unet, vae and
    /// scheduler from diffusers, no safety checker or feature extractor), so <c>StableDiffusionPipeline.from_pretrained</c>
    /// reads the folder once <see cref="Publish"/> has put the networks in place and <see cref="WriteTokenizer"/> and
    /// <see cref="WriteVae"/> the copied components.
    /// </summary>
    public void WriteTextToImagePipeline(string schedulerClass, string schedulerConfigJson, string vaeClass)
    {
        Directory.CreateDirectory(SchedulerDir);
        AtomicFile.WriteAllText(SchedulerConfigPath, schedulerConfigJson);
        var index = new JsonObject
        {
            ["_class_name"] = "StableDiffusionPipeline",
            ["_diffusers_version"] = UNet2DConfig.DiffusersVersion,
            ["feature_extractor"] = new JsonArray(null, null),
            ["requires_safety_checker"] = false,
            ["safety_checker"] = new JsonArray(null, null),
            ["scheduler"] = new JsonArray("diffusers", schedulerClass),
            ["text_encoder"] = new JsonArray("transformers", ClipTextConfig.ClassName),
            ["tokenizer"] = new JsonArray("transformers", "CLIPTokenizer"),
            ["unet"] = new JsonArray("diffusers", UNet2DConditionConfig.ClassName),
            ["vae"] = new JsonArray("diffusers", vaeClass),
        };
        AtomicFile.WriteAllText(ModelIndexPath, index.ToJsonString(new() { WriteIndented = true }));
    }

    /// <summary>Copies a CLIP tokenizer folder's files (<c>vocab.json</c>, <c>merges.txt</c>, the two configs) into <see cref="TokenizerDir"/>, each atomically.</summary>
    /// <exception cref="InvalidInputException">The source lacks one of the files.</exception>
    public void WriteTokenizer(string sourceFolder)
    {
        var files = new[] { Text.ClipTokenizer.VocabFileName, Text.ClipTokenizer.MergesFileName, Text.ClipTokenizer.ConfigFileName, Text.ClipTokenizer.SpecialTokensFileName };
        foreach (var name in files)
            if (!File.Exists(Path.Combine(sourceFolder, name)))
                throw new InvalidInputException($"{Path.Combine(sourceFolder, name)}: not found; a CLIP tokenizer folder needs {string.Join(", ", files)}");
        if (Path.GetFullPath(sourceFolder) == Path.GetFullPath(TokenizerDir)) return;
        Directory.CreateDirectory(TokenizerDir);
        foreach (var name in files)
            AtomicFile.Write(Path.Combine(TokenizerDir, name), s =>
            {
                using var src = File.OpenRead(Path.Combine(sourceFolder, name));
                src.CopyTo(s);
            });
    }

    /// <summary>The <c>_class_name</c> of a latent run's <c>model_index.json</c>.</summary>
    public const string LatentPipelineClassName = "DiffusionSharpLatentPipeline";

    /// <summary>
    /// Copies an autoencoder folder (<c>config.json</c> and its safetensors weights; a pipeline folder's <c>vae/</c> too) into
    /// <see cref="VaeDir"/> byte for byte, each file atomically, weights first.
    /// </summary>
    /// <exception cref="InvalidInputException">The source has no config or weights.</exception>
    public void WriteVae(string sourceFolder)
    {
        string weights = Models.Autoencoders.AutoencoderLoader.ResolveWeightsPath(sourceFolder);
        string config = Path.Combine(Path.GetDirectoryName(weights)!, UNet2DModel.ConfigFileName);
        if (Path.GetFullPath(Path.GetDirectoryName(weights)!) == Path.GetFullPath(VaeDir)) return;
        Directory.CreateDirectory(VaeDir);
        foreach (var file in new[] { weights, config })
            AtomicFile.Write(Path.Combine(VaeDir, Path.GetFileName(file)), s =>
            {
                using var src = File.OpenRead(file);
                src.CopyTo(s);
            });
    }

    private static void TryDelete(string dir)
    {
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A checkpoint another process still reads: leave it; the next checkpoint tries again.
        }
    }
}
