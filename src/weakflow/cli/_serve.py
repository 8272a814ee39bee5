"""``weakflow serve`` and ``weakflow tokens ...``: the HTTP server and its API tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from weakflow.cli._console import err, fail, out
from weakflow.errors import WeakflowError

if TYPE_CHECKING:
    from weakflow.store import Database

tokens_app = typer.Typer(
    help="API tokens of `weakflow serve`: create (the secret is shown once), list, revoke.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

ProjectOpt = Annotated[
    Path, typer.Option("--project", "-p", help="Project folder (holds weakflow.toml).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def serve(
    project: ProjectOpt = Path("."),
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every one).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.", min=0, max=65535)] = 8000,
    workers: Annotated[
        int,
        typer.Option(help="Worker processes (each loads the model; about one per core).", min=1),
    ] = 1,
    dev: Annotated[
        bool,
        typer.Option(help="Development mode: no authentication, rate limits per client IP."),
    ] = False,
    alias: Annotated[
        str | None, typer.Option("--alias", "-a", help="Alias to serve (default: [serve] alias).")
    ] = None,
    token_ttl: Annotated[
        float,
        typer.Option(
            envvar="WEAKFLOW_SERVE_TOKEN_TTL",
            min=0,
            help="Seconds a token lookup is cached: a revoked token works at most this long.",
        ),
    ] = 5.0,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    access_log: Annotated[bool, typer.Option(help="Log every request (slower).")] = False,
    ui: Annotated[
        bool, typer.Option(help="Serve the dashboard at /ui (pages need a token unless --dev).")
    ] = True,
) -> None:
    """Serve the project's registered model over HTTP until Ctrl-C or SIGTERM.

    Serves the version the alias points at and follows it when it moves (`weakflow models
    promote` / `rollback`), with no restart and no failed request. Endpoints: POST
    /v1/models/NAME/predict, POST /v1/feedback, the Open Inference Protocol under /v2,
    /metrics, the API docs at /docs and the dashboard at /ui (docs/ui.md). Requests need a
    token (`weakflow tokens create`) unless --dev.

    Example: weakflow serve --project spam --port 8000 --workers 2
    """
    from weakflow.serve import ServeSettings, preflight, run_server

    if log_level.lower() not in ("debug", "info", "warning", "error"):
        fail(f"--log-level must be debug, info, warning or error, got {log_level!r}.")
    settings = ServeSettings(project=project, alias=alias, dev=dev, token_ttl=token_ttl)
    try:
        proj, live = preflight(settings)
    except WeakflowError as exc:
        fail(str(exc))
    serving = f"{live.name} v{live.version} ({settings.alias or proj.config.serve.alias})"
    err.print(
        f"Serving {serving} on http://{host}:{port} with {workers} worker(s); API docs at "
        f"http://{host}:{port}/docs" + (f", dashboard at http://{host}:{port}/ui" if ui else ""),
        soft_wrap=True,
        markup=False,
    )
    if dev:
        err.print("[yellow]--dev: authentication is OFF.[/] Do not expose this server.")
    else:
        with _database(proj.root) as db:
            from weakflow.store import list_tokens

            if not any(not t.revoked for t in list_tokens(db)):
                err.print(
                    "No API token exists yet: create one with `weakflow tokens create --name "
                    f"NAME --scope predict --project {project}` (or use --dev locally).",
                    soft_wrap=True,
                    markup=False,
                )
    # The dashboard wraps the serving app from here: weakflow.serve never imports weakflow.ui.
    factory = "weakflow.ui:serve_app_with_ui" if ui else "weakflow.serve._server:app_from_env"
    run_server(
        settings, host=host, port=port, workers=workers, log_level=log_level.lower(),
        access_log=access_log, app_factory=factory,
    )  # fmt: skip


@contextmanager
def _database(project: Path) -> Iterator[Database]:
    from weakflow.pipeline import Project
    from weakflow.registry import store_url
    from weakflow.store import Database

    try:
        proj = Project.load(project)
        db = Database(store_url(proj.state_dir, proj.config.store.url))
    except WeakflowError as exc:
        fail(str(exc))
    try:
        yield db
    except WeakflowError as exc:
        fail(str(exc))
    finally:
        db.close()


def _emit(data: object) -> None:
    out.print(json.dumps(data, default=str), soft_wrap=True, markup=False)


@tokens_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", "-n", help="A name for the token (unique).")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", "-s", help="predict, feedback or admin; repeat for several."),
    ],
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Create an API token and print its secret (shown once: only its hash is stored).

    Example: weakflow tokens create --name checkout-service --scope predict --scope feedback
    """
    from weakflow.registry import current_actor
    from weakflow.store import create_token

    with _database(project) as db:
        info, secret = create_token(db, name, scope, actor=current_actor())
    if as_json:
        _emit({**info.to_dict(), "token": secret})
        return
    out.print(secret, markup=False)
    err.print(
        f"Token {info.name!r} (scopes: {', '.join(info.scopes)}). This is the only time the "
        "secret is shown; send it as `Authorization: Bearer <token>`.",
        soft_wrap=True,
        markup=False,
    )


@tokens_app.command("list")
def list_(project: ProjectOpt = Path("."), as_json: JsonOpt = False) -> None:
    """List tokens: name, scopes, who created them and when, revoked or not (never secrets)."""
    from weakflow.store import list_tokens

    with _database(project) as db:
        tokens = list_tokens(db)
    if as_json:
        _emit([t.to_dict() for t in tokens])
        return
    table = Table(title="API tokens")
    for col in ("name", "scopes", "created", "by", "status"):
        table.add_column(col, no_wrap=col == "name")
    for t in tokens:
        table.add_row(
            t.name, ", ".join(t.scopes), (t.created_at or "-")[:19], t.created_by,
            "revoked" if t.revoked else "active",
        )  # fmt: skip
    out.print(table)


@tokens_app.command("revoke")
def revoke(name: str, project: ProjectOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Revoke a token. Running servers stop accepting it within their --token-ttl (5 s)."""
    from weakflow.registry import current_actor
    from weakflow.store import revoke_token

    with _database(project) as db:
        info = revoke_token(db, name, actor=current_actor())
    if as_json:
        _emit(info.to_dict())
        return
    out.print(f"Revoked token {info.name!r}.", markup=False)
