using System.Globalization;
using DiffusionSharp.IO;

namespace DiffusionSharp.Training;

/// <summary>
/// A run's <c>loss.csv</c> (<c>step,loss,lr</c>, one row per optimizer step, <c>nan</c> for a skipped step): rows are
/// buffered and appended at each checkpoint, so after a crash the file holds at least every row up to the newest
/// checkpoint, and <see cref="TruncateAfter"/> drops the rest on resume.
/// </summary>
public sealed class LossLog
{
    private const string Header = "step,loss,lr";
    private readonly List<string> _pending = [];

    /// <summary>The log at <paramref name="path"/>; nothing is written until <see cref="Create"/>, <see cref="Flush"/> or <see cref="TruncateAfter"/>.</summary>
    public LossLog(string path) => Path = path;

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Starts an empty log (the header only).</summary>
    public void Create() => File.WriteAllText(Path, Header + "\n");

    /// <summary>Buffers the row of <paramref name="step"/>; a non-finite step is written as <c>nan</c>.</summary>
    public void Add(int step, double loss, bool finite, double learningRate) =>
        _pending.Add(string.Create(CultureInfo.InvariantCulture, $"{step},{(finite ? loss.ToString("R", CultureInfo.InvariantCulture) : "nan")},{learningRate:R}"));

    /// <summary>Appends the buffered rows.</summary>
    public void Flush()
    {
        if (_pending.Count == 0) return;
        File.AppendAllLines(Path, _pending);
        _pending.Clear();
    }

    /// <summary>
    /// Drops rows written after <paramref name="step"/> (the checkpoint being resumed), so the curve continues without
    /// duplicates; also drops a row torn by a crash mid-write (anything but step,loss,lr with increasing steps).
    /// </summary>
    public void TruncateAfter(int step)
    {
        var kept = new List<string> { Header };
        int last = 0;
        if (File.Exists(Path))
        {
            foreach (var line in File.ReadLines(Path).Skip(1))
            {
                if (ParseRow(line) is not { } row || row.Step <= last || row.Step > step) continue;
                kept.Add(line);
                last = row.Step;
            }
        }
        AtomicFile.WriteAllText(Path, string.Join('\n', kept) + "\n");
    }

    /// <summary>The losses recorded in a <c>loss.csv</c>, by step.</summary>
    /// <remarks>Malformed rows (e.g. a line torn by a crash) are left out.</remarks>
    public static IReadOnlyList<(int Step, double Loss)> Read(string path) =>
        ReadRows(path).Select(r => (r.Step, r.Loss)).ToList();

    /// <summary>
    /// The rows of a <c>loss.csv</c> with their learning rates, also while a training process appends to it: a last line
    /// without its newline (being written, or torn by a crash) and malformed rows are left out.
    /// </summary>
    /// <returns>(step, loss or NaN for a skipped step, learning rate), in file order.</returns>
    public static IReadOnlyList<(int Step, double Loss, double LearningRate)> ReadRows(string path)
    {
        string text;
        using (var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete)))
            text = reader.ReadToEnd();
        int end = text.LastIndexOf('\n');
        return text[..Math.Max(0, end)].Split('\n').Skip(1).Select(ParseRow).OfType<(int Step, double Loss, double LearningRate)>().ToList();
    }

    private static (int Step, double Loss, double LearningRate)? ParseRow(string line)
    {
        var p = line.Split(',');
        if (p.Length != 3 || !int.TryParse(p[0], NumberStyles.None, CultureInfo.InvariantCulture, out int step)) return null;
        if (!double.TryParse(p[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double lr)) return null;
        if (p[1] == "nan") return (step, double.NaN, lr);
        if (!double.TryParse(p[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double loss)) return null;
        return (step, loss, lr);
    }
}
