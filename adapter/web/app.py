"""The adapter's Starlette app: thin handlers that parse, call the core and render."""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator
from typing import assert_never
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapter import resources
from adapter.config import Settings, load_settings
from adapter.console import console_routes
from adapter.core.checkout import ErrorPage, Redirect, start_checkout
from adapter.core.clock import Clock, utc_now
from adapter.core.context import Context
from adapter.core.results import ShopDelivery
from adapter.core.returns import handle_return
from adapter.mapping import MAPPING_ENV, ResultCodes, load_mapping
from adapter.net.delivery import AddressRoute, direct
from adapter.net.resolver import Resolver
from adapter.net.urls import parse_shop_url
from adapter.observability.logs import (
    LOG_FORMAT_ENV,
    LOG_LEVEL_ENV,
    Correlated,
    configure_logging,
)
from adapter.observability.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from adapter.observability.metrics import exposition, set_levels
from adapter.paygate.errors import PaygateError
from adapter.runtime import open_context, running_workers
from adapter.store.db import head_revision, schema_revision
from adapter.web.params import BodyTooLarge, header, read_params
from adapter.web.plain import PlainEndpoints

log = logging.getLogger(__name__)
TEMPLATES = resources.templates()


def _security_headers(response: Response, nonce: str | None = None) -> Response:
    script = f"'nonce-{nonce}'" if nonce else "'none'"
    response.headers["content-security-policy"] = (
        f"default-src 'none'; style-src 'unsafe-inline'; script-src {script}; form-action *"
    )
    response.headers["referrer-policy"] = "no-referrer"
    response.headers["x-content-type-options"] = "nosniff"
    response.headers["cache-control"] = "no-store"
    return response


def error_page(request: Request, page: ErrorPage, status_code: int = 400) -> Response:
    response = TEMPLATES.TemplateResponse(
        request, "error.html", {"code": page.code, "reason": page.reason}, status_code=status_code
    )
    return _security_headers(response)


def deliver(request: Request, delivery: ShopDelivery) -> Response:
    """Send the browser to the shop: an auto-submitting POST form, or a 303 GET."""
    if delivery.method == "get":
        location = parse_shop_url(delivery.url).with_query(urlencode(delivery.pairs))
        return RedirectResponse(location, status_code=303)
    nonce = secrets.token_urlsafe(16)
    response = TEMPLATES.TemplateResponse(
        request,
        "result_form.html",
        {"url": delivery.url, "pairs": delivery.pairs, "nonce": nonce},
    )
    return _security_headers(response, nonce)


def _context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def checkout(request: Request) -> Response:
    ctx = _context(request)
    try:
        outer = await read_params(request.scope, request.receive, ctx.settings.max_body_bytes)
    except PaygateError as error:
        code = ctx.codes.error_code(error.category, error.parameter)
        status = 413 if isinstance(error, BodyTooLarge) else 400
        return error_page(request, ErrorPage(code, error.reason), status_code=status)
    outcome = await start_checkout(ctx, outer)
    match outcome:
        case Redirect(url=url):
            return RedirectResponse(url, status_code=303)
        case ErrorPage():
            return error_page(request, outcome)
        case ShopDelivery():
            return deliver(request, outcome)
        case _:
            assert_never(outcome)


async def shopper_return(request: Request) -> Response:
    outcome = await handle_return(_context(request), request.path_params["token"])
    match outcome:
        case ErrorPage():
            return error_page(request, outcome, status_code=404)
        case ShopDelivery():
            return deliver(request, outcome)
        case _:
            assert_never(outcome)


async def health(request: Request) -> Response:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    """Readiness: configuration and mapping loaded (or the app would not run), the database
    answers, and its schema is at the migration this code expects; 503 with the reason."""
    ctx = _context(request)
    try:
        revision = await schema_revision(ctx.payments.db)
    except Exception as exc:
        # Only the error's class: its text can carry the database URL and its password.
        return JSONResponse(
            {"status": "unavailable", "reason": f"database: {type(exc).__name__}"}, 503
        )
    expected = head_revision()
    if revision != expected:
        reason = f"schema at {revision}, this code needs {expected}: run paygate-adapter migrate"
        return JSONResponse({"status": "unavailable", "reason": reason}, 503)
    return JSONResponse({"status": "ready", "schema": revision})


