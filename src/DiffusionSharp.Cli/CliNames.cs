using System.Text.RegularExpressions;

namespace DiffusionSharp.Cli;

/// <summary>
/// Maps the library's names in error messages to the command-line options a user typed: the option properties an
/// <see cref="InvalidInputException"/> lists (<see cref="Message"/>), and config keys (<see cref="Rename"/>).
/// </summary>
public static class CliNames
{
    /// <summary>The flag of each library option property or parameter (<see cref="InvalidInputException.OptionNames"/>).</summary>
    private static readonly Dictionary<string, string> Options = new(StringComparer.Ordinal)
    {
        // sampler choice (SamplerChoice, SchedulerFactory, DDIMSchedulerOptions)
        ["SamplerName"] = "--sampler",
        ["Eta"] = "--eta",
        ["KarrasSigmas"] = "--karras",
        ["TimestepSpacing"] = "--spacing",
        // editing (EditOptions, ImageEditing, ImageEditor)
        ["Strength"] = "--strength",
        ["Steps"] = "--steps",
        ["Resample"] = "--resample",
        ["image"] = "--image",
        ["mask"] = "--mask",
        ["guidance"] = "--guidance",
    };

    private static readonly (string Key, string Option)[] ConfigKeys =
    [
        ("num_train_timesteps", "--timesteps"),
        ("beta_start", "--beta-start"),
        ("beta_end", "--beta-end"),
        ("beta_schedule", "--beta-schedule"),
    ];

    /// <summary>
    /// The message as the CLI prints it: the first whole-word occurrence of each option the exception lists is replaced by
    /// its flag (<c>SamplerName</c> → <c>--sampler</c>); names without a flag stay as they are.
    /// </summary>
    public static string Message(InvalidInputException e)
    {
        string message = e.Message;
        foreach (string name in e.OptionNames)
        {
            if (!Options.TryGetValue(name, out var flag)) continue;
            var match = Regex.Match(message, $@"(?<![\w-]){Regex.Escape(name)}(?![\w-])");
            if (match.Success) message = string.Concat(message.AsSpan(0, match.Index), flag, message.AsSpan(match.Index + match.Length));
        }
        return message;
    }

    /// <summary>Replaces the noise-schedule config keys in <paramref name="message"/> by the <c>schedule</c> command's options.</summary>
    public static string Rename(string message)
    {
        foreach (var (key, option) in ConfigKeys) message = message.Replace(key, option, StringComparison.Ordinal);
        return message;
    }
}
