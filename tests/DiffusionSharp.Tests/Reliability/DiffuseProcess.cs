using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace DiffusionSharp.Tests.Reliability;

/// <summary>
/// Runs the real <c>diffuse</c> CLI as a child process (<c>dotnet diffuse.dll ...</c>; the test project references the CLI
/// project, so diffuse.dll sits beside the test assembly) and collects its output line by line while it runs.
/// </summary>
internal sealed partial class DiffuseProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private int _lastStep;

    private DiffuseProcess(Process process) => _process = process;

    /// <summary>The CLI assembly beside the test assembly.</summary>
    public static string DllPath
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "diffuse.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("diffuse.dll not found beside the tests", path);
        }
    }

    /// <summary>Starts <c>diffuse ARGS</c> in <paramref name="workDir"/> (the CLI at <paramref name="dllPath"/>, default <see cref="DllPath"/>).</summary>
    public static DiffuseProcess Start(string workDir, IEnumerable<string> args, string? dllPath = null)
    {
        var info = new ProcessStartInfo
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Through env --default-signal=INT: a test run started in the background by a non-interactive shell ignores SIGINT,
        // the child would inherit that and no Ctrl+C could reach it (env execs dotnet: same process id).
        info.FileName = "env";
        info.ArgumentList.Add("--default-signal=INT");
        info.ArgumentList.Add("dotnet");
        info.ArgumentList.Add(dllPath ?? DllPath);
        foreach (var a in args) info.ArgumentList.Add(a);
        // Plain lines, no colours: the output is parsed.
        info.Environment["NO_COLOR"] = "1";
        info.Environment["TERM"] = "dumb";
        var p = new DiffuseProcess(new Process { StartInfo = info, EnableRaisingEvents = true });
        p._process.OutputDataReceived += (_, e) => p.OnLine(e.Data, p._stdout);
        p._process.ErrorDataReceived += (_, e) => p.OnLine(e.Data, p._stderr);
        p._process.Start();
        p._process.BeginOutputReadLine();
        p._process.BeginErrorReadLine();
        return p;
    }

    /// <summary>Runs to the end (or fails the test after <paramref name="timeout"/>).</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string workDir, TimeSpan timeout, params string[] args) =>
        RunApp(DllPath, workDir, timeout, args);

    /// <summary>As <see cref="Run"/>, for the CLI assembly at <paramref name="dllPath"/>.</summary>
    public static (int ExitCode, string Stdout, string Stderr) RunApp(string dllPath, string workDir, TimeSpan timeout, params string[] args)
    {
        using var p = Start(workDir, args, dllPath);
        var code = p.WaitForExit(timeout);
        return (code, p.Stdout, p.Stderr);
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The newest step a "step S/N" progress line reported (0 before the first).</summary>
    public int LastReportedStep => Volatile.Read(ref _lastStep);

    public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }

    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>SIGKILL: no handler runs, nothing is flushed.</summary>
    public void Kill()
    {
        try { _process.Kill(); }
        catch (InvalidOperationException) { }
    }

    /// <summary>Sends a signal by name: INT is what Ctrl+C sends, TERM what kill and process managers send.</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start("kill", ["-" + name, _process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>Whether the process ignores SIGINT (from /proc/PID/status SigIgn); false when it cannot be read.</summary>
    public bool IgnoresInterrupt()
    {
        try
        {
            var line = File.ReadLines($"/proc/{_process.Id}/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
            return line is not null && (ulong.Parse(line[7..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture) & 0x2) != 0;
        }
        catch (IOException) { return false; }
    }

    /// <summary>Whether the process exits within <paramref name="timeout"/>; never throws.</summary>
    public bool WaitForExitQuietly(TimeSpan timeout) => _process.WaitForExit(timeout);

    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            Kill();
            throw new TimeoutException($"diffuse did not exit within {timeout}; stdout: {Stdout}; stderr: {Stderr}");
        }
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    /// <summary>Waits until a progress line reports at least <paramref name="step"/>; false when the process ends first.</summary>
    public bool WaitForStep(int step, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (LastReportedStep < step)
        {
            if (_process.HasExited)
            {
                // A fast run can finish before its last lines are read: drain the output, then decide.
                _process.WaitForExit();
                return LastReportedStep >= step;
            }
            if (clock.Elapsed > timeout) return false;
            Thread.Sleep(5);
        }
        return true;
    }

    private void OnLine(string? line, StringBuilder into)
    {
        if (line is null) return;
        lock (into) into.AppendLine(line);
        var m = StepLine().Match(line);
        if (m.Success) Volatile.Write(ref _lastStep, int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"^step (\d+)/\d+")]
    private static partial Regex StepLine();

    public void Dispose()
    {
        if (!_process.HasExited) Kill();
        _process.Dispose();
    }
}
