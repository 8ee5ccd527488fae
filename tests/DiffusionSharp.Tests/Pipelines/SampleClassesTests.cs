using DiffusionSharp.Pipelines;

namespace DiffusionSharp.Tests.Pipelines;

public sealed class SampleClassesTests
{
    [Fact]
    public void Should_draw_one_row_per_class_for_all_and_one_class_for_a_number()
    {
        // Given a model of 10 classes
        // When "all" asks for 25 images, and "3" for 4
        var (all, allCount, allRow) = SampleClasses.Resolve("all", 25, 10, guidance: 3);
        var (three, threeCount, threeRow) = SampleClasses.Resolve("3", 4, 10, guidance: 1, nrow: 2);

        // Then "all" draws floor(25 / 10) = 2 of each class, one class per grid row; "3" draws four 3s in rows of 2
        Assert.Equal(new long[] { 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9 }, all);
        Assert.Equal((20, 2), (allCount, allRow));
        Assert.Equal(new long[] { 3, 3, 3, 3 }, three);
        Assert.Equal((4, 2), (threeCount, threeRow));
        Assert.Equal((null, 7, null), SampleClasses.Resolve(null, 7, 10, guidance: 1));
    }

    [Theory]
    [InlineData(null, 10, 3.0, "guidance needs condition", DiffusionPipeline.GuidanceProperty)]
    [InlineData("3", 0, 1.0, "condition: this model is unconditional", DiffusionPipeline.ConditionProperty)]
    [InlineData("x", 10, 1.0, "condition: 'x' is not a class number, 'all' or a comma-separated list", DiffusionPipeline.ConditionProperty)]
    [InlineData("-1", 10, 1.0, "condition: '-1' is not a class number", DiffusionPipeline.ConditionProperty)]
    [InlineData("10", 10, 1.0, "condition: 10 is out of range; this model knows classes 0..9", DiffusionPipeline.ConditionProperty)]
    public void Should_refuse_a_class_the_model_does_not_have_naming_the_property(string? spec, int classes, double guidance, string message, string property)
    {
        var e = Assert.Throws<InvalidInputException>(() => SampleClasses.Resolve(spec, 4, classes, guidance));

        Assert.StartsWith(message, e.Message);
        Assert.Equal(property, e.Property);
    }
}
