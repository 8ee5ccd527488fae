#!/usr/bin/env bash
# Regenerates the README's "Quality against sampler steps" table: for each sampler row, draws COUNT class-balanced
# samples (--class all, no guidance) from MODEL with `diffuse sample`, scores them with `diffuse eval`, and prints a
# markdown row with the FID-MNIST and the wall time per 100 images (start-up and PNG writing included).
#
#   docs/quality-table.sh [MODEL] [COUNT] [WORKDIR]      defaults: models/mnist-tiny-cond 1000 quality-run
#   ROWS="ddpm:1000 dpmpp-2m:20" docs/quality-table.sh    only some rows (sampler:steps[:karras])
#
# Run it from the repository root on a quiet machine: the DDPM-1000 row alone takes about 53 minutes for 1,000
# images on 2 cores. Samples stay in WORKDIR/<row>/ for inspection.
set -euo pipefail

model=${1:-models/mnist-tiny-cond}
count=${2:-1000}
work=${3:-quality-run}
rows=${ROWS:-"ddpm:1000 ddim:50 ddim:20 dpmpp-2m:20 dpmpp-2m:10 euler:20 dpmpp-2m:20:karras dpmpp-3m:20 unipc:20 unipc:10 heun:10 dpmpp-2m:100 dpmpp-2m-sde:20 dpmpp-2m-sde:20:karras euler-ancestral:20"}

dotnet build src/DiffusionSharp.Cli -c Release -v quiet -nologo >/dev/null
diffuse=src/DiffusionSharp.Cli/bin/Release/net10.0/diffuse
mkdir -p "$work"

echo "| sampler | steps | FID-MNIST (N = $count) | seconds per 100 images |"
echo "|---|---|---|---|"
for row in $rows; do
  IFS=: read -r sampler steps karras <<<"$row"
  name="$sampler-$steps${karras:+-karras}"
  rm -rf "${work:?}/$name"
  start=$(date +%s.%N)
  "$diffuse" sample --model "$model" --ema --class all --count "$count" --batch 250 --seed 1 \
    --sampler "$sampler" --steps "$steps" ${karras:+--karras} --individual "$work/$name" --out "$work/$name.png" >"$work/$name.log"
  end=$(date +%s.%N)
  fid=$("$diffuse" eval "$work/$name" --json | grep -o '"fid_mnist": *[-0-9.eE+]*' | sed 's/.*: *//')
  per100=$(awk -v a="$start" -v b="$end" -v n="$count" 'BEGIN { print (b - a) * 100 / n }')
  printf '| %s%s | %s | %.1f | %.1f |\n' "$sampler" "${karras:+ (Karras)}" "$steps" "$fid" "$per100"
done
