"""The root Typer app: lifecycle verbs at the top level (``weakflow wrench``, ``weakflow demo``)."""

from __future__ import annotations

from typing import Annotated

import typer

import weakflow
from weakflow.cli._demo import demo
from weakflow.cli._governance import governance_app
from weakflow.cli._models import audit_app, models_app
from weakflow.cli._monitor import monitor_app
from weakflow.cli._privacy import feedback_app, privacy_app
from weakflow.cli._project import init, run
from weakflow.cli._serve import serve, tokens_app
from weakflow.cli._ui import ui
from weakflow.cli._wrench import wrench

app = typer.Typer(
    name="weakflow",
    help=(
        "weakflow: from no labels to a monitored model in production, with weak supervision.\n\n"
        "Write labeling functions instead of hand-labeling; weakflow applies them, learns how "
        "accurate each one is, and turns their votes into training labels."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"weakflow {weakflow.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """weakflow command line."""


app.command("init")(init)
app.command("run")(run)
app.command("wrench")(wrench)
app.command("demo")(demo)
app.command("serve")(serve)
app.command("ui")(ui)
app.add_typer(models_app, name="models")
app.add_typer(audit_app, name="audit")
app.add_typer(tokens_app, name="tokens")
app.add_typer(monitor_app, name="monitor")
app.add_typer(governance_app, name="governance")
app.add_typer(feedback_app, name="feedback")
app.add_typer(privacy_app, name="privacy")


def main() -> None:
    """Console-script entry point."""
    app()
