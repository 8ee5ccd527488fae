using DiffusionSharp.Distributed;

namespace DiffusionSharp.Tests.Distributed;

/// <summary>Reading the launcher's environment, the threads per rank, and the shards of a sample set: no MPI involved.</summary>
public sealed class MpiLaunchTests
{
    private static Func<string, string?> Vars(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void Should_see_no_launch_without_a_launchers_variables()
    {
        Assert.Null(MpiLaunch.FromVariables(Vars()));
        Assert.Null(MpiLaunch.FromVariables(Vars(("MPI_LOCALRANKID", "0"))));
    }

    [Fact]
    public void Should_read_rank_size_and_the_local_place_from_hydras_variables()
    {
        var launch = MpiLaunch.FromVariables(Vars(("PMI_RANK", "3"), ("PMI_SIZE", "4"), ("MPI_LOCALRANKID", "1"), ("MPI_LOCALNRANKS", "2")));
        Assert.Equal(new MpiLaunch(3, 4, 1, 2), launch);
        Assert.True(launch!.IsDistributed);
        Assert.Equal(new MpiLaunch(0, 1), MpiLaunch.FromVariables(Vars(("PMI_RANK", "0"), ("PMI_SIZE", "1"))));
        Assert.False(MpiLaunch.FromVariables(Vars(("PMI_RANK", "0"), ("PMI_SIZE", "1")))!.IsDistributed);
    }

    [Fact]
    public void Should_refuse_open_mpi_naming_mpich_in_one_line()
    {
        var e = Assert.Throws<InvalidInputException>(() => MpiLaunch.FromVariables(Vars(("OMPI_COMM_WORLD_SIZE", "2"), ("OMPI_COMM_WORLD_RANK", "0"))));
        Assert.Contains("Open MPI", e.Message);
        Assert.Contains("mpich", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(MpiLaunch.LauncherProperty, e.Property);
    }

    [Theory]
    [InlineData("x", "2")]
    [InlineData("2", "2")]
    [InlineData("0", "0")]
    [InlineData("1", null)]
    public void Should_refuse_malformed_launcher_variables(string rank, string? size)
    {
        var e = Assert.Throws<InvalidInputException>(() => MpiLaunch.FromVariables(name => name switch { "PMI_RANK" => rank, "PMI_SIZE" => size, _ => null }));
        Assert.StartsWith("Launcher:", e.Message);
    }

    [Theory]
    [InlineData(2, 2, 1)]
    [InlineData(2, 1, 2)]
    [InlineData(16, 4, 4)]
    [InlineData(2, 3, 1)]
    [InlineData(8, 3, 2)]
    public void Should_give_each_rank_an_equal_share_of_its_hosts_cores(int cores, int ranks, int expected) =>
        Assert.Equal(expected, ProcessGroups.ThreadsPerProcess(cores, ranks));

    [Theory]
    [InlineData(10, 4, 1)]
    [InlineData(10, 4, 2)]
    [InlineData(10, 4, 3)]
    [InlineData(10, 4, 5)]
    [InlineData(64, 64, 2)]
    [InlineData(1, 8, 2)]
    public void Should_cut_a_sample_set_into_contiguous_runs_of_whole_batches(int count, int batch, int ranks)
    {
        var ranges = Enumerable.Range(0, ranks).Select(r => SampleShards.RangeOf(count, batch, r, ranks)).ToArray();
        Assert.Equal(0, ranges[0].First);
        for (int r = 1; r < ranks; r++) Assert.Equal(ranges[r - 1].First + ranges[r - 1].Count, ranges[r].First);
        Assert.Equal(count, ranges.Sum(x => x.Count));
        // every range but the one holding the last sample is a whole number of batches
        Assert.All(ranges.Where(x => x.First + x.Count < count), x => Assert.Equal(0, x.Count % batch));
    }

    [Fact]
    public void Should_gather_the_shards_in_sample_order_on_rank_0()
    {
        // Given 7 samples [1, 2] in batches of 2 over 3 ranks, each rank holding its own range's values
        var group = new ThreadProcessGroup(3);
        var results = group.Run(g =>
        {
            var (first, count) = SampleShards.RangeOf(7, 2, g.Rank, g.Count);
            using var mine = count == 0 ? null : TorchSharp.torch.arange(first * 2, (first + count) * 2, dtype: TorchSharp.torch.ScalarType.Float32).view(count, 1, 2);
            using var all = SampleShards.GatherToRankZero(g, mine, 7, 2, [1, 2]);
            return all?.data<float>().ToArray();
        });

        // Then rank 0 has 0..13 in order and the others nothing
        Assert.Equal(Enumerable.Range(0, 14).Select(i => (float)i), results[0]!);
        Assert.Null(results[1]);
        Assert.Null(results[2]);
    }
}
