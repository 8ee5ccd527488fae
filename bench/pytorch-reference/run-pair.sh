#!/bin/bash
# Runs DiffusionSharp's `diffuse bench` and the PyTorch reference (unet_ref.py) back to back, N rounds, at the same
# thread count, and prints the speed ratio (ours / reference) of every round and their median.
#
#   bench/pytorch-reference/run-pair.sh [train|sample] [--threads T] [--pairs N] [--out DIR] [--report-only]
#
# train:  diffuse bench train --model mnist-small --batch 128  against  unet_ref.py train --batch 128 (images/s)
# sample: diffuse bench sample --model mnist-small --sampler ddim --batch 64  against  unet_ref.py sample --batch 64
#         (median seconds per DDIM step, so images/s of a DDIM-50 run = 64 / (50 x that))
# The order flips every round (ours first in odd rounds), so a drift in the machine's load hits both alike.
# --report-only: run nothing, print the ratios of the first N rounds already in --out (e.g. after stopping a run).
#
# Environment: DIFFUSE (how to run diffuse; default: dotnet <repo>/src/DiffusionSharp.Cli/bin/Release/net10.0/diffuse.dll),
# PYTHON (default /usr/bin/python3, Debian's, which has python3-torch), OPENBLAS_DIR (optional: a folder holding
# OpenBLAS's libblas.so.3; the reference then also runs with it, as a third member of each round, see README.md),
# OURS_SECONDS (default 20), REF_STEPS (timed reference steps, default 2 for train, 4 for sample), SAMPLE_STEPS (DDIM
# steps of one `diffuse bench sample` run, default 20: every DDIM step costs the same).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
what="${1:-}"
[[ "$what" == train || "$what" == sample ]] || { echo "run-pair.sh: first argument must be train or sample (got '${what}')" >&2; exit 2; }
shift
threads=1 pairs=3 out="" report_only=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="${2:-}"; shift 2 ;;
    --pairs) pairs="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --report-only) report_only=1; shift ;;
    *) echo "run-pair.sh: unknown option '$1' (expected --threads, --pairs, --out, --report-only)" >&2; exit 2 ;;
  esac
done
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || { echo "run-pair.sh: --threads must be a positive integer (got '$threads')" >&2; exit 2; }
[[ "$pairs" =~ ^[1-9][0-9]*$ ]] || { echo "run-pair.sh: --pairs must be a positive integer (got '$pairs')" >&2; exit 2; }
out="${out:-$(mktemp -d /tmp/run-pair-XXXXXX)}"
mkdir -p "$out"
python="${PYTHON:-/usr/bin/python3}"
read -r -a diffuse <<< "${DIFFUSE:-dotnet $repo/src/DiffusionSharp.Cli/bin/Release/net10.0/diffuse.dll}"
seconds="${OURS_SECONDS:-20}"
sample_steps="${SAMPLE_STEPS:-20}"
if [[ "$what" == train ]]; then ref_steps="${REF_STEPS:-2}"; else ref_steps="${REF_STEPS:-4}"; fi

ours() {
  if [[ "$what" == train ]]; then
    "${diffuse[@]}" bench train --model mnist-small --batch 128 --threads "$threads" --seconds "$seconds" --windows 4 --json
  else
    "${diffuse[@]}" bench sample --model mnist-small --sampler ddim --steps "$sample_steps" --batch 64 --threads "$threads" \
      --seconds "$seconds" --windows 3 --warmup-steps 1 --json
  fi
}
reference() {  # $1: empty, or a folder with OpenBLAS's libblas.so.3
  local blas="$1"
  if [[ -n "$blas" ]]; then
    LD_LIBRARY_PATH="$blas" OPENBLAS_NUM_THREADS="$threads" "$python" "$here/unet_ref.py" "$what" --threads "$threads" --steps "$ref_steps" --warmup 1
  else
    "$python" "$here/unet_ref.py" "$what" --threads "$threads" --steps "$ref_steps" --warmup 1
  fi
}
timed() {  # name command...: writes $out/name.json and the load average before and after to $out/name.load
  local name="$1"; shift
  cat /proc/loadavg > "$out/$name.load"
  "$@" > "$out/$name.json.tmp" 2> "$out/$name.err"
  mv "$out/$name.json.tmp" "$out/$name.json"
  cat /proc/loadavg >> "$out/$name.load"
}

if ((report_only)) && [[ ! -f "$out/1-ours.json" ]]; then echo "run-pair.sh: --out $out holds no finished round (1-ours.json)" >&2; exit 2; fi
for ((i = 1; i <= pairs && !report_only; i++)); do
  members=(ours ref)
  [[ -n "${OPENBLAS_DIR:-}" ]] && members+=(refblas)
  if ((i % 2 == 0)); then members=($(printf '%s\n' "${members[@]}" | tac)); fi
  for m in "${members[@]}"; do
    case "$m" in
      ours) timed "$i-ours" ours ;;
      ref) timed "$i-ref" reference "" ;;
      refblas) timed "$i-refblas" reference "$OPENBLAS_DIR" ;;
    esac
  done
done

"$python" - "$out" "$what" "$pairs" "$threads" <<'EOF'
import json, statistics, sys, os
out, what, pairs, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def load(name):
    path = os.path.join(out, name + ".json")
    return json.load(open(path)) if os.path.exists(path) else None
def loads(name):
    return [float(line.split()[0]) for line in open(os.path.join(out, name + ".load"))]
def speed(r, ours):
    # train: images/s; sample: DDIM-50 images/s from the median seconds per step
    if what == "train":
        return r["images_per_second"]
    step = r["seconds_per_step"] if ours else r["seconds_per_network_call"]
    return 64 / (50 * step)
summary = {"benchmark": what, "threads": threads, "pairs": [], "out": out}
for kind in ("ref", "refblas"):
    ratios = []
    for i in range(1, pairs + 1):
        o, r = load(f"{i}-ours"), load(f"{i}-{kind}")
        if o is None or r is None:
            continue
        so, sr = speed(o, True), speed(r, False)
        ratios.append(so / sr)
        summary["pairs"].append({"round": i, "reference": kind, "ours": so, "reference_speed": sr, "ratio": so / sr,
                                 "load_ours": loads(f"{i}-ours"), "load_reference": loads(f"{i}-{kind}"),
                                 "efficiency_ours": o.get("efficiency")})
        print(f"round {i} {kind:8s}: ours {so:8.3f}  reference {sr:8.3f}  ratio {so / sr:6.2f}  "
              f"load {loads(f'{i}-ours')[0]:.1f}/{loads(f'{i}-{kind}')[0]:.1f}")
    if ratios:
        summary["median_ratio_" + kind] = statistics.median(ratios)
        print(f"median ratio ours / {'reference' if kind == 'ref' else 'reference with OpenBLAS'} ({what}, {threads} thread(s), {len(ratios)} pairs): {statistics.median(ratios):.2f}")
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)
print("raw JSON and load averages in", out)
EOF
