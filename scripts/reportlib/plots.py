"""Percentile plots of merged latency histograms: latency (log) against
percentile on a "nines" axis (0, 90, 99, 99.9, ...), one line per run.
Returned as inline SVG text so report.html needs no other file."""

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from . import fmt, stats  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

matplotlib.rcParams["svg.fonttype"] = "none"   # text stays text: smaller, selectable
matplotlib.rcParams["svg.hashsalt"] = "faultline"  # deterministic ids
matplotlib.rcParams["font.size"] = 9


def _nines(p):
    """Percentile -> -log10(1 - p/100), so 90 -> 1, 99 -> 2, 99.9 -> 3."""
    return -math.log10(max(1.0 - p / 100.0, 1e-7))


def percentile_svg(title, series):
    """series: [(label, latency dict from a record)].  None if nothing to draw."""
    fig, ax = plt.subplots(figsize=(6.2, 3.2))
    top = 0.0
    drawn = 0
    for label, h in series:
        hist = stats.Hist(h.get("buckets") or [], h.get("overflow"), h.get("min"), h.get("max"))
        ps, lat = hist.curve(max_points=250)
        if not ps:
            continue
        # the last point is 100%; plot it at one nine beyond the resolution of N samples
        cap = _nines(100.0 * (1 - 1.0 / max(hist.total, 2)))
        xs = [min(_nines(p), cap) if p < 100 else cap for p in ps]
        ax.step(xs, lat, where="post", label="%s (n=%d%s)" % (
            label, hist.total, ", %d overflow" % hist.overflow if hist.overflow else ""))
        top = max(top, max(xs))
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ticks = list(range(0, int(math.ceil(top)) + 1))
    ax.set_xticks(ticks)
    ax.set_xticklabels(["0" if t == 0 else ("%.*f" % (max(t - 2, 0), 100 - 10 ** (2 - t)))
                        for t in ticks])
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.num(v, "ns")))
    ax.yaxis.set_minor_formatter(FuncFormatter(
        lambda v, _: fmt.num(v, "ns") if str(round(v / 10 ** math.floor(math.log10(v))))
        in ("2", "5") else ""))
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.subplots_adjust(left=0.12, right=0.98, top=0.9, bottom=0.15)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE for inline use
