"""SVG charts, plain text with nothing but the standard library.

report's three (rows: loaded results, version 2 shape, as report picked them):
  summary_svg    per connection count, round trips/s and memory per
                 connection of the closed-loop designs at that count
  scaling_svg    rps, server CPU per round trip and memory per connection
                 against connections (log axis) for 03, 06, 07, 08 and 14
  fixed_svg      the fixed-rate designs (01, 02): memory and CPU per
                 connection, never rps
and one per run:
  timeseries_svg rps and p99 over time from the run's progress lines, the
                 ramp, the first round and the measuring window marked

The row helpers (label, rate_of, mem_total, ...) are shared with report's
tables, so a row reads the same in both.
"""
import math

from . import formats
from .fmt import fmt_bytes, fmt_conns, fmt_int, fmt_lat

SCALING = ("03", "06", "07", "08", "14")
COLOURS = ("#4a78c2", "#d9822b", "#6b9a3a", "#b8405e", "#7a5cb0")


# ---- a summary's values as the tables read them ----

def val(s, key):
    """S[KEY], None when missing or null."""
    v = s.get(key)
    return None if v == "" else v


def sval(s, key):
    """S[KEY] as text, "" when missing or null."""
    v = s.get(key)
    return "" if v is None else str(v)


def fnum(s, key):
    """S[KEY] as a float, 0 when missing, null or not a number."""
    v = s.get(key)
    try:
        return float(v) if v is not None and v != "" and not isinstance(v, bool) else 0.0
    except (TypeError, ValueError):
        return 0.0


def hosts_of(s):
    """Client hosts of a run: 1 alone (and before --hosts existed)."""
    h = fnum(s, "hosts")
    return int(h) if h >= 2 else 1


def label(s):
    d = sval(s, "design")
    c = sval(s, "client")
    v = sval(s, "variant")
    if c != "" and c[:2] != sval(s, "nn") and not c.startswith("05_"):
        d += " (client " + c[:2] + ")"
    if v != "":
        d += " " + v
    wl = sval(s, "workload")
    if wl not in ("", "pingpong"):
        d += " " + wl
    if hosts_of(s) > 1:
        d += ", %d hosts" % hosts_of(s)
    if fnum(s, "netns") == 1:
        d += " [netns]"
    return d


def rate_of(s):
    """The request rate a run was held to, 0 for a closed loop."""
    if fnum(s, "rate_target") > 0:
        return fnum(s, "rate_target")
    if fnum(s, "client_rate") > 0:
        return fnum(s, "client_rate")
    return 0


def mem_total(s):
    """Server RSS + kernel per connection, None unless both are known."""
    r, k = val(s, "server_rss_b_per_conn"), val(s, "kernel_b_per_conn")
    return None if r is None or k is None else float(r) + float(k)


def fmt_us(x):
    if x is None or x == "":
        return "-"
    x = float(x)
    return "%.2f" % x if x < 10 else "%.1f" % x if x < 100 else "%.0f" % x


def machine_line(m):
    m = m or {}
    cpu = m.get("cpu") or ""
    mem = float(m.get("mem_total_kb") or 0) / 1048576
    return "%s vCPU%s, %.0f GiB, Linux %s" % (m.get("cores", ""), " (" + cpu + ")" if cpu else "",
                                              mem, m.get("kernel", ""))


# ---- SVG primitives ----

def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


class Svg:
    """An SVG being written: open(), text(), raw lines, close()."""

    def __init__(self, w, h):
        self.out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
                    'font-family="sans-serif" font-size="13">\n' % (w, h, w, h),
                    '<rect width="100%" height="100%" fill="white"/>\n']

    def text(self, x, y, s, extra=""):
        self.out.append('<text x="%.1f" y="%.1f"%s>%s</text>\n' % (x, y, extra, esc(s)))

    def raw(self, line):
        self.out.append(line + "\n")

    def close(self):
        self.out.append("</svg>\n")
        return "".join(self.out)


def empty_svg(what):
    g = Svg(700, 100)
    g.text(20, 55, "No " + what + " results yet: run ./run.sh compare, then scripts/report.")
    return g.close()


