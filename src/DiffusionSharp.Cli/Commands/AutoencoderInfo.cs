using System.Globalization;
using DiffusionSharp.Models;
using DiffusionSharp.Models.Autoencoders;
using Spectre.Console;
using static TorchSharp.torch;

namespace DiffusionSharp.Cli.Commands;

/// <summary><c>diffuse model info</c> for an autoencoder preset or folder: parameters, latent shape, encode and decode GFLOPs per image.</summary>
internal static class AutoencoderInfo
{
    public static bool Handles(string model) =>
        AutoencoderPresets.Names.Contains(model, StringComparer.OrdinalIgnoreCase) || AutoencoderLoader.IsAutoencoderFolder(model);

    public static int Print(string model, Device device, bool asJson)
    {
        var fromFolder = Directory.Exists(model);
        // A preset is measured on the meta device: shapes only, no weights allocated.
        using var autoencoder = fromFolder
            ? AutoencoderLoader.FromPretrained(model, device)
            : new AutoencoderKL(AutoencoderPresets.Get(model), new Device(TorchSharp.DeviceType.META));
        long count = 0, bytes = 0;
        ScalarType? dtype = null;
        foreach (var p in autoencoder.Module.parameters())
        {
            count += p.numel();
            bytes += p.numel() * p.element_size();
            dtype ??= p.dtype;
        }
        var size = autoencoder switch
        {
            AutoencoderKL kl => kl.Config.SampleSize,
            // TAESD has no sample_size; 512 is the Stable Diffusion resolution it was made for.
            _ => 512,
        };
        var f = autoencoder.DownsamplingFactor;
        var encode = autoencoder.EncodeFlops(size, size) / 1e9;
        var decode = autoencoder.DecodeFlops(size, size) / 1e9;
        long? fileBytes = fromFolder ? new FileInfo(AutoencoderLoader.ResolveWeightsPath(model)).Length : null;
        var dtypeName = (dtype ?? ScalarType.Float32).ToString().ToLowerInvariant();
        if (asJson)
        {
            var json = new System.Text.Json.Nodes.JsonObject
            {
                ["model"] = model,
                ["class"] = autoencoder.ClassName,
                ["parameters"] = count,
                ["parameter_bytes"] = bytes,
                ["weights_file_bytes"] = fileBytes,
                ["dtype"] = dtypeName,
                ["height"] = size,
                ["width"] = size,
                ["latent_shape"] = new System.Text.Json.Nodes.JsonArray(autoencoder.LatentChannels, size / f, size / f),
                ["downsampling_factor"] = f,
                ["encode_gflops_per_image"] = Math.Round(encode, 4),
                ["decode_gflops_per_image"] = Math.Round(decode, 4),
                ["config"] = System.Text.Json.Nodes.JsonNode.Parse(autoencoder.ConfigJson()),
            };
            Console.Out.WriteLine(json.ToJsonString());
            return DiffuseApp.Ok;
        }
        var table = new Table().Title(model).AddColumns("", "");
        table.HideHeaders();
        table.AddRow("class", autoencoder.ClassName);
        table.AddRow("parameters", count.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("weights", $"{dtypeName}, {bytes / 1e6:F1} MB in memory" + (fileBytes is { } b ? $", {b / 1e6:F1} MB on disk" : ""));
        table.AddRow("image", $"{autoencoder.InChannels} x {size} x {size}");
        table.AddRow("latent", $"{autoencoder.LatentChannels} x {size / f} x {size / f} (downsampling {f})");
        table.AddRow("encode GFLOPs / image", encode.ToString("F3", CultureInfo.InvariantCulture));
        table.AddRow("decode GFLOPs / image", decode.ToString("F3", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        AnsiConsole.WriteLine("config.json:");
        Console.Out.WriteLine(autoencoder.ConfigJson());
        return DiffuseApp.Ok;
    }
}
