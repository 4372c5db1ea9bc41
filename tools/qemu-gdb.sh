#!/usr/bin/env bash
# qemu-gdb.sh KERNEL.elf [KERNEL ARGS...] - start QEMU halted with a gdb stub on
# localhost:1234 and attach gdb-multiarch with the kernel's symbols and the helper
# commands of kernel/gdbinit (satp, ptwalk). QEMU stops when gdb exits. The machine is
# qemu-run.sh's, with its settings and defaults (QEMU_SMP, 4 harts; QEMU_MEM, 1G), the
# same as make run's; each hart is a gdb thread.
set -euo pipefail
kernel=$1; shift
here=$(dirname "$0")
port=${GDB_PORT:-1234}
QEMU_EXTRA="-S -gdb tcp::$port" "$here/qemu-run.sh" "$kernel" "$*" </dev/null &
qemu=$!
trap 'kill $qemu 2>/dev/null || true' EXIT
sleep 0.5
gdb-multiarch -q "$kernel" -ex "set architecture riscv:rv64" \
	-ex "target remote localhost:$port" -x "$here/../kernel/gdbinit"
