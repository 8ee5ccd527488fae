using DiffusionSharp.Models;
using DiffusionSharp.Tests.Cli;
using DiffusionSharp.Tests.Support;
using TorchSharp;

namespace DiffusionSharp.Tests.Distributed;

/// <summary>Without a launcher nothing changes: commands run in one process and no MPI library (nor MPI.NET) is loaded.</summary>
[Collection(CliCollection.Name)]
public sealed class NoMpiTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Should_sample_and_train_without_loading_mpi_when_no_launcher_started_the_process()
    {
        // Given no launcher's variables in this process
        Assert.Null(Environment.GetEnvironmentVariable("PMI_RANK"));
        torch.random.manual_seed(0);
        string model = Path.Combine(_dir, "model");
        using (var unet = new UNet2DModel(TinyData.TinyUNet())) unet.SavePretrained(model);

        // When diffuse samples and trains in this process
        var sample = InProcessCli.Run("sample", "--model", model, "--steps", "1", "--count", "2", "--out", Path.Combine(_dir, "s.png"), "--threads", "1");
        var train = InProcessCli.Run("train", "--model", "mnist-tiny", "--steps", "1", "--batch", "4", "--out", Path.Combine(_dir, "run"),
            "--sample-count", "1", "--sample-steps", "1", "--threads", "1");

        // Then both worked, and neither MPI.NET's assembly nor an MPI library was ever mapped into the process
        Assert.True(sample.Code == 0, sample.Err);
        Assert.True(train.Code == 0, train.Err);
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name == "MPI");
        var maps = File.ReadAllText("/proc/self/maps");
        Assert.DoesNotContain("libmpich", maps);
        Assert.DoesNotContain("/MPI.dll", maps);
    }
}
