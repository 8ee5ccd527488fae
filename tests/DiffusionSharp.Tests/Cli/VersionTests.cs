using System.Reflection;
using DiffusionSharp.Cli;

namespace DiffusionSharp.Tests.Cli;

[Collection(CliCollection.Name)]
public sealed class VersionTests
{
    [Fact]
    public void Should_print_the_informational_version_and_exit_0()
    {
        // Given the diffuse assembly's informational version
        string expected = typeof(DiffuseApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;

        // When diffuse --version runs
        var (code, output, error) = InProcessCli.Run("--version");

        // Then it prints exactly that, on one line, and exits 0
        Assert.Equal(DiffuseApp.Ok, code);
        Assert.Equal(expected, output.Trim());
        Assert.Equal("", error);
        Assert.Equal(DiffuseApp.Version, expected);
    }
}
