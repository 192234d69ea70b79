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
# A broken page must fail: the same page with a script error before the check reports "error".
sed 's#<p id="lowbit-report-status"#<script>undefined_function_of_a_broken_page();</script>&#' "$TMP/report.html" > "$TMP/broken.html"
grep -q undefined_function_of_a_broken_page "$TMP/broken.html"
dump() { HOME="$TMP" timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
  --virtual-time-budget=2000 --dump-dom "file://$1" 2> "$TMP/chromium.err"; }
dump "$TMP/report.html" > "$TMP/dom.html"
if ! grep -q 'id="lowbit-report-status" data-status="ok"[^>]*>self-check: 3 plots ok' "$TMP/dom.html"; then
  echo "report_chromium: self-check did not pass:" >&2
  grep -o 'id="lowbit-report-status"[^<]*' "$TMP/dom.html" >&2 || tail -5 "$TMP/chromium.err" >&2
  exit 1
fi
[ "$(grep -o '<svg class="lowbit-plot"' "$TMP/dom.html" | wc -l)" = 3 ]
dump "$TMP/broken.html" > "$TMP/dom-broken.html"
grep -q 'data-status="error"' "$TMP/dom-broken.html" || { echo "report_chromium: a script error went unnoticed" >&2; exit 1; }
echo ok
