#!/bin/bash
# tools/check-symbols.sh LIB... - the portable core needs nothing from its environment
# but port.h and the four memory functions: for each archive given (the riscv64 builds
# of the core), every symbol it leaves undefined must be a function declared in
# include/svmm/port.h or one of memset, memcpy, memmove, memcmp. A call the compiler
# slipped in (libgcc's __ctzdi2 for __builtin_ctzll without Zbb, __mulsi3, a stack
# protector, ...) fails the check and is named.
#
# An argument MODULE=DIR:file,file,... checks a subset instead: the object files of
# DIR named (core/FILE.c each) must together need nothing else either. make
# check-symbols runs one per module with the file lists docs/porting.md gives, so that
# the list a kernel copies into its build is known to link.
set -u
cd "$(dirname "$0")/.."
NM=${NM:-riscv64-unknown-elf-nm}
allowed=$( (grep -oE '\bport_[a-z_0-9]+\(' include/svmm/port.h | tr -d '('
	printf '%s\n' memset memcpy memmove memcmp) | sort -u)
status=0
for lib in "$@"; do
	objs=$lib
	if [[ $lib == *=*:* ]]; then
		dir=${lib#*=}; dir=${dir%%:*}
		files=${lib#*:}
		objs=$(for f in ${files//,/ }; do echo "$dir/$f.o"; done)
	fi
	defined=$($NM --defined-only -g $objs | awk 'NF == 3 { print $3 }' | sort -u)
	undef=$($NM -u $objs | awk 'NF == 2 && $1 == "U" { print $2 }' | sort -u |
		comm -23 - <(echo "$defined"))
	extra=$(comm -23 <(echo "$undef") <(echo "$allowed"))
	if [ -n "$extra" ]; then
		echo "check-symbols: $lib needs symbols outside port.h and the memory functions:" \
			$extra >&2
		status=1
	else
		echo "check-symbols: $lib needs only:" $undef
	fi
done
exit $status
