using DiffusionSharp.Tests.Support;
using DiffusionSharp.Training;

namespace DiffusionSharp.Tests.Training;

public sealed class LossLogTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Should_read_rows_with_their_learning_rates_and_leave_out_a_line_still_being_written()
    {
        // Given a log with a good row, a skipped step, and a last row whose newline has not been written yet
        var log = new LossLog(Path.Combine(_dir, "loss.csv"));
        log.Create();
        log.Add(1, 0.5, finite: true, 1e-4);
        log.Add(2, double.NaN, finite: false, 2e-4);
        log.Flush();
        File.AppendAllText(log.Path, "3,0.25,3e-");

        // When it is read while the writer is mid-line
        var rows = LossLog.ReadRows(log.Path);

        // Then both complete rows are there, the skipped step as NaN, and the torn one is not
        Assert.Equal(2, rows.Count);
        Assert.Equal((1, 0.5, 1e-4), rows[0]);
        Assert.Equal(2, rows[1].Step);
        Assert.True(double.IsNaN(rows[1].Loss));
        Assert.Equal(2e-4, rows[1].LearningRate);
        Assert.Equal([1, 2], LossLog.Read(log.Path).Select(r => r.Step));

        // And once the line is complete it is read
        File.AppendAllText(log.Path, "4\n");
        Assert.Equal((3, 0.25, 3e-4), LossLog.ReadRows(log.Path)[^1]);
    }
}
