"""The dashboard's time charts: inline SVG drawn server-side, plus their data for uPlot.

Each time chart is sent twice: as inline SVG (readable without JavaScript, and what stays on
screen if the script fails) and as its series in a ``<script type="application/json">`` block
(data, never executed: the Content-Security-Policy keeps ``script-src 'self'``), which
``static/ui.js`` draws with the vendored uPlot (``static/vendor/uplot``) for hover values and
zoom, hiding the SVG once the interactive chart is drawn.

The run report's plots (LF summary, votes per row, reliability diagram, slices) are reused as
they are from :mod:`weakflow.evaluate._plots`; this module adds what only a running system has:
values over time (traffic, accuracy, drift). Same conventions as the report: a fresh matplotlib
``Figure`` per chart (never pyplot), text kept as text, the Okabe-Ito palette, and series that
differ by marker and line style as well as by color, with a ``<title>``/``<desc>`` for screen
readers. Rendering is serialized by a lock: matplotlib's rc settings are process-wide.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

__all__ = ["Series", "chart_data", "time_chart", "time_svg"]

_LOCK = threading.Lock()
#: (color, marker, line style) per series, in order; colors are the report's Okabe-Ito ones.
_STYLES = (
    ("#0072B2", "o", "-"),
    ("#D55E00", "s", "--"),
    ("#009E73", "^", "-."),
    ("#E69F00", "D", ":"),
    ("#56B4E9", "v", "-"),
    ("#CC79A7", "P", "--"),
    ("#767676", "X", "-."),
    ("#000000", "*", ":"),
)
#: matplotlib line styles as canvas dash patterns (px), for uPlot.
_DASHES: dict[str, list[int]] = {"-": [], "--": [6, 4], "-.": [6, 3, 2, 3], ":": [2, 3]}


@dataclass(frozen=True)
class Series:
    """One line (or bars) of a time chart, optionally with an interval band."""

    label: str
    x: Sequence[dt.datetime]
    y: Sequence[float]
    low: Sequence[float] | None = None
    high: Sequence[float] | None = None


def time_svg(
    series: Sequence[Series],
    *,
    key: str,
    title: str,
    ylabel: str,
    bars: bool = False,
    reference: tuple[float, str] | None = None,
    ylim: tuple[float, float] | None = None,
) -> Markup:
    """A chart of values over time: lines (with bands when given) or bars for counts.

    ``reference`` draws a dashed horizontal line with its label (a threshold, a floor).
    """
    from matplotlib import dates as mdates
    from matplotlib.figure import Figure

    from weakflow.evaluate._plots import _plain, _to_svg

    with _LOCK:
        fig = Figure(figsize=(8.0, 3.0), layout="constrained")
        ax = fig.add_subplot()
        descs = []
        for i, s in enumerate(series):
            color, marker, style = _STYLES[i % len(_STYLES)]
            xs: Any = list(s.x)  # datetimes: matplotlib converts them (its stubs want floats)
            if bars:
                width = _bar_width(xs)
                ax.bar(
                    xs,
                    list(s.y),
                    width=width,
                    color=color,
                    edgecolor="black",
                    linewidth=0.3,
                    label=_plain(s.label),
                    align="center",
                )
            else:
                ax.plot(
                    xs,
                    list(s.y),
                    marker=marker,
                    linestyle=style,
                    color=color,
                    markersize=4,
                    linewidth=1.4,
                    label=_plain(s.label),
                )
                if s.low is not None and s.high is not None:
                    ax.fill_between(
                        xs, list(s.low), list(s.high), color=color, alpha=0.15, linewidth=0
                    )
            points = ", ".join(
                f"{x:%Y-%m-%d %H:%M} {y:.3g}" for x, y in list(zip(xs, s.y, strict=True))[-12:]
            )
            descs.append(f"{s.label}: {points}")
        if reference is not None:
            ax.axhline(
                reference[0],
                color="#444444",
                linestyle=(0, (4, 3)),
                linewidth=1.1,
                label=_plain(reference[1]),
            )
        if ylim is not None:
            ax.set_ylim(*ylim)
        every = [x for s in series for x in s.x]
        if every and max(every) - min(every) < dt.timedelta(minutes=30):  # one instant: pad it
            pad: Any = (min(every) - dt.timedelta(hours=1), max(every) + dt.timedelta(hours=1))
            ax.set_xlim(*pad)
        locator = mdates.AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(formatter)
        ax.set_ylabel(_plain(ylabel), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(color="#e5e5e5", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.legend(
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            fontsize=8,
            frameon=False,
            ncols=min(len(series) + (reference is not None), 3),
        )
        return _to_svg(
            fig,
            key=key,
            title=title,
            desc=f"{title} (UTC times; newest points). " + " | ".join(descs),
        )


def time_chart(
    series: Sequence[Series],
    *,
    key: str,
    title: str,
    ylabel: str,
    bars: bool = False,
    reference: tuple[float, str] | None = None,
    ylim: tuple[float, float] | None = None,
) -> Markup:
    """:func:`time_svg`'s chart, and its data as JSON for the interactive (uPlot) version.

    The JSON sits in ``<script type="application/json" id="{key}-data">``, which browsers never
    run; ``ui.js`` reads it, draws the chart in the ``[data-chart]`` block and hides the SVG.
    """
    svg = time_svg(
        series, key=key, title=title, ylabel=ylabel, bars=bars, reference=reference, ylim=ylim
    )
    data = chart_data(series, title=title, ylabel=ylabel, bars=bars, reference=reference, ylim=ylim)
    # JSON inside <script>: escape what could end the element or start markup.
    text = (
        json.dumps(data, allow_nan=False, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return Markup(
        f'<div class="time-chart" data-chart="{escape(key)}" '
        f'data-labelledby="{escape(key)}-title {escape(key)}-desc">'
        f'<div class="chart-svg">{svg}</div></div>'
        f'<script type="application/json" id="{escape(key)}-data">{text}</script>'
    )


def chart_data(
    series: Sequence[Series],
    *,
    title: str,
    ylabel: str,
    bars: bool = False,
    reference: tuple[float, str] | None = None,
    ylim: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """The chart as plain JSON data, aligned the way uPlot wants it.

    ``x`` is every series' times together (UTC, seconds since the epoch, ascending); each
    series' ``y`` (and ``low``/``high``) has one value per ``x``, ``null`` where the series has
    no point at that time (and for a value that is not a finite number).
    """
    stamps = sorted({_epoch(t) for s in series for t in s.x})
    where = {t: i for i, t in enumerate(stamps)}

    def aligned(xs: Sequence[dt.datetime], ys: Sequence[float]) -> list[float | None]:
        out: list[float | None] = [None] * len(stamps)
        for t, v in zip(xs, ys, strict=True):
            out[where[_epoch(t)]] = float(v) if math.isfinite(float(v)) else None
        return out

    items = []
    for i, s in enumerate(series):
        color, _, style = _STYLES[i % len(_STYLES)]
        band = s.low is not None and s.high is not None
        items.append(
            {
                "label": s.label,
                "color": color,
                "dash": _DASHES.get(style, []),
                "y": aligned(s.x, s.y),
                "low": aligned(s.x, s.low) if band and s.low is not None else None,
                "high": aligned(s.x, s.high) if band and s.high is not None else None,
            }
        )
    return {
        "title": title,
        "ylabel": ylabel,
        "bars": bars,
        "x": stamps,
        "series": items,
        "reference": None
        if reference is None
        else {"value": float(reference[0]), "label": reference[1]},
        "ylim": None if ylim is None else [float(ylim[0]), float(ylim[1])],
    }


def _epoch(t: dt.datetime) -> int:
    """Seconds since the epoch; a naive time is taken as UTC (as the store writes them)."""
    return int((t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp())


def _bar_width(xs: Sequence[dt.datetime]) -> float:
    """Bar width in days: 80% of the smallest gap between buckets (an hour when alone)."""
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(xs) if b > a]
    return 0.8 * (min(gaps) if gaps else 3600.0) / 86400.0
