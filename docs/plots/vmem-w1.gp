# vmem-w1.gp - vmem time per free+alloc pair against live regions, W1 of
# BENCHMARKS.md (bench-vmem), docs/img/vmem-w1.png.
load "docs/plots/common.gp"
if (!exists("data")) data = "build/bench/vmem.json"
set output "docs/img/vmem-w1.png"
set title "vmem, W1 steady churn: time per free + allocate pair against live regions (host, -O2)"
set xlabel "live allocations"
set ylabel "ns per pair"
set logscale x 10
set format x "10^{%L}"
set xrange [500:2e6]
set yrange [0:*]
set key top left
# What BENCHMARKS.md gives at N = 10^6 on this machine: the target, and a classic vmem.
$target << EOD
1000000 600
EOD
$instant << EOD
1000000 970
EOD
$bestfit << EOD
1000000 3000
EOD
plot cols(data, "workload=W1", "live,ns_per_pair") \
       using 1:2 with linespoints pt 7 ps 1.2 lc rgb "#1f77b4" title "svmm vmem (best fit)", \
     $target using 1:2 with points pt 2 ps 2 lw 2 lc rgb "#2ca02c" title "target at 10^6: 600 ns", \
     $instant using 1:2 with points pt 6 ps 1.5 lc rgb "#ff7f0e" title "classic vmem at 10^6, instant fit: 970 ns", \
     $bestfit using 1:2 with points pt 4 ps 1.5 lc rgb "#d62728" title "classic vmem at 10^6, best fit: 3000 ns"
