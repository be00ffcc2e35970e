"""What the hostile-input tests share: a stack whose outbox connects through a recording routing
table, loopback sinks, and the checks "nothing stored, nothing sent upstream".

``running_stack`` (tests/e2e/conftest.py) takes no routing table and keeps the sandbox's
signing key to itself; :func:`hostile_stack` wraps it and swaps the two module names it calls
while the stack starts, so the e2e conftest stays as it is.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy import Select, func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapter.alipayplus.signing import generate_private_key
from adapter.net.addresses import IPAddress
from adapter.net.resolver import Resolver
from adapter.paygate.fields import Fields
from adapter.store.db import Database
from adapter.store.tables import payments
from adapter.web.app import create_app
from tests.e2e import conftest as e2e
from tests.e2e.conftest import Stack
from tests.support.returns import shop_return
from tests.support.servers import serve
from tests.support.shop import Received

# Stand-ins for the public addresses fake names resolve to. Nothing ever connects to them: the
# routing table below sends such a connection to a loopback sink or refuses it, and the suite's
# getaddrinfo guard (tests/conftest.py) would refuse it too.
PUBLIC = ("93.184.215.14", "93.184.215.15", "93.184.215.16", "93.184.215.17")

# The tables whose rows a refused request must leave alone.
STATE_TABLES = ("payments", "operations", "notifications", "notify_attempts", "request_replays")


@dataclass
class RoutingTable:
    """The outbox's network: records every connection it is asked for, by address and port.

    ``routes`` maps a (public) address to the loopback port of a sink that answers in its place;
    loopback addresses are connected as they are, any other connection is refused, so a test
    can see where the adapter tried to go without traffic leaving the machine.
    """

    routes: dict[str, int] = field(default_factory=dict)
    connections: list[tuple[str, int]] = field(default_factory=list)

    def __call__(self, address: IPAddress, port: int) -> tuple[str, int]:
        self.connections.append((str(address), port))
        if address.is_loopback:  # a merchant with allow_private_targets: the real thing
            return str(address), port
        if str(address) not in self.routes:
            raise OSError(f"test network: nothing answers at {address}:{port}")
        return "127.0.0.1", self.routes[str(address)]


@dataclass(frozen=True)
class Arrival:
    method: str
    path: str
    host: str
    body: bytes


@dataclass
class Sink:
    """A loopback HTTP server that answers every request with ``status`` and ``headers``."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    arrivals: list[Arrival] = field(default_factory=list)

    def app(self) -> Starlette:
        async def answer(request: Request) -> Response:
            self.arrivals.append(
                Arrival(
                    request.method,
                    request.url.path,
                    request.headers.get("host", ""),
                    await request.body(),
                )
            )
            return Response("ok", status_code=self.status, headers=dict(self.headers))

        return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])


@contextmanager
def serving(sink: Sink) -> Iterator[int]:
    """Run ``sink`` on a free loopback port; yields the port."""
    with serve(sink.app()) as url:
        yield int(url.rsplit(":", 1)[1])


@dataclass
class HostileStack:
    """A running stack, the sandbox's signing key and the outbox's network."""

    stack: Stack
    alipay_key: RSAPrivateKey  # signs what Alipay+ sends: notifyPayment
    network: RoutingTable
    tmp_path: Path
    http: httpx.Client  # kept open: asked before and after every request

    def upstream_calls(self) -> dict[str, int]:
        """How many calls of each Alipay+ API the sandbox has received so far."""
        calls = self.http.get(f"{self.stack.sandbox_url}/_sim/calls").json()["by_api"]
        return {str(api): int(count) for api, count in calls.items()}

    def alipay_notifies(self) -> int:
        """How many notifyPayment the sandbox has sent (when a payment expired there, say)."""
        return len(self.http.get(f"{self.stack.sandbox_url}/_sim/notifications").json()["attempts"])

    def rows(self, query: Select[Any]) -> list[tuple[Any, ...]]:
        """The rows ``query`` selects from the adapter's database."""

        async def read() -> list[tuple[Any, ...]]:
            db = Database(self.stack.settings.database_url)
            try:
                return await db.read(lambda conn: [tuple(row) for row in conn.execute(query)])
            finally:
                await db.dispose()

        return asyncio.run(read())

    def payments_of(self, trans_id: str) -> int:
        query = select(func.count()).select_from(payments).where(payments.c.trans_id == trans_id)
        (count,) = self.stack.column(query)
        return int(count)

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the tables a request could change, read straight from the file."""
        path = self.stack.settings.database_url.removeprefix("sqlite+aiosqlite:///")
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            return {
                table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall(), key=repr)  # noqa: S608
                for table in STATE_TABLES
            }


@contextmanager
def nothing_changes(hostile: HostileStack) -> Iterator[None]:
    """The block stores nothing, changes no row and makes no Alipay+ call."""
    calls, rows = hostile.upstream_calls(), hostile.snapshot()
    yield
    assert hostile.upstream_calls() == calls, "an Alipay+ API was called"
    assert hostile.snapshot() == rows, "the database changed"


@contextmanager
def hostile_stack(
    tmp_path: Path,
    *,
    merchant_settings: Mapping[str, object] | None = None,
    adapter_settings: Mapping[str, object] | None = None,
    resolver: Resolver | None = None,
    received: Received | None = None,
) -> Iterator[HostileStack]:
    """``running_stack`` with a :class:`RoutingTable` under the outbox and a quiet reconciler.

    The reconciler looks at nothing for an hour, so every upstream call and state change a test
    sees comes from the requests it sent.
    """
    network = RoutingTable()
    keys: list[RSAPrivateKey] = []

    def recording_key() -> RSAPrivateKey:
        key = generate_private_key()
        keys.append(key)
        return key

    received = received or Received()
    with ExitStack() as exits:
        http = exits.enter_context(httpx.Client(timeout=30))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(e2e, "generate_private_key", recording_key)
            patch.setattr(e2e, "create_app", partial(create_app, notify_route=network))
            stack = exits.enter_context(
                e2e.running_stack(
                    tmp_path,
                    e2e.test_shop_factory(received),
                    received,
                    adapter_settings={"reconcile_after_seconds": 3600, **(adapter_settings or {})},
                    merchant_settings=merchant_settings,
                    resolver=resolver,
                )
            )
        _, alipay_key = keys  # running_stack makes ours (acqp) first, then the sandbox's
        yield HostileStack(stack, alipay_key, network, tmp_path, http)


_PAGE_CODE = re.compile(r'<code id="code">([0-9A-Z]{8})</code>')


def page_code(response: httpx.Response) -> str:
    """The Paygate code on the adapter's error page."""
    match = _PAGE_CODE.search(response.text)
    assert match, response.text
    return match.group(1)


def assert_unique_keys(pairs: Sequence[tuple[str, str]]) -> None:
    """A shop reading the form must find one value per key, in any letter case."""
    keys = [key.lower() for key, _ in pairs]
    assert len(keys) == len(set(keys)), f"a key comes twice: {keys}"


def failure_result(stack: Stack, response: httpx.Response, url_failure: str) -> Fields:
    """The FAILED result the browser is sent to ``url_failure`` with, decoded and MAC-checked."""
    returned = shop_return(response)
    url, pairs = returned.url, returned.pairs
    assert url == url_failure
    assert_unique_keys(pairs)
    fields = stack.shop.decode(pairs)
    assert fields["Status"] == "FAILED"
    return fields
