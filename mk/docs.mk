# mk/docs.mk - documentation targets (included by the top Makefile).
#
#   make docs         API reference from include/svmm/*.h with Doxygen, into
#                     build/docs/html; any Doxygen warning fails it
#   make plots        run the benchmarks, draw the plots and the layout drawings and
#                     write the README's benchmark table, all under build/plots
#   make plots-docs   the same into docs/ and README.md (the committed copies)
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
	  { echo "check-pictures: docs/layout-$$m.svg is stale: make plots-docs" >&2; exit 1; }; done
	@echo "check-pictures: docs/layout-*.svg match svmm-layout --svg"
CHECK_EXTRA += check-pictures

# Plots and the README's benchmark table, from one run of the benchmarks, on request
# only (make check never runs a benchmark):
#   make plots       runs the benchmarks (JSON lines in build/bench/), draws
#                    build/plots/*.png and build/plots/layout-*.svg, and writes the
#                    table to build/plots/benchmarks.md; the work tree is not touched.
#   make plots-docs  the same, then copies those JSON lines to docs/img/data/, draws
#                    docs/img/*.png and docs/layout-*.svg, and rewrites README.md's table
#                    between its bench-table markers, all from the copied lines.
# check-bench-table (in make check) recomputes the README's table from docs/img/data/
# and fails if it differs, so the committed table and pictures come from the same data.
PLOT_DIR := $(B)/plots
PLOT_BENCHES := ptsweep vmemfrag vmem
TABLE_BENCHES := vmem pmem pt kernel
DOC_DATA := $(sort $(PLOT_BENCHES) $(TABLE_BENCHES))
TABLE_FILES = $(foreach b,$(TABLE_BENCHES),$(1)/$(b).json)
BENCH_TABLE = awk -f tools/json.awk -f tools/bench-table.awk
README_TABLE_BEGIN := <!-- bench-table: make plots-docs writes this table; do not edit -->
README_TABLE_END := <!-- bench-table end -->

.PHONY: plots-docs check-bench-table
plots: deps-extra $(B)/tools/svmm-layout
	@mkdir -p $(PLOT_DIR) $(B)/bench
	@for m in $(LAYOUT_MODES); do $(B)/tools/svmm-layout $$m --svg $(PLOT_DIR)/layout-$$m.svg >/dev/null; done
	@for b in $(DOC_DATA); do echo "plots: make bench-$$b"; \
	  $(MAKE) --no-print-directory bench-$$b >/dev/null || exit 1; done
	@$(MAKE) --no-print-directory draw-plots PLOT_OUT=$(PLOT_DIR) PLOT_DATA=$(B)/bench
	@$(BENCH_TABLE) $(call TABLE_FILES,$(B)/bench) > $(PLOT_DIR)/benchmarks.md
	@echo "plots: $(PLOT_DIR)/*.png, $(PLOT_DIR)/layout-*.svg, the README table in $(PLOT_DIR)/benchmarks.md"

plots-docs: plots
	@mkdir -p docs/img/data
	@for b in $(DOC_DATA); do cp $(B)/bench/$$b.json docs/img/data/$$b.json; done
	@$(MAKE) --no-print-directory draw-plots PLOT_OUT=docs/img PLOT_DATA=docs/img/data
	@for m in $(LAYOUT_MODES); do $(B)/tools/svmm-layout $$m --svg docs/layout-$$m.svg >/dev/null; done
	@$(MAKE) --no-print-directory readme-table
	@echo "plots-docs: docs/img/*.png, docs/layout-*.svg, docs/img/data/*.json and README.md's table redrawn"

# README.md's table from the committed lines in docs/img/data/ (plots-docs runs it).
.PHONY: readme-table
readme-table:
	@$(BENCH_TABLE) $(call TABLE_FILES,docs/img/data) > $(B)/bench-table.md
	@awk -v b='$(README_TABLE_BEGIN)' -v e='$(README_TABLE_END)' -v t=$(B)/bench-table.md \
	  '$$0 == b { print; while ((getline l < t) > 0) print l; skip = 1; next } \
	   $$0 == e { skip = 0 } !skip' README.md > $(B)/README.md.new
	@grep -qxF '$(README_TABLE_END)' $(B)/README.md.new || \
	  { echo "plots-docs: README.md has no bench-table markers" >&2; exit 1; }
	@mv $(B)/README.md.new README.md

.PHONY: draw-plots
draw-plots:
	@for g in pt-sweep:ptsweep vmem-frag:vmemfrag vmem-w1:vmem; do p=$${g%%:*} d=$${g#*:}; \
	  gnuplot -e "outdir='$(PLOT_OUT)'; data='$(PLOT_DATA)/$$d.json'" docs/plots/$$p.gp || exit 1; done

check-bench-table:
	@$(BENCH_TABLE) $(call TABLE_FILES,docs/img/data) > $(B)/bench-table.md
	@awk -v b='$(README_TABLE_BEGIN)' -v e='$(README_TABLE_END)' \
	  '$$0 == e { on = 0 } on { print } $$0 == b { on = 1 }' README.md > $(B)/bench-table-readme.md
	@cmp -s $(B)/bench-table.md $(B)/bench-table-readme.md || \
	  { echo "check-bench-table: README.md's benchmark table is not the one docs/img/data/ gives (make plots-docs):" >&2; \
	    diff $(B)/bench-table-readme.md $(B)/bench-table.md >&2; exit 1; }
	@echo "check-bench-table: README.md's table is the one docs/img/data/*.json gives"
CHECK_EXTRA += check-bench-table

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
	  awk -f tools/json.awk -f tools/jsoncols.awk -v where='case=a-b' -v cols='size,ns,missing'); \
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
