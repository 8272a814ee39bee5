"""Bearer tokens with scopes, and the per-caller rate limit, as FastAPI dependencies.

Tokens are created with ``weakflow tokens create`` and kept in the store as sha256 hashes. A
request's token is looked up once and the answer (including "unknown") is cached in memory for
``token_ttl`` seconds (5 by default), so the hot path does no database access; the price is
that a revoked token keeps working for up to that long. Scopes: ``predict`` (predict, infer,
model metadata), ``feedback``, and ``admin`` (everything).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from weakflow.errors import StoreError
from weakflow.serve._limits import RateLimiter
from weakflow.serve._state import get_state
from weakflow.store import Database, TokenInfo, lookup_token

__all__ = ["Caller", "TokenCache", "authenticate", "caller_dependency", "security_doc"]

#: Cached lookups at most (beyond it the cache starts over).
MAX_CACHED = 10_000

bearer = HTTPBearer(
    auto_error=False,
    description="An API token from `weakflow tokens create --name NAME --scope predict`.",
)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: the token's name (None with ``--dev``) and the rate-limit key."""

    name: str | None
    key: str


class TokenCache:
    """Token lookups, cached for ``ttl`` seconds (also the misses, so bad tokens stay cheap)."""

    def __init__(self, db: Database, ttl: float) -> None:
        self.db = db
        self.ttl = ttl
        self._entries: dict[str, tuple[float, TokenInfo | None]] = {}

    def cached(self, secret: str) -> tuple[bool, TokenInfo | None]:
        entry = self._entries.get(secret)
        if entry is not None and entry[0] > time.monotonic():
            return True, entry[1]
        return False, None

    def fetch(self, secret: str) -> TokenInfo | None:
        """Look the token up in the store (blocking) and cache the answer."""
        info = lookup_token(self.db, secret)
        if len(self._entries) >= MAX_CACHED:
            self._entries.clear()
        self._entries[secret] = (time.monotonic() + self.ttl, info)
        return info


def _create_hint(scope: str) -> str:
    return (
        f"Create one with `weakflow tokens create --name NAME --scope {scope} --project DIR` "
        "(shown once), or start the server with --dev to turn authentication off locally."
    )


def _unauthorized(message: str, error: str | None = None) -> HTTPException:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return HTTPException(401, message, headers={"WWW-Authenticate": challenge})


def _rate_limit(limiter: RateLimiter, key: str, who: str) -> None:
    wait = limiter.check(key)
    if wait > 0:
        raise HTTPException(
            429,
            f"Rate limit exceeded for {who}: {limiter.rate:g} requests/s with bursts of "
            f"{limiter.burst:g} ([serve] rate_limit, rate_burst). Retry after "
            f"{RateLimiter.retry_after(wait)} s, or batch rows into fewer requests.",
            headers={"Retry-After": RateLimiter.retry_after(wait)},
        )


async def authenticate(request: Request, scope: str, *, dev: bool) -> Caller:
    """Who sent ``request``, if it may use ``scope``; raises 401/403/429/503 otherwise.

    Called directly by the hot endpoints (cheaper than FastAPI's dependency resolution) and
    through :func:`caller_dependency` by the others.
    """
    state = get_state(request)
    if dev:
        ip = request.client.host if request.client is not None else "unknown"
        _rate_limit(state.limiter, f"ip:{ip}", f"client {ip}")
        return Caller(None, f"ip:{ip}")
    scheme, _, secret = (request.headers.get("authorization") or "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise _unauthorized(
            "Missing API token: send the header `Authorization: Bearer <token>`. "
            + _create_hint(scope)
        )
    hit, info = state.tokens.cached(secret)
    if not hit:
        try:
            info = await run_in_threadpool(state.tokens.fetch, secret)
        except StoreError as exc:
            raise HTTPException(
                503, f"Cannot check the API token: {exc}", headers={"Retry-After": "1"}
            ) from None
    if info is None:
        raise _unauthorized(
            "Invalid API token: this server's store does not know it (check for a copy and "
            "paste error). " + _create_hint(scope),
            "invalid_token",
        )
    if info.revoked:
        raise _unauthorized(
            f"The API token {info.name!r} was revoked. " + _create_hint(scope), "invalid_token"
        )
    if not info.allows(scope):
        raise HTTPException(
            403,
            f"The token {info.name!r} has scope(s) {', '.join(info.scopes)}; this endpoint "
            f"needs scope {scope!r} (or 'admin'). Use a token created with --scope {scope}.",
        )
    _rate_limit(state.limiter, f"token:{info.name}", f"token {info.name!r}")
    return Caller(info.name, f"token:{info.name}")


def caller_dependency(scope: str, *, dev: bool) -> Callable[..., Awaitable[Caller]]:
    """:func:`authenticate` as a FastAPI dependency (documents the bearer scheme)."""
    if dev:

        async def dev_caller(request: Request) -> Caller:
            return await authenticate(request, scope, dev=True)

        return dev_caller

    async def token_caller(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        return await authenticate(request, scope, dev=False)

    return token_caller


def security_doc(dev: bool) -> dict[str, Any]:
    """OpenAPI ``security`` of an endpoint that calls :func:`authenticate` itself."""
    return {} if dev else {"security": [{"HTTPBearer": []}]}
