namespace DiffusionSharp.Cli;

/// <summary>Maps the library's config-key names in error messages to the command-line options a user typed.</summary>
internal static class CliNames
{
    private static readonly (string Key, string Option)[] Map =
    [
        ("num_train_timesteps", "--timesteps"),
        ("beta_start", "--beta-start"),
        ("beta_end", "--beta-end"),
        ("beta_schedule", "--beta-schedule"),
    ];

    public static string Rename(string message)
    {
        foreach (var (key, option) in Map) message = message.Replace(key, option, StringComparison.Ordinal);
        return message;
    }
}
