# pt-sweep.gp - page-table time per 4 KiB page against the size of the range
# (bench-ptsweep), OUTDIR/pt-sweep.png (build/plots, or docs/img for make plots-docs).
load "docs/plots/common.gp"
if (!exists("data")) data = "build/bench/ptsweep.json"
if (!exists("outdir")) outdir = "build/plots"
set output outdir."/pt-sweep.png"
set title "Page tables: map + unmap, time per 4 KiB page against range size (host, -O2)"
set xlabel "range mapped and unmapped per call"
set ylabel "thread CPU ns per 4 KiB page (log scale)"
set logscale xy 2
set logscale y 10
set format y "%g"
set xtics ("4K" 4096, "16K" 16384, "64K" 65536, "256K" 262144, "1M" 1048576, \
           "4M" 4194304, "16M" 16777216, "64M" 67108864, "256M" 268435456, "1G" 1073741824)
set xrange [3000:1.5e9]
set yrange [0.0001:5000]
set key bottom left
plot 5 with lines dt 2 lc rgb "#888888" title "target for 1 GiB of 4 KiB pages: 5 ns", \
     cols(data, "case=baseline,mode=sv39", "size,cpu_ns_per_page") \
       using 1:2 with linespoints pt 6 lc rgb "#999999" title "per-page walk baseline (Sv39)", \
     cols(data, "case=4k-aligned,mode=sv39", "size,cpu_ns_per_page") \
       using 1:2 with linespoints pt 7 lc rgb "#d62728" title "pt\\_map/pt\\_unmap, 4 KiB leaves, empty range (Sv39)", \
     cols(data, "case=4k-aligned,mode=sv48", "size,cpu_ns_per_page") \
       using 1:2 with linespoints pt 7 dt 3 lc rgb "#d62728" title "same, Sv48", \
     cols(data, "case=4k-warm,mode=sv39", "size,cpu_ns_per_page") \
       using 1:2 with linespoints pt 5 lc rgb "#1f77b4" title "4 KiB leaves, tables kept alive by a neighbour (Sv39)", \
     cols(data, "case=huge-aligned,mode=sv39", "size,cpu_ns_per_page") \
       using 1:2 with linespoints pt 9 lc rgb "#2ca02c" title "1 GiB-aligned va and pa: 2 MiB/1 GiB leaves (Sv39)"
