# svmm - top-level build.
#
#   make            build the portable core for the host (gcc, clang) and riscv64 (gcc,
#                   clang), the host tools, the tests and, when present, the demo kernel
#   make run        the main demo (the QEMU kernel once it exists, else the host demo)
#   make check      every test: freestanding builds, host unit/property tests under
#                   ASan+UBSan, fuzz smoke runs, and the kernel in every paging mode
#   make bench      all benchmarks (JSON lines); bench-vmem, bench-pmem, bench-pt, ...
#   make fuzz       run every fuzz target for FUZZ_SECONDS (default 600) each
#
# Sources are found by wildcard: a new core/*.c, tests/test_*.c, bench/bench_*.c,
# fuzz/fuzz_*.c or tools/*.c is picked up without editing this file.

SHELL := /bin/bash
.DEFAULT_GOAL := all

B := build

HOST_CC   ?= gcc
HOST_CLANG ?= clang
RV_GCC    ?= riscv64-unknown-elf-gcc
RV_CLANG  ?= clang --target=riscv64-unknown-elf

WARN  := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
         -Wpointer-arith -Wundef
STD   := -std=c11
INC   := -Iinclude

# The portable core: freestanding, no libc headers at all (-nostdinc keeps only the
# compiler's own freestanding headers such as <stdint.h>).
CORE_SRC := $(sort $(wildcard core/*.c))
CORE_FREESTANDING = $(STD) $(WARN) -O2 -ffreestanding -fno-builtin -nostdinc \
	-isystem $(shell $(1) -print-file-name=include) $(INC)
RV_ARCH := -march=rv64gc -mabi=lp64d -mcmodel=medany -mno-relax -fno-pic

define core_build
$(B)/core/$(1)/%.o: core/%.c $(wildcard include/svmm/*.h)
	@mkdir -p $$(@D)
	$(2) $$(call CORE_FREESTANDING,$(firstword $(2))) $(3) -c $$< -o $$@
$(B)/core/$(1)/libsvmm.a: $(patsubst core/%.c,$(B)/core/$(1)/%.o,$(CORE_SRC))
	rm -f $$@ && ar rcs $$@ $$^
CORE_LIBS += $(B)/core/$(1)/libsvmm.a
endef
$(eval $(call core_build,host-gcc,$(HOST_CC),))
$(eval $(call core_build,host-clang,$(HOST_CLANG),))
$(eval $(call core_build,rv-gcc,$(RV_GCC),$(RV_ARCH)))
$(eval $(call core_build,rv-clang,$(RV_CLANG),$(RV_ARCH)))

.PHONY: all core deps deps-qemu check run run-host bench fuzz fuzz-smoke clean tests tools
all: core tests tools
core: $(CORE_LIBS)

# ---- host side: tests, tools, benchmarks, fuzzers ----
HOST_PORT_SRC := $(sort $(wildcard port/host/*.c))
TEST_COMMON   := $(sort $(wildcard tests/common/*.c))
TEST_SRC      := $(sort $(wildcard tests/test_*.c))
TESTS         := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRC))
SAN           := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# The host port supplies its own lock type through SVMM_PORT_CONFIG (include/svmm/port.h).
HOST_CFLAGS   := $(STD) -D_GNU_SOURCE $(filter-out -Wmissing-prototypes,$(WARN)) -g $(INC) \
                 -Iport/host -Itests/common -Ibench -DSVMM_PORT_CONFIG='"svmm_host_config.h"'
ALL_HDRS      := $(wildcard include/svmm/*.h port/host/*.h tests/common/*.h bench/*.h)

$(B)/tests/%: tests/%.c $(CORE_SRC) $(HOST_PORT_SRC) $(TEST_COMMON) $(ALL_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -O1 $(SAN) $< $(CORE_SRC) $(HOST_PORT_SRC) $(TEST_COMMON) \
		-o $@ -lcmocka -lpthread -lm
tests: $(TESTS)

TOOL_SRC := $(sort $(wildcard tools/*.c))
TOOLS    := $(patsubst tools/%.c,$(B)/tools/%,$(TOOL_SRC))
$(B)/tools/%: tools/%.c $(CORE_SRC) $(HOST_PORT_SRC) $(ALL_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -O2 $< $(CORE_SRC) $(HOST_PORT_SRC) -o $@ -lpthread -lm
tools: $(TOOLS)

BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
$(B)/bench/%: bench/%.c $(CORE_SRC) $(HOST_PORT_SRC) $(ALL_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -O2 -DNDEBUG $< $(CORE_SRC) $(HOST_PORT_SRC) -o $@ -lpthread -lm
# make bench-NAME runs bench/bench_NAME.c; its JSON lines also go to build/bench/NAME.json.
bench-%: $(B)/bench/bench_% FORCE
	set -o pipefail; $< | tee $(B)/bench/$*.json
bench: $(patsubst bench/bench_%.c,bench-%,$(BENCH_SRC)) $(BENCH_EXTRA)
FORCE:

FUZZ_SRC     := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZERS      := $(patsubst fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 600
FUZZ_CHECK_SECONDS ?= 30
# make check's short runs start from a fixed seed, so that a check is repeatable; make
# fuzz explores with a fresh seed every run unless FUZZ_SEED is given.
FUZZ_CHECK_SEED ?= 1
$(B)/fuzz/%: fuzz/%.c $(CORE_SRC) $(HOST_PORT_SRC) $(ALL_HDRS)
	@mkdir -p $(@D)
	$(HOST_CLANG) $(HOST_CFLAGS) -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all $< $(CORE_SRC) $(HOST_PORT_SRC) -o $@ -lpthread -lm
# Each fuzzer starts from its committed corpus (fuzz/corpus/NAME) and writes what it
# finds to build/fuzz/corpus-NAME, so a run never dirties the work tree.
fuzz: $(FUZZERS)
	@for f in $(FUZZERS); do n=$$(basename $$f); mkdir -p $(B)/fuzz/corpus-$$n fuzz/corpus/$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(if $(FUZZ_SEED),-seed=$(FUZZ_SEED)) \
	    -artifact_prefix=$(B)/fuzz/ $(B)/fuzz/corpus-$$n fuzz/corpus/$$n || exit 1; done
fuzz-smoke: $(FUZZERS)
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_CHECK_SECONDS) FUZZ_SEED=$(FUZZ_CHECK_SEED)

# ---- set-up: install what a fresh machine lacks (Debian packages) ----
deps:
	@tools/setup.sh host
deps-qemu:
	@tools/setup.sh qemu

# ---- the demonstration kernel (kernel/kernel.mk defines its targets when present) ----
RUN_TARGET := run-host
CHECK_EXTRA :=
-include kernel/kernel.mk
-include minikern/minikern.mk
-include mk/docs.mk
-include mk/tsan.mk
-include tools/checks.mk

run-host: deps $(B)/tools/vmem-demo
	$(B)/tools/vmem-demo

run: $(RUN_TARGET)

# make check: everything, then one summary line "N passed, N failed".
# Every stage that counts test cases (host tests, kernel boots, TSan tests) adds its
# counts to $(B)/check-counts; the last line is their total.
check: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(B) && : > $(B)/check-counts
	@CHECK_COUNTS=$(CURDIR)/$(B)/check-counts tools/run-tests.sh $(TESTS)
	@$(MAKE) --no-print-directory fuzz-smoke
	@for t in $(CHECK_EXTRA); do \
	  CHECK_COUNTS=$(CURDIR)/$(B)/check-counts $(MAKE) --no-print-directory $$t || exit 1; done
	@echo "check: all stages passed"
	@awk '{p+=$$1; f+=$$2} END{printf "total: %d passed, %d failed\n", p, f}' $(B)/check-counts

clean:
	rm -rf $(B)
