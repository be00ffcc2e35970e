"""What every console page shares: the guard (a session for pages; a session and its CSRF
token for actions), the security headers, rendering, and the formats of money and time.

A stranger never gets data: a page without a session redirects to the login page, an action
without one is refused 403, and so is an action whose form lacks the session's CSRF token.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapter.config import Settings
from adapter.console.sessions import Session, Sessions, same_token
from adapter.console.throttle import LoginThrottle
from adapter.core.context import Context
from adapter.paygate.currencies import MINOR_UNITS
from adapter.web.params import BodyTooLarge, read_body

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 65536

Form = Mapping[str, list[str]]
Endpoint = Callable[[Request], Awaitable[Response]]
PageHandler = Callable[[Request, Session], Awaitable[Response]]
ActionHandler = Callable[[Request, Session, Form], Awaitable[Response]]

CONTENT_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_POLICY,
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


class SecurityHeaders:
    """Every console response gets a strict content policy, and is not cached unless it says."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def base(request: Request) -> str:
    """The console's path prefix, as mounted (``/console``)."""
    return str(request.scope.get("root_path", ""))


def safe_return(request: Request, target: object) -> str:
    """``target`` if it is a path inside the console, else the overview: never elsewhere."""
    prefix = f"{base(request)}/"
    if (
        isinstance(target, str)
        and target.startswith(prefix)
        and "//" not in target
        and "\\" not in target
        and not any(ord(c) < 0x21 for c in target)
    ):
        return target
    return prefix


async def read_form(request: Request) -> Form | None:
    """An url-encoded form body of at most MAX_FORM_BYTES; None when it is larger."""
    try:
        body = await read_body(request.scope, request.receive, MAX_FORM_BYTES)
    except BodyTooLarge:
        return None
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def first(form: Form, name: str) -> str:
    values = form.get(name)
    return values[0] if values else ""


def money(amount: int, currency: str) -> str:
    exponent = MINOR_UNITS.get(currency, 2)
    return f"{Decimal(amount).scaleb(-exponent):,.{exponent}f} {currency}"


def when(moment: datetime | None, precise: bool = False) -> str:
    if moment is None:
        return "-"
    text = moment.astimezone(UTC).strftime(
        "%Y-%m-%d %H:%M:%S.%f" if precise else "%Y-%m-%d %H:%M:%S"
    )
    return text[:-3] if precise else text


def duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


@dataclass
class Site:
    """The console of one adapter: its settings, sessions, login throttle and templates."""

    settings: Settings
    sessions: Sessions
    throttle: LoginThrottle
    templates: Jinja2Templates

    def __post_init__(self) -> None:
        env = self.templates.env
        env.filters["money"] = money
        env.filters["when"] = when
        env.filters["duration"] = duration

    @staticmethod
    def ctx(request: Request) -> Context:
        """The adapter's context: the console runs in the adapter's app, on its services."""
        context: Context = request.app.state.ctx
        return context

    def render(
        self,
        request: Request,
        template: str,
        values: Mapping[str, Any],
        *,
        session: Session | None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        shared = {
            "base": base(request),
            "session": session,
            "merchants": sorted(self.settings.merchants),
            "now": self.ctx(request).clock(),
        }
        return self.templates.TemplateResponse(
            request,
            template,
            {**shared, **values},
            status_code=status_code,
            headers=dict(headers or {}),
        )

    def refused(self, request: Request, status_code: int, reason: str) -> Response:
        return self.render(
            request, "refused.html", {"reason": reason}, session=None, status_code=status_code
        )

    def page(self, handler: PageHandler) -> Endpoint:
        """A page for operators; anyone else is sent to the login page."""

        async def endpoint(request: Request) -> Response:
            session = self.sessions.current(request)
            if session is None:
                wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                location = f"{base(request)}/login?next={quote(wanted, safe='')}"
                return RedirectResponse(location, status_code=303)
            return await handler(request, session)

        return endpoint

    def action(self, handler: ActionHandler) -> Endpoint:
        """A change made by an operator: refused without a session and its CSRF token."""

        async def endpoint(request: Request) -> Response:
            session = self.sessions.current(request)
            if session is None:
                return self.refused(request, 403, "Log in first.")
            form = await read_form(request)
            if form is None:
                return self.refused(request, 413, "The form is too large.")
            if not same_token(first(form, "csrf"), session.csrf):
                log.warning("console: %s sent a form without a valid CSRF token", session.operator)
                return self.refused(
                    request, 403, "The form was not sent from this console. Reload the page."
                )
            return await handler(request, session, form)

        return endpoint