def _foot(g, y, foot):
    g.text(20, y, foot, ' fill="#555"')


# ---- summary.svg ----

def summary_svg(rows, foot):
    closed = [s for s in rows if not rate_of(s)]
    if not closed:
        return empty_svg("closed-loop")
    lw, bw = 320, 300
    mx, mw = lw + bw + 110, 240
    groups = []
    for s in closed:        # runs of rows with one count (rows are sorted)
        c = fnum(s, "conns")
        if not groups or groups[-1] != c:
            groups.append(c)
    h = 60 + 56 * len(groups) + 24 * len(closed) + 30
    g = Svg(mx + mw + 150, h)
    g.text(20, 28, "Round trips per second (higher is better) and memory per connection (lower is better)",
           ' font-size="16" font-weight="bold"')
    g.text(20, 46, "Designs compared only within one connection count; each group has its own scale.",
           ' fill="#555"')
    y = 60
    for gc in groups:
        mine = [s for s in closed if fnum(s, "conns") == gc]
        maxr = max([fnum(s, "rps") for s in mine] + [0])
        maxm = max([mem_total(s) or 0 for s in mine] + [0])
        g.raw('<g class="count" data-conns="%d">' % gc)
        y += 30
        g.text(20, y, fmt_int(gc) + " connections", ' font-size="15" font-weight="bold"')
        g.text(lw, y, "round trips/s", ' fill="#555"')
        g.raw('<rect x="%d" y="%d" width="12" height="12" fill="#d9822b"/>' % (mx, y - 11))
        g.text(mx + 16, y, "kernel")
        g.raw('<rect x="%d" y="%d" width="12" height="12" fill="#6b9a3a"/>' % (mx + 70, y - 11))
        g.text(mx + 86, y, "server RSS, per connection")
        y += 10
        for s in mine:
            nn = sval(s, "nn")
            g.text(lw - 10, y + 14, label(s), ' text-anchor="end"')
            rb = bw * fnum(s, "rps") / maxr if maxr > 0 else 0
            g.raw('<rect class="rps" data-design="%s" x="%d" y="%d" width="%.1f" height="18" '
                  'fill="#4a78c2"><title>%s</title></rect>' % (esc(nn), lw, y, rb, esc(label(s))))
            g.text(lw + rb + 6, y + 14, fmt_int(fnum(s, "rps")))
            kb = mw * fnum(s, "kernel_b_per_conn") / maxm if maxm > 0 else 0
            sb = mw * fnum(s, "server_rss_b_per_conn") / maxm if maxm > 0 else 0
            g.raw('<rect class="mem-kernel" data-design="%s" x="%d" y="%d" width="%.1f" height="18" '
                  'fill="#d9822b"/>' % (esc(nn), mx, y, kb))
            g.raw('<rect class="mem-rss" data-design="%s" x="%.1f" y="%d" width="%.1f" height="18" '
                  'fill="#6b9a3a"/>' % (esc(nn), mx + kb, y, sb))
            g.text(mx + kb + sb + 6, y + 14, fmt_bytes(mem_total(s)))
            y += 24
        g.raw("</g>")
        y += 16
    _foot(g, h - 12, foot)
    return g.close()


# ---- scaling.svg ----

def _metric(s, m):
    if m == "mem":
        return mem_total(s)
    v = val(s, m)
    return None if v is None else float(v)


def _metric_fmt(m, v):
    if m == "mem":
        return fmt_bytes(v)
    if m == "rps":
        return fmt_int(v)
    return fmt_us(v)


