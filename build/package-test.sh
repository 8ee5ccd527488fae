#!/usr/bin/env bash
# Packs DiffusionSharp and the diffuse tool into a local folder feed and uses them as a stranger would:
#   1. a fresh `dotnet new console` app references the DiffusionSharp package, samples 4 digits in 2 DDIM steps from
#      models/mnist-tiny-cond, checks that the bundled MNIST and the digit classifier were copied beside it, and writes a
#      PNG (checked); the same app published for linux-x64 runs too;
#   2. `dotnet tool install` of DiffusionSharp.Cli from the feed; `diffuse --version` prints the packed version;
#      `diffuse sample` and `diffuse noise` (bundled MNIST) run from the installed tool.
# On this Debian 12 machine both can only load TorchSharp if the package's buildTransitive patch (app) and pack's
# forced patch (tool) did their work; where readelf exists, the weak flag is also checked directly.
#
# Nothing outside one temporary folder is written: the sources are copied there and packed there, and the consumer
# gets its own NuGet packages folder with the machine's global packages folder as a read-only fallback (so TorchSharp
# and the rest are not copied or downloaded again). The packages carry a unique prerelease version, so no
# DiffusionSharp package left from an earlier run, in any cache, can stand in for the one packed now.
#
# Usage: build/package-test.sh   (from anywhere; exit 0 when every check passed, 1 otherwise)
# KEEP_PACKAGE_TEST=1 keeps the temporary folder and prints its path.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
work="$(mktemp -d "${TMPDIR:-/tmp}/ds-package-test.XXXXXX")"
if [ "${KEEP_PACKAGE_TEST:-}" = 1 ]; then echo "package-test: keeping $work"; else trap 'rm -rf "$work"' EXIT; fi
version="0.0.0-ci.$(date -u +%Y%m%d%H%M%S).$$"
feed="$work/feed"
failures=0
started=$SECONDS

