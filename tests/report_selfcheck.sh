# Sourced by the report tests (tests/cil, tests/ptq): renders a lowbit HTML report in headless
# Chromium and requires its inline self-check to pass with N plots, then requires the same page
# with a script error injected before the check to report "error" (a broken page must fail).
# Usage: CHROMIUM=... TMP=... report_selfcheck <report.html> <plots>
report_selfcheck() {
  page="$1"
  plots="$2"
  sed 's#<p id="lowbit-report-status"#<script>undefined_function_of_a_broken_page();</script>&#' "$page" > "$TMP/broken.html"
  grep -q undefined_function_of_a_broken_page "$TMP/broken.html"
  dump "$page" > "$TMP/dom.html"
  if ! grep -q "id=\"lowbit-report-status\" data-status=\"ok\"[^>]*>self-check: $plots plots ok" "$TMP/dom.html"; then
    echo "report_selfcheck: self-check did not pass:" >&2
    grep -o 'id="lowbit-report-status"[^<]*' "$TMP/dom.html" >&2 || tail -5 "$TMP/chromium.err" >&2
    exit 1
  fi
  dump "$TMP/broken.html" > "$TMP/dom-broken.html"
  grep -q 'data-status="error"' "$TMP/dom-broken.html" || { echo "report_selfcheck: a script error went unnoticed" >&2; exit 1; }
}

dump() {
  HOME="$TMP" timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
    --virtual-time-budget=2000 --dump-dom "file://$1" 2> "$TMP/chromium.err"
}
