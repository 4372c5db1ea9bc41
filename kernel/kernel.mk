# kernel/kernel.mk - the demonstration kernel (included by the top Makefile).
#
#   make kernel        build/kernel/kernel.elf (the core is compiled in, for riscv64)
#   make run-kernel    boot it in QEMU (make run does this)
#   make check-kernel  boot Sv39, Sv48, Sv57 and a shrunken direct map; fail on any
#                      failed test, panic, hang or leak
#   make bench-kernel  instruction counts under -icount shift=0 (JSON lines)
#   make trace-kernel  per-function instruction counts of chosen traps (gdb stepping)
#   make gdb           QEMU halted with a gdb stub, gdb-multiarch attached

KB := $(B)/kernel
K_CC := $(RV_GCC)
K_OBJCOPY := riscv64-unknown-elf-objcopy
K_ARCH := -march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany -mno-relax -fno-pic
# Deferred (=), not immediate: on a fresh machine the cross compiler is installed by
# the deps prerequisite of the same make run that parsed this file.
K_RV_INC = $(shell $(RV_GCC) -print-file-name=include)
K_CFLAGS = $(STD) $(WARN) -O2 -g -ffreestanding -nostdinc \
	-isystem $(K_RV_INC) $(INC) -Ikernel \
	$(K_ARCH) -Iuser -fno-stack-protector -fno-common \
	-fno-tree-loop-distribute-patterns -DSVMM_PORT_CONFIG='"svmm_config.h"'
K_ASFLAGS := $(K_ARCH) -Ikernel -g
K_LDFLAGS := -march=rv64imac -mabi=lp64 -mcmodel=medany -nostdlib -nostartfiles -static -Wl,--no-relax -Wl,-T,kernel/kernel.ld \
	-Wl,--build-id=none -Wl,-z,max-page-size=4096

