"""Percentile plots of merged latency histograms: latency (log) against
percentile on a "nines" axis (0, 90, 99, 99.9, ...), one step line per run.

Written as SVG text directly: a plot is a few polylines, ticks and labels,
and drawing it this way takes a millisecond and a few kilobytes, where a
plotting library's figure took a third of a second and ~45 KB each (60 of
them made a report 3 MB and 20 s).  report.html inlines them, so it needs no
other file.
"""

import html
import math

from . import fmt, stats

W, H = 620, 320
LEFT, RIGHT, TOP, BOTTOM = 70, 24, 26, 40
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _nines(p):
    """Percentile -> -log10(1 - p/100), so 90 -> 1, 99 -> 2, 99.9 -> 3."""
    return -math.log10(max(1.0 - p / 100.0, 1e-7))


def _series_points(h):
    """(xs in nines, latencies, Hist) of one run's histogram; None if empty."""
    hist = stats.Hist(h.get("buckets") or [], h.get("overflow"), h.get("min"), h.get("max"))
    ps, lat = hist.curve(max_points=120)
    if not ps:
        return None
    # the last point is 100%; plot it one nine beyond the resolution of N samples
    cap = _nines(100.0 * (1 - 1.0 / max(hist.total, 2)))
    xs = [min(_nines(p), cap) if p < 100 else cap for p in ps]
    return xs, [max(v, 1.0) for v in lat], hist


def _y_ticks(lo, hi):
    """Decades and their 2x, 5x between lo and hi (log scale)."""
    out = []
    for e in range(int(math.floor(math.log10(lo))), int(math.ceil(math.log10(hi))) + 1):
        for m in (1, 2, 5):
            v = m * 10.0 ** e
            if lo <= v <= hi:
                out.append((v, m == 1))
    return out


def percentile_svg(title, series):
    """series: [(label, latency dict from a record)].  None if nothing to draw."""
    drawn = []
    for label, h in series:
        pts = _series_points(h)
        if pts:
            drawn.append((label, pts))
    if not drawn:
        return None
    top = max(1, int(math.ceil(max(max(p[0]) for _, p in drawn))))
    ylo = min(min(p[1]) for _, p in drawn)
    yhi = max(max(p[1]) for _, p in drawn)
    ylo, yhi = math.log10(ylo) - 0.05, math.log10(max(yhi, ylo * 1.01)) + 0.05
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def X(x):
        return LEFT + x / top * pw

    def Y(v):
        return TOP + ph - (math.log10(v) - ylo) / (yhi - ylo) * ph

    out = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" '
           'height="%d" font-family="sans-serif" font-size="10">' % (W, H, W, H),
           # a long case name gets a smaller font rather than running off the plot
           '<text x="%d" y="14" font-size="%.1f">%s</text>'
           % (LEFT, min(11.0, 11.0 * 88 / max(len(title), 1)), html.escape(title)),
           '<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>'
           % (LEFT, TOP, pw, ph)]
    for t in range(top + 1):
        label = "0" if t == 0 else "%.*f" % (max(t - 2, 0), 100 - 10 ** (2 - t))
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>'
                   '<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                   % (X(t), TOP, X(t), TOP + ph, X(t), TOP + ph + 13, label))
    for v, major in _y_ticks(10 ** ylo, 10 ** yhi):
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>'
                   '<text x="%d" y="%.1f" text-anchor="end">%s</text>'
                   % (LEFT, Y(v), LEFT + pw, Y(v), "#ccc" if major else "#eee",
                      LEFT - 4, Y(v) + 3, fmt.num(v, "ns")))
    out.append('<text x="%d" y="%d" text-anchor="middle">percentile</text>'
               % (LEFT + pw // 2, H - 6))
    for i, (label, (xs, ys, hist)) in enumerate(drawn):
        colour = COLOURS[i % len(COLOURS)]
        pts = []
        for j, (x, y) in enumerate(zip(xs, ys)):
            if j:
                pts.append("%.0f,%.0f" % (X(x), Y(ys[j - 1])))  # step: hold, then rise
            pts.append("%.0f,%.0f" % (X(x), Y(y)))
        out.append('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>'
                   % (colour, " ".join(pts)))
        text = "%s (n=%d%s)" % (label, hist.total,
                                ", %d overflow" % hist.overflow if hist.overflow else "")
        ly = TOP + 14 + 13 * i
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>'
                   '<text x="%d" y="%d">%s</text>'
                   % (LEFT + 8, ly - 3, LEFT + 26, ly - 3, colour, LEFT + 30, ly,
                      html.escape(text)))
    out.append("</svg>")
    return "\n".join(out)
