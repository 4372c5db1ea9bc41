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
# The reference points BENCHMARKS.md gives for a classic vmem at N = 10^6 on this machine.
$classic << EOD
1000000 970 instant-fit
1000000 3000 best-fit
EOD
set arrow from 1e6,0 to 1e6,600 nohead dt 2 lc rgb "#888888"
set label "target at 10^6: 600 ns" at 1.1e6,600 tc rgb "#666666" font ",9"
plot cols(data, "workload=W1", "live,ns_per_pair") \
       using 1:2 with linespoints pt 7 ps 1.2 lc rgb "#1f77b4" title "svmm vmem (best fit)", \
     $classic using 1:2 with points pt 6 ps 1.5 lc rgb "#d62728" title "classic vmem at 10^6 (instant-fit 970, best-fit 3000)", \
     $classic using 1:2:3 with labels offset char 6,0 font ",9" tc rgb "#d62728" notitle
