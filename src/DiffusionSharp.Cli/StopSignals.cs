using System.Runtime.InteropServices;

namespace DiffusionSharp.Cli;

/// <summary>
/// Ctrl+C (SIGINT) and SIGTERM, the signal process managers and <c>kill</c> send. A command that can stop cleanly between
/// steps (train saves a checkpoint; sample, edit and the benchmarks stop before writing a result) calls
/// <see cref="StopCleanly"/> when it starts; the first signal then cancels its token and <c>diffuse</c> exits 130 (SIGINT) or
/// 143 (SIGTERM), the shell's 128 + signal number. In any other command, and on a second signal, the signal ends the
/// process at once as usual. A signal that was ignored when the process started (a job started with <c>&amp;</c> by a
/// non-interactive shell ignores SIGINT) stays ignored, as the runtime leaves it.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    public const int TerminatedExitCode = 128 + 15;

    private static StopSignals? s_current;
    private readonly CancellationTokenSource _cts = new();
    private readonly List<PosixSignalRegistration> _registrations = [];
    private volatile bool _commandStopsCleanly;
    private int _signal;

    public StopSignals()
    {
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
        {
            try { _registrations.Add(PosixSignalRegistration.Create(signal, OnSignal)); }
            catch (PlatformNotSupportedException) { }
        }
        s_current = this;
    }

    public CancellationToken Token => _cts.Token;

    /// <summary>The running command stops cleanly when its token is cancelled: the first stop signal cancels it.</summary>
    public static void StopCleanly()
    {
        if (s_current is { } current) current._commandStopsCleanly = true;
    }

    /// <summary>Maps the command's exit code: an interrupted command stopped by SIGTERM exits 143 rather than 130.</summary>
    public int ExitCode(int code) =>
        code == DiffuseApp.Interrupted && Volatile.Read(ref _signal) == (int)PosixSignal.SIGTERM ? TerminatedExitCode : code;

    private void OnSignal(PosixSignalContext context)
    {
        if (!_commandStopsCleanly || _cts.IsCancellationRequested) return; // the default action: the process ends now
        context.Cancel = true;
        Interlocked.CompareExchange(ref _signal, (int)context.Signal, 0);
        _cts.Cancel();
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        Interlocked.CompareExchange(ref s_current, null, this);
        _cts.Dispose();
    }
}
