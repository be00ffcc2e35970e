"""notifyPayment applied to stored payments: settled in one write, refused without a change."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from adapter.alipayplus.signing import load_private_key, signed_headers
from adapter.config import parse_settings
from adapter.core.context import Context
from adapter.core.notify import handle_notification
from adapter.mapping import load_mapping
from adapter.model import Payment, PaymentState
from adapter.runtime import open_context
from adapter.store.journal import JournalStore
from adapter.store.tables import payments
from tests.support.config import config_data
from tests.support.models import PAY_ID, a_payment

OPEN = a_payment(state=PaymentState.PENDING)  # EUR 1000 of merchant Shop


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[Context]:
    data = config_data(tmp_path)
    data["adapter"]["database_url"] = f"sqlite:///{tmp_path / 'adapter.sqlite3'}"
    environ = {"TOKEN": "t" * 32, "HMAC_NEW": "new-hmac-key"}
    settings = parse_settings(data, base_dir=tmp_path, environ=environ)
    async with open_context(settings, load_mapping()) as context:
        await context.payments.insert(OPEN)
        yield context


async def _notify(
    ctx: Context, tmp_path: Path, *, status: str = "S", value: str = "1000", currency: str = "EUR"
) -> dict[str, Any]:
    """The answer to a correctly signed notifyPayment about :data:`PAY_ID`."""
    code = "SUCCESS" if status == "S" else "ORDER_IS_CLOSED"
    body = json.dumps(
        {
            "paymentResult": {"resultCode": code, "resultStatus": status},
            "paymentRequestId": PAY_ID,
            "paymentId": "ALIPAY-1",
            "paymentAmount": {"currency": currency, "value": value},
        }
    ).encode()
    # config_data signs for Alipay+ with the adapter's own key.
    headers = signed_headers(
        uri=ctx.notify_path,
        client_id=ctx.settings.alipay.client_id,
        body=body,
        private_key=load_private_key((tmp_path / "acqp.pem").read_text()),
        key_version="1",
        now=datetime.now(UTC),
        time_header="Request-Time",
    )
    answer = await handle_notification(ctx, uri=ctx.notify_path, headers=headers, body=body)
    result: dict[str, Any] = json.loads(answer.body)["result"]
    return result


async def _stored(ctx: Context) -> Payment:
    payment = await ctx.payments.get(PAY_ID)
    assert payment is not None
    return payment


async def _journal(ctx: Context) -> list[tuple[str, str | None]]:
    await ctx.journal.flush()
    return [(e.name, e.outcome) for e in await JournalStore(ctx.payments.db).timeline(PAY_ID)]


async def test_a_paid_notify_settles_the_payment_with_one_notification_and_its_events(
    ctx: Context, tmp_path: Path
) -> None:
    assert (await _notify(ctx, tmp_path))["resultStatus"] == "S"
    stored = await _stored(ctx)
    assert (stored.state, stored.alipay_payment_id) == (PaymentState.SUCCESS, "ALIPAY-1")
    (notification,) = await ctx.payments.notifications_for(PAY_ID)
    assert notification.final_state is PaymentState.SUCCESS
    assert await _journal(ctx) == [("notifyPayment", "S SUCCESS"), ("SUCCESS", "SUCCESS")]


async def test_a_notify_of_another_amount_or_currency_is_refused_and_changes_nothing(
    ctx: Context, tmp_path: Path
) -> None:
    for value, currency in [("999", "EUR"), ("1000", "USD")]:
        result = await _notify(ctx, tmp_path, value=value, currency=currency)
        assert (result["resultStatus"], result["resultCode"]) == ("F", "PARAM_ILLEGAL")
    assert await _stored(ctx) == OPEN
    assert await ctx.payments.notifications_for(PAY_ID) == []
    refused = ("notifyPayment", "PARAM_ILLEGAL")
    assert await _journal(ctx) == [refused, refused]


async def test_a_notify_about_an_unknown_payment_is_refused(ctx: Context, tmp_path: Path) -> None:
    await ctx.payments.db.write(lambda conn: conn.execute(payments.delete()).rowcount)
    result = await _notify(ctx, tmp_path)
    assert (result["resultStatus"], result["resultCode"]) == ("F", "ORDER_NOT_EXIST")


async def test_a_paid_notify_cancels_a_payment_whose_cancel_was_requested(
    ctx: Context, tmp_path: Path
) -> None:
    requested = update(payments).values(cancel_requested=True)
    await ctx.payments.db.write(lambda conn: conn.execute(requested).rowcount)
    assert (await _notify(ctx, tmp_path))["resultStatus"] == "S"
    assert (await _stored(ctx)).state is PaymentState.CANCELLED


async def test_a_second_notify_is_acknowledged_and_changes_nothing_more(
    ctx: Context, tmp_path: Path
) -> None:
    await _notify(ctx, tmp_path)
    settled = await _stored(ctx)
    assert (await _notify(ctx, tmp_path, status="F"))["resultStatus"] == "S"
    assert await _stored(ctx) == settled
    assert len(await ctx.payments.notifications_for(PAY_ID)) == 1
