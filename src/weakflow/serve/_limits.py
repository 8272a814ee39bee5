"""Request-size limit (pure ASGI middleware) and per-token rate limiting (token buckets).

The size limit runs before anything parses the body: a ``Content-Length`` over the limit is
refused without reading, and a body sent without one (chunked) is counted while it streams and
refused as soon as it passes the limit, so a client cannot make the server buffer more than
``[serve] max_request_bytes``.

Rate limits are token buckets per caller (the token's name; the client IP with ``--dev``):
``rate_limit`` requests per second on average, bursts up to ``rate_burst``. They are per worker
process, so with ``--workers N`` a caller can get up to N times the rate.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimitMiddleware", "RateLimiter", "error_body"]

#: Idle buckets are forgotten once this many callers have been seen.
MAX_BUCKETS = 100_000


def error_body(path: str, message: str) -> bytes:
    """An error body in the style of the endpoint: OIP (``/v2``) or FastAPI's."""
    key = "error" if path.startswith("/v2") else "detail"
    return orjson.dumps({key: message})


class BodyLimitMiddleware:
    """Answer 413 to request bodies over ``max_bytes``, by header or by counting."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._refuse(scope, send, declared)
                    return
                break
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._refuse(scope, send, size, streamed=True)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send, size: int, streamed: bool = False) -> None:
        what = f"more than {self.max_bytes:,}" if streamed else f"{size:,}"
        body = error_body(
            scope["path"],
            f"The request body is {what} bytes; this server accepts at most "
            f"{self.max_bytes:,} ([serve] max_request_bytes in weakflow.toml). Send fewer "
            "instances per request, or raise the limit.",
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """Token buckets: ``rate`` requests per second per key, bursts up to ``burst``.

    Used from the event loop only (one thread), so it needs no lock. ``rate=0`` turns it off.
    """

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, list[float]] = {}

    def check(self, key: str) -> float:
        """0.0 when ``key`` may send a request now (and takes a token), else seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._forget_idle(now)
            bucket = self._buckets[key] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        full = [k for k, (t, last) in self._buckets.items()
                if t + (now - last) * self.rate >= self.burst]  # fmt: skip
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= MAX_BUCKETS:
            self._buckets.clear()

    @staticmethod
    def retry_after(wait: float) -> str:
        """The ``Retry-After`` header value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(wait)))
