"""The ``weakflow`` command line: thin commands over the stage APIs (no logic of its own)."""

from weakflow.cli._app import app, main

__all__ = ["app", "main"]
