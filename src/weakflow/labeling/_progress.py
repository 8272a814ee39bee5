"""Progress bars for long work: rich on a terminal, silent otherwise (logs, CI, pipes)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["progress_bar"]


def _noop(_: int) -> None:
    return None


@contextmanager
def progress_bar(
    total: int, description: str, *, enabled: bool = True, unit: str = "rows"
) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; draws a transient rich bar on stderr when it is a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield _noop
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int) -> None:
            bar.advance(task, n)

        yield advance
