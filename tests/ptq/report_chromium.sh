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
sed 's#<p id="lowbit-report-status"#<script>undefined_function_of_a_broken_page();</script>&#' "$TMP/report.html" > "$TMP/broken.html"
dump() { HOME="$TMP" timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
  --virtual-time-budget=2000 --dump-dom "file://$1" 2> "$TMP/chromium.err"; }
dump "$TMP/report.html" > "$TMP/dom.html"
if ! grep -q 'id="lowbit-report-status" data-status="ok"[^>]*>self-check: 2 plots ok' "$TMP/dom.html"; then
  echo "report_chromium: self-check did not pass:" >&2
  grep -o 'id="lowbit-report-status"[^<]*' "$TMP/dom.html" >&2 || tail -5 "$TMP/chromium.err" >&2
  exit 1
fi
dump "$TMP/broken.html" > "$TMP/dom-broken.html"
grep -q 'data-status="error"' "$TMP/dom-broken.html" || { echo "report_chromium: a script error went unnoticed" >&2; exit 1; }
echo ok
