#!/usr/bin/env bash
# qemu-run.sh KERNEL.elf [KERNEL ARGS...] - boot the demo kernel on QEMU virt.
# Environment: QEMU_SMP (harts, default 4, at most the kernel's NCPU, 8), QEMU_MEM
# (RAM, default 1G, at least 35M), QEMU_EXTRA (more QEMU options). make run and make
# gdb use these defaults. What QEMU cannot boot, or the kernel would ignore, is refused
# here, in one line, before QEMU starts.
set -euo pipefail
kernel=$1; shift
fw=""
for f in /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin \
         /usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin; do
	if [ -f "$f" ]; then fw=$f; break; fi
done
[ -n "$fw" ] || { echo "qemu-run: no OpenSBI firmware found (make deps-qemu)" >&2; exit 2; }

# RAM: QEMU's -m syntax (a number of MiB, or with a K, M, G or T suffix). RAM on virt
# starts at 0x80000000, the kernel is loaded 2 MiB in, and OpenSBI's fw_jump copies
# the device tree to 0x82200000, 34 MiB in: with less RAM than 35 MiB, the firmware
# writes outside RAM and nothing, not even its banner, is ever printed.
mem=${QEMU_MEM:-1G}
min_mib=35
if [[ ! $mem =~ ^([0-9]+)([KkMmGgTt]?)[Bb]?$ ]]; then
	echo "qemu-run: QEMU_MEM=$mem: expected a size such as 1G or 512M" >&2; exit 2
fi
n=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]:-M}
case $unit in
	[Kk]) kib=$n ;; [Mm]) kib=$((n * 1024)) ;;
	[Gg]) kib=$((n * 1024 * 1024)) ;; [Tt]) kib=$((n * 1024 * 1024 * 1024)) ;;
esac
if [ "$kib" -lt $((min_mib * 1024)) ]; then
	echo "qemu-run: QEMU_MEM=$mem is too small: the firmware puts the device tree 34 MiB" \
	     "into RAM, so the kernel needs at least ${min_mib}M (1G is the default)" >&2
	exit 2
fi

# Harts: the kernel starts at most NCPU (kernel/cpu.h) and would leave the others
# stopped, so more is refused rather than quietly ignored.
smp_default=4
smp=${QEMU_SMP:-$smp_default}
ncpu=$(sed -n 's/^#define NCPU \([0-9]*\).*/\1/p' "$(dirname "$0")/../kernel/cpu.h")
if [[ ! $smp =~ ^[0-9]+$ ]] || [ "$smp" -lt 1 ] || [ "$smp" -gt "${ncpu:-8}" ]; then
	echo "qemu-run: QEMU_SMP=$smp: the kernel runs 1 to ${ncpu:-8} harts (NCPU in kernel/cpu.h)" >&2
	exit 2
fi

# shellcheck disable=SC2086
exec qemu-system-riscv64 -machine virt -nographic -no-reboot \
	-smp "$smp" -m "$mem" -bios "$fw" \
	-kernel "$kernel" -append "$*" ${QEMU_EXTRA:-}
