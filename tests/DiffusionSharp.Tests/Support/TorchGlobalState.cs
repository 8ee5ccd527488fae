namespace DiffusionSharp.Tests.Support;

/// <summary>Tests that set torch's global seed or thread count run alone: that state is process-wide.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchGlobalState
{
    public const string Name = "Torch global state";
}
