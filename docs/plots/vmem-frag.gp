# vmem-frag.gp - fragmentation over the W3 churn run (bench-vmemfrag),
# OUTDIR/vmem-frag.png (build/plots, or docs/img for make plots-docs).
load "docs/plots/common.gp"
if (!exists("data")) data = "build/bench/vmemfrag.json"
if (!exists("outdir")) outdir = "build/plots"
set output outdir."/vmem-frag.png"
set terminal pngcairo size 900,640
set multiplot layout 2,1 title "vmem under W3 churn: 100,000 live regions in a 2^{40}-byte arena (about 63% used), best fit" font ",12"
set lmargin 12
set xrange [0:2]
set format x ""
set ylabel "largest free / free bytes"
set yrange [0.6:1.02]
set key bottom left
set arrow 1 from 0,0.79 to 2,0.79 nohead dt 2 lc rgb "#888888"
set label 1 "target ≥ 0.79 (classic best-fit vmem)" at 0.03,0.77 tc rgb "#666666" font ",9"
plot cols(data, "workload=W3", "iteration,largest_free_ratio") \
       using ($1/1e6):2 with linespoints pt 7 ps 0.6 lc rgb "#1f77b4" title "largest\\_free\\_ratio"
unset arrow 1
unset label 1
set format x "%g"
set xlabel "free+alloc pairs (millions)"
set ylabel "free regions"
set yrange [0:*]
set key bottom right
plot cols(data, "workload=W3", "iteration,free_regions") \
       using ($1/1e6):2 with linespoints pt 7 ps 0.6 lc rgb "#d62728" title "free regions", \
     cols(data, "workload=W3", "iteration,failures") \
       using ($1/1e6):2 with lines lw 2 lc rgb "#2ca02c" title "failed allocations (cumulative)"
unset multiplot