def scaling_svg(rows, foot):
    lines, cmin, cmax = {}, None, 0
    for s in rows:
        nn = sval(s, "nn")
        if nn not in SCALING or rate_of(s) or hosts_of(s) > 1:
            continue
        # One line per design, client and variant: a 1M run in a
        # namespace continues the same line.
        lid = label(s)
        if lid.endswith(" [netns]"):
            lid = lid[:-len(" [netns]")]
        if lid not in lines:
            lines[lid] = (nn, COLOURS[SCALING.index(nn)], [])
        lines[lid][2].append(s)
        c = fnum(s, "conns")
        cmin = c if cmin is None or c < cmin else cmin
        cmax = max(cmax, c)
    if not lines:
        return empty_svg("scaling (03, 06, 07, 08, 14)")
    lmin, lmax = 1000, 1000000
    while lmin > cmin and lmin > 1:
        lmin //= 10
    while lmax < cmax:
        lmax *= 10
    metrics = ["rps", "server_us_per_rt", "mem"]
    titles = ["round trips per second", "server CPU µs per round trip (lower is better)",
              "memory per connection, server RSS + kernel (lower is better)"]
    x0, pw, ph = 90, 560, 200
    w, h = x0 + pw + 210, 60 + 3 * (ph + 90) + 20
    g = Svg(w, h)
    g.text(20, 28, "Scaling: the same designs at 1K to 1M connections (log axis)",
           ' font-size="16" font-weight="bold"')

    def xpos(c):
        return x0 + pw * math.log10(c / lmin) / math.log10(lmax / lmin)
    for p, (metric, title) in enumerate(zip(metrics, titles)):
        y0 = 60 + p * (ph + 90) + 30
        maxv = 0
        for _, _, runs in lines.values():
            for s in runs:
                v = _metric(s, metric)
                if v is not None and v > maxv:
                    maxv = v
        if maxv <= 0:
            maxv = 1
        maxv *= 1.1
        g.raw('<g class="panel" data-metric="%s">' % metric)
        g.text(x0, y0 - 10, title, ' font-weight="bold"')
        g.raw('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>' % (x0, y0, pw, ph))
        for t in range(5):
            y = y0 + ph - ph * t / 4
            g.raw('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>' % (x0, y, x0 + pw, y))
            g.text(x0 - 6, y + 4, _metric_fmt(metric, maxv * t / 4), ' text-anchor="end" font-size="11"')
        c = lmin
        while c <= lmax:
            x = xpos(c)
            g.raw('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>' % (x, y0, x, y0 + ph))
            g.text(x, y0 + ph + 16, fmt_conns(c), ' text-anchor="middle" font-size="11"')
            c *= 10
        g.text(x0 + pw / 2, y0 + ph + 32, "connections", ' text-anchor="middle" fill="#555"')
        for lid, (nn, col, runs) in lines.items():
            pts = []
            for s in runs:
                v = _metric(s, metric)
                if v is None:
                    continue
                x = xpos(fnum(s, "conns"))
                y = y0 + ph - ph * v / maxv
                pts.append("%.1f,%.1f" % (x, y))
                g.raw('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s</title></circle>' % (
                    x, y, col, esc(label(s) + " at " + fmt_int(fnum(s, "conns")) + ": " + _metric_fmt(metric, v))))
            if pts:
                g.raw('<polyline class="line" data-design="%s" fill="none" stroke="%s" stroke-width="2" '
                      'points="%s"/>' % (esc(nn), col, " ".join(pts)))
        for k, (lid, (nn, col, _)) in enumerate(lines.items()):
            y = y0 + 12 + 18 * k
            g.raw('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>' % (
                x0 + pw + 12, y - 4, x0 + pw + 30, y - 4, col))
            g.text(x0 + pw + 36, y, lid, ' font-size="11"')
        g.raw("</g>")
    _foot(g, h - 12, foot)
    return g.close()


# ---- fixed-rate.svg ----

