"""Small-sample statistics for comparing repetitions, and histogram percentiles.

Benchmarks give a handful of repetitions per case (5 by default), so the
methods here are the distribution-free ones that stay honest at n = 3..10:

- Mann-Whitney U (scipy) for significance;
- Hodges-Lehmann shift with its exact distribution-free confidence interval
  (the order statistics of the pairwise differences picked from the exact null
  distribution of U), which agrees with the U test by construction; or a
  seeded percentile bootstrap of the difference of medians (--ci bootstrap);
- the smallest number of repetitions for which the exact two-sided U test can
  reach the chosen alpha at all, computed from C(m+n, m), not assumed.

Latency histograms have one merged histogram per run and no repetitions, so
percentile differences get a seeded multinomial bootstrap over the buckets:
that interval covers sampling error only, not run-to-run variation.
"""

import functools
import math
import zlib

import numpy as np
from scipy import stats as sps


def median(xs):
    s = sorted(xs)
    n = len(s)
    if n == 0:
        return None
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2.0


def cv(xs):
    """Sample stddev / mean; None with fewer than 2 samples or a zero mean."""
    n = len(xs)
    if n < 2:
        return None
    try:
        mean = sum(xs) / n
        if mean == 0 or not math.isfinite(mean):
            return None
        var = sum((x - mean) ** 2 for x in xs) / (n - 1)
        return math.sqrt(var) / abs(mean)
    except OverflowError:  # samples near the float limit: no meaningful spread
        return None


def min_p_exact(m, n):
    """Smallest two-sided p-value the exact U test can give for sizes m, n:
    the two most extreme arrangements out of C(m+n, m)."""
    if m < 1 or n < 1:
        return 1.0
    return min(1.0, 2.0 / math.comb(m + n, m))


def reps_needed(alpha, have_other=None, limit=1000):
    """Repetitions per side needed before the exact two-sided U test can
    reach p < alpha.  With have_other given, the size this side needs when the
    other side has that many."""
    for k in range(1, limit + 1):
        other = k if have_other is None else have_other
        if min_p_exact(k, other) < alpha:
            return k
    return None


def _u_null_counts(m, n):
    """Exact null distribution of U for sizes m, n (no ties): counts[u] is
    the number of the C(m+n, m) arrangements with U = u.  Coefficients of the
    Gaussian binomial [m+n choose m]_q, built by the usual recurrence."""
    # f[i][j] = counts for sizes (i, j); f(i, j) = f(i-1, j) shifted by j + f(i, j-1)
    prev = [[1]] * (n + 1)  # i = 0: one arrangement with U = 0 for any j
    for i in range(1, m + 1):
        cur = [[1]]  # j = 0
        for j in range(1, n + 1):
            a = prev[j]          # f(i-1, j), shifted by j
            b = cur[j - 1]       # f(i, j-1)
            size = i * j + 1
            out = [0] * size
            for u, c in enumerate(a):
                out[u + j] += c
            for u, c in enumerate(b):
                out[u] += c
            cur.append(out)
        prev = cur
    return prev[n]


