# json.awk - reading one field of a benchmark's JSON line, for the awk scripts that
# turn benchmark results into columns (jsoncols.awk) and into the README's table
# (bench-table.awk): awk -f tools/json.awk -f SCRIPT. Only flat objects of numbers,
# strings and booleans are understood, which is what the benchmarks print.

# The value of field name in line, without quotes; "NaN" when the line has no such field.
function field(line, name,    re, v) {
	re = "\"" name "\"[ ]*:[ ]*"
	if (!match(line, re))
		return "NaN"
	v = substr(line, RSTART + RLENGTH)
	if (substr(v, 1, 1) == "\"") {
		v = substr(v, 2)
		return substr(v, 1, index(v, "\"") - 1)
	}
	match(v, /^[^,} ]*/)
	return substr(v, 1, RLENGTH)
}

