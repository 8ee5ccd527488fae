using DiffusionSharp.Imaging;
using DiffusionSharp.Models;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Tests.Support;
using DiffusionSharp.Tests.Training;
using Xunit;

namespace DiffusionSharp.Tests.Cli;

/// <summary><c>diffuse train --prompt-column</c> (text-conditioned training from scratch), then <c>sample --prompt</c> on the run, and the bad inputs.</summary>
[Collection(CliCollection.Name)]
public sealed class TextToImageTrainCliTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir();

    public TextToImageTrainCliTests()
    {
        Images = TextToImageTrainingTests.WriteCaptionedImages(Path.Combine(_dir, "images"));
        Vae = LatentTrainingTests.SaveVae(Path.Combine(_dir, "vae"));
        File.WriteAllText(UnetConfig, TextToImageTrainingTests.TinyTextUNet().ToJson());
        File.WriteAllText(TextConfig, TextToImageTrainingTests.TinyText().ToJson());
        File.WriteAllText(WideTextConfig, TextToImageTrainingTests.TinyText(width: 64).ToJson());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Images { get; }

    private string Vae { get; }

    private string UnetConfig => Path.Combine(_dir, "unet.json");

    private string TextConfig => Path.Combine(_dir, "text.json");

    private string WideTextConfig => Path.Combine(_dir, "text-64.json");

    private string[] Train(string run, params string[] more) =>
        ["train", "--data", Images, "--resolution", "64", "--vae", Vae, "--prompt-column", "text", "--model", UnetConfig,
         "--text-encoder", TextConfig, "--steps", "2", "--batch", "2", "--checkpoint-every", "0", "--sample-count", "2",
         "--sample-steps", "2", "--threads", "1", "--out", run, .. more];

    [Fact]
    public void Should_train_a_prompt_conditioned_run_then_sample_it_with_a_prompt_and_resume_it()
    {
        // Given a 2-step text-conditioned run on four captioned 64x64 pictures
        var run = Path.Combine(_dir, "run");
        var train = InProcessCli.Run(Train(run));

        // Then it tokenizes the prompts, trains, and draws its grid from training prompts
        Assert.True(train.Code == 0, train.Out + train.Err);
        Assert.Contains("prompts: 4 from column 'text' (4 distinct)", train.Out);
        Assert.True(File.Exists(Path.Combine(run, "samples", "step-0000002.png")));
        var listed = File.ReadAllLines(Path.Combine(run, "samples", "step-0000002.txt"));
        Assert.Equal(["red heart", "grinning face"], listed);
        Assert.True(File.Exists(Path.Combine(run, "text_encoder", "config.json")));
        Assert.True(File.Exists(Path.Combine(run, "tokenizer", "merges.txt")));

        // When the run folder is sampled with a prompt and guidance, Then it writes one 64x64 image
        var png = Path.Combine(_dir, "heart.png");
        var sample = InProcessCli.Run("sample", "--model", run, "--prompt", "red heart", "--guidance", "3", "--steps", "2", "--count", "1",
            "--sampler", "ddim", "--individual", Path.Combine(_dir, "one"), "--out", png, "--threads", "1");
        Assert.True(sample.Code == 0, sample.Out + sample.Err);
        var pixels = ImageFile.LoadPixels(png);
        Assert.Equal((3, 64, 64), (pixels.Channels, pixels.Height, pixels.Width));
        Assert.Equal(["{\"file_name\":\"00000.png\",\"text\":\"red heart\"}"], File.ReadAllLines(Path.Combine(_dir, "one", "metadata.jsonl")));

        // When it is sampled from the EMA weights, Then the pipeline holds unet_ema/ and text_encoder_ema/, not the live networks
        var fromEma = InProcessCli.Run("sample", "--model", run, "--ema", "--prompt", "red heart", "--guidance", "3", "--steps", "2",
            "--count", "1", "--sampler", "ddim", "--out", Path.Combine(_dir, "heart-ema.png"), "--threads", "1");
        Assert.True(fromEma.Code == 0, fromEma.Out + fromEma.Err);
        using (var sd = StableDiffusionPipeline.Load(run, useEma: true))
        using (var emaUnet = UNet2DConditionModel.FromPretrained(Path.Combine(run, "unet_ema")))
        using (var liveUnet = UNet2DConditionModel.FromPretrained(Path.Combine(run, "unet")))
        using (var emaText = ClipTextModel.FromPretrained(Path.Combine(run, "text_encoder_ema")))
        using (var liveText = ClipTextModel.FromPretrained(Path.Combine(run, "text_encoder")))
        {
            Assert.Equal(0, MaxDifference(sd.Unet, emaUnet));
            Assert.Equal(0, MaxDifference(sd.TextEncoder.Model, emaText));
            Assert.True(MaxDifference(emaUnet, liveUnet) > 0);
            Assert.True(MaxDifference(emaText, liveText) > 0);
        }

        // When the prompt is longer than 77 tokens, Then it is cut as diffusers cuts it, with a warning
        var longPrompt = string.Join(' ', Enumerable.Repeat("red heart", 60));
        var cut = InProcessCli.Run("sample", "--model", run, "--prompt", longPrompt, "--guidance", "1", "--steps", "1", "--count", "1",
            "--sampler", "ddim", "--out", Path.Combine(_dir, "long.png"), "--threads", "1");
        Assert.True(cut.Code == 0, cut.Out + cut.Err);
        Assert.Contains("warning: --prompt is longer than the tokenizer's 77 tokens and was truncated", cut.Err);

        // When it is resumed to 3 steps, Then it continues from its checkpoint
        var resume = InProcessCli.Run("train", "--out", run, "--resume", "--steps", "3", "--sample-count", "2", "--sample-steps", "2", "--threads", "1");
        Assert.True(resume.Code == 0, resume.Out + resume.Err);
        Assert.Contains("step 3/3", resume.Out);

        // When the EMA text encoder is missing, Then --ema is one line naming it, exit code 2
        Directory.Delete(Path.Combine(run, "text_encoder_ema"), recursive: true);
        var missing = InProcessCli.Run("sample", "--model", run, "--ema", "--prompt", "red heart", "--steps", "1", "--count", "1",
            "--out", Path.Combine(_dir, "none.png"), "--threads", "1");
        Assert.Equal(2, missing.Code);
        Assert.Contains("--ema: " + run + " has no text_encoder_ema/ folder", missing.Err);
        Assert.False(File.Exists(Path.Combine(_dir, "none.png")));
    }

    private static double MaxDifference(TorchSharp.torch.nn.Module a, TorchSharp.torch.nn.Module b)
    {
        var left = a.state_dict();
        var pairs = left.Join(b.state_dict(), x => x.Key, y => y.Key, (x, y) => (x.Value, y.Value)).ToList();
        Assert.Equal(left.Count, pairs.Count);
        return pairs.Max(p => { using var d = (p.Item1 - p.Item2).abs().max(); return d.item<float>(); });
    }

    [Theory]
    [InlineData("no-vae", "--prompt-column needs --vae")]
    [InlineData("class-conditional", "--prompt-column and --class-conditional exclude each other")]
    [InlineData("missing-column", "--prompt-column 'caption'")]
    [InlineData("width", "hidden_size 64 does not match the U-Net's cross_attention_dim 32")]
    [InlineData("pixel-model", "is not a UNet2DConditionModel config")]
    public void Should_refuse_bad_text_training_inputs_in_one_line_with_exit_code_2(string fault, string mustMention)
    {
        // Given a text-conditioned run with one thing wrong
        var pixelConfig = Path.Combine(_dir, "pixel-unet.json");
        File.WriteAllText(pixelConfig, LatentTrainingTests.LatentUNet().ToJson());
        var args = Train(Path.Combine(_dir, "bad-run")).ToList();
        if (fault == "no-vae") args.RemoveRange(args.IndexOf("--vae"), 2);
        if (fault == "class-conditional") args.Add("--class-conditional");
        if (fault == "missing-column") args[args.IndexOf("--prompt-column") + 1] = "caption";
        if (fault == "width") args[args.IndexOf("--text-encoder") + 1] = WideTextConfig;
        if (fault == "pixel-model") args[args.IndexOf("--model") + 1] = pixelConfig;

        // When it is started, Then it stops with one error line naming the problem, exit code 2, no stack trace, no run folder
        var r = InProcessCli.Run([.. args]);
        Assert.Equal(2, r.Code);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.Err);
        Assert.Contains(mustMention, lines[0]);
        Assert.DoesNotContain("   at ", r.Err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "bad-run", "unet")));
        if (fault == "width") Assert.Contains("--text-encoder", lines[0]);
    }

    [Fact]
    public void Should_refuse_a_prompt_for_an_unconditional_model_in_one_line_with_exit_code_2()
    {
        // Given an unconditional UNet2DModel folder
        var folder = Path.Combine(_dir, "unconditional");
        TorchSharp.torch.random.manual_seed(0);
        using (var model = new UNet2DModel(TinyData.TinyUNet())) model.SavePretrained(folder);

        // When it is sampled with a prompt, Then one error line says it has no text encoder, exit code 2, no image
        var png = Path.Combine(_dir, "x.png");
        var r = InProcessCli.Run("sample", "--model", folder, "--prompt", "red heart", "--steps", "1", "--out", png, "--threads", "1");
        Assert.Equal(2, r.Code);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.Err);
        Assert.Contains("--prompt", lines[0]);
        Assert.Contains("UNet2DModel without a text encoder", lines[0]);
        Assert.False(File.Exists(png));
    }
}
