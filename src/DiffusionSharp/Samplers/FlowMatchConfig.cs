using System.Text.Json.Nodes;
using DiffusionSharp.Schedules;

namespace DiffusionSharp.Samplers;

/// <summary>The <c>scheduler_config.json</c> keys of diffusers' flow-matching schedulers, read and written once for both.</summary>
internal static class FlowMatchConfig
{
    /// <summary>
    /// num_train_timesteps and shift, and (FlowMatchEuler only) the dynamic-shifting keys; the keys later diffusers
    /// versions added must leave their features off.
    /// </summary>
    /// <exception cref="InvalidInputException">A value is malformed, out of range or an unsupported feature.</exception>
    public static FlowMatchSchedule Read(SchedulerConfigReader r, bool dynamicShiftingKeys)
    {
        var defaults = new FlowMatchSchedule();
        var schedule = new FlowMatchSchedule(r.Int("num_train_timesteps", defaults.NumTrainTimesteps), r.Double("shift", defaults.Shift));
        if (dynamicShiftingKeys)
        {
            schedule = schedule with
            {
                UseDynamicShifting = r.Bool("use_dynamic_shifting", false),
                BaseShift = r.Double("base_shift", defaults.BaseShift),
                MaxShift = r.Double("max_shift", defaults.MaxShift),
                BaseImageSeqLen = r.Int("base_image_seq_len", defaults.BaseImageSeqLen),
                MaxImageSeqLen = r.Int("max_image_seq_len", defaults.MaxImageSeqLen),
            };
        }
        // keys of diffusers 0.31 and later, which must keep their features off
        r.RequireOff("use_karras_sigmas");
        r.RequireOff("use_exponential_sigmas");
        r.RequireOff("use_beta_sigmas");
        r.RequireOff("invert_sigmas");
        r.RequireOff("stochastic_sampling");
        r.RequireOff("shift_terminal", "null");
        r.RequireOff("time_shift_type", "\"exponential\"", "exponential");
        return r.Build(() =>
        {
            schedule.Validate();
            return schedule;
        });
    }

    /// <summary>The config object: class, version, num_train_timesteps, shift and (FlowMatchEuler) the dynamic-shifting keys, in diffusers' order.</summary>
    public static JsonObject Write(string className, FlowMatchSchedule schedule, bool dynamicShiftingKeys)
    {
        var json = new JsonObject
        {
            ["_class_name"] = className,
            ["_diffusers_version"] = SchedulerConfigWriter.DiffusersVersion,
            ["num_train_timesteps"] = schedule.NumTrainTimesteps,
            ["shift"] = schedule.Shift,
        };
        if (!dynamicShiftingKeys) return json;
        json["use_dynamic_shifting"] = schedule.UseDynamicShifting;
        json["base_shift"] = schedule.BaseShift;
        json["max_shift"] = schedule.MaxShift;
        json["base_image_seq_len"] = schedule.BaseImageSeqLen;
        json["max_image_seq_len"] = schedule.MaxImageSeqLen;
        return json;
    }
}
