using System.Globalization;
using System.Text;
using DiffusionSharp.Models;
using DiffusionSharp.Tests.Reliability;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Training;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Distributed;

/// <summary>
/// <c>mpiexec.mpich -n N diffuse …</c> as child processes: two ranks train as one process does, only rank 0 writes,
/// sharded sampling is bit-identical, a stop signal and a dead rank end the job cleanly. Tiny models, 20-step runs.
/// </summary>
[Collection(ChildProcessCollection.Name)]
public sealed class MpiCliTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Str(int v) => v.ToString(CultureInfo.InvariantCulture);

    private string[] Train(string outDir, int steps, int batch = 8, bool threads = true, int checkpointEvery = 10) =>
    [
        "train", "--data", "mnist", "--model", TinyRun.WriteConfig(_dir), "--steps", Str(steps), "--batch", Str(batch), "--out", outDir,
        "--checkpoint-every", Str(checkpointEvery), "--keep", "3", "--warmup", "5", "--sample-count", "2", "--sample-steps", "1",
        .. threads ? new[] { "--threads", "1" } : [],
    ];

    private (int Code, string Stdout, string Stderr) Launch(IReadOnlyList<string> launcher, string[] args, TimeSpan? timeout = null)
    {
        using var p = DiffuseProcess.Start(_dir, args, launcher);
        int code = p.WaitForExit(timeout ?? Timeout);
        output.WriteLine($"exit {code}\nstdout:\n{p.Stdout}\nstderr:\n{p.Stderr}");
        return (code, p.Stdout, p.Stderr);
    }

    /// <summary>The text with every run of white space (the console's line wrapping) as one space.</summary>
    private static string OneLine(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"\s+", " ");

    private static string[] DiffuseErrors(string stderr) =>
        stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("diffuse:", StringComparison.Ordinal)).ToArray();

    [MpiFact]
    public void Should_train_on_two_ranks_like_one_process_and_write_only_from_rank_0()
    {
        // Given one process training 20 steps with batch 8
        var single = Launch([], Train("single", 20));
        Assert.Equal(0, single.Code);

        // When two ranks train the same run (rank 1 told to write elsewhere, and no --threads: each rank takes its share)
        string[] rank0 = Train("two", 20, threads: false), rank1 = Train("ghost", 20, threads: false);
        var two = Launch([.. MpiLauncher.Ranks(1), "env", "--default-signal=INT", "dotnet", DiffuseProcess.DllPath, .. rank0, ":", "-n", "1"], rank1);

        // Then it succeeded, said so once, and rank 1 printed and wrote nothing
        Assert.Equal(0, two.Code);
        Assert.Empty(DiffuseErrors(two.Stderr));
        Assert.Single(two.Stdout.Split('\n'), l => l.StartsWith("training ", StringComparison.Ordinal));
        int threads = Math.Max(1, Environment.ProcessorCount / 2);
        Assert.Contains($"{threads} threads per rank, 2 ranks (MPI) of 4 images each", OneLine(two.Stdout));
        Assert.False(Directory.Exists(Path.Combine(_dir, "ghost")), "rank 1 wrote its --out folder");

        // And the loss curve and the weights are the single process's, up to the order of float additions
        var expected = LossLog.Read(Path.Combine(_dir, "single", "loss.csv"));
        var actual = LossLog.Read(Path.Combine(_dir, "two", "loss.csv"));
        Assert.Equal(expected.Select(r => r.Step), actual.Select(r => r.Step));
        for (int i = 0; i < expected.Count; i++)
            Assert.True(Math.Abs(expected[i].Loss - actual[i].Loss) <= 1e-5 * Math.Abs(expected[i].Loss), $"step {i + 1}: loss {actual[i].Loss} vs {expected[i].Loss}");
        foreach (string sub in new[] { "unet", "unet_ema" })
        {
            using var a = UNet2DModel.FromPretrained(Path.Combine(_dir, "single", sub));
            using var b = UNet2DModel.FromPretrained(Path.Combine(_dir, "two", sub));
            using var scope = NewDisposeScope();
            var pb = b.named_parameters().ToDictionary(x => x.name, x => x.parameter);
            double worst = a.named_parameters().Max(x => ((x.parameter - pb[x.name]).norm().item<float>()) / Math.Max(1e-12, x.parameter.norm().item<float>()));
            output.WriteLine($"{sub}: largest relative difference of a weight tensor {worst:E2}");
            Assert.True(worst < 1e-5, $"{sub}: a weight tensor differs by {worst:E2} (relative)");
        }
        Assert.Equal(TinyRun.Checkpoints(Path.Combine(_dir, "single")).Select(c => c.Step), TinyRun.Checkpoints(Path.Combine(_dir, "two")).Select(c => c.Step));
    }

    [MpiFact]
    public void Should_refuse_a_batch_that_does_not_split_over_the_ranks_with_one_error()
    {
        var r = Launch(MpiLauncher.Ranks(2), Train("odd", 20, batch: 9));
        Assert.Equal(2, r.Code);
        var error = Assert.Single(DiffuseErrors(r.Stderr));
        Assert.Equal("diffuse: error: --batch 9 does not split over 2 processes: the global batch must be a multiple of the process count", error);
        Assert.False(Directory.Exists(Path.Combine(_dir, "odd")));
    }

    [MpiFact]
    public void Should_sample_on_any_number_of_ranks_bit_identically_to_one_process()
    {
        // Given a tiny model folder and one process's 7 DDPM samples in batches of 2 (grid and one PNG each)
        torch.random.manual_seed(1);
        using (var model = new UNet2DModel(TinyData.TinyUNet())) model.SavePretrained(Path.Combine(_dir, "model"));
        string[] Sample(string name) =>
            ["sample", "--model", "model", "--sampler", "ddpm", "--steps", "3", "--count", "7", "--batch", "2", "--seed", "5",
             "--out", $"{name}.png", "--individual", name, "--threads", "1"];
        Assert.Equal(0, Launch([], Sample("one")).Code);

        // When 2 and 3 ranks make the same set
        Assert.Equal(0, Launch(MpiLauncher.Ranks(2), Sample("two")).Code);
        Assert.Equal(0, Launch(MpiLauncher.Ranks(3), Sample("three")).Code);

        // Then the grids and every image are byte for byte the single process's
        foreach (string name in new[] { "two", "three" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "one.png")), File.ReadAllBytes(Path.Combine(_dir, $"{name}.png")));
            var files = Directory.GetFiles(Path.Combine(_dir, "one")).Select(Path.GetFileName).Order().ToArray();
            Assert.Equal(7, files.Length);
            Assert.Equal(files, Directory.GetFiles(Path.Combine(_dir, name)).Select(Path.GetFileName).Order().ToArray());
            foreach (var f in files)
                Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "one", f!)), File.ReadAllBytes(Path.Combine(_dir, name, f!)));
        }
    }

    [MpiFact]
    public void Should_checkpoint_and_stop_every_rank_on_a_signal_to_the_launcher_and_resume_on_one_process()
    {
        // Given two ranks training a long run
        using var p = DiffuseProcess.Start(_dir, Train("stopped", 400, checkpointEvery: 4), MpiLauncher.Ranks(2));
        Assert.True(p.WaitForStep(8, Timeout), $"no progress: {p.Stdout} {p.Stderr}");

        // When the launcher gets Ctrl+C
        p.Signal("INT");
        int code = p.WaitForExit(TimeSpan.FromSeconds(60));
        output.WriteLine($"exit {code}\n{p.Stdout}\n{p.Stderr}");

        // Then every rank stopped after checkpointing its last step, and the run resumes on one process. Each rank exits
        // 130 (as a single process does, see the signal tests); what MPICH's launcher reports after forwarding Ctrl+C is
        // its own: 130 usually, 0 in about one run of five here (Hydra 4.0.2), never another code.
        Assert.True(code is 130 or 0, $"exit {code}");
        Assert.Contains("interrupted; checkpoint saved", OneLine(p.Stdout));
        Assert.DoesNotContain("BAD TERMINATION", p.Stdout + p.Stderr);
        string run = Path.Combine(_dir, "stopped");
        int last = TinyRun.Checkpoints(run)[^1].Step;
        Assert.Equal(last, TinyRun.LossSteps(run)[^1]);
        TinyRun.AssertLoadsAndFinite(TinyRun.Checkpoints(run)[^1].Path);
        var resumed = Launch([], ["train", "--resume", "--out", "stopped", "--steps", Str(last + 3), "--threads", "1", "--sample-count", "1", "--sample-steps", "1"]);
        Assert.Equal(0, resumed.Code);
        Assert.Equal(Enumerable.Range(1, last + 3), TinyRun.LossSteps(run));
    }

    [MpiFact]
    public void Should_stop_the_other_rank_when_one_dies_and_keep_the_last_checkpoint_intact()
    {
        // Given two ranks training a long run
        string run = Path.Combine(_dir, "dies");
        using var p = DiffuseProcess.Start(_dir, Train("dies", 400, checkpointEvery: 4), MpiLauncher.Ranks(2));
        Assert.True(p.WaitForStep(8, Timeout), $"no progress: {p.Stdout} {p.Stderr}");

        // When rank 1 is killed (SIGKILL: no handler runs)
        int victim = RankProcess(1, "dies");
        using (var kill = System.Diagnostics.Process.Start("kill", ["-KILL", Str(victim)])) kill.WaitForExit();

        // Then the job ends within a bounded time with a failure, and the newest checkpoint is whole and resumes
        Assert.True(p.WaitForExitQuietly(TimeSpan.FromSeconds(30)), "the other rank did not stop within 30 s");
        int code = p.WaitForExit(TimeSpan.FromSeconds(5));
        output.WriteLine($"exit {code}\n{p.Stdout}\n{p.Stderr}");
        Assert.NotEqual(0, code);
        Assert.Contains("EXIT CODE: 9", p.Stdout + p.Stderr);
        var newest = TinyRun.Checkpoints(run)[^1];
        TinyRun.AssertLoadsAndFinite(newest.Path);
        var resumed = Launch([], ["train", "--resume", "--out", "dies", "--steps", Str(newest.Step + 2), "--threads", "1", "--sample-count", "1", "--sample-steps", "1"]);
        Assert.Equal(0, resumed.Code);
    }

    [MpiFact]
    public void Should_benchmark_data_parallel_training_and_report_the_all_reduce()
    {
        var r = Launch(MpiLauncher.Ranks(2), ["bench", "train", "--model", TinyRun.WriteConfig(_dir), "--batch", "8", "--seconds", "1",
            "--windows", "1", "--warmup-steps", "1", "--ceiling", "10", "--threads", "1", "--json"]);
        Assert.Equal(0, r.Code);
        using var json = System.Text.Json.JsonDocument.Parse(r.Stdout);
        Assert.Equal(2, json.RootElement.GetProperty("processes").GetInt32());
        Assert.Equal(1, json.RootElement.GetProperty("threads_per_process").GetInt32());
        Assert.True(json.RootElement.GetProperty("allreduce_ms_per_step").GetDouble() > 0);
        Assert.True(json.RootElement.GetProperty("images_per_second").GetDouble() > 0);
    }

    [Fact]
    public void Should_name_mpich_when_a_launcher_started_the_process_but_no_mpi_library_loads()
    {
        // Given the variables of rank 0 of 2 and an MPI library that is not there (mpich absent)
        var environment = new Dictionary<string, string> { ["PMI_RANK"] = "0", ["PMI_SIZE"] = "2", ["DIFFUSE_MPI_LIBRARY"] = "libmpich-absent.so.12" };
        using var p = DiffuseProcess.Start(_dir, Train("nompi", 20), [], environment);
        int code = p.WaitForExit(Timeout);

        // Then one line names mpich, exit 2, and nothing was written
        Assert.Equal(2, code);
        var error = Assert.Single(DiffuseErrors(p.Stderr));
        Assert.Contains("install mpich", error);
        Assert.False(Directory.Exists(Path.Combine(_dir, "nompi")));
    }

    [Fact]
    public void Should_refuse_open_mpis_launcher_in_one_line()
    {
        var environment = new Dictionary<string, string> { ["OMPI_COMM_WORLD_RANK"] = "0", ["OMPI_COMM_WORLD_SIZE"] = "2" };
        using var p = DiffuseProcess.Start(_dir, Train("ompi", 20), [], environment);
        Assert.Equal(2, p.WaitForExit(Timeout));
        var error = Assert.Single(DiffuseErrors(p.Stderr));
        Assert.Contains("Open MPI", error);
        Assert.Contains("mpiexec.mpich", error);
    }

    /// <summary>The process of rank <paramref name="rank"/> of the job whose command line mentions <paramref name="marker"/>.</summary>
    private static int RankProcess(int rank, string marker)
    {
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                string cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (!cmdline.Contains("diffuse.dll", StringComparison.Ordinal) || !cmdline.Contains(marker, StringComparison.Ordinal)) continue;
                var environ = Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(dir, "environ"))).Split('\0');
                if (environ.Contains($"PMI_RANK={rank}") && cmdline.StartsWith("dotnet", StringComparison.Ordinal)) return pid;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        throw new InvalidOperationException($"no process of rank {rank} found");
    }
}
