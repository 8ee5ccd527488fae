using DiffusionSharp.Cli;

namespace DiffusionSharp.Tests.Cli;

/// <summary>Console redirection and libtorch's thread count are process-wide, so CLI tests run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CliCollection
{
    public const string Name = "CLI in process";
}

/// <summary>Runs <c>diffuse</c> in this process and captures its exit code, stdout and stderr.</summary>
public static class InProcessCli
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        using var output = new StringWriter();
        using var error = new StringWriter();
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            int code = DiffuseApp.Run(args);
            return (code, output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }
}
