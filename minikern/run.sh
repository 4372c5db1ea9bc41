#!/usr/bin/env bash
# minikern/run.sh KERNEL.elf [ARGS] - boot minikern on QEMU virt with QEMU's own
# OpenSBI; ARGS become the kernel command line.
set -euo pipefail
exec qemu-system-riscv64 -machine virt -bios default -nographic -no-reboot \
	-smp 1 -m 128M -kernel "$1" -append "${2:-}" ${QEMU_EXTRA:-}
