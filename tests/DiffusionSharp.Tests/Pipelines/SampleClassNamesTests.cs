using DiffusionSharp.Pipelines;
using DiffusionSharp.Tests.Support;

namespace DiffusionSharp.Tests.Pipelines;

public sealed class SampleClassNamesTests : IDisposable
{
    private static readonly string[] Groups = ["Activities", "Animals & Nature", "Smileys & Emotion"];

    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("Smileys & Emotion", 2)]
    [InlineData("smileys & emotion", 2)]
    [InlineData("1", 1)]
    public void Should_take_a_class_by_its_recorded_name_or_its_number(string spec, long expected)
    {
        var (labels, count, _) = SampleClasses.Resolve(spec, 3, Groups.Length, guidance: 2, classNames: Groups);

        Assert.Equal([expected, expected, expected], labels!);
        Assert.Equal(3, count);
    }

    [Fact]
    public void Should_list_the_classes_when_a_name_is_unknown()
    {
        var error = Assert.Throws<InvalidInputException>(() => SampleClasses.Resolve("Flags", 3, Groups.Length, 1, classNames: Groups));
        var unnamed = Assert.Throws<InvalidInputException>(() => SampleClasses.Resolve("Flags", 3, Groups.Length, 1));

        Assert.Equal("condition: 'Flags' is not a class number, 'all', a comma-separated list or one of this model's classes ('Activities', 'Animals & Nature', 'Smileys & Emotion')", error.Message);
        Assert.Equal("condition: 'Flags' is not a class number, 'all' or a comma-separated list of numbers (this model records no class names)", unnamed.Message);
    }

    [Fact]
    public void Should_draw_one_row_per_listed_class()
    {
        var (labels, count, nrow) = SampleClasses.Resolve("Smileys & Emotion, 0", 5, Groups.Length, guidance: 3, classNames: Groups);

        Assert.Equal([2L, 2L, 0L, 0L], labels!);
        Assert.Equal(4, count);
        Assert.Equal(2, nrow);
    }

    [Fact]
    public void Should_take_a_name_holding_a_comma_whole_and_name_a_bad_list_entry()
    {
        string[] names = ["cats, dogs", "birds"];

        var (whole, _, _) = SampleClasses.Resolve("cats, dogs", 2, names.Length, 1, classNames: names);
        var error = Assert.Throws<InvalidInputException>(() => SampleClasses.Resolve("birds,fish", 2, names.Length, 1, classNames: names));
        var range = Assert.Throws<InvalidInputException>(() => SampleClasses.Resolve("1,7", 2, names.Length, 1, classNames: names));

        Assert.Equal([0L, 0L], whole!);
        Assert.StartsWith("condition: 'fish' is not a class number", error.Message);
        Assert.Equal("condition: 7 is out of range; this model knows classes 0..1", range.Message);
    }

    [Fact]
    public void Should_read_back_the_class_names_it_wrote()
    {
        ClassNamesFile.Write(Path.Combine(_dir, ClassNamesFile.FileName), Groups, "group");

        Assert.Equal(Groups, ClassNamesFile.Read(_dir));
        Assert.Contains("\"label_column\": \"group\"", File.ReadAllText(Path.Combine(_dir, ClassNamesFile.FileName)));
        Assert.Null(ClassNamesFile.Read(Path.Combine(_dir, "elsewhere")));
    }

    [Fact]
    public void Should_name_a_malformed_class_names_file()
    {
        File.WriteAllText(Path.Combine(_dir, ClassNamesFile.FileName), """{"class_names": [1, 2]}""");

        var error = Assert.Throws<InvalidInputException>(() => ClassNamesFile.Read(_dir));

        Assert.StartsWith(Path.Combine(_dir, ClassNamesFile.FileName) + ": expected", error.Message);
    }
}
