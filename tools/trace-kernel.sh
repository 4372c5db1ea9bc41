#!/usr/bin/env bash
# trace-kernel.sh KERNEL.elf [KERNEL ARGS...] - boot the demo kernel halted under QEMU
# (one hart, qemu-run.sh's other defaults), attach gdb-multiarch running
# tools/trace-kernel.py, and print one JSON line per traced trap: its instructions in
# total and per function. make trace-kernel runs it on the benchmark programs.
set -euo pipefail
kernel=$1; shift
here=$(dirname "$0")
port=${GDB_PORT:-1237}
QEMU_SMP=1 QEMU_EXTRA="-S -gdb tcp::$port" "$here/qemu-run.sh" "$kernel" "$*" </dev/null >/dev/null 2>&1 &
qemu=$!
trap 'kill $qemu 2>/dev/null || true' EXIT
sleep 0.5
GDB_PORT=$port gdb-multiarch -q -batch -nx "$kernel" -x "$here/trace-kernel.py" 2>&1 |
	grep '^{"trace"'
