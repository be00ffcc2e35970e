"""The operators' web console under ``/console/``: server-rendered pages on the adapter's own
services (the same ``Context``, through ``core.operator`` and ``store.queries``, like the CLI).

Off unless the configuration lists operators; then :func:`console_routes` mounts it.
"""

from __future__ import annotations

from datetime import timedelta
from importlib.resources import files

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from adapter import resources
from adapter.config import Settings
from adapter.console.actions import Actions
from adapter.console.login import Login
from adapter.console.pages import Pages
from adapter.console.sessions import Sessions
from adapter.console.site import SecurityHeaders, Site
from adapter.console.throttle import LoginThrottle
from adapter.core.clock import Clock, utc_now

PATH = "/console"
# The console's own stylesheet, shipped in the package beside its templates.
STYLESHEET = (files("adapter") / "templates" / "console" / "console.css").read_text("utf-8")


async def stylesheet(request: Request) -> Response:
    return Response(
        STYLESHEET, media_type="text/css", headers={"cache-control": "public, max-age=3600"}
    )


def console_routes(settings: Settings, *, clock: Clock = utc_now) -> list[BaseRoute]:
    """The console's mount, or nothing when no operator is configured."""
    console = settings.console
    if not console.enabled:
        return []
    site = Site(
        settings=settings,
        sessions=Sessions(
            settings.token_secret,
            console,
            secure=not settings.public_url.startswith("http://"),
            path=PATH,
            clock=clock,
        ),
        throttle=LoginThrottle(
            attempts=console.login_attempts,
            window=timedelta(seconds=console.lockout_seconds),
            clock=clock,
        ),
        templates=resources.templates("console"),
    )
    login, pages, actions = Login(site), Pages(site), Actions(site)
    routes = [
        Route("/static/console.css", stylesheet),
        Route("/login", login.show),
        Route("/login", login.submit, methods=["POST"]),
        Route("/logout", site.action(login.logout), methods=["POST"]),
        Route("/", site.page(pages.overview)),
        Route("/payments", site.page(pages.payments)),
        Route("/payments/{pay_id}", site.page(pages.payment)),
        Route("/payments/{pay_id}/reconcile", site.action(actions.reconcile), methods=["POST"]),
        Route("/notifications", site.page(pages.notifications)),
        Route("/notifications/resend", site.action(actions.resend), methods=["POST"]),
    ]
    return [Mount(PATH, routes=routes, middleware=[Middleware(SecurityHeaders)])]
