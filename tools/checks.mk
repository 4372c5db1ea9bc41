# tools/checks.mk - static checks of the portable core (included by the top Makefile;
# make check runs each through CHECK_EXTRA).
#
#   make check-namespace  every public header compiles, with -Werror, both before and
#                         after the names kernels commonly define for themselves
#                         (tests/namespace/kernel_names.h: PTE_V, PAGE_SIZE, MIN,
#                         container_of, pte_t, ...): svmm defines and uses none of them
#   make check-symbols    the riscv64 core (gcc and clang) leaves undefined only the
#                         functions of port.h and memset, memcpy, memmove, memcmp

.PHONY: check-namespace

check-namespace:
	@tools/check-namespace.sh "$(HOST_CC)" "$(HOST_CLANG)" "$(RV_GCC)"
CHECK_EXTRA += check-namespace

# The riscv64 core's undefined symbols are port.h's functions and memset, memcpy,
# memmove and memcmp, nothing else (no libgcc helper, no libc).
.PHONY: check-symbols
check-symbols: $(B)/core/rv-gcc/libsvmm.a $(B)/core/rv-clang/libsvmm.a
	@tools/check-symbols.sh $^
CHECK_EXTRA += check-symbols
