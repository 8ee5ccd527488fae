namespace DiffusionSharp.Training;

/// <summary>Why training stopped.</summary>
public enum StopReason
{
    /// <summary>The step target was reached.</summary>
    Finished,

    /// <summary>Ctrl+C or another cancellation; a checkpoint of the last completed step was written.</summary>
    Cancelled,

    /// <summary>Too many consecutive steps had non-finite values; the last good checkpoint is intact.</summary>
    TooManyBadSteps,

    /// <summary>A weight became NaN or infinite after a finite step (divergence); no checkpoint was written from it.</summary>
    NonFiniteWeights,
}
