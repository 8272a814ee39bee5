"""Who may change things from the dashboard, and how forms are protected from forgery.

The dashboard uses the API tokens of ``weakflow serve`` (``weakflow tokens create``), checked
with the store's own :func:`~weakflow.store.lookup_token` on every change, so a revoked token
stops working at once. Promote and rollback need the ``admin`` scope; a review label needs
``feedback`` (or ``admin``).

A person signs in by pasting a token once: it is kept in a cookie that is ``HttpOnly`` (no
script can read it), ``SameSite=Strict`` (the browser never sends it with a request that another
site started) and limited to the dashboard's path (``Secure`` too over HTTPS). Every form that
changes something also carries a CSRF field: an HMAC of the token's secret, which another site
cannot compute, checked in constant time; and a request whose ``Origin`` header names another
host is refused. Scripts may send ``Authorization: Bearer <token>`` instead of the cookie; a
header cannot be forged across sites, so no CSRF field is needed then.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import Request

from weakflow.store import Database, TokenInfo, lookup_token

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "Session",
    "UIError",
    "authorize",
    "csrf_token",
    "current_session",
    "read_form",
]

COOKIE = "weakflow_ui_token"
CSRF_FIELD = "csrf"
#: Largest form body accepted (a reason is text; nothing here uploads files).
MAX_FORM_BYTES = 64 * 1024
SIGN_IN_HOURS = 12


class UIError(Exception):
    """A request the dashboard refuses: its status, a message saying how to fix it, the field."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def csrf_token(secret: str) -> str:
    """The form field that proves a form came from a dashboard page the token holder loaded."""
    return hmac.new(secret.encode(), b"weakflow-ui-csrf/1", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Session:
    """A signed-in token (never shown: only its name and scopes are)."""

    token: TokenInfo
    secret: str
    via_cookie: bool

    @property
    def csrf(self) -> str:
        return csrf_token(self.secret)

    @property
    def actor(self) -> str:
        """Who the audit log names for a change made through the dashboard."""
        return f"ui:{self.token.name}"

    def allows(self, scope: str) -> bool:
        return self.token.allows(scope)


def current_session(db: Database, request: Request) -> Session | None:
    """The signed-in token of this browser, if it is still valid."""
    secret = request.cookies.get(COOKIE)
    if not secret:
        return None
    info = lookup_token(db, secret)
    if info is None or info.revoked:
        return None
    return Session(info, secret, via_cookie=True)


def _bearer(request: Request) -> str | None:
    scheme, _, secret = (request.headers.get("authorization") or "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" and secret.strip() else None


def _check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise UIError(
            403,
            f"This form was sent from another site ({origin}); the dashboard only accepts its "
            "own forms. Open the dashboard and submit it there.",
        )


def authorize(db: Database, request: Request, form: dict[str, str], scope: str) -> Session:
    """The session allowed to make a change that needs ``scope``; raises :class:`UIError`."""
    header = _bearer(request)
    secret = header or request.cookies.get(COOKIE)
    how = f"Sign in with a token that has scope {scope!r} (weakflow tokens create --scope {scope})"
    if not secret:
        raise UIError(401, f"You are not signed in. {how}.")
    info = lookup_token(db, secret)
    if info is None:
        raise UIError(401, f"This token is unknown to the project's store. {how}.")
    if info.revoked:
        raise UIError(401, f"The token {info.name!r} was revoked. {how}.")
    if not info.allows(scope):
        raise UIError(
            403,
            f"The token {info.name!r} has scope(s) {', '.join(info.scopes)}; this needs scope "
            f"{scope!r} (or 'admin'). {how}.",
        )
    session = Session(info, secret, via_cookie=header is None)
    if session.via_cookie:
        _check_origin(request)
        if not hmac.compare_digest(form.get(CSRF_FIELD, ""), session.csrf):
            raise UIError(
                403,
                "csrf: the form's security field is missing or out of date (did you sign in "
                "again in another tab?). Reload the page and submit it again.",
                field=CSRF_FIELD,
            )
    return session


async def read_form(request: Request) -> dict[str, str]:
    """A POST body as ``{field: value}``: an HTML form (urlencoded) or a JSON object."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise UIError(413, f"The form is {len(body):,} bytes; at most {MAX_FORM_BYTES:,}.")
    kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise UIError(400, "The form is not UTF-8 text.") from None
    if kind == "application/json":
        try:
            data: Any = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            raise UIError(400, f"The body is not valid JSON: {exc}.") from None
        if not isinstance(data, dict):
            raise UIError(400, "The JSON body must be an object of field names to values.")
        return {str(k): "" if v is None else str(v) for k, v in data.items()}
    if kind not in ("application/x-www-form-urlencoded", ""):
        raise UIError(
            415, f"Send the form as application/x-www-form-urlencoded or JSON, not {kind!r}."
        )
    return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
