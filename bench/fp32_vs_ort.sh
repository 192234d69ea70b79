#!/usr/bin/env bash
# fp32 inference, lowbit vs ONNX Runtime side by side in one run: per model and batch, R rounds of
# lowbit and ORT at 1 then 2 intra-op threads, interleaved, each the median wall time of ITERS runs
# on the same saved input. For a quiet machine (wall time); prints one line per round.
#   bench/fp32_vs_ort.sh MODEL.onnx:BATCH ...      (env: LOWBIT, R (3), ITERS (10))
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 ]] || { echo "usage: bench/fp32_vs_ort.sh MODEL.onnx:BATCH ..." >&2; exit 2; }
LOWBIT=${LOWBIT:-build/release/apps/lowbit/lowbit}
R=${R:-3}
ITERS=${ITERS:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
med() { /usr/bin/python3 -c "import json,sys; print(f'{json.load(open(sys.argv[1]))[\"median_ms\"]:.2f}')" "$1"; }
for spec in "$@"; do
  M=${spec%:*} B=${spec##*:}
  [[ -f $M && $B =~ ^[0-9]+$ ]] || { echo "bench/fp32_vs_ort.sh: '$spec' is not MODEL.onnx:BATCH" >&2; exit 2; }
  rm -rf "$work/in"
  "$LOWBIT" bench model "$M" --batch "$B" --iters 1 --warmup 0 --min-time 0 --save-inputs "$work/in" > /dev/null
  for ((r = 1; r <= R; ++r)); do
    row="$(basename "$M" .onnx) b$B round $r load $(cut -d' ' -f1 /proc/loadavg):"
    for t in 1 2; do
      "$LOWBIT" bench model "$M" --input "$work/in/input_0.npy" --intra-op "$t" --warmup 2 --iters "$ITERS" --min-time 0 \
        --json "$work/l.json" > /dev/null
      node bench/peers/ort_run.js --model "$M" --input "$work/in/input_0.npy" --intra "$t" --warmup 2 --iters "$ITERS" \
        --json "$work/o.json"
      row="$row  t$t lowbit $(med "$work/l.json") ort $(med "$work/o.json")"
    done
    echo "$row"
  done
done
