#!/usr/bin/env bash
# Thread runtime under load, side by side in one run: `lowbit bench model` at 1 and 2 intra-op
# threads with libgomp's old default spin (GOMP_SPINCOUNT=300000, what lowbit ran with before),
# lowbit's own default (bounded spin, src/core/threads.cc) and OMP_WAIT_POLICY=passive, and ONNX
# Runtime at 1 and 2 threads; with BUSY (default 1) other busy processes on the machine.
#   bench/thread_runtime.sh MODEL.onnx [BATCH]     (env: LOWBIT, BUSY, ITERS, ROUNDS)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:?usage: bench/thread_runtime.sh MODEL.onnx [BATCH]}
BATCH=${2:-8}
LOWBIT=${LOWBIT:-build/release/apps/lowbit/lowbit}
BUSY=${BUSY:-1}
ITERS=${ITERS:-5}
ROUNDS=${ROUNDS:-2}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
for ((i = 0; i < BUSY; ++i)); do
  /usr/bin/python3 -c 'while True: pass' &
  pids+=($!)
done
"$LOWBIT" bench model "$MODEL" --batch "$BATCH" --iters 1 --warmup 0 --min-time 0 --save-inputs "$work/in" > /dev/null
med() { /usr/bin/python3 -c "import json,sys; print(f'{json.load(open(sys.argv[1]))[\"median_ms\"]:.1f}')" "$1"; }
printf '%-34s %8s %8s\n' "setting (busy processes: $BUSY)" "1 thr ms" "2 thr ms"
for ((r = 1; r <= ROUNDS; ++r)); do
  for setting in "old-default GOMP_SPINCOUNT=300000" "lowbit-default" "passive OMP_WAIT_POLICY=passive"; do
    env_kv=${setting#* }; [[ $setting == lowbit-default ]] && env_kv=""
    row=()
    for t in 1 2; do
      env $env_kv "$LOWBIT" bench model "$MODEL" --input "$work/in/input_0.npy" --intra-op "$t" --warmup 1 \
        --iters "$ITERS" --min-time 0 --json "$work/t.json" > /dev/null
      row+=("$(med "$work/t.json")")
    done
    printf '%-34s %8s %8s\n' "lowbit ${setting%% *}" "${row[0]}" "${row[1]}"
  done
  row=()
  for t in 1 2; do
    node bench/peers/ort_run.js --model "$MODEL" --input "$work/in/input_0.npy" --intra "$t" --warmup 1 --iters "$ITERS" --json "$work/o.json"
    row+=("$(med "$work/o.json")")
  done
  printf '%-34s %8s %8s\n' "onnxruntime" "${row[0]}" "${row[1]}"
done
