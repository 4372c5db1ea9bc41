# mk/tsan.mk - the multithreaded host tests under ThreadSanitizer (included by the top
# Makefile).
#
#   make check-tsan   build tests/tsan/tsan_*.c and tests/test_aspace_smp.c with
#                     -fsanitize=thread against the core and the host port, run them;
#                     any data race TSan reports fails the run (halt_on_error)
#
# TSan cannot be combined with ASan, so these binaries are built apart from the tests
# of tools/run-tests.sh; make check runs this target through CHECK_EXTRA.

TSAN_SRC   := $(sort $(wildcard tests/tsan/tsan_*.c)) tests/test_aspace_smp.c
TSAN_TESTS := $(addprefix $(B)/tsan/,$(basename $(notdir $(TSAN_SRC))))
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer -O1

$(B)/tsan/%: tests/tsan/%.c $(CORE_SRC) $(HOST_PORT_SRC) $(TEST_COMMON) $(ALL_HDRS)
	@mkdir -p $(@D)
	$(HOST_CLANG) $(HOST_CFLAGS) $(TSAN_FLAGS) $< $(CORE_SRC) $(HOST_PORT_SRC) \
		$(TEST_COMMON) -o $@ -lcmocka -lpthread -lm
$(B)/tsan/%: tests/%.c $(CORE_SRC) $(HOST_PORT_SRC) $(TEST_COMMON) $(ALL_HDRS)
	@mkdir -p $(@D)
	$(HOST_CLANG) $(HOST_CFLAGS) $(TSAN_FLAGS) $< $(CORE_SRC) $(HOST_PORT_SRC) \
		$(TEST_COMMON) -o $@ -lcmocka -lpthread -lm

.PHONY: check-tsan
check-tsan: $(TSAN_TESTS)
	@TSAN_OPTIONS="halt_on_error=1 exitcode=66 $(TSAN_OPTIONS)" tools/run-tests.sh $^

CHECK_EXTRA += check-tsan
