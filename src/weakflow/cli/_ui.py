"""``weakflow ui``: the web dashboard and review queue of a project, on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from weakflow.cli._console import err, fail
from weakflow.errors import WeakflowError


def ui(
    project: Annotated[
        Path, typer.Option("--project", "-p", help="Project folder (holds weakflow.toml).")
    ] = Path("."),
    host: Annotated[
        str, typer.Option(help="Address to listen on; pages are readable without a token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=0, max=65535)] = 8080,
    alias: Annotated[
        str | None,
        typer.Option("--alias", "-a", help="Alias shown as serving (default: [serve] alias)."),
    ] = None,
    require_token: Annotated[
        bool,
        typer.Option(
            "--require-token",
            help="Pages need a signed-in token too (for a dashboard others can reach).",
        ),
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
) -> None:
    """Open the dashboard: overview, labeling, models, monitoring and the review queue.

    Pages read the project's store and run folders and need no token (the server listens on
    127.0.0.1); promoting, rolling back and reviewing need an API token with the `admin`
    (review: `feedback`) scope, pasted once on the sign-in page. `weakflow serve` also serves
    the dashboard at /ui. See docs/ui.md.

    Example: weakflow ui --project spam --port 8080
    """
    import uvicorn

    from weakflow.ui import create_ui_app

    if log_level.lower() not in ("debug", "info", "warning", "error"):
        fail(f"--log-level must be debug, info, warning or error, got {log_level!r}.")
    try:
        app = create_ui_app(project, alias=alias, open_reads=not require_token)
    except WeakflowError as exc:
        fail(str(exc))
    err.print(
        f"Dashboard of {project} on http://{host}:{port}/ui (Ctrl-C stops it).",
        soft_wrap=True,
        markup=False,
    )
    if host not in ("127.0.0.1", "localhost", "::1") and not require_token:
        err.print(
            f"[yellow]Listening on {host} with pages readable without a token:[/] anyone who "
            "reaches this address can read them. Add --require-token for a shared dashboard.",
            soft_wrap=True,
        )
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), server_header=False)
