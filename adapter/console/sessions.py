"""Operators' sessions: a signed cookie naming the operator, with the CSRF token of the session.

The cookie is signed with the adapter's token secret (its own salt), HttpOnly, SameSite=Strict,
Secure unless the adapter's public URL is plain http, and scoped to the console's path. A session
ends when its lifetime has passed, when the operator is no longer configured, or when the
operator's password hash changed since the login: nothing is stored on the server.

Forms before the login carry a token of their own, checked against a short-lived cookie
(double submit), so a foreign page cannot log a browser in under its own name either.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

from adapter.config import Console, Operator
from adapter.core.clock import Clock, utc_now
from adapter.secret import Secret

SESSION_COOKIE = "paygate_console"
LOGIN_COOKIE = "paygate_console_login"
LOGIN_FORM_SECONDS = 3600


@dataclass(frozen=True)
class Session:
    operator: str
    csrf: str  # every action's form must carry it


def _fingerprint(operator: Operator) -> str:
    return hashlib.sha256(operator.password_hash.encode()).hexdigest()[:16]


def same_token(sent: object, expected: str) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), expected.encode())


class Sessions:
    def __init__(
        self,
        secret: Secret,
        console: Console,
        *,
        secure: bool,
        path: str,
        clock: Clock = utc_now,
    ) -> None:
        self._sessions = URLSafeSerializer(secret.reveal(), salt="console-session")
        self._logins = URLSafeSerializer(secret.reveal(), salt="console-login")
        self._console = console
        self._lifetime = timedelta(hours=console.session_hours)
        self._secure = secure
        self._path = path
        self._clock = clock

    def _set(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=self._path,
            secure=self._secure,
            httponly=True,
            samesite="strict",
        )

    def start(self, response: Response, operator: Operator) -> None:
        payload = {
            "name": operator.name,
            "key": _fingerprint(operator),
            "csrf": secrets.token_urlsafe(24),
            "at": int(self._clock().timestamp()),
        }
        self._set(
            response,
            SESSION_COOKIE,
            self._sessions.dumps(payload),
            int(self._lifetime.total_seconds()),
        )
        response.delete_cookie(LOGIN_COOKIE, path=self._path)

    def end(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path=self._path, secure=self._secure)

    def current(self, request: Request) -> Session | None:
        """The request's valid session, or None."""
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        try:
            payload = self._sessions.loads(cookie)
        except BadSignature:
            return None
        if not isinstance(payload, dict):
            return None
        operator = self._console.operator(str(payload.get("name", "")))
        issued = payload.get("at")
        if (
            operator is None
            or not isinstance(issued, int)
            or not same_token(payload.get("key"), _fingerprint(operator))
        ):
            return None
        if datetime.fromtimestamp(issued, self._clock().tzinfo) + self._lifetime <= self._clock():
            return None
        csrf = payload.get("csrf")
        return Session(operator.name, csrf) if isinstance(csrf, str) and csrf else None

    def login_form_token(self, request: Request) -> str:
        """The token for a login form: the one of the browser's login cookie, or a new one."""
        return self._login_cookie_token(request) or secrets.token_urlsafe(24)

    def keep_login_form_token(self, response: Response, token: str) -> None:
        """Set the login cookie the form's token is checked against."""
        self._set(response, LOGIN_COOKIE, self._logins.dumps(token), LOGIN_FORM_SECONDS)

    def login_form_ok(self, request: Request, sent: object) -> bool:
        token = self._login_cookie_token(request)
        return token is not None and same_token(sent, token)

    def _login_cookie_token(self, request: Request) -> str | None:
        cookie = request.cookies.get(LOGIN_COOKIE)
        if not cookie:
            return None
        try:
            token = self._logins.loads(cookie)
        except BadSignature:
            return None
        return token if isinstance(token, str) else None
