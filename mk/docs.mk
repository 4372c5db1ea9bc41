# mk/docs.mk - documentation targets (included by the top Makefile).
#
#   make docs         API reference from include/svmm/*.h with Doxygen, into
#                     build/docs/html; any Doxygen warning fails it
#   make plots        redraw docs/layout-*.svg with svmm-layout, run the benchmarks the
#                     plots need and draw docs/img/*.png with gnuplot from their JSON
#                     lines
#   make check-docs   every public function in include/svmm/*.h has a contract comment
#                     (run by make check; needs only awk)
#
# docs and plots install Doxygen and gnuplot through tools/setup.sh extra; make check
# needs neither.

.PHONY: docs plots deps-extra check-docs

deps-extra:
	@tools/setup.sh extra

docs: deps-extra
	@mkdir -p $(B)/docs
	doxygen docs/Doxyfile
	@echo "docs: $(B)/docs/html/index.html"

# The layout drawings (docs/layout-MODE.svg) come from svmm-layout and are
# deterministic, so make check verifies that the committed ones are current.
LAYOUT_MODES := sv39 sv48 sv57
.PHONY: check-pictures
check-pictures: $(B)/tools/svmm-layout
	@for m in $(LAYOUT_MODES); do \
	  $(B)/tools/svmm-layout $$m --svg $(B)/layout-$$m.svg >/dev/null && \
	  cmp -s $(B)/layout-$$m.svg docs/layout-$$m.svg || \
	  { echo "check-pictures: docs/layout-$$m.svg is stale: make plots" >&2; exit 1; }; done
	@echo "check-pictures: docs/layout-*.svg match svmm-layout --svg"
CHECK_EXTRA += check-pictures

# Plots: each docs/plots/NAME.gp reads the JSON lines of one benchmark and writes
# docs/img/NAME.png. The benchmarks run first (a few seconds each; bench-vmem only once
# bench/bench_vmem.c exists), so the pictures always show this tree's numbers.
PLOT_BENCHES := ptsweep vmemfrag $(if $(wildcard bench/bench_vmem.c),vmem)
plots: deps-extra $(B)/tools/svmm-layout
	@mkdir -p docs/img $(B)/bench
	@for m in $(LAYOUT_MODES); do $(B)/tools/svmm-layout $$m --svg docs/layout-$$m.svg >/dev/null; done
	@for b in $(PLOT_BENCHES); do $(MAKE) --no-print-directory bench-$$b >/dev/null || exit 1; done
	gnuplot docs/plots/pt-sweep.gp
	gnuplot docs/plots/vmem-frag.gp
	@if [ -s $(B)/bench/vmem.json ]; then gnuplot docs/plots/vmem-w1.gp; \
	 else echo "plots: no $(B)/bench/vmem.json (bench-vmem), vmem-w1.png not redrawn"; fi
	@ls -l docs/img/*.png

# The check must be able to fail: it is also run on a header with missing comments,
# and that run has to report them. It also checks that the Doxygen filter keeps every
# header's line count (so that warnings point at the right line) and that the plot
# extractor picks fields exactly.
check-docs:
	@awk -f tools/check-docs.awk include/svmm/*.h
	@if awk -f tools/check-docs.awk tools/testdata/check-docs-bad.h >/dev/null; then \
	  echo "check-docs: accepted tools/testdata/check-docs-bad.h" >&2; exit 1; fi
	@awk -f tools/check-docs.awk tools/testdata/check-docs-bad.h | \
	  grep -c "no contract comment" | grep -qx 2 || \
	  { echo "check-docs: wrong findings on check-docs-bad.h" >&2; exit 1; }
	@for h in include/svmm/*.h; do \
	  [ "$$(awk -f tools/doxy-filter.awk $$h | wc -l)" = "$$(wc -l < $$h)" ] || \
	  { echo "check-docs: doxy-filter changes the line count of $$h" >&2; exit 1; }; done
	@out=$$(printf '%s\n' '{"bench": "x", "case": "a-b", "size": 4096, "ns": 1.5e-04}' \
	  '{"bench": "x", "case": "c", "size": 8192, "ns": 2}' | \
	  awk -f tools/jsoncols.awk -v where='case=a-b' -v cols='size,ns,missing'); \
	  [ "$$out" = "4096 1.5e-04 NaN" ] || \
	  { echo "check-docs: jsoncols.awk gave '$$out'" >&2; exit 1; }
	@echo "check-docs: doxy-filter keeps line numbers, jsoncols picks fields"

CHECK_EXTRA += check-docs

# The example trace in docs/trace.md must replay with the tool (so the documented format
# stays the real one), and the same trace with one address changed must not.
.PHONY: check-trace
check-trace: $(B)/tools/vmem-trace
	@awk '/^Example, from a kernel arena/ {on = 1; next} on && /^```/ {n++; next} \
	  on && n == 1' docs/trace.md > $(B)/trace-example.txt
	@grep -q '^vmt ' $(B)/trace-example.txt || { echo "check-trace: no example" >&2; exit 1; }
	@$(B)/tools/vmem-trace -c 1 -p $(B)/trace-example.txt
	@sed 's/= ok 0xffffffffc0001000/= ok 0xffffffffc0002000/' $(B)/trace-example.txt | \
	  $(B)/tools/vmem-trace -q 2>/dev/null; [ $$? -eq 1 ] || \
	  { echo "check-trace: a diverging trace was accepted" >&2; exit 1; }
	@echo "check-trace: the documented example replays, a diverging one is refused"
CHECK_EXTRA += check-trace

# A policy comparison on W3 scaled down (docs/trace.md): record the trace, replay it
# with the reference model on, and compare vmem with first, next and best fit.
.PHONY: trace-policies
trace-policies: $(B)/bench/bench_vmemfrag $(B)/tools/vmem-trace
	$(B)/bench/bench_vmemfrag trace $(B)/bench/w3small.trace
	$(B)/tools/vmem-trace -p $(B)/bench/w3small.trace

# The trace test and tool share the replay engine, a header outside the usual paths.
$(B)/tests/test_vmem_trace $(B)/tools/vmem-trace: tools/vmem_replay.h
$(B)/fuzz/fuzz_vmem_trace: tools/vmem_replay.h
