#!/bin/bash
# vmem-ab.sh - the interleaved comparison docs/vmem.md quotes: build bench_vmem from each
# named commit (git worktrees under a temporary directory, the flags of
# `make build/bench/bench_vmem`) and run them alternately, ROUNDS times each, on one
# workload, then print per build the median, minimum and maximum of svmm's
# cpu_ns_per_pair and of ratio_to_instantfit. Alternating is what makes two builds
# comparable on a machine whose speed drifts.
#
#   tools/vmem-ab.sh ROUNDS N WORKLOAD REV...   e.g. tools/vmem-ab.sh 10 1000 W1 a2ba30b main
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 ROUNDS N WORKLOAD REV..." >&2; exit 2; }
rounds=$1 n=$2 work=$3; shift 3
top=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'for r in "${revs[@]}"; do git -C "$top" worktree remove --force "$tmp/src-$r" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
revs=("$@")
for r in "${revs[@]}"; do
	git -C "$top" worktree add -q --detach "$tmp/src-$r" "$r"
	make -s -C "$tmp/src-$r" build/bench/bench_vmem >/dev/null
	cp "$tmp/src-$r/build/bench/bench_vmem" "$tmp/bin-$r"
done
for ((i = 0; i < rounds; i++)); do
	for r in "${revs[@]}"; do
		l=$(SVMM_BENCH_N=$n "$tmp/bin-$r" "$work")
		v=$(echo "$l" | grep -o ', "cpu_ns_per_pair": [0-9.]*' | awk '{print $3}' || true)
		q=$(echo "$l" | grep -o '"ratio_to_instantfit": [0-9.]*' | awk '{print $2}' || true)
		echo "$r $v ${q:-NaN}"
	done
done > "$tmp/runs"
for r in "${revs[@]}"; do
	for c in 2 3; do
		{ grep "^$r " "$tmp/runs" || true; } | awk -v c=$c '{print $c}' | sort -n | awk -v r="$r" -v c=$c '
			{ a[NR] = $1 }
			END { m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2;
			      printf "%s %s median %.2f min %.2f max %.2f (%d runs)\n", r,
				     c == 2 ? "cpu_ns_per_pair" : "ratio_to_instantfit", m, a[1], a[NR], NR }'
	done
done
