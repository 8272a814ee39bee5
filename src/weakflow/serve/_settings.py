"""How a server is started: which project, which alias, whether authentication is on.

Everything about *what* is served (limits, logging, canary, shadow) lives in the project's
``weakflow.toml`` (``[serve]``); these settings are what the command line adds. ``weakflow
serve`` passes them to its uvicorn workers through environment variables (each worker is a new
process that builds its own app), read by :func:`get_settings`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from weakflow.errors import ConfigError

__all__ = ["ENV_ALIAS", "ENV_DEV", "ENV_PROJECT", "ENV_TOKEN_TTL", "ServeSettings", "get_settings"]

ENV_PROJECT = "WEAKFLOW_SERVE_PROJECT"
ENV_ALIAS = "WEAKFLOW_SERVE_ALIAS"
ENV_DEV = "WEAKFLOW_SERVE_DEV"
ENV_TOKEN_TTL = "WEAKFLOW_SERVE_TOKEN_TTL"

#: How long a token lookup is cached: a revoked token stops working within this many seconds.
DEFAULT_TOKEN_TTL = 5.0


class ServeSettings(BaseModel):
    """The command line's part of a server's configuration.

    Parameters
    ----------
    project : Path
        The project folder (holds ``weakflow.toml``).
    alias : str, optional
        The alias to serve; default ``[serve] alias`` (``production``).
    dev : bool
        Development mode: no authentication, rate limits by client IP.
    token_ttl : float
        Seconds a token lookup is cached (revocation takes effect within it).
    """

    model_config = ConfigDict(frozen=True)

    project: Path
    alias: str | None = None
    dev: bool = False
    token_ttl: float = Field(DEFAULT_TOKEN_TTL, ge=0)

    def to_env(self) -> dict[str, str]:
        """The environment variables :func:`get_settings` reads back (for worker processes)."""
        env = {
            ENV_PROJECT: str(Path(self.project).resolve()),
            ENV_DEV: "1" if self.dev else "0",
            ENV_TOKEN_TTL: repr(self.token_ttl),
        }
        if self.alias:
            env[ENV_ALIAS] = self.alias
        return env


@lru_cache(maxsize=1)
def get_settings() -> ServeSettings:
    """The settings of this worker process, from the environment ``weakflow serve`` set."""
    project = os.environ.get(ENV_PROJECT)
    if not project:
        raise ConfigError(
            f"${ENV_PROJECT} is not set: start the server with `weakflow serve --project DIR`."
        )
    try:
        ttl = float(os.environ.get(ENV_TOKEN_TTL, DEFAULT_TOKEN_TTL))
    except ValueError:
        raise ConfigError(
            f"${ENV_TOKEN_TTL} must be a number of seconds, got {os.environ[ENV_TOKEN_TTL]!r}."
        ) from None
    return ServeSettings(
        project=Path(project),
        alias=os.environ.get(ENV_ALIAS) or None,
        dev=os.environ.get(ENV_DEV, "0") in ("1", "true", "yes"),
        token_ttl=ttl,
    )
