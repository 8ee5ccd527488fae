using System.Diagnostics;
using DiffusionSharp.Tests.Support;
using Xunit.Abstractions;

namespace DiffusionSharp.Tests.Reliability;

/// <summary>
/// Kills <c>diffuse train</c> with SIGKILL at seeded random moments (start-up, mid-step, while a checkpoint folder is being
/// written, while the newest weights are published to unet/) and checks after each kill that the newest checkpoint loads,
/// that at most --checkpoint-every steps were lost, and that --resume continues; at the end, that the run completes with
/// one loss row per step and no temporary files. Ctrl+C (SIGINT) and SIGTERM must save a checkpoint and exit 130 and 143.
/// Long version: <c>KILL_ITERATIONS=20 dotnet test --filter CrashSafety</c>.
/// </summary>
[Collection(ChildProcessCollection.Name)]
public sealed class CrashSafetyTests(ITestOutputHelper output) : IDisposable
{
    private const int Steps = 49; // under 50, so every step prints a progress line
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private enum KillMoment { StartUp, MidStep, CheckpointWrite, Publish }

    [Fact]
    public void Should_ResumeLosingAtMostCheckpointEverySteps_When_KilledAtRandomMoments()
    {
        int kills = ReliabilitySettings.Kills;
        var rng = new Random(ReliabilitySettings.KillSeed);
        var config = TinyRun.WriteConfig(_dir);
        var run = Path.Combine(_dir, "run");
        Directory.CreateDirectory(run);
        var lost = new List<int>();
        var moments = new Dictionary<KillMoment, int>();
        int freshStarts = 0, finishedBeforeKill = 0;
        var clock = Stopwatch.StartNew();

        while (lost.Count < kills)
        {
            var before = TinyRun.Checkpoints(run);
            bool resume = before.Count > 0 && before[^1].Step < Steps;
            if (!resume) freshStarts++;
            var args = resume ? TinyRun.Resume(run, Steps) : TinyRun.NewRun(config, run, Steps, "--overwrite");
            var moment = resume ? (KillMoment)rng.Next(4) : (KillMoment)rng.Next(2);

            using var p = DiffuseProcess.Start(_dir, args);
            KillAt(p, moment, run, rng);
            p.WaitForExit(Timeout);
            if (!p.Stderr.Contains("diffuse: error", StringComparison.Ordinal) && p.Stdout.Contains("finished:", StringComparison.Ordinal))
            {
                finishedBeforeKill++;
                continue;
            }

            var after = TinyRun.Checkpoints(run);
            int saved = after.Count > 0 ? after[^1].Step : 0;
            int lostSteps = Math.Max(0, p.LastReportedStep - saved);
            Assert.True(lostSteps <= TinyRun.CheckpointEvery,
                $"kill #{lost.Count + 1} ({moment}): reported step {p.LastReportedStep} but the newest checkpoint is {saved}");
            if (after.Count > 0) TinyRun.AssertLoadsAndFinite(after[^1].Path);
            lost.Add(lostSteps);
            moments[moment] = moments.GetValueOrDefault(moment) + 1;
        }

        // Finish the run without a kill: exit 0, one loss row per step, nothing temporary left.
        var last = TinyRun.Checkpoints(run);
        var finish = last.Count > 0 ? TinyRun.Resume(run, Steps) : TinyRun.NewRun(config, run, Steps, "--overwrite");
        var (code, stdout, stderr) = DiffuseProcess.Run(_dir, Timeout, finish);
        Assert.True(code == 0, $"final resume exited {code}: {stderr}\n{stdout}");
        var final = TinyRun.Checkpoints(run);
        Assert.Equal(Steps, final[^1].Step);
        Assert.True(final.Count <= TinyRun.Keep, $"{final.Count} checkpoints kept, --keep {TinyRun.Keep}");
        TinyRun.AssertLoadsAndFinite(final[^1].Path);
        TinyRun.AssertLoadsAndFinite(run); // the published top-level unet/ and unet_ema/
        Assert.Empty(TinyRun.StrayTemporaries(run));
        Assert.Equal(Enumerable.Range(1, Steps), TinyRun.LossSteps(run));

        output.WriteLine($"CRASH-SAFETY kills={lost.Count} survived={lost.Count} seed={ReliabilitySettings.KillSeed} " +
            $"moments: {string.Join(", ", moments.OrderBy(m => m.Key).Select(m => $"{m.Key}={m.Value}"))}");
        output.WriteLine($"CRASH-SAFETY steps lost per kill: max={lost.Max()} mean={lost.Average():F2} histogram: " +
            string.Join(", ", lost.GroupBy(l => l).OrderBy(g => g.Key).Select(g => $"{g.Key}:{g.Count()}")));
        output.WriteLine($"CRASH-SAFETY fresh starts={freshStarts} finished-before-kill={finishedBeforeKill} time={clock.Elapsed.TotalSeconds:F1}s");
    }

