#!/bin/sh
# `lowbit cil` end to end on a slice of Fashion-MNIST: two presets, JSON report, then --resume
# with one more seed must reuse the finished runs. Skips (77) when the data set is not installed.
set -eu
LOWBIT="$1"
TMP="${LOWBIT_TEST_TMP:-/tmp}/cil-cli-smoke.$$"
[ -e /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz ] || [ -e /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte ] || exit 77
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
ARGS="cil --dataset fashion-mnist --max-train-per-class 60 --epochs 1 --memory 40 --classes-per-task 5 --threads 1 --quiet --json $TMP/r.json"
"$LOWBIT" $ARGS --compare fp32,hdqt > "$TMP/out1.txt"
grep -q "degradation vs fp32" "$TMP/out1.txt"
grep -q '"avg_incremental_accuracy"' "$TMP/r.json"
grep -q '"hdqt"' "$TMP/r.json.partial"
"$LOWBIT" $ARGS --compare fp32,hdqt --seeds 2 --resume > "$TMP/out2.txt" 2> "$TMP/err2.txt"
grep -q "resuming: 2 finished run" "$TMP/err2.txt"
grep -q "(2 seeds)" "$TMP/out2.txt"
# Other settings must not reuse the partial file.
if "$LOWBIT" $ARGS --compare fp32,hdqt --epochs 2 --resume > /dev/null 2>&1; then exit 1; fi
echo ok
