using System.ComponentModel;
using System.Globalization;
using DiffusionSharp.Models;
using DiffusionSharp.Runtime;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DiffusionSharp.Cli.Commands;

/// <summary><c>diffuse model info</c>: a network's configuration, parameter count, forward GFLOPs per sample, weight dtype and size (any <see cref="IDenoiser"/>).</summary>
public sealed class ModelInfoCommand : Command<ModelInfoCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandOption("--model <PRESET|FOLDER|CONFIG>")]
        [Description("A preset (image: mnist-nano, mnist-tiny, mnist-small, emoji32-small, emoji-latent-small, cifar10-ddpm; audio: audio-small, audio-patch4, series-small; text-conditioned: sd15, sd21, text-tiny, emoji-text-small), a model or pipeline folder, or a config.json of any network class (UNet2DModel, UNet2DConditionModel, UNet1DModel, DiffusionSharpUNet1D); or an autoencoder preset (kl-rgb64-f4) or AutoencoderKL / AutoencoderTiny folder.")]
        public string? Model { get; init; }

        [CommandOption("--json")]
        [Description("Print the facts as one JSON object.")]
        public bool Json { get; init; }

        public override ValidationResult Validate() =>
            base.Validate() is { Successful: false } bad ? bad
            : string.IsNullOrWhiteSpace(Model) ? ValidationResult.Error("--model is required")
            : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        var device = TorchRuntime.Initialize(s.Threads, s.Device);
        string model = s.Model!;
        if (AutoencoderInfo.Handles(model)) return AutoencoderInfo.Print(model, device, s.Json);
        string? weightsFolder = WeightsFolder(model);
        IDenoiserConfig config;
        ModelStats stats;
        if (weightsFolder is not null)
        {
            using var network = Denoisers.FromPretrained(weightsFolder, device);
            config = network.Config;
            stats = ModelStats.Of(network);
        }
        else
        {
            config = ModelSpecs.AnyConfig(model);
            stats = ModelStats.Of(config);
        }
        long? fileBytes = weightsFolder is null ? null : new FileInfo(Path.Combine(weightsFolder, UNet2DModel.WeightsFileName)).Length;
        if (s.Json)
        {
            var json = new System.Text.Json.Nodes.JsonObject
            {
                ["model"] = model,
                ["parameters"] = stats.ParameterCount,
                ["parameter_bytes"] = stats.ParameterBytes,
                ["weights_file_bytes"] = fileBytes,
                ["dtype"] = stats.WeightDType.ToString().ToLowerInvariant(),
                ["height"] = stats.Height,
                ["width"] = stats.Width,
                ["sample_shape"] = new System.Text.Json.Nodes.JsonArray(stats.SampleShape.Select(d => (System.Text.Json.Nodes.JsonNode?)d).ToArray()),
                ["forward_gflops_per_image"] = Math.Round(stats.GFlopsPerSample, 4),
                ["config"] = System.Text.Json.Nodes.JsonNode.Parse(config.ToJson()),
            };
            Console.Out.WriteLine(json.ToJsonString());
            return DiffuseApp.Ok;
        }
        var table = new Table().Title(model).AddColumns("", "");
        table.HideHeaders();
        table.AddRow("parameters", stats.ParameterCount.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("weights", $"{stats.WeightDType.ToString().ToLowerInvariant()}, {stats.ParameterBytes / 1e6:F1} MB in memory"
            + (fileBytes is { } b ? $", {b / 1e6:F1} MB on disk" : ""));
        table.AddRow("input", string.Join(" x ", stats.SampleShape));
        table.AddRow("forward GFLOPs / sample", stats.GFlopsPerSample.ToString("F3", CultureInfo.InvariantCulture));
        if (config is UNet2DConfig unet)
        {
            table.AddRow("block_out_channels", string.Join(", ", unet.BlockOutChannels));
            table.AddRow("down_block_types", string.Join(", ", unet.DownBlockTypes));
            table.AddRow("up_block_types", string.Join(", ", unet.UpBlockTypes));
            table.AddRow("layers_per_block", unet.LayersPerBlock.ToString(CultureInfo.InvariantCulture));
            table.AddRow("class-conditional", unet.NumClassEmbeds is { } n ? $"yes, num_class_embeds {n}" : "no");
        }
        else if (config is AudioUNet1DConfig audio)
        {
            table.AddRow("block_out_channels", string.Join(", ", audio.BlockOutChannels));
            table.AddRow("downsampling", audio.DownsamplingText);
            table.AddRow("attention_levels", string.Join(", ", audio.AttentionLevels.Select(a => a ? "yes" : "no")));
            table.AddRow("layers_per_block", audio.LayersPerBlock.ToString(CultureInfo.InvariantCulture));
            table.AddRow("class-conditional", audio.NumClassEmbeds is { } n ? $"yes, num_class_embeds {n}" : "no");
        }
        else
        {
            table.AddRow("class", config.ClassName);
            table.AddRow("conditioning", config.Conditioning.ToString().ToLowerInvariant());
        }
        AnsiConsole.Write(table);
        AnsiConsole.WriteLine("config.json:");
        Console.Out.WriteLine(config.ToJson());
        return DiffuseApp.Ok;
    }

    /// <summary>The folder holding config.json and the weights, when <paramref name="model"/> names one (a pipeline folder's unet/ too).</summary>
    private static string? WeightsFolder(string model)
    {
        if (!Directory.Exists(model)) return null;
        if (File.Exists(Path.Combine(model, UNet2DModel.WeightsFileName))) return model;
        var unet = Path.Combine(model, "unet");
        return File.Exists(Path.Combine(unet, UNet2DModel.WeightsFileName)) ? unet : null;
    }
}
