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

        Assert.Equal("condition: 'Flags' is not a class number, 'all' or one of this model's classes ('Activities', 'Animals & Nature', 'Smileys & Emotion')", error.Message);
        Assert.Equal("condition: 'Flags' is not a class number or 'all' (this model records no class names)", unnamed.Message);
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
