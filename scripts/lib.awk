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

# The {...} object that is KEY's value in a one-line JSON object (it may
# hold objects itself), or "" when the key is missing or not an object.
function jobj(line, key,    i, s, j, d, ch) {
	i = index(line, "\"" key "\":")
	if (!i)
		return ""
	s = substr(line, i + length(key) + 3)
	sub(/^ */, "", s)
	if (substr(s, 1, 1) != "{")
		return ""
	for (j = 1; j <= length(s); j++) {
		ch = substr(s, j, 1)
		if (ch == "{")
			d++
		else if (ch == "}" && --d == 0)
			return substr(s, 1, j)
	}
	return ""
}

# KEY's value if it is a number, else "null" (a missing key: an older
# program's JSON), to print as a JSON value.
function jnum(line, key,    v) {
	v = jget(line, key)
	return v ~ /^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/ ? v : "null"
}

# V printed with FMT, or "null" when V is.
function fmt_or_null(fmt, v) {
	return v == "null" || v == "" ? "null" : sprintf(fmt, v)
}

# Per cent of a core (100 = one core busy) of a {"user_s": U, "sys_s": S}
# object over SECS seconds, or "null" when either is missing.
function cpu_pct(obj, secs,    u, s) {
	u = jnum(obj, "user_s"); s = jnum(obj, "sys_s")
	if (u == "null" || s == "null" || secs == "null" || secs + 0 <= 0)
		return "null"
	return 100 * (u + s) / secs
}

# Which side limited the run, from each side's CPU over the measuring
# window (100 = one core busy), the loops each side could keep busy, the
# machine's cores and, when pinned, the CPUs each side was given (0 = all,
# shared):
#  - a side whose loops are all busy while the other's are not is the limit;
#  - both busy on shared cores: the one using more of them; pinned: both;
#  - neither busy: the run waited (rate limit, sleeps, latency).
function bottleneck(c_pct, s_pct, c_loops, s_loops, ncpu, rps, c_cpus, s_cpus,    c_sat, s_sat) {
	if (rps == "" || rps + 0 <= 0)
		return "none (no load)"
	c_pct += 0; s_pct += 0; c_loops += 0; s_loops += 0; ncpu += 0
	c_cpus += 0; s_cpus += 0
	if (c_cpus < 1 || c_cpus > ncpu) c_cpus = ncpu
	if (s_cpus < 1 || s_cpus > ncpu) s_cpus = ncpu
	if (c_loops < 1 || c_loops > c_cpus) c_loops = c_cpus
	if (s_loops < 1 || s_loops > s_cpus) s_loops = s_cpus
	c_sat = c_pct >= 85 * c_loops
	s_sat = s_pct >= 85 * s_loops
	if (c_sat && !s_sat)
		return "client"
	if (s_sat && !c_sat)
		return "server"
	if (c_cpus + s_cpus <= ncpu)
		return c_sat ? "both (pinned)" : "neither (waiting)"
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
