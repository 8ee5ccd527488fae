using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>The <c>scheduler_config.json</c> keys diffusers' EDM schedulers share, read and written once for both.</summary>
internal static class EdmConfig
{
    /// <summary>sigma_min, sigma_max, sigma_data, sigma_schedule, num_train_timesteps and rho, with diffusers' defaults.</summary>
    /// <exception cref="InvalidInputException">A value is malformed or out of range.</exception>
    public static EdmSchedule Read(SchedulerConfigReader r)
    {
        var d = new EdmSchedule();
        var schedule = new EdmSchedule(
            r.Double("sigma_min", d.SigmaMin),
            r.Double("sigma_max", d.SigmaMax),
            r.Double("sigma_data", d.SigmaData),
            EdmSigmaSchedules.Parse(r.String("sigma_schedule", d.SigmaSchedule.ToDiffusersName())),
            r.Int("num_train_timesteps", d.NumTrainTimesteps),
            r.Double("rho", d.Rho));
        return r.Build(() =>
        {
            schedule.Validate();
            return schedule;
        });
    }

    /// <summary>The shared keys in diffusers' order, prediction_type between num_train_timesteps and rho.</summary>
    public static JsonObject Write(string className, EdmSchedule schedule, PredictionType predictionType) => new()
    {
        ["_class_name"] = className,
        ["_diffusers_version"] = SchedulerConfigWriter.DiffusersVersion,
        ["sigma_min"] = schedule.SigmaMin,
        ["sigma_max"] = schedule.SigmaMax,
        ["sigma_data"] = schedule.SigmaData,
        ["sigma_schedule"] = schedule.SigmaSchedule.ToDiffusersName(),
        ["num_train_timesteps"] = schedule.NumTrainTimesteps,
        ["prediction_type"] = predictionType.ToDiffusersName(),
        ["rho"] = schedule.Rho,
    };
}
