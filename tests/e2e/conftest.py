"""Adapter, Alipay+ sandbox and a test shop as real uvicorn servers on loopback."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import Select, select
from starlette.applications import Starlette

from adapter.alipayplus.client import AlipayPlusClient
from adapter.alipayplus.signing import generate_private_key, private_key_pem, public_key_pem
from adapter.config import Settings, parse_settings
from adapter.mapping import load_mapping
from adapter.model import FINAL_STATES
from adapter.net.resolver import Resolver
from adapter.paygate.fields import Fields
from adapter.runtime import client_settings
from adapter.store.db import Database
from adapter.store.replays import ReplayStore
from adapter.store.tables import notifications, notify_attempts, payments
from adapter.web.app import create_app
from tests.support.postgres import create_database, drop_database
from tests.support.s2s import S2SClient
from tests.support.sandbox import fast_sandbox
from tests.support.servers import reserve_port, serve
from tests.support.shop import Received, ShopKeys, create_test_shop
from tests.support.waiting import DEFAULT_TIMEOUT, wait_until

CLIENT_ID = "SANDBOX_TEST_CLIENT"
# Generous for every call a test makes: a busy machine may answer slowly, never wrongly.
HTTP_TIMEOUT = 30.0


@dataclass
class Stack:
    adapter_url: str
    sandbox_url: str
    shop_url: str
    shop: ShopKeys
    received: Received
    settings: Settings
    other_shop: ShopKeys  # a second merchant of the same adapter

    def payment_fields(self, trans_id: str, amount: str = "1250", **extra: str) -> dict[str, str]:
        fields = {
            "MerchantID": self.shop.merchant_id,
            "TransID": trans_id,
            "RefNr": f"R-{trans_id}",
            "Amount": amount,
            "Currency": "EUR",
            "OrderDesc": "Two books",
            "URLSuccess": f"{self.shop_url}/success",
            "URLFailure": f"{self.shop_url}/failure",
            "URLNotify": f"{self.shop_url}/notify",
            "UserData": "basket-7",
            "Custom": "session=abc|lang=de",
            "Response": "encrypt",
        }
        fields.update(extra)
        return fields

    def rows(self, query: Select[Any]) -> list[dict[str, Any]]:
        """Read straight from the adapter's database (a second connection to it)."""

        async def read() -> list[dict[str, Any]]:
            db = Database(self.settings.database_url)
            try:
                return await db.read(lambda conn: [dict(r) for r in conn.execute(query).mappings()])
            finally:
                await db.dispose()

        return asyncio.run(read())

    def column(self, query: Select[Any]) -> list[str]:
        """The one column ``query`` selects, as text."""
        return [str(value) for row in self.rows(query) for value in row.values()]

    def forget_req_id_answers(self) -> None:
        async def forget() -> None:
            db = Database(self.settings.database_url)
            try:
                await ReplayStore(db).forget_finished_before(datetime.now(UTC) + timedelta(days=1))
            finally:
                await db.dispose()

        asyncio.run(forget())

    def stored_pay_ids(self) -> list[str]:
        return self.column(select(payments.c.pay_id))

    def stored_states(self) -> list[str]:
        return self.column(select(payments.c.state))

    def sim(self, path: str, payload: dict[str, object] | None = None) -> dict[str, object]:
        """Call the sandbox's test-control API."""
        url = f"{self.sandbox_url}/_sim/{path}"
        response = (
            httpx.post(url, json=payload or {}, timeout=HTTP_TIMEOUT)
            if payload is not None
            else httpx.get(url, timeout=HTTP_TIMEOUT)
        )
        assert response.status_code in (200, 201), response.text
        result: dict[str, object] = response.json()
        return result

    def replace_faults(self, *faults: dict[str, object]) -> None:
        """Swap the sandbox's faults for these in one step (clear + add could let a call by)."""
        url = f"{self.sandbox_url}/_sim/faults"
        httpx.put(url, json=list(faults), timeout=HTTP_TIMEOUT).raise_for_status()

    def clear_faults(self) -> None:
        httpx.delete(f"{self.sandbox_url}/_sim/faults", timeout=HTTP_TIMEOUT).raise_for_status()

    def pay_id_for(self, trans_id: str) -> str:
        (pay_id,) = self.column(select(payments.c.pay_id).where(payments.c.trans_id == trans_id))
        return pay_id

    def payment_row(self, pay_id: str) -> dict[str, Any]:
        (row,) = self.rows(select(payments).where(payments.c.pay_id == pay_id))
        return row

    def state_of(self, pay_id: str) -> str:
        (state,) = self.column(select(payments.c.state).where(payments.c.pay_id == pay_id))
        return state

    def await_state(self, pay_id: str, state: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        wait_until(
            lambda: self.state_of(pay_id) == state,
            timeout=timeout,
            message=lambda: f"payment {pay_id} is {self.state_of(pay_id)}, not {state}",
        )

    def open_payment(self, trans_id: str, amount: str = "10000") -> str:
        """A payment waiting for the shopper at the Alipay+ checkout; returns its PayID."""
        response = httpx.post(
            f"{self.adapter_url}/alipayplus.aspx",
            data=self.shop.request(self.payment_fields(trans_id, amount)),
            timeout=HTTP_TIMEOUT,
        )
        assert response.status_code == 303, response.text
        return self.pay_id_for(trans_id)

    def paid_payment(self, trans_id: str, amount: str = "10000") -> str:
        """A payment the shopper paid, known as SUCCESS by the adapter (by notify)."""
        pay_id = self.open_payment(trans_id, amount)
        self.sim(f"payments/{pay_id}/complete", {"status": "S"})
        self.await_state(pay_id, "SUCCESS")
        return pay_id

    def notifies_for(self, pay_id: str) -> list[Fields]:
        """The URLNotify calls the shop received for this payment, decoded."""
        decoded = [self.shop.decode(pairs) for pairs in self.received.notifies]
        return [fields for fields in decoded if fields["PayID"] == pay_id]

    def notifications_of(self, pay_id: str) -> list[dict[str, Any]]:
        """The payment's shop notifications as the outbox stores them, oldest first."""
        query = select(notifications).where(notifications.c.pay_id == pay_id)
        return self.rows(query.order_by(notifications.c.id))

    def attempts_of(self, notification_id: int) -> list[dict[str, Any]]:
        """The delivery attempts of one shop notification as stored, oldest first."""
        query = select(notify_attempts).where(notify_attempts.c.notification_id == notification_id)
        return self.rows(query.order_by(notify_attempts.c.id))

    def _outbox_done(self, pay_id: str) -> bool:
        if self.state_of(pay_id) not in FINAL_STATES:
            return False
        stored = self.notifications_of(pay_id)
        return bool(stored) and all(row["status"] != "pending" for row in stored)

    def settled_notifies(self, pay_id: str, *, timeout: float = DEFAULT_TIMEOUT) -> list[Fields]:
        """The URLNotify calls the shop received for the payment, once no more can come: the
        payment is final and each of its notifications is recorded delivered or dead. (The
        shop records a call before it answers; the adapter records the attempt after.)"""
        wait_until(
            lambda: self._outbox_done(pay_id),
            timeout=timeout,
            message=lambda: (
                f"payment {pay_id} is {self.state_of(pay_id)}, its notifications "
                f"{[(n['final_state'], n['status']) for n in self.notifications_of(pay_id)]}"
            ),
        )
        return self.notifies_for(pay_id)

    def after_delayed_calls(self, delay_seconds: float) -> None:
        """Return once the sandbox has processed every call that arrived before now and was held
        back by a ``delay`` fault of at most ``delay_seconds``: a marker call of our own, held
        back as long, is answered only after them (the sandbox's timers fire in order)."""
        marker = f"marker-{secrets.token_hex(8)}"
        self.sim(
            "faults",
            {
                "api": "inquiryPayment",
                "mode": "delay",
                "delay_seconds": delay_seconds,
                "request_id": marker,
            },
        )

        async def ask() -> None:
            settings = replace(client_settings(self.settings.alipay), timeout_cap=None)
            async with AlipayPlusClient(settings) as client:
                reply = await client.inquiry_payment(marker, timeout=delay_seconds + 30)
            assert reply.result.code == "ORDER_NOT_EXIST", reply.raw

        asyncio.run(ask())

    def ledger(self, pay_id: str) -> dict[str, Any]:
        return self.sim(f"payments/{pay_id}")

    def return_tokens(self) -> list[str]:
        serializer = URLSafeSerializer(self.settings.token_secret.reveal(), salt="return")
        return [str(serializer.dumps(pay_id)) for pay_id in self.stored_pay_ids()]


ShopFactory = Callable[[ShopKeys, str, str], Starlette]  # keys, adapter URL, shop URL


def test_shop_factory(received: Received) -> ShopFactory:
    return lambda keys, adapter_url, shop_url: create_test_shop(received)


@contextmanager
def running_stack(
    tmp_path: Path,
    make_shop: ShopFactory,
    received: Received,
    *,
    adapter_settings: Mapping[str, object] | None = None,
    alipay_settings: Mapping[str, object] | None = None,
    merchant_settings: Mapping[str, object] | None = None,
    resolver: Resolver | None = None,
) -> Iterator[Stack]:
    """Sandbox, shop and adapter as uvicorn servers on free loopback ports.

    ``merchant_settings`` change the first merchant; ``resolver`` answers the adapter's lookups
    of URLNotify hosts (by default only loopback literals are used, so nothing is looked up).
    """
    acqp, alipay = generate_private_key(), generate_private_key()
    (tmp_path / "acqp.pem").write_text(private_key_pem(acqp))
    (tmp_path / "alipay.pub.pem").write_text(public_key_pem(alipay.public_key()))
    shop = ShopKeys("TestShop", secrets.token_hex(16), secrets.token_hex(8))
    other_shop = ShopKeys("OtherShop", secrets.token_hex(16), secrets.token_hex(8))
    adapter_port, sandbox_port, shop_port = reserve_port(), reserve_port(), reserve_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    settings = parse_settings(
        {
            "adapter": {
                "public_url": f"http://127.0.0.1:{adapter_port}",
                "database_url": "sqlite+aiosqlite:///adapter.sqlite3",
                "token_secret": secrets.token_hex(16),
                "return_wait_seconds": 1,
                "reconcile_interval_seconds": 0.2,
                "operation_budget_seconds": 2,
                "reconcile_after_seconds": 2.5,
                "reconcile_max_interval_seconds": 1,
                **(adapter_settings or {}),
            },
            "alipayplus": {
                "gateway_url": sandbox_url,
                "client_id": CLIENT_ID,
                "private_key": {"file": "acqp.pem"},
                "alipay_public_key": {"file": "alipay.pub.pem"},
                **(alipay_settings or {}),
            },
            "merchants": [
                {
                    "merchant_id": shop.merchant_id,
                    "hmac_keys": [shop.hmac_key],
                    "blowfish_key": shop.blowfish_key,
                    "allowed_hosts": [f"127.0.0.1:{shop_port}"],
                    "allow_http": True,
                    "allow_private_targets": True,
                    "alipay": {
                        "reference_merchant_id": "M-1",
                        "mcc": "5732",
                        "name": "Test Shop",
                        "region": "DE",
                    },
                    **(merchant_settings or {}),
                },
                {
                    "merchant_id": other_shop.merchant_id,
                    "hmac_keys": [other_shop.hmac_key],
                    "blowfish_key": other_shop.blowfish_key,
                    "allowed_hosts": [f"127.0.0.1:{shop_port}"],
                    "allow_http": True,
                    "allow_private_targets": True,
                    "alipay": {
                        "reference_merchant_id": "M-2",
                        "mcc": "5732",
                        "name": "Other Shop",
                        "region": "DE",
                    },
                },
            ],
        },
        base_dir=tmp_path,
    )
    # A generous notify timeout: a busy machine must not turn a slow answer into a resent notify.
    sandbox_app = fast_sandbox(
        CLIENT_ID, acqp.public_key(), alipay, sandbox_url, notify_timeout=30.0
    )
    adapter_url = f"http://127.0.0.1:{adapter_port}"
    shop_app = make_shop(shop, adapter_url, f"http://127.0.0.1:{shop_port}")
    with (
        serve(sandbox_app, sandbox_port),
        serve(shop_app, shop_port) as shop_url,
        serve(create_app(settings, load_mapping(), resolver=resolver), adapter_port),
    ):
        yield Stack(adapter_url, sandbox_url, shop_url, shop, received, settings, other_shop)


# Short, so upstream trouble is quick to script.
S2S_BUDGETS = {"operation_budget_seconds": 3, "reconcile_after_seconds": 3.5}
S2S_TIMEOUTS = {"timeout_seconds": 1}


@pytest.fixture(scope="package")
def s2s_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for the S2S tests, on SQLite."""
    received = Received()
    with running_stack(
        tmp_path_factory.mktemp("s2s"),
        test_shop_factory(received),
        received,
        adapter_settings=S2S_BUDGETS,
        alipay_settings=S2S_TIMEOUTS,
    ) as running:
        yield running


@pytest.fixture(scope="package")
def s2s_postgres_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The same on a fresh PostgreSQL database, dropped afterwards."""
    url = asyncio.run(create_database())
    received = Received()
    try:
        with running_stack(
            tmp_path_factory.mktemp("s2s-pg"),
            test_shop_factory(received),
            received,
            adapter_settings={**S2S_BUDGETS, "database_url": url},
            alipay_settings=S2S_TIMEOUTS,
        ) as running:
            yield running
    finally:
        asyncio.run(drop_database(url))


@pytest.fixture
def s2s(s2s_stack: Stack) -> Iterator[S2SClient]:
    with httpx.Client(timeout=HTTP_TIMEOUT) as http:
        yield S2SClient(s2s_stack.shop, s2s_stack.adapter_url, http)
    s2s_stack.clear_faults()  # a test's leftover faults end with it


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    received = Received()
    with running_stack(tmp_path, test_shop_factory(received), received) as running:
        yield running
