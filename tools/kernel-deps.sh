#!/usr/bin/env bash
# kernel-deps.sh NM OBJ... - the demo kernel's files must use each other in one
# direction only: from the objects' symbol tables (what each defines, what it uses),
# build the graph "file A uses a function or variable defined in file B" and fail,
# naming one cycle, if it has any.
#
# Two files stand outside the graph: entry.S (the trap and boot glue, which calls into
# C and is called back by design) and, as a target only, console.c (kprintf and panic,
# which every layer may use; console.c itself uses the locks below it).
set -uo pipefail
nm=$1; shift
for o in "$@"; do
	f=$(basename "$o" .o)
	case $f in entry.S|userprogs) continue ;; esac
	"$nm" "$o" | awk -v f="$f" '$1 == "U" { print "use", f, $2 }
		NF == 3 && $2 ~ /^[TDBRSGC]$/ { print "def", f, $3 }'
done | awk '
	$1 == "def" { def[$3] = $2; next }
	{ use[++n] = $2 " " $3 }
	END {
		for (i = 1; i <= n; i++) {
			split(use[i], u, " ")
			d = def[u[2]]
			if (d == "" || d == u[1] || d == "console") continue
			if (!((u[1], d) in edge)) { edge[u[1], d] = u[2]; out[u[1]]++; node[u[1]]; node[d] }
		}
		# Peel off files that use no remaining file; whatever is left lies on a cycle or
		# leads into one.
		do {
			changed = 0
			for (a in node) if (!(a in gone) && out[a] + 0 == 0) {
				gone[a] = 1; changed = 1
				for (k in edge) { split(k, e, SUBSEP); if (e[2] == a && !(e[1] in gone)) out[e[1]]-- }
			}
		} while (changed)
		for (a in node) if (!(a in gone)) { start = a; break }
		if (start == "") { print "kernel-deps: no cycle among the kernel files"; exit 0 }
		# Walk remaining edges from start until a file repeats: that is a cycle.
		a = start; path = a; seen[a] = 1
		while (1) {
			nx = ""
			for (k in edge) { split(k, e, SUBSEP); if (e[1] == a && !(e[2] in gone)) { nx = e[2]; break } }
			step[a] = nx
			if (nx in seen) break
			seen[nx] = 1; a = nx
		}
		c = nx; line = c
		do { line = line " -> " step[c] " (" edge[c, step[c]] ")"; c = step[c] } while (c != nx)
		print "kernel-deps: the kernel files use each other in a circle: " line
		exit 1
	}'
