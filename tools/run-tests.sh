#!/usr/bin/env bash
# run-tests.sh BIN... - run each cmocka test binary, show its output, and end with one
# line "N passed, N failed" counting test cases over all binaries. Exit 1 on any failure.
set -u
passed=0 failed=0 bad_bins=()
for bin in "$@"; do
	echo "== $bin"
	out=$("$bin" 2>&1); rc=$?
	echo "$out"
	p=$(grep -Eo '^\[  PASSED  \] [0-9]+' <<<"$out" | awk '{s+=$NF} END{print s+0}')
	f=$(grep -Eo '^\[  FAILED  \] [0-9]+' <<<"$out" | awk '{s+=$NF} END{print s+0}')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed or sanitizer abort
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; echo "$bin ran no test"; fi
	passed=$((passed + p)); failed=$((failed + f))
	[ "$rc" -ne 0 ] && bad_bins+=("$bin")
done
echo "tests: $passed passed, $failed failed"
if [ -n "${CHECK_COUNTS:-}" ]; then echo "$passed $failed" >> "$CHECK_COUNTS"; fi
if [ ${#bad_bins[@]} -gt 0 ]; then echo "failing: ${bad_bins[*]}"; exit 1; fi
[ "$failed" -eq 0 ]
