# tools/checks.mk - static checks of the portable core (included by the top Makefile;
# make check runs each through CHECK_EXTRA).
#
#   make check-namespace  every public header compiles, with -Werror, both before and
#                         after the names kernels commonly define for themselves
#                         (tests/namespace/kernel_names.h: PTE_V, PAGE_SIZE, MIN,
#                         container_of, pte_t, ...): svmm defines and uses none of them
#   make check-stack      the deepest stack of each public core function, from gcc's
#                         frame sizes and call graph, is at most STACK_BOUND (1 KiB)
#   make check-symbols    the riscv64 core (gcc and clang) leaves undefined only the
#                         functions of port.h and memset, memcpy, memmove, memcmp

.PHONY: check-namespace

check-namespace:
	@tools/check-namespace.sh "$(HOST_CC)" "$(HOST_CLANG)" "$(RV_GCC)"
CHECK_EXTRA += check-namespace

# The riscv64 core's undefined symbols are port.h's functions and memset, memcpy,
# memmove and memcmp, nothing else (no libgcc helper, no libc).
.PHONY: check-symbols
# Each module's file list (docs/porting.md, "Which files") links on its own too.
RV_OBJ := $(B)/core/rv-gcc
SYM_MODULES := pt=$(RV_OBJ):pt,fmt,err layout=$(RV_OBJ):layout,fmt pmem=$(RV_OBJ):pmem,fmt \
	asid=$(RV_OBJ):asid,fmt vmem=$(RV_OBJ):vmem,rbtree,fmt \
	vmem_trace=$(RV_OBJ):vmem_trace,vmem,rbtree,fmt,err \
	aspace=$(RV_OBJ):aspace,vmobj,asid,vmem,rbtree,pmem,pt,fmt,err \
	vmobj=$(RV_OBJ):vmobj,pmem,fmt
check-symbols: $(B)/core/rv-gcc/libsvmm.a $(B)/core/rv-clang/libsvmm.a
	@tools/check-symbols.sh $^ $(SYM_MODULES)
CHECK_EXTRA += check-symbols

# The deepest stack of every public function of the core, from riscv64 gcc -O2's
# frame sizes and call graph (-fstack-usage -fcallgraph-info=su); fails past
# STACK_BOUND bytes, except for the known offenders in tools/stack-offenders.txt.
STACK_BOUND ?= 1024
STACK_CI := $(patsubst core/%.c,$(B)/stack/%.ci,$(CORE_SRC))
$(B)/stack/%.ci: core/%.c $(wildcard include/svmm/*.h)
	@mkdir -p $(@D)
	@$(RV_GCC) $(call CORE_FREESTANDING,$(RV_GCC)) $(RV_ARCH) -fstack-usage \
		-fcallgraph-info=su -c $< -o $(B)/stack/$*.o
.PHONY: check-stack
check-stack: $(STACK_CI)
	@python3 tools/stack-depth.py --bound $(STACK_BOUND) \
		--recursion tools/stack-recursion.txt --offenders tools/stack-offenders.txt \
		$(STACK_CI)
CHECK_EXTRA += check-stack