K_SRC_C := $(sort $(wildcard kernel/*.c))
K_SRC_S := $(sort $(wildcard kernel/*.S))
K_OBJS := $(patsubst kernel/%.c,$(KB)/%.o,$(K_SRC_C)) \
	$(patsubst kernel/%.S,$(KB)/%.S.o,$(K_SRC_S)) \
	$(patsubst core/%.c,$(KB)/core/%.o,$(CORE_SRC))
K_HDRS := $(wildcard kernel/*.h include/svmm/*.h)

# User programs: user/NAME.c + the tiny libc, linked at USER_TEXT_BASE, embedded.
U_CFLAGS = $(STD) $(WARN) -O2 -g -ffreestanding -nostdinc \
	-isystem $(K_RV_INC) -Iuser $(INC) \
	$(K_ARCH) -fno-stack-protector -fno-common -fno-tree-loop-distribute-patterns
U_LIB_C := $(sort $(wildcard user/lib/*.c))
U_LIB_S := $(sort $(wildcard user/lib/*.S))
U_PROGS := $(patsubst user/%.c,%,$(sort $(wildcard user/*.c)))
U_ELFS := $(patsubst %,$(KB)/user/%.elf,$(U_PROGS))

$(KB)/user/%.elf: user/%.c $(U_LIB_C) $(U_LIB_S) user/user.ld $(wildcard user/*.h)
	@mkdir -p $(@D)
	@echo "  KCC  $@"; $(K_CC) $(U_CFLAGS) -nostdlib -nostartfiles -static -Wl,-T,user/user.ld \
		-Wl,--build-id=none $(U_LIB_S) $(U_LIB_C) core/fmt.c $< -o $@

# One assembly file embeds every user ELF with a name table.
$(KB)/userprogs.S: $(U_ELFS) kernel/kernel.mk
	@mkdir -p $(@D)
	@{ echo '	.section .userprogs, "a"'; \
	  for p in $(U_PROGS); do \
	    echo "	.balign 8"; echo "uprog_$$p: .incbin \"$(KB)/user/$$p.elf\""; \
	    echo "uprog_$${p}_end:"; echo "uprog_$${p}_name: .asciz \"$$p\""; done; \
	  echo '	.balign 8'; echo '	.globl user_programs, user_programs_count'; \
	  echo 'user_programs:'; \
	  for p in $(U_PROGS); do echo "	.dword uprog_$${p}_name, uprog_$$p, uprog_$${p}_end - uprog_$$p"; done; \
	  echo 'user_programs_count: .dword' $(words $(U_PROGS)); } > $@
$(KB)/userprogs.o: $(KB)/userprogs.S
	@echo "  KCC  $@"; $(K_CC) $(K_ASFLAGS) -c $< -o $@

$(KB)/early.o: kernel/early.c $(K_HDRS)
	@mkdir -p $(@D)
	@echo "  KCC  $@"; $(K_CC) $(K_CFLAGS) -fno-jump-tables -c $< -o $@
$(KB)/%.o: kernel/%.c $(K_HDRS)
	@mkdir -p $(@D)
	@echo "  KCC  $@"; $(K_CC) $(K_CFLAGS) -c $< -o $@
$(KB)/%.S.o: kernel/%.S $(K_HDRS)
	@mkdir -p $(@D)
	@echo "  KCC  $@"; $(K_CC) $(K_ASFLAGS) -c $< -o $@
# The core's structures hold the kernel's lock type (kernel/svmm_config.h): a change
# there must rebuild every core object, or old and new layouts get linked together.
$(KB)/core/%.o: core/%.c $(wildcard include/svmm/*.h) kernel/svmm_config.h
	@mkdir -p $(@D)
	@echo "  KCC  $@"; $(K_CC) $(K_CFLAGS) -c $< -o $@

$(KB)/kernel.elf: $(K_OBJS) $(KB)/userprogs.o kernel/kernel.ld
	@echo "  KCC  $@"; $(K_CC) $(K_LDFLAGS) $(K_OBJS) $(KB)/userprogs.o -o $@

.PHONY: kernel run-kernel check-kernel bench-kernel gdb
kernel: $(KB)/kernel.elf
all: kernel

# Settings people try that nothing reads: refused at once instead of being ignored. The
# harts and the RAM of a boot are QEMU_SMP and QEMU_MEM (tools/qemu-run.sh).
KERNEL_NOT_SMP := SMP CPUS NCPU HARTS NHARTS
KERNEL_NOT_MEM := MEM RAM
$(foreach v,$(KERNEL_NOT_SMP),$(if $(filter command line,$(origin $(v))),\
  $(error $(v)=$($(v)) is not a setting of this build: the number of harts is QEMU_SMP \
  (1 to 8, default 4), e.g. make run QEMU_SMP=$($(v)))))
$(foreach v,$(KERNEL_NOT_MEM),$(if $(filter command line,$(origin $(v))),\
  $(error $(v)=$($(v)) is not a setting of this build: the RAM is QEMU_MEM \
  (default 1G), e.g. make run QEMU_MEM=$($(v)))))

RUN_TARGET := run-kernel
CHECK_EXTRA += check-kernel
BENCH_EXTRA += bench-kernel

run-kernel: deps deps-qemu kernel
	tools/qemu-run.sh $(KB)/kernel.elf $(KARGS)

check-kernel: deps deps-qemu kernel
	tools/qemu-check.sh $(KB)/kernel.elf

bench-kernel: deps deps-qemu kernel
	@mkdir -p $(B)/bench
	tools/qemu-bench.sh $(KB)/kernel.elf | tee $(B)/bench/kernel.json

# Per-function instruction counts of chosen traps, single-stepped under gdb (slow: a
# few seconds per thousand instructions). Defaults: the first three store page faults
# of the benchmark programs in Sv39; TRACE_CAUSE=8 TRACE_SYSCALL=11 traces forks.
# tools/trace-kernel.py lists the settings.
TRACE_ARGS ?= svmm.mode=sv39 svmm.bench=1
.PHONY: trace-kernel
trace-kernel: deps deps-qemu kernel
	@tools/setup.sh extra
	tools/trace-kernel.sh $(KB)/kernel.elf $(TRACE_ARGS)

gdb: deps deps-qemu kernel
	@tools/setup.sh extra
	tools/qemu-gdb.sh $(KB)/kernel.elf $(KARGS)
bench: bench-kernel

# The kernel's files use each other in one direction only (tools/kernel-deps.sh reads
# the objects' symbol tables and names a cycle if there is one).
.PHONY: check-kernel-deps
CHECK_EXTRA += check-kernel-deps
check-kernel-deps: kernel
	@tools/kernel-deps.sh riscv64-unknown-elf-nm $(patsubst kernel/%.c,$(KB)/%.o,$(K_SRC_C)) && \
	  { if [ -n "$${CHECK_COUNTS:-}" ]; then echo "1 0" >> "$$CHECK_COUNTS"; fi; } || \
	  { if [ -n "$${CHECK_COUNTS:-}" ]; then echo "0 1" >> "$$CHECK_COUNTS"; fi; exit 1; }

# The settings of tools/qemu-run.sh (make run, make gdb, the checks): what cannot boot
# or would be ignored must be refused before QEMU starts, with one line naming the
# setting. Each case runs the script on a kernel file that does not exist, so a case
# that is not refused fails on QEMU's own error instead (and cannot hang).
# Cases: environment|the refusal must match this extended regular expression.
QEMU_ARG_CASES := \
	"QEMU_MEM=16M|QEMU_MEM=16M is too small.*at least 35M" \
	"QEMU_MEM=32M|QEMU_MEM=32M is too small.*at least 35M" \
	"QEMU_MEM=banana|QEMU_MEM=banana: expected a size" \
	"QEMU_SMP=9|QEMU_SMP=9: the kernel runs 1 to 8 harts" \
	"QEMU_SMP=0|QEMU_SMP=0: the kernel runs 1 to 8 harts" \
	"QEMU_SMP=two|QEMU_SMP=two: the kernel runs 1 to 8 harts"
.PHONY: check-qemu-args
CHECK_EXTRA += check-qemu-args
check-qemu-args:
	@p=0; f=0; for c in $(QEMU_ARG_CASES); do env=$${c%%|*} want=$${c#*|}; \
	  out=$$(env $$env tools/qemu-run.sh $(KB)/no-such-kernel.elf 2>&1 </dev/null); rc=$$?; \
	  if [ $$rc -eq 2 ] && [ $$(printf '%s\n' "$$out" | wc -l) -eq 1 ] && \
	     grep -Eq "$$want" <<<"$$out"; then p=$$((p + 1)); \
	  else f=$$((f + 1)); echo "check-qemu-args: $$env not refused in one line (status $$rc): $$out"; fi; \
	done; \
	out=$$($(MAKE) --no-print-directory -n run SMP=3 2>&1); rc=$$?; \
	if [ $$rc -ne 0 ] && grep -q "SMP=3 is not a setting of this build.*QEMU_SMP" <<<"$$out"; \
	then p=$$((p + 1)); else f=$$((f + 1)); echo "check-qemu-args: make run SMP=3 not refused: $$out"; fi; \
	d=$$(sed -n 's/^smp_default=//p' tools/qemu-run.sh); \
	if grep -q "QEMU_SMP (harts, default $$d," tools/qemu-run.sh && \
	   grep -q "QEMU_SMP=N. sets the number of harts (default $$d" README.md; \
	then p=$$((p + 1)); else f=$$((f + 1)); \
	  echo "check-qemu-args: tools/qemu-run.sh's default of $$d harts is not the one its header and README.md state"; fi; \
	echo "check-qemu-args: $$p passed, $$f failed"; \
	if [ -n "$${CHECK_COUNTS:-}" ]; then echo "$$p $$f" >> "$$CHECK_COUNTS"; fi; [ $$f -eq 0 ]

# The trace tool end to end: boot with svmm.vmtrace=1, keep the kernel arena's "vmt"
# lines, and replay them on the host (tools/vmem-trace checks every recorded result, a
# reference model and vmem_check, and the final state checkpoint).
CHECK_EXTRA += check-vmtrace
check-vmtrace: deps deps-qemu kernel $(B)/tools/vmem-trace
	@QEMU_SMP=1 QEMU_MEM=1G timeout 60 tools/qemu-run.sh $(KB)/kernel.elf svmm.mode=sv39 svmm.vmtrace=1 \
		</dev/null 2>&1 | tr -d '\r' | grep '^vmt ' > $(KB)/vmtrace.txt || true
	@n=$$(wc -l < $(KB)/vmtrace.txt); if [ "$$n" -lt 3 ]; then \
		echo "check-vmtrace: the kernel printed no trace ($$n lines)"; exit 1; fi
	@$(B)/tools/vmem-trace $(KB)/vmtrace.txt
