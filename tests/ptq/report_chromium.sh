#!/bin/sh
# `lowbit ptq --report` renders in headless Chromium: the page loads with no script error and its
# inline self-check finds both fronts (accuracy–latency, accuracy–size) with their points.
# Skips (77) when Chromium, the CIFAR-10 ResNet-20 or the CIFAR-10 data is not installed.
# Usage: report_chromium.sh <lowbit> <source dir>
set -eu
LOWBIT="$1"
SRC="$2"
MODEL="$SRC/../shared/data/models/resnet20_cifar10.onnx"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || { echo "skip: chromium not installed (apt-get install chromium)"; exit 77; }
[ -e "$MODEL" ] || { echo "skip: $MODEL absent"; exit 77; }
[ -d "$SRC/data/cifar10" ] || { echo "skip: data/cifar10 absent (make data)"; exit 77; }
TMP="${LOWBIT_TEST_TMP:-/tmp}/ptq-report.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
"$LOWBIT" ptq "$MODEL" --calib cifar10 --eval cifar10 --data-dir "$SRC/data/cifar10" --mean 0.485,0.456,0.406 \
  --std 0.229,0.224,0.225 --calib-count 32 --eval-count 100 --metric sqnr --search greedy --max-drop 2pt \
  --latency-batch 8 --latency-repeats 3 --no-progress --out "$TMP/mp.onnx" --report "$TMP/report.html" > /dev/null
[ "$(grep -c '<figure class="plot">' "$TMP/report.html")" = 2 ]
. "$(dirname "$0")/../report_selfcheck.sh"
report_selfcheck "$TMP/report.html" 2
echo ok
