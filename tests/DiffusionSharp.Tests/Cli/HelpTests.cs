using System.Text.RegularExpressions;
using DiffusionSharp.Tests.Support;

namespace DiffusionSharp.Tests.Cli;

/// <summary>
/// Every command's <c>--help</c>, found by walking the COMMANDS lists from <c>diffuse --help</c> down, prints its usage and
/// exits 0 (option descriptions are Spectre markup: an unescaped bracket in one used to crash its help).
/// </summary>
public sealed partial class HelpTests
{
    [Fact]
    public void Should_print_the_help_of_every_command_and_exit_0()
    {
        var visited = new List<string>();
        var pending = new Queue<string[]>([[]]);
        while (pending.TryDequeue(out var path))
        {
            var result = CliRunner.Run([.. path, "--help"]);
            string name = string.Join(' ', path);
            Assert.True(result.ExitCode == 0, $"diffuse {name} --help exited {result.ExitCode}: {result.StdErr}");
            Assert.Contains("USAGE:", result.StdOut);
            Assert.Equal("", result.StdErr);
            visited.Add(name);
            foreach (var sub in SubCommands(result.StdOut)) pending.Enqueue([.. path, sub]);
        }
        // the walk reached the leaves, not only the root
        Assert.Contains("bench train", visited);
        Assert.Contains("model check", visited);
        Assert.Contains("edit", visited);
        Assert.True(visited.Count >= 15, $"only {visited.Count} commands found: {string.Join(", ", visited)}");
    }

    private static IEnumerable<string> SubCommands(string help)
    {
        int at = help.IndexOf("COMMANDS:", StringComparison.Ordinal);
        if (at < 0) yield break;
        foreach (Match m in CommandLine().Matches(help[at..])) yield return m.Groups[1].Value;
    }

    // a command name at the start of a COMMANDS row: four spaces, the name, then at least two spaces
    [GeneratedRegex(@"^ {4}([a-z][a-z0-9-]*) {2,}", RegexOptions.Multiline)]
    private static partial Regex CommandLine();
}