def fixed_svg(rows, foot):
    fixed = [s for s in rows if rate_of(s)]
    if not fixed:
        return empty_svg("fixed-rate (01, 02)")
    maxm = max([mem_total(s) or 0 for s in fixed] + [0])
    maxc = max([fnum(s, "server_us_per_rt") for s in fixed] + [0])
    lw = 330
    mx, mw = lw, 240
    cx, cw = mx + mw + 130, 200
    h = 110 + 24 * len(fixed) + 30
    g = Svg(cx + cw + 220, h)
    g.text(20, 28, "Fixed-rate designs: what holding a connection costs (lower is better)",
           ' font-size="16" font-weight="bold"')
    g.text(20, 46, "They answer a set request rate, so their round trips per second say nothing; "
           "see memory and CPU.", ' fill="#555"')
    y = 80
    g.text(mx, y, "memory per connection", ' font-weight="bold"')
    g.text(cx, y, "server CPU µs per round trip (window CPU)", ' font-weight="bold"')
    y += 10
    for s in fixed:
        nn = esc(sval(s, "nn"))
        g.text(lw - 10, y + 14, "%s (%s, %s/s)" % (label(s), fmt_conns(fnum(s, "conns")), fmt_int(rate_of(s))),
               ' text-anchor="end"')
        kb = mw * fnum(s, "kernel_b_per_conn") / maxm if maxm > 0 else 0
        sb = mw * fnum(s, "server_rss_b_per_conn") / maxm if maxm > 0 else 0
        g.raw('<rect class="mem-kernel" data-design="%s" x="%d" y="%d" width="%.1f" height="18" '
              'fill="#d9822b"/>' % (nn, mx, y, kb))
        g.raw('<rect class="mem-rss" data-design="%s" x="%.1f" y="%d" width="%.1f" height="18" '
              'fill="#6b9a3a"/>' % (nn, mx + kb, y, sb))
        g.text(mx + kb + sb + 6, y + 14, fmt_bytes(val(s, "kernel_b_per_conn")) + " + "
               + fmt_bytes(val(s, "server_rss_b_per_conn")))
        v = val(s, "server_us_per_rt")
        cb = cw * float(v) / maxc if maxc > 0 and v is not None else 0
        g.raw('<rect class="cpu" data-design="%s" x="%d" y="%d" width="%.1f" height="18" '
              'fill="#7a5cb0"/>' % (nn, cx, y, cb))
        cpu = val(s, "server_cpu_window_pct")
        g.text(cx + cb + 6, y + 14, ("-" if v is None else fmt_us(v) + " µs") + "; server "
               + ("-" if cpu is None else "%.0f%%" % float(cpu)) + " of a core")
        y += 24
    _foot(g, h - 12, foot)
    return g.close()


# ---- one run over time ----

def _nice(x):
    """A round number >= x for an axis top (1, 2, 2.5, 5 x 10^k)."""
    if x <= 0:
        return 1
    e = 10 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if m * e >= x:
            return m * e
    return 10 * e


def phases(doc):
    """[(name, t0, t1)] in seconds from the client's start: the ramp, the
    first round and the measuring window, those the result can place."""
    c = doc.get("client") if isinstance(doc.get("client"), dict) else {}
    out = []
    ramp = c.get("connect_s")
    if isinstance(ramp, (int, float)):
        out.append(("ramp", 0.0, float(ramp)))
        fr = c.get("first_round_s")
        if isinstance(fr, (int, float)) and fr >= 0:
            out.append(("first round", float(ramp), float(ramp) + fr))
    t0 = (doc.get("run") or {}).get("client_t0_wall_us")
    ws, dur = c.get("window_start_us"), c.get("duration_s")
    if t0 and isinstance(ws, (int, float)) and isinstance(dur, (int, float)):
        a = (ws - t0) / 1e6
        out.append(("window", a, a + dur))
    return out


