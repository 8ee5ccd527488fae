namespace DiffusionSharp.Benchmarks;

/// <summary>
/// A network call's (or a training step's forward and backward) measured time split by op class: the replayed classes of
/// <see cref="OpProfile"/> and what they leave over.
/// </summary>
/// <param name="Ops">The replayed op classes.</param>
/// <param name="MeasuredMs">The measured time the classes are shares of (training: the forward and backward phases of a step; sampling: one network call).</param>
/// <param name="Ceiling">The dense-convolution ceiling, for the convolutions' own efficiency.</param>
public sealed record OpBreakdown(IReadOnlyList<OpProfile.OpTime> Ops, double MeasuredMs, PerformanceCeiling Ceiling)
{
    /// <summary>Measured minus replayed: additions, resampling, the loss, autograd's own work (negative when replay overestimates).</summary>
    public double OtherMs => MeasuredMs - Ops.Sum(o => o.Ms);

    /// <summary>A class's time as a fraction of the measured time.</summary>
    public double ShareOf(OpProfile.OpTime op) => op.Ms / MeasuredMs;

    /// <summary>A class's achieved GFLOP/s as a fraction of the conv ceiling (0 for memory-bound classes).</summary>
    public double EfficiencyOf(OpProfile.OpTime op) => Ceiling.EfficiencyOf(op.GFlopsPerSecond);
}
