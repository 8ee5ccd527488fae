using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>Pieces every scheduler's <see cref="IScheduler.ToConfigJson"/> shares, so diffusers can read the file back.</summary>
public static class SchedulerConfigWriter
{
    /// <summary>The diffusers version whose config format we write (the one the golden files come from).</summary>
    public const string DiffusersVersion = "0.30.3";

    /// <summary>A config object with <c>_class_name</c>, <c>_diffusers_version</c> and the training schedule keys.</summary>
    public static JsonObject Begin(string className, NoiseScheduleConfig schedule) => new()
    {
        ["_class_name"] = className,
        ["_diffusers_version"] = DiffusersVersion,
        ["num_train_timesteps"] = schedule.NumTrainTimesteps,
        ["beta_start"] = schedule.BetaStart,
        ["beta_end"] = schedule.BetaEnd,
        ["beta_schedule"] = schedule.Schedule.ToDiffusersName(),
        ["trained_betas"] = schedule.TrainedBetas is { } betas ? new JsonArray(betas.Select(b => (JsonNode)b).ToArray()) : null,
    };

    /// <summary>Adds clip_sample, clip_sample_range, thresholding, dynamic_thresholding_ratio, sample_max_value.</summary>
    public static void AddSampleClipping(JsonObject config, SampleClipping clipping)
    {
        config["clip_sample"] = clipping.ClipSample;
        config["clip_sample_range"] = clipping.ClipSampleRange;
        config["thresholding"] = clipping.Thresholding;
        config["dynamic_thresholding_ratio"] = clipping.DynamicThresholdingRatio;
        config["sample_max_value"] = clipping.SampleMaxValue;
    }
}
