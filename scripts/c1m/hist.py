"""STAND-IN for the merge helper's hist.py (interfaces.md): common/hist.c's
bucket rule, enough for record, formats and report. The merge helper's
module replaces this file when the branches are merged; keep the names.

A histogram is the client's "hist" object: {"sub_bits": 6, "count": N,
"sum_ns": S, "min_ns": A, "max_ns": B, "buckets": [[index, count], ...]}.
"""

U64_MAX = 2 ** 64 - 1


def nbuckets(sub_bits):
    """HIST_BUCKETS: (64 - sub_bits) groups of 2^sub_bits, plus group 0."""
    return (64 - sub_bits) * (1 << sub_bits) + (1 << sub_bits)


def bucket_low(i, sub_bits):
    """hist_bucket_low(): the smallest value bucket i holds."""
    sub = 1 << sub_bits
    group = i // sub
    if group < 2:
        return i
    return (sub + i % sub) << (group - 1)


def bucket_high(i, sub_bits):
    """hist_bucket_high(): the largest value bucket i holds."""
    if i + 1 >= nbuckets(sub_bits):
        return U64_MAX
    return bucket_low(i + 1, sub_bits) - 1


def bucket_value(i, sub_bits):
    """What a quantile reports for bucket i: its middle, low + (high - low) // 2."""
    lo = bucket_low(i, sub_bits)
    return lo + (bucket_high(i, sub_bits) - lo) // 2


def quantile(hist, q):
    """hist_quantile(): ns at quantile q (rank = ceil(q * count), at least 1),
    the bucket's middle clamped to [min_ns, max_ns]; 0 when empty."""
    count = int(hist.get("count") or 0)
    if not count:
        return 0
    lo_v, hi_v = int(hist["min_ns"]), int(hist["max_ns"])
    if q <= 0:
        return lo_v
    if q >= 1:
        return hi_v
    x = q * float(count)
    rank = int(x)
    if rank < x:
        rank += 1
    rank = max(rank, 1)
    seen = 0
    for i, n in sorted(hist["buckets"]):
        seen += n
        if seen >= rank:
            return min(max(bucket_value(i, hist["sub_bits"]), lo_v), hi_v)
    return hi_v


def merge(hists):
    """Buckets added index by index; sum_ns saturates at 2^64 - 1."""
    hists = [h for h in hists if h]
    if not hists:
        return None
    acc = {}
    for h in hists:
        for i, n in h["buckets"]:
            acc[i] = acc.get(i, 0) + n
    live = [h for h in hists if h.get("count")]
    return {"sub_bits": hists[0]["sub_bits"],
            "count": sum(h.get("count", 0) for h in hists),
            "sum_ns": min(sum(h.get("sum_ns", 0) for h in hists), U64_MAX),
            "min_ns": min(h["min_ns"] for h in live) if live else 0,
            "max_ns": max(h["max_ns"] for h in live) if live else 0,
            "buckets": [[i, acc[i]] for i in sorted(acc)]}
