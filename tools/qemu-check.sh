#!/usr/bin/env bash
# qemu-check.sh KERNEL.elf - boot the demo kernel in every paging mode and once with a
# shrunken direct-map window; fail on a failed test, a panic, a hang or a leak.
# Each run's serial output is kept in build/kernel/check-NAME.log.
set -uo pipefail
kernel=$1
here=$(dirname "$0")
logdir=$(dirname "$kernel")
# A hang detector, not a budget: a boot takes 15 to 25 s of host time alone, but four
# vCPUs on a loaded two-core host took 55 s (the out-of-memory phase last), and one run
# under six parallel builds passed 120 s. A real hang costs only the wait.
limit=${KERNEL_CHECK_TIMEOUT:-300}
# name|harts|RAM|kernel command line. RAM is 1 GiB at 0x80000000 (so the direct map is
# one gigapage); the dmap3G run has 1.5 GiB of RAM and a direct map that stops at
# physical 3 GiB, so the top half gigabyte is reachable only through kmap. Every run
# but one boots four harts; sv39-1hart keeps the single-hart path honest.
runs=(
	"sv39|4|1G|svmm.mode=sv39"
	"sv48|4|1G|svmm.mode=sv48"
	"sv57|4|1G|svmm.mode=sv57"
	"sv48-dmap3G|4|1536M|svmm.mode=sv48 svmm.dmap_limit=3G"
	"sv39-1hart|1|1G|svmm.mode=sv39"
)
tp=0 tf=0 bad=()
for r in "${runs[@]}"; do
	name=${r%%|*} rest=${r#*|}
	harts=${rest%%|*} rest=${rest#*|}
	mem=${rest%%|*} args=${rest#*|}
	log=$logdir/check-$name.log
	QEMU_SMP=$harts QEMU_MEM=$mem timeout "$limit" "$here/qemu-run.sh" "$kernel" "$args" </dev/null >"$log" 2>&1
	rc=$?
	tr -d '\r' <"$log" >"$log.tmp" && mv "$log.tmp" "$log"
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
	why=""
	if [ "$rc" -eq 124 ]; then why="hang (no power-off within ${limit}s)"
	elif grep -q '^panic:' "$log"; then why="panic: $(grep -m1 '^panic:' "$log")"
	elif [ -z "$summary" ]; then why="no summary line (exit status $rc)"
	elif grep -q '^LEAK' "$log"; then why="$(grep -m1 '^LEAK' "$log")"
	elif [ "$rc" -ne 0 ]; then why="QEMU exit status $rc"
	fi
	p=$(awk '{print $1}' <<<"${summary:-0 passed}") f=$(awk '{print $3}' <<<"${summary:-0 passed, 0}")
	f=${f:-0}
	if [ -n "$why" ] && [ "$f" -eq 0 ]; then f=1; fi
	if [ "$f" -ne 0 ]; then bad+=("$name"); fi
	tp=$((tp + p)) tf=$((tf + f))
	printf 'kernel %-14s %s%s\n' "$name:" "${summary:-no summary}" "${why:+  <- $why}"
	if [ "$f" -ne 0 ]; then grep -E '^(FAIL|panic|LEAK)' "$log" | head -20 | sed 's/^/    /'; fi
done
# Bad options: each must panic early with the expected one-line reason and power off
# with a failure status. The first is also a check of the harness itself: if it looked
# like a success, the checks above could not be trusted. name|kernel command line|the
# panic line must match this extended regular expression.
negatives=(
	"negative|svmm.mode=sv99|^panic: svmm.mode=sv99: expected sv39, sv48 or sv57"
	"dmap-banana|svmm.dmap_limit=banana|^panic: svmm.dmap_limit=banana: .*at least 3G"
	"dmap-2500M|svmm.dmap_limit=2500M|^panic: svmm.dmap_limit=2500M: .*2G.*at least 3G"
	"dmap-1G|svmm.dmap_limit=1G|^panic: svmm.dmap_limit=1G: .*at least 3G"
)
for r in "${negatives[@]}"; do
	name=${r%%|*} rest=${r#*|}
	args=${rest%%|*} want=${rest#*|}
	log=$logdir/check-$name.log
	QEMU_MEM=1G timeout "$limit" "$here/qemu-run.sh" "$kernel" "$args" </dev/null >"$log" 2>&1
	rc=$?
	tr -d '\r' <"$log" >"$log.tmp" && mv "$log.tmp" "$log"
	first=$(grep -m1 '^panic:' "$log")
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -Eq "$want" <<<"$first" &&
	   ! grep -q 'SVMM_E' <<<"$first"; then
		printf 'kernel %-14s %s\n' "$name:" "refused with one line, QEMU exit status $rc (expected)"
		tp=$((tp + 1))
	else
		printf 'kernel %-14s %s\n' "$name:" "$args was not refused as expected (exit status $rc)"
		printf '    wanted: %s\n    got:    %s\n' "$want" "${first:-no panic line}"
		tf=$((tf + 1)); bad+=("$name")
	fi
done
echo "kernel: $tp passed, $tf failed"
if [ -n "${CHECK_COUNTS:-}" ]; then echo "$tp $tf" >> "$CHECK_COUNTS"; fi
if [ ${#bad[@]} -gt 0 ]; then echo "kernel: failing runs: ${bad[*]} (logs in $logdir)"; exit 1; fi
