# trace-kernel.py - run by gdb-multiarch (tools/trace-kernel.sh): single-step chosen
# traps of the demo kernel from their entry (from_user) to the sret that ends them, and
# print, per trap, the instructions executed in each function. This is how the
# per-step figures in docs/vmobj.md, docs/aspace.md and docs/kernel.md are found; the
# totals agree with make bench-kernel's, which read instret around the same path.
#
# Environment: TRACE_CAUSE (scause to trace: 15 a store page fault, the default; 8 an
# ecall from U-mode), TRACE_SYSCALL (with 8: only this a7), TRACE_SKIP (matching traps
# to let pass first, default 0), TRACE_COUNT (traps to trace, default 3), GDB_PORT,
# TRACE_CALLS (1: also print how often each function was entered, and from where, as
# "calls": {"callee<caller": n}, to count lock round trips and allocations).
import collections
import json
import os

import gdb

cause = int(os.environ.get("TRACE_CAUSE", "15"))
sysno = os.environ.get("TRACE_SYSCALL")
skip = int(os.environ.get("TRACE_SKIP", "0"))
count = int(os.environ.get("TRACE_COUNT", "3"))
want_calls = os.environ.get("TRACE_CALLS") == "1"

gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("set architecture riscv:rv64")
gdb.execute("target remote localhost:" + os.environ.get("GDB_PORT", "1234"))
gdb.execute("break from_user")
arch = None
names = {}
entries = set()


def name_of(pc):
    """The function holding pc, from the symbol table (assembly has no debug block)."""
    if pc not in names:
        s = gdb.execute("info symbol %#x" % pc, to_string=True).split()
        names[pc] = s[0] if s and s[0] != "No" else "?"
        # "f in section .text" is f's first instruction; "f + 12 in ..." is not.
        if len(s) > 1 and s[1] == "in":
            entries.add(pc)
    return names[pc]


seen = 0
while seen < skip + count:
    gdb.execute("continue", to_string=True)
    if int(gdb.parse_and_eval("$scause")) != cause:
        continue
    if sysno is not None and int(gdb.parse_and_eval("$a7")) != int(sysno):
        continue
    seen += 1
    if seen <= skip:
        continue
    stval = int(gdb.parse_and_eval("$stval"))
    per = collections.Counter()
    calls = collections.Counter()
    n = 0
    prev = None
    arch = arch or gdb.selected_frame().architecture()
    while True:
        pc = int(gdb.parse_and_eval("$pc")) & 0xFFFFFFFFFFFFFFFF
        f = name_of(pc)
        per[f] += 1
        if want_calls and pc in entries and prev is not None:
            calls[f + "<" + prev] += 1
        prev = f
        n += 1
        # The trap ends at the sret that returns to U-mode.
        if arch.disassemble(pc)[0]["asm"].startswith("sret") or n > 2000000:
            break
        gdb.execute("stepi", to_string=True)
    out = {"trace": "kernel", "scause": cause, "stval": "%#x" % stval,
           "instructions": n, "functions": dict(per.most_common())}
    if want_calls:
        out["calls"] = dict(calls.most_common())
    print(json.dumps(out))
gdb.execute("kill")
