using System.Globalization;
using DiffusionSharp.Training;

namespace DiffusionSharp.Studio.Training;

/// <summary>
/// Reads run folders for the Training page, while <c>diffuse train</c> may be writing them: <c>loss.csv</c> (re-read
/// only when its length or time changes), the two newest checkpoints' <c>state.json</c> (speed, target, ETA),
/// <c>samples/</c> and <c>eval.csv</c>. It only reads; every file goes through the catalog's checks.
/// </summary>
internal sealed class RunReader(FolderCatalog runs)
{
    private const int MaxCachedRuns = 64;
    private const string ReverseProcessFile = "reverse-process.png";
    private readonly Dictionary<string, (long Length, DateTime Time, IReadOnlyList<(int Step, double Loss, double LearningRate)> Rows)> _loss = new();

    /// <summary>Whether a folder is a run: it has <c>loss.csv</c> or <c>training_state/</c>.</summary>
    public static bool IsRun(string folder) => File.Exists(Path.Combine(folder, "loss.csv")) || RunFolder.IsRun(folder);

    /// <summary>The summary of run <paramref name="id"/> with the loss rows after the first <paramref name="since"/>.</summary>
    public RunSummary Summary(string id, int since)
    {
        var folder = runs.Folder(id);
        var rows = LossRows(id);
        bool reset = since > rows.Count;
        int from = reset ? 0 : Math.Max(0, since);
        var newRows = rows.Skip(from).Select(r => new double?[] { r.Step, double.IsFinite(r.Loss) ? r.Loss : null, r.LearningRate }).ToList();
        int step = rows.Count > 0 ? rows[^1].Step : 0;

        var states = NewestStates(id, folder, 2);
        var newest = states.Count > 0 ? states[0] : null;
        double? speed = null;
        if (states.Count == 2 && states[0].TrainingSeconds > states[1].TrainingSeconds)
            speed = (states[0].Step - states[1].Step) * (double)states[0].Options.BatchSize / (states[0].TrainingSeconds - states[1].TrainingSeconds);
        else if (newest is { TrainingSeconds: > 0 })
            speed = newest.Step * (double)newest.Options.BatchSize / newest.TrainingSeconds;
        int? target = newest?.Options.Steps;
        int known = Math.Max(step, newest?.Step ?? 0);
        double? eta = speed > 0 && target > known ? (target.Value - known) * (double)newest!.Options.BatchSize / speed : null;

        var updated = new[] { runs.File(id, "loss.csv"), newest is null ? null : CheckpointState(id, newest.Step) }
            .OfType<string>().Select(File.GetLastWriteTimeUtc).DefaultIfEmpty().Max();
        double? ago = updated == default ? null : Math.Max(0, (DateTime.UtcNow - updated).TotalSeconds);
        double interval = states.Count == 2 ? (states[0].WrittenUtc - states[1].WrittenUtc).TotalSeconds : 0;
        string status = target is { } t && known >= t ? "finished"
            : ago < Math.Max(120, 3 * interval) ? "running"
            : "stopped";

        var (sample, sampleStep, version) = NewestSample(id, folder);
        return new RunSummary(id, rows.Count, reset, newRows, step, target, newest?.Options.BatchSize, speed, eta, newest?.TrainingSeconds,
            status, ago, sample, sampleStep, version, runs.File(id, "samples", ReverseProcessFile) is not null, Eval(id));
    }

    /// <summary>A sample picture of run <paramref name="id"/>: a <c>step-NNNNNNN.png</c> grid or the reverse-process filmstrip.</summary>
    /// <exception cref="StudioRequestException">Not such a name (400), missing (404), or a link outside (403).</exception>
    public string SamplePath(string id, string file)
    {
        if (file != ReverseProcessFile && !Forward.ImageSources.GridName().IsMatch(file))
            throw StudioRequestException.BadValue("file", $": '{(file.Length > 60 ? file[..60] : file)}' is not step-NNNNNNN.png or {ReverseProcessFile}");
        return runs.File(id, "samples", file) ?? throw new StudioRequestException(404, $"file: run '{id}' has no samples/{file}", "file");
    }

    private IReadOnlyList<(int Step, double Loss, double LearningRate)> LossRows(string id)
    {
        if (runs.File(id, "loss.csv") is not { } path) return [];
        var info = new FileInfo(path);
        lock (_loss)
        {
            if (_loss.TryGetValue(path, out var cached) && cached.Length == info.Length && cached.Time == info.LastWriteTimeUtc) return cached.Rows;
        }
        var rows = LossLog.ReadRows(path);
        lock (_loss)
        {
            if (_loss.Count >= MaxCachedRuns) _loss.Clear();
            _loss[path] = (info.Length, info.LastWriteTimeUtc, rows);
        }
        return rows;
    }

    private List<TrainingState> NewestStates(string id, string folder, int count)
    {
        var states = new List<TrainingState>();
        foreach (var (step, _) in RunFolder.At(folder).Checkpoints().Reverse())
        {
            if (states.Count == count) break;
            if (CheckpointState(id, step) is not { } path) continue;
            try
            {
                states.Add(TrainingState.FromJson(File.ReadAllText(path), path));
            }
            catch (Exception e) when (e is InvalidInputException or IOException)
            {
                // Deleted by --keep or being replaced while we read: the next poll sees the new one.
            }
        }
        return states;
    }

    private string? CheckpointState(string id, int step) =>
        runs.File(id, "training_state", "step-" + step.ToString("D7", CultureInfo.InvariantCulture), "state.json");

    private (string? File, int? Step, long? Version) NewestSample(string id, string folder)
    {
        string samples = Path.Combine(folder, "samples");
        if (!Directory.Exists(samples)) return (null, null, null);
        string? newest = Directory.EnumerateFiles(samples, "step-*.png").Select(Path.GetFileName).OfType<string>()
            .Where(f => Forward.ImageSources.GridName().IsMatch(f)).Order(StringComparer.Ordinal).LastOrDefault();
        if (newest is null || runs.File(id, "samples", newest) is not { } path) return (null, null, null);
        return (newest, int.Parse(newest.AsSpan(5, 7), CultureInfo.InvariantCulture), File.GetLastWriteTimeUtc(path).Ticks);
    }

    private EvalTable? Eval(string id)
    {
        if (runs.File(id, "eval.csv") is not { } path) return null;
        string text = File.ReadAllText(path);
        // A last line without its newline is being written: leave it for the next poll.
        var lines = text[..Math.Max(0, text.LastIndexOf('\n'))].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0) return null;
        var columns = lines[0].Split(',');
        var rows = lines.Skip(1).Select(l => l.Split(','))
            .Where(p => p.Length == columns.Length)
            .Select(p => p.Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && double.IsFinite(x) ? x : (double?)null).ToArray())
            .ToList();
        return new EvalTable(columns, rows);
    }
}