async def metrics(request: Request) -> Response:
    """Prometheus exposition; the database levels are read now."""
    ctx = _context(request)
    try:
        set_levels(*await ctx.payments.levels(ctx.clock()))
    except Exception:
        log.exception("reading the metrics' levels failed")
    return Response(exposition(), media_type=METRICS_CONTENT_TYPE)


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Ids need to be unique, not secret: this process's random prefix and a count (no system call
# for randomness on every request).
_REQUEST_ID_PREFIX = secrets.token_hex(6)
_request_numbers = itertools.count(1)


def _new_request_id() -> str:
    return f"{_REQUEST_ID_PREFIX}-{next(_request_numbers):x}"


class RequestFrame:
    """What every HTTP request gets before it is routed.

    - Its ``.aspx`` path in lower case: IIS, which the shops' URLs were written for, matches
      paths case-insensitively.
    - An id: the caller's ``X-Request-ID`` if it is sane, else a new one. It is bound to every
      log line of the request and sent back.
    - One journal unit: its journal notes ride with its own writes.

    One layer rather than three, because every layer costs a coroutine call on every request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        lowered = path.lower()
        if lowered != path and lowered.endswith(".aspx"):
            scope = dict(scope, path=lowered)
        given = header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.fullmatch(given) else _new_request_id()
        id_header = (b"x-request-id", request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [pair for pair in message.get("headers", ()) if pair[0] != id_header[0]]
                message["headers"] = [*kept, id_header]
            await send(message)

        ctx: Context = scope["app"].state.ctx
        with Correlated(request_id=request_id), ctx.journal.unit():
            await self.app(scope, receive, send_with_id)


def create_app(
    settings: Settings,
    codes: ResultCodes,
    *,
    alipay_transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
    notify_route: AddressRoute = direct,
    clock: Clock = utc_now,
    run_migrations: bool = True,
    freeze_after_startup: bool = False,
) -> Starlette:
    """The adapter's ASGI app. ``freeze_after_startup`` is for a process that serves this app
    alone (``paygate-adapter serve``): see :func:`freeze_startup_objects`."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with (
            open_context(
                settings,
                codes,
                alipay_transport=alipay_transport,
                resolver=resolver,
                clock=clock,
                run_migrations=run_migrations,
            ) as ctx,
            running_workers(ctx, notify_route=notify_route) as worker,
        ):
            app.state.ctx = ctx
            app.state.outbox = worker
            if freeze_after_startup:
                freeze_startup_objects()
            yield

    routes = [
        Route("/alipayplus.aspx", checkout, methods=["GET", "POST"]),
        Route("/alipayplus/return/{token}", shopper_return, methods=["GET", "POST"]),
        Route("/healthz", health),
        Route("/readyz", ready),
        Route("/metrics", metrics),
        *console_routes(settings, clock=clock),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(RequestFrame),
            Middleware(PlainEndpoints),
        ],
    )
    # A path with a slash too many is not found. Starlette would redirect it to the same path
    # on the Host the request named, and the adapter sends browsers only to URLs it checked.
    app.router.redirect_slashes = False
    return app


def freeze_startup_objects() -> None:
    """Keep what the process has built by now (modules, settings, the schema, compiled
    statements, most of its memory) out of the cyclic garbage collector's full passes: they
    live as long as the process, and a full pass over them paused the event loop for up to
    60 ms under load, the notify's slowest answers (docs/performance.md#known-traps)."""
    gc.collect()
    gc.freeze()


def app_from_environment() -> Starlette:
    """The app of a worker process that ``serve --workers`` started: the configuration, the
    mapping and the logging are named in its environment; the parent has migrated already."""
    configure_logging(os.environ.get(LOG_FORMAT_ENV, "json"), os.environ.get(LOG_LEVEL_ENV, "INFO"))
    return create_app(
        load_settings(),
        load_mapping(os.environ.get(MAPPING_ENV)),
        run_migrations=False,
        freeze_after_startup=True,
    )
