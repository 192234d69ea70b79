#!/bin/sh
# `lowbit cil --resume` from task checkpoints: a session stopped after task 3 of the fp32 run,
# resumed and stopped again inside the hdqt run, then resumed to the end, must write the same
# JSON report (every per-task accuracy; only the wall-clock field masked) as one uninterrupted
# session. Then the errors: a truncated or corrupt task checkpoint, one from other settings, and
# a --json path whose folder cannot be written. Skips (77) without Fashion-MNIST.
# Usage: cli_resume.sh <lowbit> <method>
set -eu
LOWBIT="$1"
METHOD="$2"
TMP="${LOWBIT_TEST_TMP:-/tmp}/cil-resume-$METHOD.$$"
[ -e /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz ] || [ -e /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte ] || exit 77
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
ARGS="cil --dataset fashion-mnist --max-train-per-class 60 --epochs 1 --memory 40 --classes-per-task 2 --threads 1 --quiet --method $METHOD --compare fp32,hdqt"
fail() { echo "cli_resume ($METHOD): $*" >&2; exit 1; }
mask() { sed -E 's/"seconds_per_seed": [0-9.eE+-]+/"seconds_per_seed": "-"/' "$1"; }

"$LOWBIT" $ARGS --json "$TMP/full.json" > /dev/null
# 5 tasks per run: stop after fp32's task 3, then after hdqt's task 2 (fp32's last two + two).
"$LOWBIT" $ARGS --json "$TMP/r.json" --stop-after-tasks 3 > "$TMP/out1.txt"
grep -q "stopped after 3 task(s)" "$TMP/out1.txt" || fail "no stop message"
[ -f "$TMP/r.json.fp32-seed0.task.ckpt" ] || fail "no task checkpoint after task 3"
[ ! -e "$TMP/r.json" ] || fail "a stopped session wrote the final report"
"$LOWBIT" $ARGS --json "$TMP/r.json" --stop-after-tasks 4 --resume > /dev/null 2> "$TMP/err2.txt"
grep -q "resuming fp32 seed 0 after task 3/5 from $TMP/r.json.fp32-seed0.task.ckpt" "$TMP/err2.txt" || fail "no resume line: $(cat "$TMP/err2.txt")"
[ ! -e "$TMP/r.json.fp32-seed0.task.ckpt" ] || fail "the finished run's task checkpoint was not removed"
"$LOWBIT" $ARGS --json "$TMP/r.json" --resume > /dev/null 2> "$TMP/err3.txt"
grep -q "resuming hdqt seed 0 after task 2/5" "$TMP/err3.txt" || fail "hdqt did not resume: $(cat "$TMP/err3.txt")"
ls "$TMP"/r.json.*.task.ckpt > /dev/null 2>&1 && fail "task checkpoints left after the session finished"
mask "$TMP/full.json" > "$TMP/full.masked"
mask "$TMP/r.json" > "$TMP/r.masked"
diff -u "$TMP/full.masked" "$TMP/r.masked" || fail "the resumed session's report differs from the uninterrupted one"

# A truncated checkpoint, a corrupt byte, other settings: clear errors naming the file, no run.
"$LOWBIT" $ARGS --json "$TMP/c.json" --stop-after-tasks 2 > /dev/null
CK="$TMP/c.json.fp32-seed0.task.ckpt"
cp "$CK" "$TMP/good.ckpt"
if "$LOWBIT" $ARGS --json "$TMP/c.json" --lr 0.02 --resume > /dev/null 2> "$TMP/err4.txt"; then fail "resumed a checkpoint of other settings"; fi
grep -q "$CK was written with other settings" "$TMP/err4.txt" || fail "other settings: $(cat "$TMP/err4.txt")"
head -c 1000 "$TMP/good.ckpt" > "$CK"
if "$LOWBIT" $ARGS --json "$TMP/c.json" --resume > /dev/null 2> "$TMP/err5.txt"; then fail "resumed a truncated checkpoint"; fi
grep -q "$CK" "$TMP/err5.txt" || fail "truncated: $(cat "$TMP/err5.txt")"
cp "$TMP/good.ckpt" "$CK"
printf 'X' | dd of="$CK" bs=1 seek=200 conv=notrunc 2> /dev/null
if "$LOWBIT" $ARGS --json "$TMP/c.json" --resume > /dev/null 2> "$TMP/err6.txt"; then fail "resumed a corrupt checkpoint"; fi
grep -q "$CK.*CRC mismatch" "$TMP/err6.txt" || fail "corrupt: $(cat "$TMP/err6.txt")"

# A --json path in a folder that cannot be written fails before any training.
: > "$TMP/not-a-dir"
if "$LOWBIT" $ARGS --json "$TMP/not-a-dir/r.json" > /dev/null 2> "$TMP/err7.txt"; then fail "ran without a writable --json folder"; fi
grep -q "cannot write the partial results and task checkpoints next to --json $TMP/not-a-dir/r.json" "$TMP/err7.txt" ||
  fail "unwritable: $(cat "$TMP/err7.txt")"
echo ok