def timeseries_svg(doc, title):
    """rps (both programs) and the client's p99 over time, with the ramp,
    the first round and the window shaded; None without progress lines."""
    rows = formats.progress_rows(doc)
    if not rows:
        return None
    ph_list = phases(doc)
    tmax = max([r["t_s"] for r in rows] + [b for _, _, b in ph_list] + [1])
    x0, pw, ph = 90, 640, 180
    w, h = x0 + pw + 190, 60 + 2 * (ph + 70) + 40
    g = Svg(w, h)
    g.text(20, 28, title, ' font-size="16" font-weight="bold"')
    shade = {"ramp": "#f3e3cf", "first round": "#e6ddf3", "window": "#dcebd5"}
    # One line per program (each --hosts client its own: "client@HOST").
    whos = []
    for r in rows:
        if r["who"] not in whos:
            whos.append(r["who"])
    whos.sort(key=lambda w: (w == "server", w))
    palette = ("#4a78c2", "#b8405e", "#6b9a3a", "#7a5cb0", "#3a9a9a", "#555555")
    colour = {w: "#d9822b" if w == "server" else palette[i % len(palette)] for i, w in enumerate(whos)}
    series = [("rps", "round trips per second (each program's progress lines)", "rps",
               [(w, colour[w]) for w in whos]),
              ("p99_us", "client p99 latency", "p99_us", [(w, colour[w]) for w in whos if w != "server"])]

    def xpos(t):
        return x0 + pw * t / tmax
    for p, (metric, ptitle, key, whos) in enumerate(series):
        y0 = 60 + p * (ph + 70) + 10
        vals = [r[key] for r in rows if r.get(key) is not None and r["who"] in dict(whos)]
        top = _nice(max(vals + [0]) * 1.05)
        g.raw('<g class="panel" data-metric="%s">' % metric)
        g.text(x0, y0 - 8, ptitle, ' font-weight="bold"')
        for name, a, b in ph_list:
            g.raw('<rect class="phase" data-phase="%s" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s">'
                  '<title>%s %.1f-%.1f s</title></rect>' % (name, xpos(a), y0, max(xpos(b) - xpos(a), 1),
                                                           ph, shade[name], name, a, b))
        g.raw('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>' % (x0, y0, pw, ph))
        for t in range(5):
            y = y0 + ph - ph * t / 4
            g.raw('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (x0, y, x0 + pw, y))
            lab = fmt_int(top * t / 4) if metric == "rps" or t == 0 else fmt_lat(top * t / 4)
            if vals:
                g.text(x0 - 6, y + 4, lab, ' text-anchor="end" font-size="11"')
        if not vals:
            # A run shorter than its progress interval prints no such line.
            g.text(x0 + pw / 2, y0 + ph / 2, "no progress line with this figure in the run: "
                   "a shorter interval (run.sh -i 1) gives more", ' text-anchor="middle" fill="#555" class="none"')
        step = _nice(tmax / 8)
        t = 0.0
        while t <= tmax + 1e-9:
            x = xpos(t)
            g.raw('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x, y0, x, y0 + ph))
            g.text(x, y0 + ph + 15, "%g" % t, ' text-anchor="middle" font-size="11"')
            t += step
        g.text(x0 + pw / 2, y0 + ph + 30, "seconds since the client started", ' text-anchor="middle" fill="#555"')
        for k, (who, col) in enumerate(whos):
            pts = ["%.1f,%.1f" % (xpos(r["t_s"]), y0 + ph - ph * r[key] / top)
                   for r in rows if r["who"] == who and r.get(key) is not None]
            if pts:
                g.raw('<polyline class="series" data-who="%s" fill="none" stroke="%s" stroke-width="2" '
                      'points="%s"/>' % (who, col, " ".join(pts)))
                # A dot per line printed: one line alone draws no polyline.
                for pt in pts:
                    x, y = pt.split(",")
                    g.raw('<circle cx="%s" cy="%s" r="3" fill="%s"/>' % (x, y, col))
            y = y0 + 12 + 18 * k
            g.raw('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>' % (
                x0 + pw + 12, y - 4, x0 + pw + 30, y - 4, col))
            g.text(x0 + pw + 36, y, who, ' font-size="11"')
        for k, (name, _, _) in enumerate(ph_list):
            y = y0 + 12 + 18 * (len(whos) + k)
            g.raw('<rect x="%d" y="%d" width="18" height="10" fill="%s"/>' % (x0 + pw + 12, y - 9, shade[name]))
            g.text(x0 + pw + 36, y, name, ' font-size="11"')
        g.raw("</g>")
    _foot(g, h - 12, "c1m; progress every interval; shaded: " + (", ".join(n for n, _, _ in ph_list) or "no phases recorded"))
    return g.close()
