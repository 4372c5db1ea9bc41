#!/usr/bin/env bash
# qemu-run.sh KERNEL.elf [KERNEL ARGS...] - boot the demo kernel on QEMU virt.
# Environment: QEMU_MEM (default 1G), QEMU_EXTRA (more QEMU options), QEMU_SMP (1).
set -euo pipefail
kernel=$1; shift
fw=""
for f in /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin \
         /usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin; do
	if [ -f "$f" ]; then fw=$f; break; fi
done
[ -n "$fw" ] || { echo "qemu-run: no OpenSBI firmware found (make deps-qemu)" >&2; exit 2; }
# shellcheck disable=SC2086
exec qemu-system-riscv64 -machine virt -nographic -no-reboot \
	-smp "${QEMU_SMP:-1}" -m "${QEMU_MEM:-1G}" -bios "$fw" \
	-kernel "$kernel" -append "$*" ${QEMU_EXTRA:-}
