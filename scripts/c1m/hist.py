"""common/hist.c's rule, line for line: bucket edges, the value a quantile
reports, the quantile itself, and the merge (buckets added, never
percentiles). Every percentile taken outside the client comes from here.

A histogram is the client's JSON "hist": {"sub_bits": 6, "count": N,
"sum_ns": S, "min_ns": A, "max_ns": B, "buckets": [[index, count], ...]},
buckets in ascending index, only those with a count. Values are ns.

With SUB = 2**sub_bits: values below 2 * SUB each have their own bucket
(groups 0 and 1); above, a value whose top bit is at m falls in group
m - sub_bits + 1, and the sub_bits bits below the top bit choose one of SUB
sub-buckets. tests/py/test_hist.py holds every function here against
hist.c's own (tests/tools/hist_quantile.c).
"""

U64_MAX = (1 << 64) - 1


def nbuckets(sub_bits):
    """HIST_BUCKETS: how many buckets a layout has."""
    sub = 1 << sub_bits
    return (64 - sub_bits) * sub + sub


def index(v, sub_bits):
    """hist_index(): the bucket of value v (0 <= v < 2**64)."""
    sub = 1 << sub_bits
    if v < 2 * sub:
        return v
    m = v.bit_length() - 1                  # top bit, >= sub_bits + 1
    group = m - sub_bits + 1                # >= 2
    return group * sub + ((v >> (m - sub_bits)) & (sub - 1))


def bucket_low(i, sub_bits):
    """hist_bucket_low(): the lowest value of bucket i."""
    sub = 1 << sub_bits
    group, s = divmod(i, sub)
    if group < 2:
        return i
    return (sub + s) << (group - 1)


def bucket_high(i, sub_bits):
    """hist_bucket_high(): the highest value of bucket i (inclusive)."""
    if i + 1 >= nbuckets(sub_bits):
        return U64_MAX
    return bucket_low(i + 1, sub_bits) - 1


def bucket_value(i, sub_bits):
    """What a quantile reports for bucket i: its middle, half the worst
    error (before the clamp to [min, max])."""
    lo, hi = bucket_low(i, sub_bits), bucket_high(i, sub_bits)
    return lo + (hi - lo) // 2


def quantile(hist, q):
    """hist_quantile(): ns at quantile q. The middle of the bucket holding
    the rank-th record, rank = ceil(q * count) at least 1 (q * count taken
    as a double, as C does), clamped to [min_ns, max_ns]; 0 when empty; q
    <= 0 gives min_ns, q >= 1 max_ns."""
    count = hist["count"]
    if not count:
        return 0
    if q <= 0:
        return hist["min_ns"]
    if q >= 1:
        return hist["max_ns"]
    x = q * float(count)                    # (double)h->count, rounded as C rounds
    rank = int(x)                           # (uint64_t), truncation
    if rank < x:
        rank += 1                           # ceil
    if rank == 0:
        rank = 1
    seen = 0
    for i, n in hist["buckets"]:
        seen += n
        if seen >= rank:
            v = bucket_value(i, hist["sub_bits"])
            if v > hist["max_ns"]:
                v = hist["max_ns"]
            if v < hist["min_ns"]:
                v = hist["min_ns"]
            return v
    return hist["max_ns"]


def mean(hist):
    """hist_mean() in ns: sum_ns / count as doubles, 0 when empty."""
    return float(hist["sum_ns"]) / float(hist["count"]) if hist["count"] else 0


def of_values(values, sub_bits=6):
    """A histogram of raw values, as hist_record() per value would make it."""
    b = {}
    total = 0
    for v in values:
        i = index(v, sub_bits)
        b[i] = b.get(i, 0) + 1
        total += v
    return {"sub_bits": sub_bits, "count": len(values), "sum_ns": min(total, U64_MAX),
            "min_ns": min(values) if values else 0, "max_ns": max(values) if values else 0,
            "buckets": [[i, b[i]] for i in sorted(b)]}


def merge(hists):
    """hist_merge() over them all: buckets added index by index, counts
    added, sum_ns saturating at 2**64 - 1, min and max over the histograms
    that hold a record (an empty one prints min 0: not a latency). The
    layouts must agree (ValueError if not). An empty list: an empty
    histogram of 6 sub_bits."""
    sub_bits = hists[0]["sub_bits"] if hists else 6
    b = {}
    count = total = 0
    lo = hi = None
    for h in hists:
        if h["sub_bits"] != sub_bits:
            raise ValueError("sub_bits %s and %s: histograms of two layouts do not add"
                             % (sub_bits, h["sub_bits"]))
        for i, n in h["buckets"]:
            b[i] = b.get(i, 0) + n
        count += h["count"]
        total += h["sum_ns"]
        if h["count"]:
            lo = h["min_ns"] if lo is None else min(lo, h["min_ns"])
            hi = h["max_ns"] if hi is None else max(hi, h["max_ns"])
    return {"sub_bits": sub_bits, "count": count, "sum_ns": min(total, U64_MAX),
            "min_ns": lo or 0, "max_ns": hi or 0,
            "buckets": [[i, b[i]] for i in sorted(b) if b[i]]}
