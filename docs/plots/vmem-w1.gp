# vmem-w1.gp - vmem time per free+alloc pair against live regions, W1 of
# BENCHMARKS.md (bench-vmem), OUTDIR/vmem-w1.png (build/plots, or docs/img for make
# plots-docs). Thread CPU time (cpu_ns_per_pair), the figure BENCHMARKS.md sets its
# targets in and the README's table shows.
load "docs/plots/common.gp"
if (!exists("data")) data = "build/bench/vmem.json"
if (!exists("outdir")) outdir = "build/plots"
set output outdir."/vmem-w1.png"
set title "vmem, W1 steady churn: CPU time per free + allocate pair against live regions (host, -O2)"
set xlabel "live allocations"
set ylabel "thread CPU ns per pair"
set logscale x 10
set format x "10^{%L}"
set xrange [50:2e6]
set yrange [0:*]
set key top left
# What BENCHMARKS.md gives at N = 10^6 (thread CPU time): the target, and illumos vmem
# measured side by side on the same workload on the issue's machine. The dashed line is
# the bench's own instant-fit baseline (bench/vmem_baseline.h), run in the same program.
$target << EOD
1000000 1000
EOD
$instant << EOD
1000000 1030
EOD
$bestfit << EOD
1000000 1392
EOD
plot cols(data, "workload=scale", "live,cpu_ns_per_pair") \
       using 1:2 with linespoints pt 7 ps 1.2 lc rgb "#1f77b4" title "svmm vmem (best fit), W1 at ten sizes", \
     cols(data, "workload=W1", "live,cpu_ns_per_pair") \
       using 1:2 with points pt 5 ps 1.4 lc rgb "#17becf" title "svmm vmem, the W1 rows", \
     cols(data, "workload=W1", "live,instantfit_cpu_ns_per_pair") \
       using 1:2 with linespoints pt 9 ps 1.4 dt 2 lc rgb "#ff7f0e" title "illumos instant fit, re-implemented, run side by side (W1 rows)", \
     $target using 1:2 with points pt 2 ps 2 lw 2 lc rgb "#2ca02c" title "target at 10^6: 1,000 ns", \
     $instant using 1:2 with points pt 6 ps 1.5 lc rgb "#ff7f0e" title "illumos vmem at 10^6, instant fit: 1,030 ns", \
     $bestfit using 1:2 with points pt 4 ps 1.5 lc rgb "#d62728" title "illumos vmem at 10^6, best fit + quantum caches: 1,392 ns"