step() { echo "package-test: $*"; }
fail() { echo "package-test: FAIL: $*" >&2; failures=$((failures + 1)); }
# Runs a command with its output in a log; on failure shows the log's end and stops the test.
run() {
  local log="$work/logs/$1.log"; shift
  mkdir -p "$work/logs"
  if ! "$@" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    fail "'$*' failed (log above)"
    finish
  fi
}
is_png() { [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }
weak_checked() {
  if command -v readelf >/dev/null 2>&1; then
    local versions
    versions="$(readelf -V "$1" 2>&1)"
    if grep -q "Name: GLIBCXX_3.4.32  Flags: WEAK" <<<"$versions"; then step "weak: $2"; else fail "$2: GLIBCXX_3.4.32 requirement is not weak"; fi
  fi
}
finish() {
  local took=$((SECONDS - started))
  if [ "$failures" -eq 0 ]; then step "PASS ($took s)"; exit 0; fi
  step "FAILED: $failures check(s) ($took s)"; exit 1
}

step "version $version, work folder $work"

# 1. Pack a copy of the sources (tracked and new files, as git sees them).
src="$work/src"
mkdir -p "$src"
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$repo" && git ls-files -z -co --exclude-standard | tar --null -cf - -T -) | tar -xf - -C "$src"
else
  (cd "$repo" && tar --exclude=bin --exclude=obj --exclude=runs -cf - .) | tar -xf - -C "$src"
fi
t0=$SECONDS
run pack-library dotnet pack "$src/src/DiffusionSharp" -c Release -o "$feed" -p:Version="$version"
t1=$SECONDS
run pack-tool dotnet pack "$src/src/DiffusionSharp.Cli" -c Release -o "$feed" -p:Version="$version"
t2=$SECONDS
step "packed the library in $((t1 - t0)) s and the tool in $((t2 - t1)) s:"
for p in "$feed"/*.nupkg; do step "  $(basename "$p") $(du -h "$p" | cut -f1)"; done
library="$feed/DiffusionSharp.$version.nupkg"
[ -f "$library" ] || { fail "no $library"; finish; }
for p in DiffusionSharp.Cli DiffusionSharp.Cli.linux-x64; do
  [ -f "$feed/$p.$version.nupkg" ] || fail "no $p.$version.nupkg"
done
if command -v unzip >/dev/null 2>&1; then
  listing="$(unzip -Z1 "$library")"
  for f in buildTransitive/DiffusionSharp.targets buildTransitive/DiffusionSharp.TorchSharpPatch.targets \
           tools/elfpatch/ds-elfpatch.dll tools/elfpatch/ds-elfpatch.runtimeconfig.json lib/net10.0/DiffusionSharp.dll \
           assets/data/mnist/NOTICE assets/models/mnist-classifier/model.safetensors README.md; do
    grep -qx "$f" <<<"$listing" || fail "DiffusionSharp package lacks $f"
  done
  nuspec="$(unzip -p "$library" DiffusionSharp.nuspec)"
  for d in TorchSharp-cpu ScottPlot SkiaSharp SkiaSharp.NativeAssets.Linux.NoDependencies; do
    grep -q "id=\"$d\"" <<<"$nuspec" || fail "DiffusionSharp package does not depend on $d"
  done
  grep -qi "elfpatch" <<<"$nuspec" && fail "DiffusionSharp package depends on ElfPatch"
  mkdir -p "$work/unpacked"
  if unzip -q -o "$feed/DiffusionSharp.Cli.linux-x64.$version.nupkg" 'tools/net10.0/linux-x64/libLibTorchSharp.so' -d "$work/unpacked"; then
    weak_checked "$work/unpacked/tools/net10.0/linux-x64/libLibTorchSharp.so" "libLibTorchSharp.so inside the tool package"
  else
    fail "the tool package has no tools/net10.0/linux-x64/libLibTorchSharp.so"
  fi
fi

# 2. A fresh console app on the package.
global_packages="$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: //p')"
app="$work/consumer"
run new-console dotnet new console -o "$app" -n Consumer --no-restore
cat >"$app/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <config>
    <add key="globalPackagesFolder" value="$work/packages" />
  </config>
  <packageSources>
    <add key="diffusionsharp-package-test" value="$feed" />
  </packageSources>
  <fallbackPackageFolders>
    <add key="machine-global-packages" value="$global_packages" />
  </fallbackPackageFolders>
</configuration>
EOF
cat >"$app/Program.cs" <<'EOF'
using DiffusionSharp.Data;
using DiffusionSharp.Evaluation;
using DiffusionSharp.Imaging;
using DiffusionSharp.Pipelines;
using DiffusionSharp.Runtime;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Consumer <model folder> <out.png>");
    return 2;
}
TorchRuntime.Initialize(threads: 1);
using (var pipeline = DiffusionPipeline.Load(args[0], useEma: true, samplerName: "ddim"))
using (var images = pipeline.Generate(count: 4, steps: 2, seed: 0))
{
    ImageGrid.SavePng(images, args[1]);
}
// The package's buildTransitive targets copy the bundled data beside the app, where these look first.
string appDir = AppContext.BaseDirectory;
foreach (var found in new[] { BundledData.MnistImagesPath, Path.Combine(BundledData.MnistDirectory, "NOTICE"), ShippedClassifier.Directory })
{
    if (!Path.GetFullPath(found).StartsWith(appDir, StringComparison.Ordinal) || !Path.Exists(found))
    {
        Console.Error.WriteLine($"Consumer: {found} is not beside the app ({appDir})");
        return 1;
    }
}
using var classifier = ShippedClassifier.Load();
Console.WriteLine($"Consumer: wrote {args[1]}; MNIST and the classifier found in {appDir}");
return 0;
EOF
run add-package dotnet add "$app/Consumer.csproj" package DiffusionSharp --version "$version"
[ -d "$work/packages/diffusionsharp/$version" ] || fail "DiffusionSharp $version was not restored into the private packages folder"
t3=$SECONDS
run consumer-run dotnet run --project "$app" -c Release -- "$repo/models/mnist-tiny-cond" "$work/app.png"
if is_png "$work/app.png"; then step "the app wrote a PNG ($((SECONDS - t3)) s with its build)"; else fail "the app wrote no valid PNG"; fi
weak_checked "$app/bin/Release/net10.0/runtimes/linux-x64/native/libLibTorchSharp.so" "libLibTorchSharp.so in the app's build output"
run consumer-publish dotnet publish "$app" -c Release -r linux-x64 -o "$work/published"
weak_checked "$work/published/libLibTorchSharp.so" "libLibTorchSharp.so in the app's linux-x64 publish output"
run published-run "$work/published/Consumer" "$repo/models/mnist-tiny-cond" "$work/published.png"
if is_png "$work/published.png"; then step "the published app wrote a PNG"; else fail "the published app wrote no valid PNG"; fi

# 3. The diffuse tool from the feed.
run tool-install dotnet tool install --tool-path "$work/tool" --add-source "$feed" DiffusionSharp.Cli --version "$version"
printed="$("$work/tool/diffuse" --version 2>&1)"; code=$?
if [ "$code" -eq 0 ] && { [ "$printed" = "$version" ] || [[ "$printed" == "$version+"* ]]; }; then
  step "diffuse --version: $printed"
else
  fail "diffuse --version printed '$printed' with exit code $code; expected $version"
fi
run tool-sample "$work/tool/diffuse" sample --model "$repo/models/mnist-tiny-cond" --ema --steps 2 --count 4 --threads 1 --out "$work/tool.png"
if is_png "$work/tool.png"; then step "diffuse sample wrote a PNG"; else fail "diffuse sample wrote no valid PNG"; fi
run tool-noise "$work/tool/diffuse" noise --image mnist:0 --timesteps 0,999 --threads 1 --out "$work/noise.png"
if is_png "$work/noise.png"; then step "diffuse noise found the bundled MNIST"; else fail "diffuse noise wrote no valid PNG"; fi

finish
