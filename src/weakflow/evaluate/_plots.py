"""The report's plots, drawn with matplotlib and returned as inline SVG markup.

Every plot is a fresh :class:`matplotlib.figure.Figure` (never ``pyplot``), so nothing leaks
between calls or into a user's own pyplot session, and no GUI backend is ever selected. The SVG
is post-processed to live inside one HTML page: the XML prologue, DOCTYPE, metadata and namespace
URLs are dropped (inline SVG needs none, and the report must not name any URL), every ``id`` gets
a per-plot prefix so two plots never collide, and a ``<title>``/``<desc>`` pair with
``role="img"`` makes the plot readable by screen readers. Text stays text (``svg.fonttype =
"none"``): smaller files, selectable labels, and the browser's own sans-serif font.

Colors are the Okabe-Ito palette (distinguishable with color-blindness), and no plot relies on
color alone: series also differ by marker and line style, worse slices by a hatch and a label.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from markupsafe import Markup, escape
from matplotlib.figure import Figure

__all__ = [
    "confusion_svg",
    "lf_summary_svg",
    "reliability_svg",
    "slices_svg",
    "votes_svg",
]

BLUE, ORANGE, VERMILLION, GREEN, SKY, GREY = (
    "#0072B2",
    "#E69F00",
    "#D55E00",
    "#009E73",
    "#56B4E9",
    "#767676",
)
#: Most LFs / slices drawn in one bar chart; the tables below the plots list them all.
MAX_BARS = 60


def _number(v: Any) -> float | None:
    """A finite float, or None for anything missing (None, NaN, not a number)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _to_svg(fig: Figure, *, key: str, title: str, desc: str) -> Markup:
    """Serialize ``fig`` as inline SVG markup with a title and description for screen readers."""
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": key}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.DOTALL)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{key}-\1"', svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{key}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{key}-\1)", svg)
    head_end = svg.index(">") + 1
    opening = svg[:head_end].replace(
        "<svg", f'<svg role="img" aria-labelledby="{key}-title {key}-desc"', 1
    )
    caption = (
        f'<title id="{key}-title">{escape(title)}</title>'
        f'<desc id="{key}-desc">{escape(desc)}</desc>'
    )
    # Safe: matplotlib escapes every text it writes, and the caption is escaped above.
    return Markup(opening + caption + svg[head_end:].rstrip())


def _plain(text: object) -> str:
    """User text (LF, slice, class names) shown literally: a ``$`` would start matplotlib math."""
    return str(text).replace("$", r"\$")


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig


def lf_summary_svg(rows: Sequence[Mapping[str, Any]]) -> Markup:
    """Per LF: a bar of its coverage, a diamond at its empirical (dev) accuracy and a circle at
    the accuracy the label model learned, all on one 0-1 axis."""
    shown = list(rows)
    note = ""
    if len(shown) > MAX_BARS:
        shown = sorted(shown, key=lambda r: -(_number(r.get("coverage")) or 0.0))[:MAX_BARS]
        note = f" The {MAX_BARS} LFs with the highest coverage of {len(rows)} are shown."
    names = [str(r.get("name", f"lf_{i}")) for i, r in enumerate(shown)]
    cov = [_number(r.get("coverage")) or 0.0 for r in shown]
    fig = _figure(7.5, 1.2 + 0.28 * max(len(shown), 1))
    ax = fig.add_subplot()
    y = np.arange(len(shown))
    ax.barh(y, cov, color=SKY, edgecolor=BLUE, height=0.6, label="coverage")
    for key, marker, color, label in (
        ("emp_accuracy", "D", VERMILLION, "empirical accuracy (dev)"),
        ("learned_accuracy", "o", GREEN, "learned accuracy (label model)"),
    ):
        pts = [(i, v) for i, r in enumerate(shown) if (v := _number(r.get(key))) is not None]
        if pts:
            ax.scatter(
                [v for _, v in pts],
                [i for i, _ in pts],
                marker=marker,
                color=color,
                edgecolor="black",
                linewidth=0.5,
                s=36,
                zorder=3,
                label=label,
            )
    ax.set_yticks(y, [_plain(n) for n in names], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.04)  # room for markers at exactly 1.0
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.set_xlabel("share of rows (coverage) / accuracy")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, fontsize=8, frameon=False)
    desc = "; ".join(
        f"{n}: coverage {c:.2f}"
        + "".join(
            f", {lbl} {v:.2f}"
            for lbl, v in (
                ("empirical accuracy", _number(r.get("emp_accuracy"))),
                ("learned accuracy", _number(r.get("learned_accuracy"))),
            )
            if v is not None
        )
        for n, c, r in zip(names[:20], cov, shown, strict=False)
    )
    return _to_svg(
        fig,
        key="plot-lf-summary",
        title="Labeling functions: coverage and accuracy",
        desc=f"Horizontal bars of each LF's coverage with accuracy markers.{note} {desc}",
    )


