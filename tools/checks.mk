# tools/checks.mk - static checks of the portable core (included by the top Makefile;
# make check runs each through CHECK_EXTRA).
#
#   make check-namespace  every public header compiles, with -Werror, both before and
#                         after the names kernels commonly define for themselves
#                         (tests/namespace/kernel_names.h: PTE_V, PAGE_SIZE, MIN,
#                         container_of, pte_t, ...): svmm defines and uses none of them

.PHONY: check-namespace

check-namespace:
	@tools/check-namespace.sh "$(HOST_CC)" "$(HOST_CLANG)" "$(RV_GCC)"
CHECK_EXTRA += check-namespace