@functools.lru_cache(maxsize=None)
def _hl_k(m, n, alpha):
    """Index k (1-based) such that [d(k), d(mn+1-k)] of the sorted pairwise
    differences is a >= 1-alpha confidence interval for the shift; None if no
    such interval exists at these sizes.  Returns (k, achieved confidence)."""
    mn = m * n
    if m * n <= 400 and m <= 40 and n <= 40:
        counts = _u_null_counts(m, n)
        total = math.comb(m + n, m)
        # P(U <= c); the interval [d(c+1), d(mn-c)] has confidence 1 - 2 P(U <= c)
        cum = 0
        best = None
        for c in range(0, mn // 2 + 1):
            cum += counts[c]
            if 2.0 * cum / total <= alpha:
                best = (c + 1, 1.0 - 2.0 * cum / total)
            else:
                break
        return best if best else (None, None)
    # normal approximation for large samples
    z = sps.norm.ppf(1 - alpha / 2)
    c = int(math.floor(mn / 2.0 - z * math.sqrt(mn * (m + n + 1) / 12.0)))
    if c < 0:
        return (None, None)
    return (c + 1, 1 - alpha)


def hodges_lehmann(base, new, alpha):
    """Shift estimate (median of new_j - base_i) and its distribution-free CI.
    Returns (estimate, lo, hi, achieved_confidence); lo/hi None when the
    sizes cannot give 1-alpha confidence."""
    d = sorted(b2 - b1 for b1 in base for b2 in new)
    est = median(d)
    k, conf = _hl_k(len(base), len(new), alpha)
    if k is None:
        return est, None, None, None
    return est, d[k - 1], d[len(d) - k], conf


def stable_seed(seed, *keys):
    """Seed for one comparison, independent of the order comparisons run in."""
    h = zlib.crc32("\x1f".join(str(k) for k in keys).encode())
    return (int(seed) * 1000003 + h) & 0xFFFFFFFF


def bootstrap_median_diff(base, new, alpha, seed, resamples=4000):
    rng = np.random.default_rng(seed)
    b = np.asarray(base, dtype=float)
    c = np.asarray(new, dtype=float)
    bi = rng.integers(0, len(b), size=(resamples, len(b)))
    ci = rng.integers(0, len(c), size=(resamples, len(c)))
    diffs = np.median(c[ci], axis=1) - np.median(b[bi], axis=1)
    lo, hi = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def mann_whitney(base, new):
    """Two-sided Mann-Whitney U p-value; exact when scipy can (small, no
    ties), else the normal approximation with tie correction.  1.0 when all
    values are identical."""
    if len(set(base) | set(new)) == 1:
        return 1.0
    res = sps.mannwhitneyu(new, base, alternative="two-sided", method="auto")
    return float(res.pvalue)


# ---- latency histograms ------------------------------------------------

HIST_LIMIT_NS = 1 << 40  # first overflow value (bench/histogram.h)


class Hist:
    """A merged histogram rebuilt from a record's `buckets` ([lo, hi, count]
    triples) plus its overflow count, min and max."""

    def __init__(self, buckets, overflow=0, vmin=None, vmax=None):
        rows = sorted((int(lo), int(hi), int(c)) for lo, hi, c in buckets if int(c) > 0)
        self.lo = np.array([r[0] for r in rows], dtype=float)
        self.hi = np.array([r[1] for r in rows], dtype=float)
        self.counts = np.array([r[2] for r in rows], dtype=np.int64)
        self.overflow = int(overflow or 0)
        self.count = int(self.counts.sum())
        self.vmin = vmin
        self.vmax = vmax

    @property
    def total(self):
        return self.count + self.overflow

    def _values_counts(self):
        """Representative value and count per bucket, the overflow as a last
        bucket valued at the histogram limit."""
        mid = self.lo + np.floor((self.hi - self.lo) / 2.0)  # as fl_hist_percentile()
        if self.vmin is not None:
            mid = np.maximum(mid, float(self.vmin))
        if self.vmax is not None:
            mid = np.minimum(mid, float(self.vmax))
        counts = self.counts
        if self.overflow:
            mid = np.append(mid, float(HIST_LIMIT_NS))
            counts = np.append(counts, self.overflow)
        return mid, counts

    def percentile(self, p):
        """Same rule as fl_hist_percentile(): midpoint of the bucket holding
        the sample of rank ceil(p/100 * N), clamped to [min, max]; overflowed
        samples rank above every bucket and read as the histogram limit."""
        if self.total == 0:
            return None
        vals, counts = self._values_counts()
        rank = max(1, int(math.ceil(p / 100.0 * self.total)))
        idx = int(np.searchsorted(np.cumsum(counts), rank, side="left"))
        return float(vals[min(idx, len(vals) - 1)])

    def bootstrap_percentiles(self, ps, seed, resamples=1000):
        """(resamples, len(ps)) array: draws from the bootstrap distribution
        of each percentile.  That distribution is computed exactly rather
        than by resampling the whole histogram: in a resample of N, the
        percentile of rank k lies at or below bucket b exactly when at least
        k of the N draws fall at or below b, a Binomial(N, cum_b / N) tail."""
        vals, counts = self._values_counts()
        n = int(counts.sum())
        cum = np.cumsum(counts) / n
        rng = np.random.default_rng(seed)
        out = np.empty((resamples, len(ps)))
        for j, p in enumerate(ps):
            rank = max(1, int(math.ceil(p / 100.0 * n)))
            cdf = sps.binom.sf(rank - 1, n, np.minimum(cum, 1.0))
            cdf[-1] = 1.0
            pmf = np.diff(cdf, prepend=0.0).clip(min=0)
            out[:, j] = rng.choice(vals, size=resamples, p=pmf / pmf.sum())
        return out

    def curve(self, max_points=400):
        """(percentile, latency) points of the upper edge of each bucket for
        a percentile plot; overflow drawn at the histogram limit."""
        if self.total == 0:
            return [], []
        cum = np.cumsum(self.counts)
        pct = 100.0 * cum / self.total
        lat = self.hi.copy()
        if self.vmax is not None:
            lat = np.minimum(lat, float(self.vmax))
        if self.overflow:
            pct = np.append(pct, 100.0)
            lat = np.append(lat, float(HIST_LIMIT_NS))
        if len(pct) > max_points:
            keep = np.unique(np.linspace(0, len(pct) - 1, max_points).astype(int))
            pct, lat = pct[keep], lat[keep]
        return pct.tolist(), lat.tolist()


def tail_samples_needed(p, tail=10):
    """Samples needed so that at least `tail` samples lie above percentile p:
    below that the percentile is an extreme order statistic, not an estimate."""
    if p >= 100:
        return None
    return int(math.ceil(round(tail / (1.0 - p / 100.0), 6)))
