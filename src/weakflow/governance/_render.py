"""Rendering the governance report: self-contained HTML and Markdown, from the same dict."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Final

import jinja2
import markupsafe

from weakflow.store import atomic_write

__all__ = ["FORMATS", "output_paths", "render_html", "render_markdown", "write_report"]

FORMATS: Final = ("html", "md")
_NAME: Final = "governance-report"
_BADGE: Final = {"evidence found": "evidence", "partial": "partial", "gap": "gap"}


def _num(value: Any, digits: int = 3) -> str:
    if value is None or isinstance(value, jinja2.Undefined):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        if value and abs(value) < 10**-digits:
            return f"{value:.2g}"  # a p-value of 3e-73 is not 0.000
        return f"{value:.{digits}f}"
    return str(value)


def _pct(part: Any, whole: Any) -> str:
    if not isinstance(part, int | float) or not isinstance(whole, int | float) or not whole:
        return "—"
    return f"{100 * part / whole:.1f}%"


def _short(value: Any, n: int = 12) -> str:
    return "—" if not value else str(value)[:n]


def _cell(value: Any) -> str:
    """Text safe inside a Markdown table cell: no pipes or line breaks."""
    text = _num(value) if not isinstance(value, str) else value
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _joined(mapping: Any, sep: str = ", ") -> str:
    """``k: v, k: v`` for a mapping; a scalar as itself; '—' when empty."""
    if not isinstance(mapping, Mapping):
        return "—" if mapping in (None, "", [], ()) else _num(mapping)
    if not mapping:
        return "—"
    return sep.join(f"{k}: {_num(v)}" for k, v in mapping.items())


def _demote(markdown: str, levels: int = 2) -> str:
    """``markdown`` with its headings moved down ``levels`` (outside code fences)."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            line = "#" * levels + line
        out.append(line)
    return "\n".join(out)


def _card_html(markdown: str) -> markupsafe.Markup:
    """A model card's Markdown as HTML (raw HTML in it is escaped, headings start at h3)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    rendered = md.render(_demote(markdown, 2))
    return markupsafe.Markup(_HEADER_CELL.sub(r'<th scope="col"\1', rendered))


_CODE = re.compile(r"`([^`]+)`")
_HEADER_CELL = re.compile(r"<th([\s>])")


def _codespans(text: Any) -> markupsafe.Markup:
    """HTML-escaped ``text`` with its `backticked` spans as ``<code>`` (for sentences shared
    with the Markdown rendering)."""
    escaped = str(markupsafe.escape(str(text)))
    return markupsafe.Markup(_CODE.sub(r"<code>\1</code>", escaped))


def _versions(values: Sequence[Any]) -> str:
    return ", ".join(f"v{v}" for v in values) if values else "—"


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("weakflow.governance", "templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2",), default_for_string=False, default=False
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        num=_num, pct=_pct, short=_short, cell=_cell, pretty=_pretty, joined=_joined,
        versions=_versions, demote=_demote, code=_codespans, card_html=_card_html,
    )  # fmt: skip
    env.globals["badge"] = _BADGE
    return env


def _link_base(report: Mapping[str, Any], out_dir: Path | None) -> str:
    """How links from the rendered file reach the project's files (runs/<id>/report.html)."""
    root = Path(report["project"]["root"])
    if out_dir is None:
        return root.as_posix()
    rel = os.path.relpath(root, out_dir)
    return Path(rel).as_posix()


def render_html(report: Mapping[str, Any], *, out_dir: str | Path | None = None) -> str:
    """The report as one self-contained HTML page (inline CSS, no scripts, no external files).

    ``out_dir`` is where the page will be written, so that links to the run reports are
    relative to it; without it they are absolute paths.
    """
    base = _link_base(report, None if out_dir is None else Path(out_dir).resolve())
    return _environment().get_template("governance.html.j2").render(r=report, base=base)


def render_markdown(report: Mapping[str, Any], *, out_dir: str | Path | None = None) -> str:
    """The report as Markdown (GitHub-flavoured tables)."""
    base = _link_base(report, None if out_dir is None else Path(out_dir).resolve())
    return _environment().get_template("governance.md.j2").render(r=report, base=base)


def output_paths(out: str | Path, formats: Sequence[str]) -> dict[str, Path]:
    """Where each format goes: ``out`` is a folder, or a file name whose suffix is replaced.

    >>> sorted(output_paths("audit/q3.html", ["html", "md"]).values())
    [PosixPath('audit/q3.html'), PosixPath('audit/q3.md')]
    >>> output_paths("audit", ["md"])["md"]
    PosixPath('audit/governance-report.md')
    """
    out = Path(out)
    if out.suffix.lower() in (".html", ".htm", ".md", ".markdown"):
        return {fmt: out.with_suffix(f".{fmt}") for fmt in formats}
    return {fmt: out / f"{_NAME}.{fmt}" for fmt in formats}


def write_report(
    report: Mapping[str, Any], out: str | Path, formats: Sequence[str] = FORMATS
) -> dict[str, Path]:
    """Render ``report`` in each of ``formats`` (``html``, ``md``) and write it; returns paths."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"Unknown report format(s) {unknown or formats}: use html, md or both.")
    paths = output_paths(out, formats)
    render = {"html": render_html, "md": render_markdown}
    for fmt, path in paths.items():
        text = render[fmt](report, out_dir=path.parent)
        atomic_write(path, text.encode("utf-8"))
    return paths
