"""Numbers as people read them, in the tables and messages.

fmt_int(1234567) -> "1,234,567"; fmt_lat(850) -> "850 us"; fmt_bytes(8300)
-> "8.3 KB" (1 KB = 1000 B); fmt_conns(20000) -> "20K". None or "" is "-".
"""


def fmt_int(n):
    """1234567 -> "1,234,567" (rounded to a whole number first)."""
    return f"{round(float(n)):,}"


def fmt_lat(us):
    """Microseconds -> "850 us", "12.3 ms", "412 ms", "4.20 s"; "-" unknown."""
    if us is None or us == "":
        return "-"
    us = float(us)
    if us < 1000:
        return f"{us:.0f} us"
    if us < 100000:
        return f"{us / 1000:.1f} ms"
    if us < 1000000:
        return f"{us / 1000:.0f} ms"
    return f"{us / 1e6:.2f} s"


def fmt_bytes(b):
    """Bytes -> "16 B", "8.3 KB", "1.2 MB"; "-" unknown."""
    if b is None or b == "":
        return "-"
    b = float(b)
    if b < 1000:
        return f"{b:.0f} B"
    if b < 1000000:
        return f"{b / 1000:.1f} KB"
    return f"{b / 1e6:.1f} MB"


def fmt_conns(n):
    """Connections: 1000000 -> "1M", 20000 -> "20K", 1500 -> "1,500"."""
    n = int(n)
    if n >= 1000000 and n % 1000000 == 0:
        return f"{n // 1000000}M"
    if n >= 10000 and n % 1000 == 0:
        return f"{n // 1000}K"
    return fmt_int(n)


def fmt_list(ns):
    """[1000, 100000] -> "1,000, 100,000"."""
    return ", ".join(fmt_int(n) for n in ns)
