using DiffusionSharp.Audio;
using Xunit;

namespace DiffusionSharp.Tests.Audio;

/// <summary>Fitting decoded audio to a model's [C, L]: mix-down, kept channels, crop and pad.</summary>
public sealed class AudioClipTests
{
    [Fact]
    public void Should_AverageChannelsAndPad_When_MixingStereoDownToALongerMonoClip()
    {
        var audio = new WavAudio(8000, [[0.2f, 0.4f, -1f], [0.4f, 0f, 1f]]);
        var dest = new float[5];
        dest.AsSpan().Fill(9);
        AudioClip.Fit(audio, 8000, 1, 5, AudioChannelMode.MixDown, dest, "a.wav");
        Assert.Equal([0.3f, 0.2f, 0f, 0f, 0f], dest.Select(v => MathF.Round(v, 6)));
    }

    [Fact]
    public void Should_KeepChannelsAndCrop_When_StereoModelGetsALongerClip()
    {
        var audio = new WavAudio(8000, [[0.1f, 0.2f, 0.3f], [-0.1f, -0.2f, -0.3f]]);
        var dest = new float[4];
        AudioClip.Fit(audio, 8000, 2, 2, AudioChannelMode.Keep, dest, "a.wav");
        Assert.Equal([0.1f, 0.2f, -0.1f, -0.2f], dest);
    }

    [Fact]
    public void Should_NameTheFile_When_ChannelsCannotBeKept()
    {
        var audio = new WavAudio(8000, [new float[3], new float[3], new float[3]]);
        var e = Assert.Throws<InvalidInputException>(() => AudioClip.Fit(audio, 8000, 2, 3, AudioChannelMode.Keep, new float[6], "dir/c.wav"));
        Assert.StartsWith("dir/c.wav: has 3 channels, the model takes 2", e.Message);
    }

    [Fact]
    public void Should_ResampleToTheModelRate_When_FileRateDiffers()
    {
        var n = 4000;
        var audio = new WavAudio(16000, [Enumerable.Range(0, n).Select(i => (float)(0.5 * Math.Sin(2 * Math.PI * 500 * i / 16000))).ToArray()]);
        var dest = new float[2000];
        AudioClip.Fit(audio, 8000, 1, 2000, AudioChannelMode.MixDown, dest, "s.wav");
        var err = Enumerable.Range(100, 1800).Max(i => Math.Abs(dest[i] - 0.5 * Math.Sin(2 * Math.PI * 500 * i / 8000)));
        Assert.True(err < 2e-3, $"max error {err}");
    }
}
