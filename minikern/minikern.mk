# minikern/minikern.mk - the second, minimal kernel (included by the top Makefile).
#
#   make minikern        build/minikern/kernel.elf
#   make run-minikern    boot it in QEMU (-bios default, Sv39, 128 MiB)
#   make check-minikern  boot it; fail on any failed test, panic, hang or leak
#
# It compiles svmm's core with its own flags and links everything with plain ld: no
# compiler driver at link time, no libgcc.

MKB := $(B)/minikern
MK_CC := $(RV_GCC)
MK_LD := riscv64-unknown-elf-ld
MK_ARCH := -march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany -mno-relax -fno-pic
MK_RV_INC = $(shell $(RV_GCC) -print-file-name=include)
MK_CFLAGS = $(STD) $(WARN) -O2 -g -ffreestanding -fno-builtin -nostdinc -isystem $(MK_RV_INC) \
	$(INC) -Iminikern $(MK_ARCH) -fno-stack-protector -fno-common \
	-fno-tree-loop-distribute-patterns -DSVMM_PORT_CONFIG='"svmm_config.h"'
MK_LDFLAGS := --no-relax --build-id=none -z max-page-size=4096 -nostdlib -static

MK_SRC_C := $(sort $(wildcard minikern/*.c))
MK_SRC_S := $(sort $(wildcard minikern/*.S))
MK_OBJS := $(patsubst minikern/%.c,$(MKB)/%.o,$(MK_SRC_C)) \
	$(patsubst minikern/%.S,$(MKB)/%.S.o,$(MK_SRC_S)) \
	$(patsubst core/%.c,$(MKB)/core/%.o,$(CORE_SRC))
MK_HDRS := $(wildcard minikern/*.h minikern/user/*.h include/svmm/*.h)

# User programs: minikern/user/NAME.c with crt0 and ulib, linked with ld at 0x10000.
MK_ULIB := $(MKB)/user/crt0.o $(MKB)/user/ulib.o
MK_PROGS := $(filter-out ulib,$(patsubst minikern/user/%.c,%,$(sort $(wildcard minikern/user/*.c))))
MK_UELFS := $(patsubst %,$(MKB)/user/%.elf,$(MK_PROGS))

.PRECIOUS: $(MKB)/user/%.o
$(MKB)/user/%.o: minikern/user/%.c $(MK_HDRS)
	@mkdir -p $(@D)
	@echo "  MKCC $@"; $(MK_CC) $(MK_CFLAGS) -c $< -o $@
$(MKB)/user/crt0.o: minikern/user/crt0.S
	@mkdir -p $(@D)
	@echo "  MKAS $@"; $(MK_CC) $(MK_ARCH) -c $< -o $@
$(MKB)/user/%.elf: $(MKB)/user/%.o $(MK_ULIB) minikern/user/user.ld
	@echo "  MKLD $@"; $(MK_LD) $(MK_LDFLAGS) -T minikern/user/user.ld $(MK_ULIB) $< -o $@

# One assembly file embeds every user ELF with a table {name, start, length}.
$(MKB)/userprogs.S: $(MK_UELFS) minikern/minikern.mk
	@mkdir -p $(@D)
	@{ echo '	.section .userprogs, "a"'; \
	  for p in $(MK_PROGS); do \
	    echo "	.balign 8"; echo "uprog_$$p: .incbin \"$(MKB)/user/$$p.elf\""; \
	    echo "uprog_$${p}_end:"; echo "uprog_$${p}_name: .asciz \"$$p\""; done; \
	  echo '	.balign 8'; echo '	.globl user_programs, user_programs_count'; \
	  echo 'user_programs:'; \
	  for p in $(MK_PROGS); do echo "	.dword uprog_$${p}_name, uprog_$$p, uprog_$${p}_end - uprog_$$p"; done; \
	  echo 'user_programs_count: .dword' $(words $(MK_PROGS)); } > $@
$(MKB)/userprogs.o: $(MKB)/userprogs.S
	@echo "  MKAS $@"; $(MK_CC) $(MK_ARCH) -c $< -o $@

$(MKB)/%.o: minikern/%.c $(MK_HDRS)
	@mkdir -p $(@D)
	@echo "  MKCC $@"; $(MK_CC) $(MK_CFLAGS) -c $< -o $@
$(MKB)/%.S.o: minikern/%.S $(MK_HDRS)
	@mkdir -p $(@D)
	@echo "  MKAS $@"; $(MK_CC) $(MK_ARCH) -Iminikern -c $< -o $@
$(MKB)/core/%.o: core/%.c $(MK_HDRS)
	@mkdir -p $(@D)
	@echo "  MKCC $@"; $(MK_CC) $(MK_CFLAGS) -c $< -o $@

$(MKB)/kernel.elf: $(MK_OBJS) $(MKB)/userprogs.o minikern/kernel.ld
	@echo "  MKLD $@"; $(MK_LD) $(MK_LDFLAGS) -T minikern/kernel.ld $(MK_OBJS) \
		$(MKB)/userprogs.o -o $@

.PHONY: minikern run-minikern check-minikern
minikern: $(MKB)/kernel.elf
all: minikern

run-minikern: deps deps-qemu minikern
	minikern/run.sh $(MKB)/kernel.elf

check-minikern: deps deps-qemu minikern
	minikern/check.sh $(MKB)/kernel.elf

CHECK_EXTRA += check-minikern