    [Theory]
    [InlineData("INT", 130)] // Ctrl+C
    [InlineData("TERM", 143)] // kill, systemd, docker stop
    public void Should_SaveCheckpointAndExitWithSignalCode_When_StoppedBySignal(string signal, int expectedCode)
    {
        var config = TinyRun.WriteConfig(_dir);
        var run = Path.Combine(_dir, "run");
        // A target far beyond what runs before the signal, so the run cannot finish first (progress lines then come every 10 s).
        using var p = DiffuseProcess.Start(_dir, TinyRun.NewRun(config, run, 1_000_000));
        Assert.True(p.WaitForStep(1, Timeout), $"no progress: {p.Stderr}");
        Assert.False(p.IgnoresInterrupt(), "the diffuse child process ignores SIGINT");
        p.Signal(signal);
        var code = p.WaitForExit(Timeout);

        Assert.True(code == expectedCode, $"exit code {code}; stderr: {p.Stderr}");
        Assert.Contains("interrupted", p.Stdout, StringComparison.Ordinal);
        var checkpoints = TinyRun.Checkpoints(run);
        Assert.True(checkpoints[^1].Step >= p.LastReportedStep, $"checkpoint {checkpoints[^1].Step} is older than reported step {p.LastReportedStep}");
        TinyRun.AssertLoadsAndFinite(checkpoints[^1].Path);
        Assert.Empty(TinyRun.StrayTemporaries(run));

        var (resumed, stdout, stderr) = DiffuseProcess.Run(_dir, Timeout, TinyRun.Resume(run, checkpoints[^1].Step + 2));
        Assert.True(resumed == 0, $"resume exited {resumed}: {stderr}\n{stdout}");
    }

    /// <summary>Sends SIGKILL at the chosen kind of moment, with a seeded random delay.</summary>
    private static void KillAt(DiffuseProcess p, KillMoment moment, string run, Random rng)
    {
        switch (moment)
        {
            case KillMoment.StartUp:
                Thread.Sleep(rng.Next(0, 1500));
                break;
            case KillMoment.MidStep:
                p.WaitForStep(rng.Next(1, 8), Timeout);
                Thread.Sleep(rng.Next(0, 120));
                break;
            case KillMoment.CheckpointWrite:
                WaitForCreated(p, Path.Combine(run, "training_state"), ".tmp-*");
                Thread.Sleep(rng.Next(0, 6));
                break;
            case KillMoment.Publish:
                WaitForCreated(p, Path.Combine(run, "unet"), ".*.tmp");
                Thread.Sleep(rng.Next(0, 3));
                break;
        }
        p.Kill();
    }

    /// <summary>Blocks until an entry matching <paramref name="filter"/> appears in <paramref name="folder"/> (inotify), or the process ends.</summary>
    private static void WaitForCreated(DiffuseProcess p, string folder, string filter)
    {
        using var created = new ManualResetEventSlim();
        using var watcher = new FileSystemWatcher(folder, filter) { NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName };
        watcher.Created += (_, _) => created.Set();
        watcher.EnableRaisingEvents = true;
        var clock = Stopwatch.StartNew();
        while (!created.Wait(50) && !p.HasExited && clock.Elapsed < Timeout) { }
    }
}
