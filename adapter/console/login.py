"""Logging in and out of the console."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from adapter.console.passwords import password_matches
from adapter.console.sessions import Session
from adapter.console.site import Form, Site, base, first, read_form, safe_return
from adapter.console.throttle import address_key, name_key

log = logging.getLogger(__name__)


class Login:
    def __init__(self, site: Site) -> None:
        self.site = site

    def _form(
        self,
        request: Request,
        *,
        name: str = "",
        wanted: str = "",
        problem: str | None = None,
        status_code: int = 200,
        retry_at: datetime | None = None,
    ) -> Response:
        token = self.site.sessions.login_form_token(request)
        values = {
            "name": name,
            "next": wanted,
            "problem": problem,
            "retry_at": retry_at,
            "token": token,
        }
        headers = {}
        if retry_at is not None:
            wait = (retry_at - self.site.ctx(request).clock()).total_seconds()
            headers["retry-after"] = str(max(1, int(wait) + 1))
        response = self.site.render(
            request, "login.html", values, session=None, status_code=status_code, headers=headers
        )
        self.site.sessions.keep_login_form_token(response, token)
        return response

    async def show(self, request: Request) -> Response:
        wanted = request.query_params.get("next", "")
        if self.site.sessions.current(request) is not None:
            return RedirectResponse(safe_return(request, wanted), status_code=303)
        return self._form(request, wanted=wanted)

    async def submit(self, request: Request) -> Response:
        form = await read_form(request)
        if form is None:
            return self.site.refused(request, 413, "The form is too large.")
        name, wanted = first(form, "name").strip()[:64], first(form, "next")
        if not self.site.sessions.login_form_ok(request, first(form, "token")):
            return self._form(
                request,
                name=name,
                wanted=wanted,
                problem="The login form had expired. Please try again.",
                status_code=403,
            )
        address = request.client.host if request.client else "unknown"
        keys = [address_key(address), name_key(name)]
        throttle = self.site.throttle
        retry_at = throttle.retry_at(keys)
        if retry_at is None:
            operator = self.site.settings.console.operator(name)
            if await password_matches(operator, first(form, "password")) and operator:
                throttle.forget(name_key(name))
                log.info("console: %s logged in from %s", operator.name, address)
                response = RedirectResponse(safe_return(request, wanted), status_code=303)
                self.site.sessions.start(response, operator)
                return response
            log.warning("console: failed login for %r from %s", name, address)
            throttle.failed(keys)
            retry_at = throttle.retry_at(keys)
        if retry_at is not None:
            return self._form(
                request,
                name=name,
                wanted=wanted,
                problem="Too many failed logins.",
                status_code=429,
                retry_at=retry_at.astimezone(UTC),
            )
        return self._form(
            request, name=name, wanted=wanted, problem="Wrong name or password.", status_code=401
        )

    async def logout(self, request: Request, session: Session, form: Form) -> Response:
        log.info("console: %s logged out", session.operator)
        response = RedirectResponse(f"{base(request)}/login", status_code=303)
        self.site.sessions.end(response)
        return response
