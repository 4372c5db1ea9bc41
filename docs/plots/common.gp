# common.gp - the look every svmm plot shares (loaded by the others).
set terminal pngcairo size 900,560 enhanced font "DejaVu Sans,11" linewidth 1.5
set encoding utf8
set grid lc rgb "#dddddd" lw 1
set border lc rgb "#555555"
set key top right box opaque samplen 2 spacing 1.1
set tics nomirror
# Benchmark JSON lines, filtered into columns by tools/jsoncols.awk.
cols(file, where, fields) = sprintf("< awk -f tools/json.awk -f tools/jsoncols.awk -v where='%s' -v cols='%s' %s", where, fields, file)
