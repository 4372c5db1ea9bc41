#!/bin/bash
# tools/check-namespace.sh CC... - every public header of svmm compiles with -Werror,
# freestanding, both after and before tests/namespace/kernel_names.h (the names kernels
# commonly define for themselves), with each compiler given. A header that defines,
# declares or uses one of those names fails the check. A deliberately bad header must
# fail too, so the check shows it can.
set -u
cd "$(dirname "$0")/.."
WARN="-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith -Wundef"
n=0
ncc=$#
try() { # cc first second
	printf '#include "%s"\n#include "%s"\n' "$2" "$3" |
		$1 -std=c11 $WARN -ffreestanding -nostdinc -isystem "$inc" -Iinclude \
			-Itests/namespace -fsyntax-only -x c -
}
for cc in "$@"; do
	inc=$($cc -print-file-name=include)
	for h in include/svmm/*.h; do
		for order in "kernel_names.h $PWD/$h" "$PWD/$h kernel_names.h"; do
			set -- $order
			if ! try "$cc" "$1" "$2"; then
				echo "check-namespace: $h clashes with a kernel's names ($cc, $(basename "$1") first)" >&2
				exit 1
			fi
			n=$((n + 1))
		done
	done
	if try "$cc" kernel_names.h bad_header.h 2>/dev/null; then
		echo "check-namespace: a header defining PTE_V was not caught ($cc)" >&2
		exit 1
	fi
done
echo "check-namespace: $(ls include/svmm/*.h | wc -l) public headers, $ncc compilers, both orders ($n units): no clash with a kernel's names"
