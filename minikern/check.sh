#!/usr/bin/env bash
# minikern/check.sh KERNEL.elf - boot minikern once; fail on a failed test, a panic, a
# hang (no power-off within MINIKERN_TIMEOUT seconds), a leak or a failure exit status.
# The serial output is kept next to the kernel, in check.log.
set -uo pipefail
kernel=$1
here=$(dirname "$0")
log=$(dirname "$kernel")/check.log
limit=${MINIKERN_TIMEOUT:-30}
timeout "$limit" "$here/run.sh" "$kernel" </dev/null >"$log" 2>&1
rc=$?
tr -d '\r' <"$log" >"$log.tmp" && mv "$log.tmp" "$log"
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
why=""
if [ "$rc" -eq 124 ]; then why="hang (no power-off within ${limit}s)"
elif grep -q '^panic:' "$log"; then why="$(grep -m1 '^panic:' "$log")"
elif [ -z "$summary" ]; then why="no summary line (exit status $rc)"
elif grep -q '^LEAK' "$log"; then why="$(grep -m1 '^LEAK' "$log")"
elif [ "$rc" -ne 0 ]; then why="QEMU exit status $rc"
fi
p=$(awk '{print $1}' <<<"${summary:-0 passed, 0 failed}")
f=$(awk '{print $3}' <<<"${summary:-0 passed, 0 failed}")
if [ -n "$why" ] && [ "$f" -eq 0 ]; then f=1; fi
echo "minikern: boot: ${summary:-no summary}${why:+  <- $why}"
grep -E '^(FAIL|panic|LEAK|WORKAROUND)' "$log" | head -20 | sed 's/^/    /'
# The harness itself: a boot told to fail one test and leak a frame must end with a
# failure status, a FAIL line and a LEAK line.
nlog=$(dirname "$kernel")/check-negative.log
timeout "$limit" "$here/run.sh" "$kernel" minikern.selftest-fail </dev/null 2>&1 | tr -d '\r' >"$nlog"
nrc=${PIPESTATUS[0]}
if [ "$nrc" -ne 0 ] && [ "$nrc" -ne 124 ] && grep -q '^FAIL hello' "$nlog" && grep -q '^LEAK' "$nlog"; then
	echo "minikern: negative: a failed test and a leak are caught (QEMU exit status $nrc)"
	p=$((p + 1))
else
	echo "minikern: negative: the self-test failure went unnoticed (exit status $nrc, log in $nlog)"
	f=$((f + 1))
fi
echo "minikern: $p passed, $f failed"
if [ -n "${CHECK_COUNTS:-}" ]; then echo "$p $f" >> "$CHECK_COUNTS"; fi
if [ "$f" -ne 0 ]; then echo "minikern: failed (log in $log)"; exit 1; fi
