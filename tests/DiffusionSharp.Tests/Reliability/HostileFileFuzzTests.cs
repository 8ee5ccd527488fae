using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using DiffusionSharp.Data;
using DiffusionSharp.Imaging;
using DiffusionSharp.IO;
using DiffusionSharp.Models;
using DiffusionSharp.Samplers;
using DiffusionSharp.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DiffusionSharp.Tests.Reliability;

/// <summary>
/// Seeded fuzzing of every file loader with mutations of small valid files (bit flips, truncations, length-field edits,
/// inserted and deleted bytes, JSON value swaps, type changes and huge numbers). Every call must end in success or an
/// <see cref="InvalidInputException"/>: never another exception, never longer than <see cref="CallTimeout"/>, and never
/// a managed allocation above a multiple of the file size plus a constant.
/// Long version: <c>FUZZ_ITERATIONS=100000 dotnet test --filter Fuzz</c> (FUZZ_SEED picks another sequence).
/// </summary>
public sealed class HostileFileFuzzTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);
    private const long AllocationPerFileByte = 64;
    private const long AllocationConstant = 32L << 20;

    private readonly string _dir = TestPaths.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed record Target(string Name, string FileName, byte[] Valid, bool IsJson, Action<string> Load);

    [Fact]
    public void Should_EndInSuccessOrInvalidInput_When_FuzzingEveryLoader()
    {
        var targets = Targets();
        int iterations = ReliabilitySettings.FuzzIterations, seed = ReliabilitySettings.FuzzSeed;
        var counts = targets.ToDictionary(t => t.Name, _ => new SortedDictionary<string, int>(StringComparer.Ordinal));
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        var slowest = TimeSpan.Zero;

        for (int i = 0; i < iterations; i++)
        {
            // One generator per case, so a failure is reproduced from (seed, i) alone (HashCode.Combine would not do:
            // it is randomised per process).
            var rng = new Random(unchecked(seed * 1_000_003 + i));
            var target = targets[i % targets.Count];
            var (bytes, mutation) = Mutate(target, rng);
            var folder = Path.Combine(_dir, "case");
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            Directory.CreateDirectory(folder);
            var path = Path.Combine(folder, target.FileName);
            File.WriteAllBytes(path, bytes);
            if (target.Name == "unet-folder-weights") File.WriteAllText(Path.Combine(folder, "config.json"), TinyRun.ConfigJson);
            if (target.Name == "unet-folder-config") File.WriteAllBytes(Path.Combine(folder, UNet2DModel.WeightsFileName), _tinyWeights!);

            var (outcome, elapsed, allocated) = RunBounded(() => target.Load(target.Name.StartsWith("unet-folder", StringComparison.Ordinal) ? folder : path));
            slowest = elapsed > slowest ? elapsed : slowest;
            var kind = outcome switch
            {
                null => "ok",
                InvalidInputException e => "rejected: " + MessageKind(e.Message),
                _ => "CRASH " + outcome.GetType().Name,
            };
            counts[target.Name][kind] = counts[target.Name].GetValueOrDefault(kind) + 1;
            string where = $"seed {seed} case {i} ({target.Name}, {mutation})";
            if (outcome is not (null or InvalidInputException))
                failures.Add($"{where}: {outcome.GetType().Name}: {outcome.Message}\n{outcome.StackTrace}");
            else if (elapsed > CallTimeout)
                failures.Add($"{where}: took {elapsed.TotalSeconds:F1} s");
            else if (allocated > AllocationPerFileByte * bytes.Length + AllocationConstant)
                failures.Add($"{where}: allocated {allocated} bytes for a {bytes.Length}-byte file");
        }

        output.WriteLine($"FUZZ seed={seed} iterations={iterations} time={clock.Elapsed.TotalSeconds:F1}s slowest-call={slowest.TotalMilliseconds:F0}ms");
        foreach (var (name, byKind) in counts)
        {
            output.WriteLine($"FUZZ {name}: tried {byKind.Values.Sum()}");
            foreach (var (kind, n) in byKind) output.WriteLine($"FUZZ   {kind}: {n}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} fuzz failures; first ones:\n" + string.Join("\n\n", failures.Take(5)));
    }

    private byte[]? _tinyWeights;

    private List<Target> Targets()
    {
        var safetensors = Path.Combine(_dir, "tiny.safetensors");
        SafetensorsFile.Save(safetensors, new Dictionary<string, Tensor>
        {
            ["a.weight"] = arange(6, dtype: ScalarType.Float32).reshape(2, 3),
            ["b.bias"] = tensor(new long[] { 1, -2 }),
            ["c"] = tensor(new[] { true, false }),
            ["d.half"] = ones(3).to_type(ScalarType.Float16),
        }, new Dictionary<string, string> { ["note"] = "fuzz" });

        var unet = Path.Combine(_dir, "tiny-unet");
        using (var model = new UNet2DModel(UNet2DConfig.FromJson(TinyRun.ConfigJson))) model.SavePretrained(unet);
        _tinyWeights = File.ReadAllBytes(Path.Combine(unet, UNet2DModel.WeightsFileName));

        var scheduler = SchedulerFactory.ToConfigText(SchedulerFactory.Create("ddpm", new DiffusionSharp.Schedules.NoiseScheduleConfig()));
        var idx = IdxBytes(0x0803, [3, 4, 5]);
        var idxGz = Gzip(idx);
        var png = ImageFile.ToPng(new PixelImage(3, 6, 5, Enumerable.Range(0, 90).Select(v => (byte)(v * 7)).ToArray()));

        return
        [
            new("safetensors", "model.safetensors", File.ReadAllBytes(safetensors), false, p =>
            {
                foreach (var t in SafetensorsFile.Load(p).Values) t.Dispose();
            }),
            new("unet-config", "config.json", File.ReadAllBytes(Path.Combine(TestPaths.Golden, "unet", "config.json")), true, p => UNet2DConfig.Load(p)),
            new("unet-folder-config", "config.json", Encoding.UTF8.GetBytes(TinyRun.ConfigJson), true, p => UNet2DModel.FromPretrained(p).Dispose()),
            new("unet-folder-weights", UNet2DModel.WeightsFileName, _tinyWeights, false, p => UNet2DModel.FromPretrained(p).Dispose()),
            new("scheduler-config", "scheduler_config.json", Encoding.UTF8.GetBytes(scheduler), true, p => SchedulerFactory.FromConfigFile(p)),
            new("idx", "images-idx3-ubyte", idx, false, p => IdxReader.Read(p)),
            new("idx-gzip", "images-idx3-ubyte.gz", idxGz, false, p => IdxReader.Read(p)),
            new("png", "image.png", png, false, p => ImageFile.LoadPixels(p, size: 4)),
        ];
    }

    /// <summary>Runs <paramref name="load"/> on its own thread with a time bound; returns its exception (null = success) and its managed allocation.</summary>
    private static (Exception? Outcome, TimeSpan Elapsed, long Allocated) RunBounded(Action load)
    {
        Exception? outcome = null;
        long allocated = 0;
        var thread = new Thread(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                using var scope = NewDisposeScope();
                load();
            }
            catch (Exception e)
            {
                outcome = e;
            }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }, maxStackSize: 16 << 20) { IsBackground = true };
        var clock = Stopwatch.StartNew();
        thread.Start();
        if (!thread.Join(CallTimeout)) return (new TimeoutException("the loader did not return"), clock.Elapsed, 0);
        return (outcome, clock.Elapsed, allocated);
    }

    private static (byte[] Bytes, string Mutation) Mutate(Target target, Random rng)
    {
        var b = (byte[])target.Valid.Clone();
        int kind = rng.Next(target.IsJson ? 9 : 6);
        switch (kind)
        {
            case 0:
            {
                int flips = 1 + rng.Next(8);
                for (int k = 0; k < flips; k++) b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                return (b, $"{flips} bit flips");
            }
            case 1:
            {
                int length = rng.Next(b.Length);
                return (b[..length], $"truncated to {length}");
            }
            case 2:
            {
                // Length fields: safetensors' u64 at 0, IDX's big-endian dims at 4.., PNG's IHDR width/height at 16/20.
                int at = target.Name switch
                {
                    "png" => 16 + 4 * rng.Next(2),
                    "idx" => 4 + 4 * rng.Next(3),
                    _ => rng.Next(2) == 0 ? 0 : rng.Next(Math.Max(1, b.Length - 8)),
                };
                ulong value = InterestingNumbers[rng.Next(InterestingNumbers.Length)];
                var span = b.AsSpan(Math.Min(at, Math.Max(0, b.Length - 8)));
                if (span.Length >= 8 && rng.Next(2) == 0) BinaryPrimitives.WriteUInt64LittleEndian(span, value);
                else if (span.Length >= 4) BinaryPrimitives.WriteUInt32BigEndian(span, (uint)value);
                return (b, $"length field at {at} = {value}");
            }
            case 3:
            {
                int at = rng.Next(b.Length + 1), n = 1 + rng.Next(64);
                var extra = new byte[n];
                rng.NextBytes(extra);
                return ([.. b[..at], .. extra, .. b[at..]], $"{n} random bytes inserted at {at}");
            }
            case 4:
            {
                int at = rng.Next(b.Length), n = 1 + rng.Next(Math.Min(64, b.Length - at));
                return ([.. b[..at], .. b[(at + n)..]], $"{n} bytes deleted at {at}");
            }
            case 5:
                return target.Name is "safetensors" or "unet-folder-weights" ? MutateSafetensorsHeader(b, rng) : (b.Concat(b).ToArray(), "doubled");
            default:
                return MutateJson(b, rng);
        }
    }

    private static readonly ulong[] InterestingNumbers =
        [0, 1, 7, 8, 255, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1UL << 32, 1UL << 40, long.MaxValue, ulong.MaxValue, 100L << 20, 1 << 30];

    private static readonly Func<Random, JsonNode?>[] HostileValues =
    [
        _ => null,
        _ => JsonValue.Create(true),
        _ => JsonValue.Create("DownBlock2D"),
        _ => JsonValue.Create(""),
        _ => JsonValue.Create(new string('x', 5000)),
        _ => JsonValue.Create(-1),
        _ => JsonValue.Create(0),
        _ => JsonValue.Create(int.MaxValue),
        _ => JsonValue.Create(long.MaxValue),
        _ => JsonValue.Create(1e308),
        _ => JsonValue.Create(-1e308),
        _ => JsonValue.Create(0.5),
        _ => JsonNode.Parse("1e999999"),
        r => new JsonArray(Enumerable.Range(0, r.Next(1, 40)).Select(_ => (JsonNode?)JsonValue.Create(r.Next(-5, 1 << 20))).ToArray()),
        _ => new JsonArray(JsonValue.Create(1 << 20), JsonValue.Create(1 << 20)),
        _ => new JsonArray(),
        _ => new JsonObject { ["a"] = 1 },
        _ => JsonNode.Parse(string.Concat(Enumerable.Repeat("[", 200)) + string.Concat(Enumerable.Repeat("]", 200))),
    ];

    private static (byte[], string) MutateJson(byte[] bytes, Random rng)
    {
        JsonObject root;
        try { root = (JsonObject)JsonNode.Parse(bytes)!; }
        catch (Exception) { return (bytes, "unparsable json kept"); }
        var keys = root.Select(p => p.Key).ToList();
        string key = keys[rng.Next(keys.Count)], mutation;
        switch (rng.Next(4))
        {
            case 0:
                var other = keys[rng.Next(keys.Count)];
                (root[key], root[other]) = (root[other]?.DeepClone(), root[key]?.DeepClone());
                mutation = $"json swap {key} <-> {other}";
                break;
            case 1:
                root.Remove(key);
                mutation = $"json remove {key}";
                break;
            case 2:
                root["unknown_" + rng.Next(100)] = 1;
                mutation = "json unknown key";
                break;
            default:
                int v = rng.Next(HostileValues.Length);
                try { root[key] = HostileValues[v](rng); }
                catch (Exception) { root[key] = null; }
                mutation = $"json {key} = hostile value {v}";
                break;
        }
        string text;
        try { text = root.ToJsonString(); }
        catch (Exception) { text = "{\"" + key + "\": " + string.Concat(Enumerable.Repeat("[", 200)) + string.Concat(Enumerable.Repeat("]", 200)) + "}"; }
        return (Encoding.UTF8.GetBytes(text), mutation);
    }

    /// <summary>A JSON mutation of a safetensors header, re-encoded with a correct length field.</summary>
    private static (byte[], string) MutateSafetensorsHeader(byte[] bytes, Random rng)
    {
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var root = (JsonObject)JsonNode.Parse(bytes.AsSpan(8, n))!;
        var names = root.Select(p => p.Key).Where(k => k != "__metadata__").ToList();
        var entry = (JsonObject)root[names[rng.Next(names.Count)]]!;
        string[] fields = ["dtype", "shape", "data_offsets"];
        var field = fields[rng.Next(fields.Length)];
        int v = rng.Next(HostileValues.Length + 3);
        entry[field] = v switch
        {
            var x when x == HostileValues.Length => new JsonArray(JsonValue.Create("a"), JsonValue.Create(1)),
            var x when x == HostileValues.Length + 1 => new JsonArray(JsonValue.Create(0), JsonValue.Create(long.MaxValue)),
            var x when x == HostileValues.Length + 2 => new JsonArray(Enumerable.Range(0, 40).Select(_ => (JsonNode?)JsonValue.Create(0)).ToArray()),
            _ => SafeValue(v, rng),
        };
        var json = Encoding.UTF8.GetBytes(root.ToJsonString());
        var data = bytes.AsSpan(8 + n).ToArray();
        var result = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)json.Length);
        json.CopyTo(result, 8);
        data.CopyTo(result, 8 + json.Length);
        return (result, $"safetensors header {field} = hostile value {v}");
    }

    private static JsonNode? SafeValue(int v, Random rng)
    {
        try { return HostileValues[v](rng); }
        catch (Exception) { return null; }
    }

    /// <summary>Groups rejection messages by what was wrong, for the summary table.</summary>
    private static string MessageKind(string message)
    {
        var m = message.ToLowerInvariant();
        (string Key, string Kind)[] kinds =
        [
            ("pickle", "pickle refused"),
            ("not valid json", "invalid JSON"),
            ("depth", "JSON too deep"),
            ("truncated", "truncated"),
            ("file ended", "truncated"),
            ("data_offsets", "bad data_offsets/layout"),
            ("overlap", "bad data_offsets/layout"),
            ("gap of", "bad data_offsets/layout"),
            ("cover", "bad data_offsets/layout"),
            ("header length", "header length out of range"),
            ("more than", "limit exceeded"),
            ("exceeds", "limit exceeded"),
            ("at most", "limit exceeded"),
            ("dtype", "bad dtype"),
            ("shape", "bad shape"),
            ("dimension", "bad shape"),
            ("weights do not match", "weights do not match config"),
            ("unknown", "unknown key or value"),
            ("magic", "bad magic"),
            ("gzip", "corrupt gzip"),
            ("utf-8", "invalid UTF-8"),
            ("png or jpeg", "not a readable image"),
            ("image header claiming", "image too large for its file"),
            ("is not supported", "unsupported value"),
            ("must", "value out of range"),
            ("expected", "wrong type or value"),
        ];
        foreach (var (key, kind) in kinds)
            if (m.Contains(key, StringComparison.Ordinal)) return kind;
        return "other";
    }

    private static byte[] IdxBytes(int magic, int[] dims)
    {
        var total = dims.Aggregate(1, (a, d) => a * d);
        var bytes = new byte[4 + 4 * dims.Length + total];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        for (int i = 0; i < total; i++) bytes[4 + 4 * dims.Length + i] = (byte)(i * 13);
        return bytes;
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var buffer = new MemoryStream();
        using (var zip = new GZipStream(buffer, CompressionLevel.Fastest)) zip.Write(bytes);
        return buffer.ToArray();
    }
}
