#!/bin/sh
# `lowbit cil` must reproduce, digit for digit, the JSON report that main's `lowbit` wrote before
# the CIL training loop moved onto train::Trainer (golden/cil_<method>_ref.json). LOWBIT_ISA=ref
# makes every kernel take its portable scalar path, so the numbers do not depend on the CPU.
# Only the wall-clock field is masked. Skips (77) when Fashion-MNIST is not installed.
# Usage: cli_golden.sh <lowbit> <method> <golden.json>
set -eu
LOWBIT="$1"
METHOD="$2"
GOLDEN="$3"
TMP="${LOWBIT_TEST_TMP:-/tmp}/cil-golden-$METHOD.$$"
[ -e /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz ] || [ -e /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte ] || exit 77
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
LOWBIT_ISA=ref "$LOWBIT" cil --dataset fashion-mnist --max-train-per-class 60 --epochs 2 --memory 40 \
  --classes-per-task 5 --threads 1 --quiet --compare fp32,hdqt --method "$METHOD" --json "$TMP/r.json" > /dev/null
sed -E 's/"seconds_per_seed": [0-9.eE+-]+/"seconds_per_seed": "-"/' "$TMP/r.json" > "$TMP/masked.json"
if ! diff -u "$GOLDEN" "$TMP/masked.json"; then
  echo "cli_golden: $METHOD report differs from $GOLDEN" >&2
  exit 1
fi
echo ok
