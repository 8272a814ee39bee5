"""The dashboard app: routes, server-rendered pages (Jinja2), sign-in and the forms that act.

Pages are plain HTML with inline SVG charts and one small script (keyboard shortcuts of the
review queue, a confirmation before a model move); everything works without JavaScript and
nothing is loaded from another site. The app lives at ``/ui``: :func:`create_ui_app` is the
whole ``weakflow ui`` server (``/`` redirects there), :func:`mount_ui` adds it to another app
(``weakflow serve`` does, through :func:`serve_app_with_ui`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

import weakflow
from weakflow.errors import ModelNotFoundError, RegistryError
from weakflow.store import add_feedback as store_feedback
from weakflow.store import existing_predictions, lookup_token
from weakflow.ui import _pages as pages
from weakflow.ui._auth import (
    COOKIE,
    SIGN_IN_HOURS,
    Session,
    UIError,
    authorize,
    current_session,
    read_form,
)
from weakflow.ui._context import UIContext, UISettings
from weakflow.ui._review import REVIEW_SOURCE

__all__ = ["create_ui_app", "mount_ui", "serve_app_with_ui"]

MOUNT = "/ui"
FLASH = "weakflow_ui_flash"
NAV = (
    ("/", "Overview", "overview"),
    ("/labeling", "Labeling", "labeling"),
    ("/models", "Models", "models"),
    ("/monitoring", "Monitoring", "monitoring"),
    ("/review", "Review queue", "review"),
)
#: Sent with every page: scripts and forms only from the dashboard itself (no inline script, no
#: eval: the time charts' data is a non-executed ``application/json`` block read by ui.js);
#: inline styles are allowed because matplotlib's SVG charts and uPlot use them; no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_ALIAS = re.compile(r"[A-Za-z0-9_-]+")
_YES = ("yes", "on", "true", "1")


class _SignInRequiredError(Exception):
    """A page that needs a signed-in token (reads are closed under ``weakflow serve``)."""


# -- rendering -------------------------------------------------------------------------------------
def _when(value: Any) -> str:
    """A time as ``2026-11-24 03:19 UTC`` (ISO strings and naive datetimes are UTC)."""
    if value is None or value == "":
        return "—"
    when = value
    if isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(when, dt.datetime):
        return str(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@cache
def _environment() -> jinja2.Environment:
    from weakflow.evaluate._report import _num, _pct

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("weakflow.ui", "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, pct=_pct, when=_when)
    env.tests["finite"] = _finite
    return env


def _base(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    kind = request.headers.get("content-type", "")
    return ("application/json" in accept and "text/html" not in accept) or kind.startswith(
        "application/json"
    )


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def _flash_redirect(request: Request, path: str, message: str) -> Response:
    base = _base(request)
    if _wants_json(request):
        return JSONResponse({"ok": True, "message": message})
    response = RedirectResponse(base + path, status_code=303)
    response.set_cookie(
        FLASH, quote(message), max_age=60, path=base or "/", httponly=True, samesite="strict"
    )
    return response


class _Renderer:
    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    def page(
        self,
        request: Request,
        template: str,
        *,
        title: str,
        active: str,
        session: Session | None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        base = _base(request)
        flash = request.cookies.get(FLASH)
        body = (
            _environment()
            .get_template(template)
            .render(
                base=base,
                title=title,
                active=active,
                nav=NAV,
                session=session,
                project=self.ctx.name,
                alias=self.ctx.alias,
                label_names=self.ctx.label_names,
                version=weakflow.__version__,
                flash=unquote(flash) if flash else None,
                open_reads=self.ctx.settings.open_reads,
                path=request.url.path,
                **context,
            )
        )
        response = _html(body, status)
        if flash:
            response.delete_cookie(FLASH, path=base or "/")
        return response


# -- the app ---------------------------------------------------------------------------------------
def _int(value: str | None, field: str, default: int | None = None) -> int:
    if value is None or value.strip() == "":
        if default is not None:
            return default
        raise UIError(422, f"{field}: required, a whole number.", field=field)
    try:
        return int(value)
    except ValueError:
        message = f"{field}: must be a whole number, got {value!r}."
        raise UIError(422, message, field=field) from None


def _reason_and_confirm(form: Mapping[str, str], what: str) -> str:
    reason = form.get("reason", "").strip()
    if not reason:
        raise UIError(
            422,
            f"reason: required. Say why you {what}; the reason is kept in the audit log and the "
            "alias history.",
            field="reason",
        )
    if form.get("confirm", "").lower() not in _YES:
        raise UIError(422, f"confirm: tick the confirmation box to {what}.", field="confirm")
    return reason


def _alias(ctx: UIContext, form: Mapping[str, str]) -> str:
    alias = form.get("alias", "").strip() or ctx.alias
    if not _ALIAS.fullmatch(alias):
        raise UIError(
            422,
            f"alias: {alias!r} is not an alias name: letters, digits, '-' or '_' "
            "(e.g. production, staging).",
            field="alias",
        )
    return alias


def _label(names: list[str], value: str | None) -> int:
    text = (value or "").strip()
    if text in names:
        return names.index(text)
    if text.isdigit() and int(text) < len(names):
        return int(text)
    allowed = ", ".join(f"{n!r} (or {i})" for i, n in enumerate(names))
    got = f"got {text!r}" if text else "it is missing"
    raise UIError(422, f"label: must be one of {allowed}; {got}.", field="label")


def _safe_next(base: str, target: str | None) -> str:
    """Where to go after signing in: a path of the dashboard only (never another site)."""
    if target and target.startswith(base + "/") and not target.startswith("//"):
        return target
    return base + "/"


def build_ui(ctx: UIContext) -> FastAPI:
    """The dashboard's routes for ``ctx``, to be mounted at ``/ui`` (no lifespan of its own)."""
    app = FastAPI(
        title=f"weakflow dashboard: {ctx.name}",
        version=weakflow.__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    render = _Renderer(ctx)
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")

    def reader(request: Request) -> Session | None:
        session = current_session(ctx.db, request)
        if session is None and not ctx.settings.open_reads:
            raise _SignInRequiredError()
        return session

    @app.exception_handler(UIError)
    async def ui_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UIError)
        if _wants_json(request):
            detail: Any = (
                [{"loc": ["body", exc.field], "msg": exc.message}] if exc.field else exc.message
            )
            return JSONResponse({"detail": detail}, status_code=exc.status)
        session = await run_in_threadpool(current_session, ctx.db, request)
        return render.page(
            request,
            "error.html.j2",
            title="That did not work",
            active="",
            session=session,
            status=exc.status,
            error=exc,
            back=request.headers.get("referer"),
        )

    @app.exception_handler(_SignInRequiredError)
    async def sign_in_first(request: Request, exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        url = f"{_base(request)}/login?{urlencode({'next': target})}"
        return RedirectResponse(url, status_code=303)

    def page(
        template: str, title: str, active: str, build: Callable[[], dict[str, Any]]
    ) -> Callable[[Request], HTMLResponse]:
        def endpoint(request: Request) -> HTMLResponse:
            session = reader(request)
            return render.page(
                request, template, title=title, active=active, session=session, **build()
            )

        return endpoint

    app.get("/", response_class=HTMLResponse, name="overview")(
        page("overview.html.j2", "Overview", "overview", lambda: pages.overview(ctx))
    )
    app.get("/labeling", response_class=HTMLResponse, name="labeling")(
        page("labeling.html.j2", "Labeling", "labeling", lambda: pages.labeling(ctx))
    )
    app.get("/models", response_class=HTMLResponse, name="models")(
        page("models.html.j2", "Models", "models", lambda: pages.models(ctx))
    )
    app.get("/monitoring", response_class=HTMLResponse, name="monitoring")(
        page("monitoring.html.j2", "Monitoring", "monitoring", lambda: pages.monitoring(ctx))
    )

    @app.get("/models/{version}", response_class=HTMLResponse, name="model")
    def model(request: Request, version: str) -> HTMLResponse:
        session = reader(request)
        number = _int(version, "version")
        data = pages.model_detail(ctx, number)
        return render.page(
            request,
            "model.html.j2",
            title=f"{ctx.name} v{number}",
            active="models",
            session=session,
            **data,
        )

    @app.post("/models/{version}/promote", name="promote")
    async def promote(request: Request, version: str) -> Response:
        form = await read_form(request)

        def act() -> str:
            session = authorize(ctx.db, request, form, "admin")
            number = _int(version, "version")
            alias = _alias(ctx, form)
            reason = _reason_and_confirm(form, f"move {alias} to v{number}")
            try:
                move = ctx.registry.promote(
                    ctx.name, number, alias, actor=session.actor, reason=reason
                )
            except ModelNotFoundError as exc:
                raise UIError(404, str(exc), field="version") from None
            except RegistryError as exc:
                raise UIError(409, str(exc)) from None
            if move.action == "noop":
                return f"{alias} already points at v{number}: nothing changed."
            return (
                f"Promoted v{number} to {alias} (was "
                f"{'nothing' if move.from_version is None else f'v{move.from_version}'}). "
                "Recorded in the audit log with your reason."
            )

        message = await run_in_threadpool(act)
        return _flash_redirect(request, f"/models/{version}", message)

    @app.post("/rollback", name="rollback")
    async def rollback(request: Request) -> Response:
        form = await read_form(request)

        def act() -> str:
            session = authorize(ctx.db, request, form, "admin")
            alias = _alias(ctx, form)
            reason = _reason_and_confirm(form, f"roll {alias} back")
            try:
                move = ctx.registry.rollback(ctx.name, alias, actor=session.actor, reason=reason)
            except RegistryError as exc:
                raise UIError(409, str(exc)) from None
            return (
                f"Rolled {alias} back from v{move.from_version} to v{move.to_version}. Recorded "
                "in the audit log with your reason."
            )

        message = await run_in_threadpool(act)
        return _flash_redirect(request, "/models", message)

    @app.get("/review", response_class=HTMLResponse, name="review")
    def review(request: Request, position: str = "0", blind: str = "") -> HTMLResponse:
        session = reader(request)
        data = pages.review(ctx, _int(position, "position", default=0))
        return render.page(
            request,
            "review.html.j2",
            title="Review queue",
            active="review",
            session=session,
            blind=blind.lower() in _YES,
            **data,
        )

    @app.post("/review", name="review_label")
    async def review_label(request: Request) -> Response:
        form = await read_form(request)

        def act() -> str:
            session = authorize(ctx.db, request, form, "feedback")
            pid = form.get("prediction_id", "").strip()
            if not pid:
                raise UIError(422, "prediction_id: required.", field="prediction_id")
            label = _label(ctx.label_names, form.get("label"))
            if not existing_predictions(ctx.db, [pid]):
                raise UIError(
                    404,
                    f"prediction_id: no logged prediction has the id {pid!r}.",
                    field="prediction_id",
                )
            store_feedback(ctx.db, [(pid, label, REVIEW_SOURCE)], token_name=session.token.name)
            return f"Saved {ctx.label_names[label]!r} for prediction {pid[:8]}…"

        message = await run_in_threadpool(act)
        query = {"position": str(_int(form.get("position"), "position", default=0))}
        if form.get("blind", "").lower() in _YES:
            query["blind"] = "1"
        return _flash_redirect(request, f"/review?{urlencode(query)}", message)

    @app.get("/login", response_class=HTMLResponse, name="login")
    def login_page(request: Request, next: str = "") -> HTMLResponse:
        session = current_session(ctx.db, request)
        return render.page(
            request,
            "login.html.j2",
            title="Sign in",
            active="",
            session=session,
            next=_safe_next(_base(request), next),
        )

    @app.post("/login", name="login_submit")
    async def login(request: Request) -> Response:
        form = await read_form(request)
        base = _base(request)
        secret = form.get("token", "").strip()
        target = _safe_next(base, form.get("next"))
        info = await run_in_threadpool(lookup_token, ctx.db, secret) if secret else None
        if info is None or info.revoked:
            why = (
                "token: required: paste a token from `weakflow tokens create`."
                if not secret
                else "token: this token was revoked."
                if info is not None
                else "token: unknown to this project's store (check for a copy and paste error)."
            )
            raise UIError(401, why, field="token")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            secret,
            max_age=SIGN_IN_HOURS * 3600,
            path=base or "/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        response.set_cookie(
            FLASH,
            quote(f"Signed in as {info.name} ({', '.join(info.scopes)})."),
            max_age=60,
            path=base or "/",
            httponly=True,
            samesite="strict",
        )
        return response

    @app.post("/logout", name="logout")
    async def logout(request: Request) -> Response:
        base = _base(request)
        response = RedirectResponse(base + "/", status_code=303)
        response.delete_cookie(COOKIE, path=base or "/")
        return response

    return app


