#!/bin/sh
# `lowbit cil --report` renders in headless Chromium: the page loads with no script error and
# its inline self-check finds every plot (data-status="ok", 3 plots: head, NME, forgetting).
# Skips (77) when Chromium or Fashion-MNIST is not installed.
# Usage: report_chromium.sh <lowbit>
set -eu
LOWBIT="$1"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || { echo "skip: chromium not installed (apt-get install chromium)"; exit 77; }
[ -e /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz ] || [ -e /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte ] || exit 77
TMP="${LOWBIT_TEST_TMP:-/tmp}/cil-report.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
"$LOWBIT" cil --dataset fashion-mnist --max-train-per-class 30 --epochs 1 --memory 40 --classes-per-task 5 \
  --threads 1 --quiet --compare fp32,hdqt --seeds 2 --report "$TMP/report.html" > /dev/null
[ "$(grep -c '<svg class="lowbit-plot"' "$TMP/report.html")" = 3 ]
. "$(dirname "$0")/../report_selfcheck.sh"
report_selfcheck "$TMP/report.html" 3
[ "$(grep -o '<svg class="lowbit-plot"' "$TMP/dom.html" | wc -l)" = 3 ]
echo ok
