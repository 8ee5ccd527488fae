namespace DiffusionSharp.Tests.Reliability;

/// <summary>Tests that start <c>diffuse</c> child processes run one at a time, so the suite uses at most one extra core for them.</summary>
[CollectionDefinition(Name)]
public sealed class ChildProcessCollection
{
    public const string Name = "diffuse child processes";
}
