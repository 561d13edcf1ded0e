# scripts/lib.awk - functions run.sh and scripts/report share (POSIX awk:
# mawk, gawk and busybox awk all run it). Prepend it to a program:
#	awk "$(cat scripts/lib.awk)"' { print fmt_lat(jget($0, "p99")) }'

# The value of the first "key": in a one-line JSON object: a number, a
# string (without its quotes), or "" when the key is missing. The c1m
# programs print their top-level keys before any nested ones, so the first
# match is the top-level one.
function jget(line, key,    i, s) {
	i = index(line, "\"" key "\":")
	if (!i)
		return ""
	s = substr(line, i + length(key) + 3)
	sub(/^ */, "", s)
	if (substr(s, 1, 1) == "\"") {
		s = substr(s, 2)
		sub(/".*/, "", s)
		return s
	}
	sub(/[,}\]].*/, "", s)
	return s
}

# 1234567 -> "1,234,567"
function fmt_int(n,    s, neg, out) {
	n = sprintf("%.0f", n)
	neg = substr(n, 1, 1) == "-"
	s = neg ? substr(n, 2) : n
	out = ""
	while (length(s) > 3) {
		out = "," substr(s, length(s) - 2) out
		s = substr(s, 1, length(s) - 3)
	}
	return (neg ? "-" : "") s out
}

# Microseconds -> "850 us", "12.3 ms", "4.20 s"; "-" when unknown.
function fmt_lat(us) {
	if (us == "")
		return "-"
	us += 0
	if (us < 1000)
		return sprintf("%.0f us", us)
	if (us < 100000)
		return sprintf("%.1f ms", us / 1000)
	if (us < 1000000)
		return sprintf("%.0f ms", us / 1000)
	return sprintf("%.2f s", us / 1000000)
}

# Bytes -> "16 B", "8.3 KB", "1.2 MB" (1 KB = 1000 B, as the SPEC's 8.3 KB).
function fmt_bytes(b) {
	if (b == "")
		return "-"
	b += 0
	if (b < 1000)
		return sprintf("%.0f B", b)
	if (b < 1000000)
		return sprintf("%.1f KB", b / 1000)
	return sprintf("%.1f MB", b / 1000000)
}

# Connections: 1000000 -> "1M", 20000 -> "20K", 1500 -> "1,500".
function fmt_conns(n) {
	n += 0
	if (n >= 1000000 && n % 1000000 == 0)
		return (n / 1000000) "M"
	if (n >= 10000 && n % 1000 == 0)
		return (n / 1000) "K"
	return fmt_int(n)
}

function xml_escape(s) {
	gsub(/&/, "\\&amp;", s)
	gsub(/</, "\\&lt;", s)
	gsub(/>/, "\\&gt;", s)
	gsub(/"/, "\\&quot;", s)
	return s
}

# Which side limited the run, from each side's CPU (100 = one core busy),
# the loops each side could keep busy, and the machine's cores:
#  - a side whose loops are all busy while the other's are not is the limit;
#  - both busy on shared cores: the one using more of them;
#  - neither busy: the run waited (rate limit, sleeps, latency).
function bottleneck(c_pct, s_pct, c_loops, s_loops, ncpu, rps,    c_sat, s_sat) {
	if (rps == "" || rps + 0 <= 0)
		return "none (no load)"
	c_pct += 0; s_pct += 0; c_loops += 0; s_loops += 0; ncpu += 0
	if (c_loops < 1 || c_loops > ncpu) c_loops = ncpu
	if (s_loops < 1 || s_loops > ncpu) s_loops = ncpu
	c_sat = c_pct >= 85 * c_loops
	s_sat = s_pct >= 85 * s_loops
	if (c_sat && !s_sat)
		return "client"
	if (s_sat && !c_sat)
		return "server"
	if (c_pct + s_pct >= 75 * ncpu)
		return (s_pct >= c_pct ? "server" : "client") " (cores shared)"
	return "neither (waiting)"
}

# Per cent of the machine busy between two /proc/stat "cpu" lines (100 =
# one core busy), or 0 when unknown.
function machine_busy(a, b, ncpu,    x, y, i, tot, idle) {
	if (split(a, x, " ") < 6 || split(b, y, " ") < 6)
		return 0
	for (i = 2; i <= 9; i++)
		tot += y[i] - x[i]
	idle = (y[5] - x[5]) + (y[6] - x[6])
	return tot > 0 ? 100 * ncpu * (tot - idle) / tot : 0
}
