#!/usr/bin/awk -f
# doxy-filter.awk - Doxygen INPUT_FILTER for svmm's headers.
#
# The headers are written in kernel style: plain /* */ comments, a contract comment
# above each public function, trailing comments on fields and macros. Rather than
# rewrite them in Doxygen's dialect, this filter translates on the fly:
#   - the file's first comment becomes the \file description;
#   - a comment on its own line(s) becomes a /** */ documentation block;
#   - a trailing comment after code becomes a /**< */ member comment;
#   - a comment followed by several declarations before the next blank line (such as
#     port_lock and port_unlock under one contract) is wrapped in a member group, so
#     that DISTRIBUTE_GROUP_DOC gives each declaration the shared comment;
#   - inside comments, '<' before a letter and '\' and '@' are escaped, so that
#     <stdint.h> or a path is not taken for an HTML tag or a Doxygen command.
# Line numbers are kept (no line is added or removed), so warnings point at the source.

function escape(s) {
	gsub(/\\/, "\\\\", s)
	gsub(/@/, "\\@", s)
	r = ""
	while (match(s, /<[A-Za-z]/)) {
		r = r substr(s, 1, RSTART - 1) "\\<"
		s = substr(s, RSTART + 1)
	}
	return r s
}

{ line[NR] = $0 }

END {
	first = 1
	incomment = 0
	for (i = 1; i <= NR; i++) {
		s = line[i]
		if (incomment) {
			out[i] = escape(s)
			if (s ~ /\*\//) { incomment = 0; endc = i; group_check(start, endc) }
			continue
		}
		# A comment that starts a line.
		if (s ~ /^[ \t]*\/\*/) {
			start = i
			if (first) {
				sub(/\/\*/, "/** \\file", s)
				first = 0
				filecomment = 1
			} else {
				sub(/\/\*/, "/**", s)
				filecomment = 0
			}
			out[i] = escape_after_open(s)
			if (s ~ /\*\/[ \t]*$/) { if (!filecomment) group_check(i, i) }
			else incomment = 1
			continue
		}
		# Preprocessor lines other than #define keep their comments plain.
		if (s ~ /^#[ \t]*(if|ifdef|ifndef|else|elif|endif|include)/) { out[i] = s; continue }
		# A trailing comment after code (a field, an enum constant or a macro).
		if (s ~ /[^ \t].*\/\*.*\*\/[ \t]*$/) {
			p = index(s, "/*")
			out[i] = substr(s, 1, p - 1) "/**<" escape(substr(s, p + 2))
			continue
		}
		# A trailing comment that continues on the next lines.
		if (s ~ /[^ \t].*\/\*/ && s !~ /\*\//) {
			p = index(s, "/*")
			out[i] = substr(s, 1, p - 1) "/**<" escape(substr(s, p + 2))
			incomment = 1
			start = -1
			continue
		}
		out[i] = s
	}
	for (i = 1; i <= NR; i++) {
		if (i in pre) printf "%s", pre[i]
		printf "%s", out[i]
		if (i in post) printf "%s", post[i]
		printf "\n"
	}
}

# Escape the text after the opening "/**" (or "/** \file") only.
function escape_after_open(s,    p, head) {
	p = index(s, "/**")
	head = substr(s, 1, p + 2)
	if (substr(s, p + 3, 6) == " \\file") { head = head " \\file"; p += 6 }
	return head escape(substr(s, p + 3))
}

# After the comment [a, b]: count the declarations up to the next blank line or
# comment; two or more (and no braces, so no struct or function body) make a member
# group.
function group_check(a, b,    j, n, named, last, t) {
	if (a < 0) return
	n = 0
	named = 0
	for (j = b + 1; j <= NR && line[j] !~ /^[ \t]*$/; j++) {
		t = line[j]
		if (t ~ /^[ \t]*\/\*/) break
		if (t ~ /[{}]/) return
		if (t ~ /^(#define|[A-Za-z_])/) { n++; if (t ~ /\/\*.*\*\//) named++ }
		last = j
	}
	if (n < 2) return
	# When the declarations carry their own trailing comments, a one-line comment above
	# them is a heading (Doxygen's @name) rather than documentation to share.
	if (a == b && named > 0) {
		t = line[a]
		sub(/^[ \t]*\/\*[ \t]*/, "", t)
		sub(/[ \t]*\*\/[ \t]*$/, "", t)
		out[a] = "/** @name " escape(t) " */ /**@{*/"
		pre[last + 1] = pre[last + 1] "/**@}*/ "
		return
	}
	# The group closes at the start of the line after the last declaration (blank, or
	# the next comment), never on a #define line, where it would join the macro.
	pre[a] = "/**@{*/ "
	pre[last + 1] = pre[last + 1] "/**@}*/ "
}
