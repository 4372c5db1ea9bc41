#!/usr/bin/env bash
# qemu-bench.sh KERNEL.elf - exact instruction counts of the demo kernel: boots QEMU
# with -icount shift=0 and svmm.bench=1 in each paging mode and prints the kernel's
# JSON lines (BENCHMARKS.md: bench "kernel", case, mode, harts, instructions). Four
# harts, so that the SMP cases (fault-smp, shootdown-remote) run too; then one boot
# without -icount (svmm.bench=2) for host seconds of faults on 1, 2 and 4 harts.
set -uo pipefail
kernel=$1
here=$(dirname "$0")
status=0
for mode in sv39 sv48 sv57; do
	out=$(QEMU_SMP=4 QEMU_MEM=1G QEMU_EXTRA="-icount shift=0" timeout 120 \
		"$here/qemu-run.sh" "$kernel" "svmm.mode=$mode svmm.bench=1" </dev/null 2>&1 | tr -d '\r')
	lines=$(grep '^{"bench":"kernel"' <<<"$out")
	if [ -z "$lines" ]; then
		echo "bench-kernel: no results in $mode:" >&2
		tail -5 <<<"$out" >&2
		status=1
		continue
	fi
	echo "$lines"
done
out=$(QEMU_SMP=4 QEMU_MEM=1G timeout 120 "$here/qemu-run.sh" "$kernel" \
	"svmm.mode=sv39 svmm.bench=2" </dev/null 2>&1 | tr -d '\r')
lines=$(grep '^{"bench":"kernel"' <<<"$out")
if [ -z "$lines" ]; then
	echo "bench-kernel: no results from the timed SMP run:" >&2
	tail -5 <<<"$out" >&2
	status=1
else
	echo "$lines"
fi
exit $status
