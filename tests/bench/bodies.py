"""The requests wrk sends: real encrypted Paygate requests and Alipay+-signed notifies.

Every request is built here, before the timed run, the way a shop (or Alipay+) builds it:
the same MAC, Blowfish and RSA code the servers check them with.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from urllib.parse import urlencode

from adapter.alipayplus.messages import encode_body
from adapter.alipayplus.signing import signed_headers, timestamp
from adapter.paygate.fields import format_inner
from adapter.paygate.mac import compute_mac, request_mac_message
from tests.bench.world import AMOUNT, CLIENT_ID, CURRENCY, KEY_VERSION, NOTIFY_PATH, World

Request = tuple[str, Sequence[tuple[str, str]]]  # body, headers
FORM = (("Content-Type", "application/x-www-form-urlencoded"),)


def paygate(world: World, fields: dict[str, str]) -> Request:
    """The outer form of an encrypted request, its MAC over the values as sent."""
    signed = request_mac_message(
        fields.get("PayID", ""),
        fields.get("TransID", ""),
        world.merchant_id,
        fields.get("Amount", ""),
        fields.get("Currency", ""),
    )
    mac = compute_mac(world.hmac_key.encode(), signed)
    length, data = world.cipher.encrypt(format_inner([*fields.items(), ("MAC", mac)]))
    return urlencode({"MerchantID": world.merchant_id, "Len": str(length), "Data": data}), FORM


def inquiries(
    world: World, pay_ids: Sequence[str], count: int, req_id_prefix: str | None
) -> Iterator[Request]:
    """``count`` inquiries over ``pay_ids`` in turn, each with its own ReqId given a prefix."""
    for n in range(count):
        fields = {"PayID": pay_ids[n % len(pay_ids)]}
        if req_id_prefix is not None:
            fields["ReqId"] = f"{req_id_prefix}{n}"
        yield paygate(world, fields)


def operations(world: World, payments: Iterable[tuple[str, str]], amount: int) -> Iterator[Request]:
    """One credit or reversal per (PayID, TransID): with the payment's own TransID and no
    ReqId, each is a new step, as pretix sends them."""
    for pay_id, trans_id in payments:
        yield paygate(
            world,
            {"PayID": pay_id, "TransID": trans_id, "Amount": str(amount), "Currency": CURRENCY},
        )


def checkouts(world: World, trans_ids: Iterable[str]) -> Iterator[Request]:
    for trans_id in trans_ids:
        yield paygate(
            world,
            {
                "TransID": trans_id,
                "Amount": str(AMOUNT),
                "Currency": CURRENCY,
                "OrderDesc": "bench order",
                "URLSuccess": f"{world.shop_url}/ok",
                "URLFailure": f"{world.shop_url}/no",
                "URLNotify": world.shop_notify_url,
            },
        )


def notifies(world: World, pay_ids: Iterable[str]) -> Iterator[Request]:
    """A success notifyPayment per payment, signed by the fake Alipay+'s key."""
    now = datetime.now(UTC)
    for pay_id in pay_ids:
        body = encode_body(
            {
                "paymentRequestId": pay_id,
                "paymentId": secrets.token_hex(12),
                "paymentResult": {
                    "resultCode": "SUCCESS",
                    "resultStatus": "S",
                    "resultMessage": "success",
                },
                "paymentAmount": {"currency": CURRENCY, "value": str(AMOUNT)},
                "paymentTime": timestamp(now),
                "customerId": "208800000000",
                "walletBrandName": "ALIPAY_CN",
                "pspId": "1022172000000000001",
                "acquirerId": "BENCH_ACQUIRER",
            }
        )
        headers = signed_headers(
            uri=NOTIFY_PATH,
            client_id=CLIENT_ID,
            body=body,
            private_key=world.alipay_key,
            key_version=KEY_VERSION,
            now=now,
            time_header="Request-Time",
        )
        yield body.decode(), list(headers.items())
