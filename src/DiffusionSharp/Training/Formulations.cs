using DiffusionSharp.Schedules;

namespace DiffusionSharp.Training;

/// <summary>The one place that builds the objective a run's options name (<see cref="TrainingOptions.Formulation"/>).</summary>
public static class Formulations
{
    /// <summary>The ddpm, flow or edm objective of <paramref name="options"/>; <paramref name="schedule"/> is the run's (ddpm's beta schedule; the others take its T).</summary>
    public static IFormulation Create(TrainingOptions options, NoiseScheduleConfig schedule) => options.Formulation.Kind switch
    {
        FormulationKind.Flow => FlowFormulation.For(options, schedule),
        FormulationKind.Edm => EdmFormulation.For(options, schedule),
        _ => DdpmFormulation.For(options, schedule),
    };
}
