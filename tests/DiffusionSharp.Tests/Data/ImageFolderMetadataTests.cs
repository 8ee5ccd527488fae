using DiffusionSharp.Data;
using DiffusionSharp.Tests.Support;
using SkiaSharp;

namespace DiffusionSharp.Tests.Data;

public sealed class ImageFolderMetadataTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string MetadataPath => Path.Combine(_dir, ImageFolderMetadata.FileName);

    private void WriteMetadata(params string[] lines) => File.WriteAllLines(MetadataPath, lines);

    private void WriteImages(params string[] names)
    {
        foreach (var name in names) ImageFolderDatasetTests.WriteImage(Path.Combine(_dir, name), 4, 4, new SKColor(10, 20, 30));
    }

    [Fact]
    public void Should_read_file_names_captions_and_label_columns_in_file_order()
    {
        // Given the imagefolder convention with a blank line, a number column and a row without "group"
        WriteImages("images/b.png", "images/a.png");
        WriteMetadata(
            """{"file_name": "images/b.png", "text": "second letter", "group": "Letters", "version": 1.0}""",
            "",
            """{"file_name": "images/a.png", "text": null, "version": 2}""");

        // When it is read
        var metadata = ImageFolderMetadata.Read(MetadataPath);

        // Then the rows keep file order and their lines, values are text, nulls and missing keys are absent
        Assert.Equal([Path.Combine(_dir, "images", "b.png"), Path.Combine(_dir, "images", "a.png")], metadata.Files);
        Assert.Equal([1, 3], metadata.LineNumbers);
        Assert.Equal(["group", "text", "version"], metadata.ColumnNames);
        Assert.Equal(["second letter", null], metadata.Column("text")!);
        Assert.Equal(["1.0", "2"], metadata.Column("version")!);
        Assert.Null(metadata.Column("subgroup"));
    }

    [Fact]
    public void Should_name_the_file_and_line_of_a_listed_image_that_is_missing()
    {
        WriteImages("a.png");
        WriteMetadata("""{"file_name": "a.png"}""", """{"file_name": "gone.png"}""");

        var error = Assert.Throws<InvalidInputException>(() => ImageFolderMetadata.Read(MetadataPath));

        Assert.StartsWith($"{MetadataPath}:2: \"gone.png\" not found", error.Message);
    }

    [Theory]
    [InlineData("{\"file_name\": \"a.png\", \"text\": \"x", "expected a JSON object, found invalid JSON")]
    [InlineData("""["a.png"]""", "expected a JSON object, found a JSON array")]
    [InlineData("""{"text": "no file"}""", "expected a \"file_name\" string, found none")]
    [InlineData("""{"file_name": 3}""", "expected \"file_name\" to be a string, found a JSON number")]
    [InlineData("""{"file_name": "../outside.png"}""", "lies outside")]
    [InlineData("""{"file_name": "a.png"}""", "is listed a second time")]
    public void Should_name_the_file_and_line_of_a_bad_row(string secondLine, string expected)
    {
        // Given a good first row and a bad second one
        WriteImages("a.png");
        WriteMetadata("""{"file_name": "a.png"}""", secondLine);

        // When it is read, then the error is one line that starts with file:line and says what is wrong
        var error = Assert.Throws<InvalidInputException>(() => ImageFolderMetadata.Read(MetadataPath));
        Assert.StartsWith($"{MetadataPath}:2: ", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Should_name_the_column_and_the_row_that_lacks_it()
    {
        // Given rows of which the second has no "group"
        WriteImages("a.png", "b.png");
        WriteMetadata("""{"file_name": "a.png", "group": "x"}""", """{"file_name": "b.png", "subgroup": "y"}""");
        var metadata = ImageFolderMetadata.Read(MetadataPath);

        // When "group" and "kind" are required as label columns
        var lacking = Assert.Throws<InvalidInputException>(() => metadata.RequiredColumn("group", "DataSpec.LabelColumn"));
        var unknown = Assert.Throws<InvalidInputException>(() => metadata.RequiredColumn("kind", "DataSpec.LabelColumn"));

        // Then each error names the option's property, the column, and the file (and line) at fault
        Assert.Equal($"LabelColumn 'group': {MetadataPath}:2 has no value for it", lacking.Message);
        Assert.Equal("DataSpec.LabelColumn", lacking.Property);
        Assert.Equal($"LabelColumn 'kind': {MetadataPath} has no such column (it has 'group', 'subgroup')", unknown.Message);
    }

    [Fact]
    public void Should_refuse_metadata_without_rows()
    {
        WriteMetadata("", "  ");

        var error = Assert.Throws<InvalidInputException>(() => ImageFolderMetadata.Read(MetadataPath));

        Assert.Equal($"{MetadataPath}: expected one JSON object a line, found no rows", error.Message);
    }
}