def mount_ui(app: FastAPI, settings: UISettings) -> FastAPI:
    """Mount the dashboard at ``/ui`` of ``app``; its store closes when ``app`` stops."""
    ctx = UIContext(settings)
    app.mount(MOUNT, build_ui(ctx), name="ui")
    parent = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(owner: Any) -> AsyncIterator[Any]:
        try:
            async with parent(owner) as state:
                yield state
        finally:
            await run_in_threadpool(ctx.close)

    app.router.lifespan_context = lifespan
    return app


def create_ui_app(
    project: str | Path | UISettings, *, alias: str | None = None, open_reads: bool = True
) -> FastAPI:
    """The ``weakflow ui`` app: the dashboard at ``/ui`` (``/`` redirects there).

    Parameters
    ----------
    project : path or UISettings
        The project folder, or complete settings (then the other arguments are ignored).
    alias : str, optional
        The alias shown as serving and moved by promote/rollback (default ``[serve] alias``).
    open_reads : bool
        Pages readable without signing in (changes always need a token).
    """
    settings = (
        project
        if isinstance(project, UISettings)
        else UISettings(project=Path(project), alias=alias, open_reads=open_reads)
    )
    app = FastAPI(
        title="weakflow dashboard",
        version=weakflow.__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse(MOUNT + "/", status_code=307)

    return mount_ui(app, settings)


def serve_app_with_ui() -> FastAPI:
    """``weakflow serve``'s worker app with the dashboard at ``/ui`` (a uvicorn factory).

    Reads need a signed-in token unless the server runs with ``--dev``.
    """
    from weakflow.serve import app_from_env, get_settings

    settings = get_settings()
    ui = UISettings(project=settings.project, alias=settings.alias, open_reads=settings.dev)
    return mount_ui(app_from_env(), ui)
