#!/usr/bin/awk -f
# check-docs.awk - every public function in a header has a contract comment.
#
# Usage: awk -f tools/check-docs.awk include/svmm/*.h
# Prints "file:line: function NAME has no contract comment" for each offender and
# exits 1 if there is any; prints how many functions it checked otherwise.
#
# A function (a prototype or a static inline definition, at column 0 outside any
# brace) is documented when a block comment ends on the line just before it, or
# before an unbroken run of declarations it belongs to, as port_lock and port_unlock
# share one comment. A blank line or the end of a struct, enum or function body ends
# such a run: a comment above a struct does not document the function after it.

FNR == 1 { depth = 0; incomment = 0; documented = 0 }

{
	s = $0
	if (incomment) {
		if (s ~ /\*\//) { incomment = 0; documented = 1 }
		next
	}
	if (s ~ /^[ \t]*\/\*/) {
		if (s ~ /\*\/[ \t]*$/) documented = 1
		else incomment = 1
		next
	}
	if (s ~ /^[ \t]*$/) { if (depth == 0) documented = 0; next }
	if (s ~ /^#/) next
	code = s
	sub(/\/\*.*$/, "", code)          # drop a trailing comment
	if (depth == 0 && code ~ /^[A-Za-z_]/ && code !~ /^typedef/ &&
	    match(code, /[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/)) {
		name = substr(code, RSTART, RLENGTH)
		sub(/[ \t]*\($/, "", name)
		checked++
		if (!documented) {
			printf "%s:%d: function %s has no contract comment\n", FILENAME, FNR, name
			bad++
		}
	}
	n = gsub(/\{/, "{", code)
	m = gsub(/\}/, "}", code)
	depth += n - m
	if (m > 0 && depth == 0) documented = 0
}

END {
	if (bad) {
		printf "check-docs: %d of %d public functions lack a contract comment\n", bad, checked
		exit 1
	}
	printf "check-docs: all %d public functions have a contract comment\n", checked
}