def votes_svg(votes_per_row: Sequence[Any]) -> Markup:
    """Rows by how many LFs voted on them: the share with 0 votes is what the label model
    cannot label (it falls back to the class prior there)."""
    counts = [int(_number(v) or 0) for v in votes_per_row]
    total = sum(counts) or 1
    fig = _figure(6.0, 2.8)
    ax = fig.add_subplot()
    x = np.arange(len(counts))
    colors = [ORANGE if i == 0 else BLUE for i in range(len(counts))]
    bars = ax.bar(x, counts, color=colors, edgecolor="black", linewidth=0.5)
    if counts:
        bars[0].set_hatch("//")
    for xi, c in zip(x, counts, strict=True):
        ax.annotate(
            f"{100 * c / total:.0f}%",
            (float(xi), c),
            ha="center",
            va="bottom",
            fontsize=7,
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax.set_xticks(x, [str(i) for i in x], fontsize=8)
    ax.set_xlabel("number of LF votes on the row (0 = no LF voted, hatched)")
    ax.set_ylabel("rows")
    ax.margins(y=0.15)
    desc = ", ".join(f"{i} votes: {c} rows" for i, c in enumerate(counts[:30]))
    return _to_svg(
        fig,
        key="plot-votes",
        title="Label coverage: LF votes per row",
        desc=f"Bar chart of the number of rows by number of LF votes. {desc}",
    )


def confusion_svg(
    panels: Sequence[tuple[str, Sequence[Sequence[Any]]]], label_names: Sequence[str]
) -> Markup:
    """Confusion matrix heatmaps (rows: true class, columns: predicted) with the counts written
    in each cell, one panel per model."""
    k = len(label_names)
    side = 1.6 + 0.45 * k
    fig = _figure(min(side * len(panels) + 0.5, 12.0), min(side + 0.6, 9.0))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    descs = []
    for ax, (title, matrix) in zip(axes, panels, strict=True):
        m = np.asarray([[int(_number(v) or 0) for v in row] for row in matrix])
        # pcolormesh, not imshow: vector cells (imshow would embed a raster PNG in the SVG).
        edges = np.arange(k + 1) - 0.5
        ax.pcolormesh(
            edges,
            edges,
            m,
            cmap="Blues",
            vmin=0,
            vmax=max(int(m.max()), 1) if m.size else 1,
            edgecolors="white",
            linewidth=0.5,
        )
        ax.set_aspect("equal")
        ax.invert_yaxis()
        if k <= 25:
            threshold = m.max() / 2 if m.size else 0
            for i in range(m.shape[0]):
                for j in range(m.shape[1]):
                    ax.text(
                        j,
                        i,
                        str(m[i, j]),
                        ha="center",
                        va="center",
                        fontsize=8 if k > 8 else 10,
                        color="white" if m[i, j] > threshold else "black",
                    )
        ticks = np.arange(k)
        ax.set_xticks(
            ticks,
            [_plain(n) for n in label_names],
            rotation=45 if k > 4 else 0,
            ha="right" if k > 4 else "center",
            fontsize=8,
        )
        ax.set_yticks(ticks, [_plain(n) for n in label_names], fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(_plain(title), fontsize=10)
        descs.append(
            f"{title}: "
            + "; ".join(
                f"true {label_names[i]}: "
                + ", ".join(f"{m[i, j]} predicted {label_names[j]}" for j in range(m.shape[1]))
                for i in range(min(m.shape[0], 10))
            )
        )
    return _to_svg(
        fig,
        key="plot-confusion",
        title="Confusion matrices on the test set",
        desc="Heatmaps with counts; rows are true classes, columns predicted classes. "
        + " | ".join(descs),
    )


def reliability_svg(curves: Sequence[tuple[str, Mapping[str, Any]]]) -> Markup:
    """Reliability diagram: accuracy against confidence per bin for each curve (e.g. before and
    after calibration), with the diagonal a calibrated model would follow, and below it the
    number of rows per bin (a point resting on few rows says little)."""
    fig = _figure(5.6, 6.2)
    ax, ax_n = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    ax.plot([0, 1], [0, 1], linestyle=":", color=GREY, linewidth=1.2, label="perfect calibration")
    styles = [
        (VERMILLION, "o", "--", "//"),
        (BLUE, "s", "-", ""),
        (GREEN, "^", "-.", ".."),
        (ORANGE, "D", ":", "xx"),
    ]
    descs = []
    n_curves = max(len(curves), 1)
    for j, ((label, summary), (color, marker, ls, hatch)) in enumerate(
        zip(curves, styles * 4, strict=False)
    ):
        bins = [b for b in summary.get("bins", []) if isinstance(b, Mapping)]
        pts = [
            (
                _number(b.get("confidence")),
                _number(b.get("accuracy")),
                int(_number(b.get("count")) or 0),
            )
            for b in bins
        ]
        good = [(c, a, n) for c, a, n in pts if c is not None and a is not None and n > 0]
        ece = _number(summary.get("ece"))
        full = f"{label} (ECE {ece:.3f})" if ece is not None else label
        if good:
            ax.plot(
                [c for c, _, _ in good],
                [a for _, a, _ in good],
                marker=marker,
                linestyle=ls,
                color=color,
                markeredgecolor="black",
                markeredgewidth=0.5,
                label=_plain(full),
            )
        lowers = [_number(b.get("lower")) for b in bins]
        uppers = [_number(b.get("upper")) for b in bins]
        edges = [(lo, up, n) for lo, up, (_, _, n) in zip(lowers, uppers, pts, strict=True)]
        edges_ok = [(lo, up, n) for lo, up, n in edges if lo is not None and up is not None]
        if edges_ok:
            width = [(up - lo) / n_curves for lo, up, _ in edges_ok]
            ax_n.bar(
                [lo + j * w for (lo, _, _), w in zip(edges_ok, width, strict=True)],
                [n for _, _, n in edges_ok],
                width=width,
                align="edge",
                color=color,
                edgecolor="black",
                linewidth=0.4,
                hatch=hatch or None,
            )
        descs.append(
            f"{full}: "
            + ", ".join(f"confidence {c:.2f} accuracy {a:.2f} ({n} rows)" for c, a, n in good)
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("accuracy")
    ax.grid(color="#e5e5e5", linewidth=0.6)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, frameon=False)
    ax_n.set_ylabel("rows")
    ax_n.set_xlabel("confidence (probability of the predicted class)")
    return _to_svg(
        fig,
        key="plot-reliability",
        title="Reliability diagram",
        desc="Accuracy against confidence per confidence bin; the dotted diagonal is perfect "
        "calibration; the lower panel counts the rows in each bin. " + " | ".join(descs),
    )


def slices_svg(rows: Sequence[Mapping[str, Any]]) -> Markup:
    """Each slice's metric as a bar with the overall value as a vertical line; slices worse than
    overall are hatched, colored and labeled with their gap, too-small slices greyed out."""
    shown = list(rows)
    note = ""
    if len(shown) > MAX_BARS:
        shown = sorted(shown, key=lambda r: _number(r.get("gap")) or 0.0)[:MAX_BARS]
        note = f" The {MAX_BARS} slices with the largest negative gap of {len(rows)} are shown."
    metric = str(shown[0].get("metric", "metric")) if shown else "metric"
    overall = _number(shown[0].get("overall")) if shown else None
    fig = _figure(7.5, 1.3 + 0.3 * max(len(shown), 1))
    ax = fig.add_subplot()
    descs = []
    for i, r in enumerate(shown):
        value = _number(r.get("value"))
        gap = _number(r.get("gap"))
        name = str(r.get("name", f"slice {i}"))
        n = int(_number(r.get("n")) or 0)
        if r.get("too_small") or value is None:
            ax.barh(i, value or 0.0, color="#d9d9d9", edgecolor=GREY, height=0.6)
            ax.text(
                1.03,
                i,
                f"too small (n={n})" if r.get("too_small") else "n/a",
                va="center",
                fontsize=7,
                color="#444444",
            )
            descs.append(f"{name}: too small (n={n})")
            continue
        worse = gap is not None and gap < 0
        ax.barh(
            i,
            value,
            color=VERMILLION if worse else SKY,
            edgecolor="black" if worse else BLUE,
            hatch="//" if worse else None,
            height=0.6,
        )
        label = f"{value:.3f}" + (f"  ({gap:+.3f})" if gap is not None else "")
        ax.text(1.03, i, label, va="center", fontsize=7, fontweight="bold" if worse else "normal")
        descs.append(
            f"{name}: {metric} {value:.3f}, gap {gap:+.3f}"
            if gap is not None
            else f"{name}: {metric} {value:.3f}"
        )
    if overall is not None:
        ax.axvline(
            overall,
            color="black",
            linestyle="--",
            linewidth=1.2,
            label=_plain(f"overall {metric} {overall:.3f}"),
        )
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, frameon=False)
    ax.set_yticks(np.arange(len(shown)), [_plain(r.get("name", "")) for r in shown], fontsize=8)
    ax.invert_yaxis()
    # Values and gaps are written in a column right of 1.0, clear of the bars and the line.
    ax.set_xlim(0, 1.3)
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.axvline(1.0, color="#bbbbbb", linewidth=0.6)
    ax.spines["right"].set_visible(False)
    ax.set_xlabel(_plain(f"{metric} on the slice (hatched: below overall; gap in parentheses)"))
    return _to_svg(
        fig,
        key="plot-slices",
        title=f"Slices: {metric} per slice against overall",
        desc=f"Horizontal bars per slice.{note} " + "; ".join(descs[:40]),
    )
