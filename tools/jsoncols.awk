#!/usr/bin/awk -f
# jsoncols.awk - pick fields out of benchmark JSON lines, as columns for gnuplot.
#
#   awk -f tools/json.awk -f tools/jsoncols.awk -v where='case=4k-aligned,mode=sv39' -v cols='size,ns_per_page' F
#
# Prints, for every line whose fields equal all the where= pairs, the values of the
# cols= fields separated by spaces (a missing field prints as NaN, which gnuplot
# skips). Only flat objects of numbers, strings and booleans are understood, which is
# what the benchmarks print. The field reader is tools/json.awk's.

BEGIN {
	nw = split(where, w, ",")
	nc = split(cols, c, ",")
}

/^\{/ {
	for (i = 1; i <= nw; i++) {
		split(w[i], kv, "=")
		if (field($0, kv[1]) != kv[2])
			next
	}
	out = ""
	for (i = 1; i <= nc; i++)
		out = out (i > 1 ? " " : "") field($0, c[i])
	print out
}
