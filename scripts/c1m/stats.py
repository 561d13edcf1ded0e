"""The compare statistics (pure): a design's figure over several rounds.

A compare runs every design once per round, interleaved, so the machine's
drift falls on all of them alike. Per figure (rps, p99, ...) it reports
the median of the rounds and their min-max; per design the ratio of each
round's figure to the reference's figure in the SAME round, then the
median and min-max of those ratios. Two designs are "within noise" of
each other when their rounds overlap: the min-max ranges intersect.

A round that did not yield a figure (a failed run) is None in the lists:
it is left out of the statistics, and a ratio needs both sides' figure
of that round. Nothing here rounds a value.
"""
import statistics


def present(values):
    """The figures that exist: None (a missing round) left out."""
    return [v for v in values if v is not None]


def median(values):
    """The median of the rounds that have a figure; None if none has.
    An even number of rounds gives the mean of the middle two."""
    v = present(values)
    return statistics.median(v) if v else None


def spread(values):
    """(min, max) of the rounds that have a figure; None if none has."""
    v = present(values)
    return (min(v), max(v)) if v else None


def ratios(figures, ref_figures):
    """Each round's figure over the reference's figure in the same round.

    figures[i] and ref_figures[i] are round i+1's. A round where either is
    missing, or where the reference's is 0 (no ratio to nothing), is None.
    """
    out = []
    for i, f in enumerate(figures):
        r = ref_figures[i] if i < len(ref_figures) else None
        out.append(None if f is None or r is None or r == 0 else f / r)
    return out


def summary(values):
    """{"median", "min", "max", "n"} of the rounds; None values when no
    round has a figure (n is then 0)."""
    s = spread(values)
    return {"median": median(values), "min": s[0] if s else None,
            "max": s[1] if s else None, "n": len(present(values))}


def overlap(a, b):
    """Whether two (min, max) ranges intersect (touching counts); False
    when either is None."""
    if a is None or b is None:
        return False
    return a[0] <= b[1] and b[0] <= a[1]


def within_noise(a_values, b_values, min_rounds=2):
    """Whether two designs' rounds overlap: their min-max ranges intersect.

    None ("cannot tell") when either has fewer than min_rounds figures:
    one round has no spread, so it cannot show noise.
    """
    if len(present(a_values)) < min_rounds or len(present(b_values)) < min_rounds:
        return None
    return overlap(spread(a_values), spread(b_values))
