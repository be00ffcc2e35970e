"""The adapter with its console on, served by uvicorn on loopback, with a signed fake Alipay+
behind it, a clock the test moves, and an httpx client that keeps the console's cookies."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from adapter.alipayplus.signing import generate_private_key
from adapter.config import Settings, parse_settings
from adapter.core.clock import utc_now
from adapter.mapping import load_mapping
from adapter.store.db import Database
from adapter.store.journal import JournalStore
from adapter.store.operations import OperationStore
from adapter.store.payments import PaymentStore
from adapter.web.app import create_app
from tests.alipayplus.fake import CLIENT_ID, FakeAlipayPlus
from tests.support.config import config_data
from tests.support.console import OPERATOR, PASSWORD, console_section
from tests.support.servers import reserve_port, serve

T = TypeVar("T")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_LOGIN_TOKEN = re.compile(r'name="token" value="([^"]+)"')


class MovableClock:
    """The adapter's clock: real time plus however far the test has moved it."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return utc_now() + self.ahead


@dataclass
class Stores:
    payments: PaymentStore
    operations: OperationStore
    journal: JournalStore


@dataclass
class Served:
    url: str  # the console, e.g. http://127.0.0.1:1234/console
    settings: Settings
    clock: MovableClock
    alipay: FakeAlipayPlus
    http: httpx.Client

    def with_stores(self, work: Callable[[Stores], Awaitable[T]]) -> T:
        """Run ``work`` on the adapter's database, from a connection of the test's own."""

        async def run() -> T:
            db = Database(self.settings.database_url)
            try:
                return await work(Stores(PaymentStore(db), OperationStore(db), JournalStore(db)))
            finally:
                await db.dispose()

        return asyncio.run(run())

    def login_form(self, path: str = "/login") -> str:
        page = self.http.get(f"{self.url}{path}")
        match = _LOGIN_TOKEN.search(page.text)
        assert match, page.text
        return match.group(1)

    def login(
        self, name: str = OPERATOR, password: str = PASSWORD, wanted: str = ""
    ) -> httpx.Response:
        token = self.login_form()
        return self.http.post(
            f"{self.url}/login",
            data={"token": token, "name": name, "password": password, "next": wanted},
        )

    def csrf(self, path: str = "/") -> str:
        page = self.http.get(f"{self.url}{path}")
        match = _CSRF.search(page.text)
        assert match, page.text
        return match.group(1)


def _settings(tmp_path: Path, public_url: str, console: dict[str, Any] | None) -> Settings:
    data = config_data(tmp_path)
    data["adapter"].update(
        public_url=public_url,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/adapter.sqlite3",
    )
    data["alipayplus"].update(
        client_id=CLIENT_ID, private_key=ACQP, alipay_public_key=ALIPAY.public_key()
    )
    if console is not None:
        data["console"] = console
    return parse_settings(data, base_dir=tmp_path, environ={"TOKEN": "t" * 32, "HMAC_NEW": "k"})


ACQP, ALIPAY = generate_private_key(), generate_private_key()


@contextmanager
def serving(
    tmp_path: Path, *, secure: bool = False, console: dict[str, Any] | None = None
) -> Iterator[Served]:
    """The adapter with ``console`` (default: alice and bob); its public URL is https when
    ``secure``, which is what makes the cookies Secure (the client then cannot send them back)."""
    port = reserve_port()
    public_url = f"{'https' if secure else 'http'}://127.0.0.1:{port}"
    settings = _settings(tmp_path, public_url, console_section() if console is None else console)
    clock = MovableClock()
    alipay = FakeAlipayPlus(acqp_public_key=ACQP.public_key(), alipay_key=ALIPAY)
    app = create_app(settings, load_mapping(), alipay_transport=alipay.transport(), clock=clock)
    with serve(app, port) as url, httpx.Client(timeout=30) as http:
        yield Served(f"{url}/console", settings, clock, alipay, http)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serving(tmp_path) as running:
        yield running
