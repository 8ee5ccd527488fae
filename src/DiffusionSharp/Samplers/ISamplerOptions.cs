using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>What the options records of the sigma-based samplers and PNDM share, for their base classes.</summary>
internal interface ISamplerOptions
{
    /// <summary>The training noise schedule.</summary>
    NoiseScheduleConfig Schedule { get; }

    /// <summary>What the model predicts.</summary>
    PredictionType PredictionType { get; }

    /// <summary>How inference timesteps are picked.</summary>
    TimestepSpacing TimestepSpacing { get; }

    /// <summary>Checks the values, naming diffusers' keys.</summary>
    void Validate();
}
