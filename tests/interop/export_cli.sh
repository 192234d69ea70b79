#!/bin/sh
# `lowbit export` end to end: train an MLP on Fashion-MNIST (1 epoch), export it, and check that
# `lowbit eval model.onnx` (data set and normalization from the file's metadata, no flags) prints
# the top-1 `lowbit eval --checkpoint` prints; `lowbit quantize --calib fashion-mnist` takes the
# metadata's preprocessing; --qdq of an int8-trained MLP evaluates; a corrupt checkpoint is an
# error naming the file that writes nothing; a `lowbit cil --out-dir` model exports and scores
# the run's final head accuracy. Skips (77) when the data set is not installed.
set -eu
LOWBIT="$1"
TMP="${LOWBIT_TEST_TMP:-/tmp}/export-cli.$$"
[ -e /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz ] || exit 77
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
"$LOWBIT" train --model mlp --epochs 1 --threads 2 --quiet --out "$TMP/mlp.ckpt" > /dev/null
"$LOWBIT" export --checkpoint "$TMP/mlp.ckpt" --out "$TMP/mlp.onnx" > /dev/null
ck=$("$LOWBIT" eval --checkpoint "$TMP/mlp.ckpt" | sed -n 's/^test accuracy \([0-9.]*\).*/\1/p')
ox=$("$LOWBIT" eval "$TMP/mlp.onnx" 2> /dev/null | sed -n 's/.*top-1 \([0-9.]*\).*/\1/p')
echo "checkpoint $ck, exported $ox"
[ -n "$ck" ] && [ "$ck" = "$ox" ]
"$LOWBIT" quantize "$TMP/mlp.onnx" --calib fashion-mnist --out "$TMP/mlp_q.onnx" > /dev/null
q=$("$LOWBIT" eval "$TMP/mlp_q.onnx" 2> /dev/null | sed -n 's/.*top-1 \([0-9.]*\).*/\1/p')
echo "int8 (lowbit quantize) $q"
awk -v a="$ck" -v b="$q" 'BEGIN { exit !(b > a - 0.01) }'
"$LOWBIT" train --model mlp --quant int8 --epochs 1 --threads 2 --quiet --out "$TMP/mlp8.ckpt" > /dev/null
"$LOWBIT" export --checkpoint "$TMP/mlp8.ckpt" --out "$TMP/mlp8.onnx" --qdq --json "$TMP/mlp8.json" > /dev/null
grep -q '"input_scale"' "$TMP/mlp8.json"
ck8=$("$LOWBIT" eval --checkpoint "$TMP/mlp8.ckpt" | sed -n 's/^test accuracy \([0-9.]*\).*/\1/p')
q8=$("$LOWBIT" eval "$TMP/mlp8.onnx" 2> /dev/null | sed -n 's/.*top-1 \([0-9.]*\).*/\1/p')
echo "int8-trained checkpoint $ck8, QDQ export $q8"
awk -v a="$ck8" -v b="$q8" 'BEGIN { exit !(b > a - 0.01 && b < a + 0.01) }'
# lowbit cil --out-dir: the final model of each run, exported, scores the run's final head accuracy.
"$LOWBIT" cil --dataset fashion-mnist --method icarl --max-train-per-class 100 --epochs 1 --memory 100 \
  --classes-per-task 5 --threads 2 --quiet --json "$TMP/cil.json" --out-dir "$TMP/cil" > /dev/null
"$LOWBIT" export --checkpoint "$TMP/cil/fp32-seed0.ckpt" --out "$TMP/cil.onnx" > /dev/null
cx=$("$LOWBIT" eval "$TMP/cil.onnx" 2> /dev/null | sed -n 's/.*top-1 \([0-9.]*\).*/\1/p')
cf=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['presets']['fp32']['runs'][0]['seen_accuracy'][-1])" "$TMP/cil.json" 2> /dev/null || echo "")
echo "cil final head accuracy $cf, exported $cx"
[ -z "$cf" ] || awk -v a="$cf" -v b="$cx" 'BEGIN { d = a - b; exit !(d < 1e-4 && d > -1e-4) }'
head -c 200 "$TMP/mlp.ckpt" > "$TMP/torn.ckpt"
if "$LOWBIT" export --checkpoint "$TMP/torn.ckpt" --out "$TMP/torn.onnx" 2> "$TMP/err.txt"; then exit 1; fi
grep -q "torn.ckpt" "$TMP/err.txt"
[ ! -e "$TMP/torn.onnx" ]
echo ok
