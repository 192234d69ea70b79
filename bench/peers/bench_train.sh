#!/usr/bin/env bash
# Side-by-side training throughput: lowbit vs PyTorch (Debian python3-torch), same models
# (MLP, ResNet-20 on 1x28x28), batch 128, SGD momentum, 1 and 2 threads, in one run.
# Writes out/bench_train.json and prints the ratio lowbit/pytorch images per second.
set -euo pipefail
cd "$(dirname "$0")/../.."
LOWBIT=${LOWBIT:-build/release/apps/lowbit/lowbit}
STEPS=${STEPS:-30}
mkdir -p out
rows=()
printf '%-9s %-7s %14s %14s %8s\n' model threads lowbit_img/s torch_img/s ratio
for model in mlp resnet20; do
  for t in 1 2; do
    steps=$STEPS; [[ $model == mlp ]] && steps=$((STEPS * 5))
    l=$(OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} $LOWBIT bench train --model "$model" --threads "$t" --steps "$steps" --json - | tail -n +2 | tr -d '\n')
    p=$(/usr/bin/python3 bench/peers/torch_train.py --model "$model" --threads "$t" --steps "$steps")
    li=$(echo "$l" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_second"])')
    pi=$(echo "$p" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_second"])')
    ratio=$(/usr/bin/python3 -c "print(f'{$li/$pi:.2f}')")
    printf '%-9s %-7s %14.0f %14.0f %8s\n' "$model" "$t" "$li" "$pi" "$ratio"
    rows+=("{\"model\":\"$model\",\"threads\":$t,\"lowbit\":$l,\"pytorch\":$p,\"ratio\":$ratio}")
  done
done
(IFS=,; echo "[${rows[*]}]") | /usr/bin/python3 -m json.tool > out/bench_train.json
echo "wrote out/bench_train.json"
