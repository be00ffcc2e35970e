"""The floor: each endpoint doing only the work the two protocols force on it, nothing more.

Every Paygate endpoint: form decode, Blowfish decrypt (one cipher object per key), ``k=v``
parse, HMAC check, one primary-key row, the answer built, MAC'd and encrypted. An endpoint
that calls Alipay+ adds one RSA-2048 signature, one httpx POST (one shared client, a pool of
8 as the adapter's), one RSA verification and one row inserted. notifyPayment: verify the
signature, one conditional update, sign the ack. The protocol code is the project's own pure
code (``adapter.paygate``, ``adapter.alipayplus`` messages and signing), so both sides of a
comparison spend the same on it; the database is SQLite with the adapter's own settings,
which the benchmark reads from the adapter and hands over as ``--pragmas``.

What the floor leaves out is what the adapter adds on top: validation beyond the MAC, ReqId
replay (a read-only inquire answers the current state, whatever its ReqId), storing a step
before asking Alipay+, the amount reservation, the shop's URLNotify.

Run: ``python -m tests.bench.floor --world world.json --database floor.sqlite3 --port 8004``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import sqlite3
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from adapter.alipayplus.messages import (
    PayMerchant,
    PayOrder,
    build_cancel_body,
    build_pay_body,
    build_refund_body,
    encode_body,
    parse_notification,
)
from adapter.alipayplus.models import ACK_BODY, Amount, Api, MessageError, Result, decode_object
from adapter.alipayplus.notify import ack_response_headers, verify_notification
from adapter.alipayplus.signing import signed_headers, verify_message
from adapter.paygate.blowfish import BlowfishCipher
from adapter.paygate.errors import Category, PaygateError
from adapter.paygate.fields import Fields
from adapter.paygate.request import MacScheme, RawRequest, decode_request, verify_request_mac
from adapter.paygate.response import encrypt_response, s2s_body
from tests.bench.serving import serve_forever
from tests.bench.world import CLIENT_ID, KEY_VERSION, NOTIFY_PATH, World

SCHEMA = """
CREATE TABLE IF NOT EXISTS floor_payments (
    pay_id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    trans_id TEXT NOT NULL,
    xid TEXT NOT NULL,
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    state TEXT NOT NULL,
    alipay_payment_id TEXT,
    checkout_url TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (merchant_id, trans_id)
);
CREATE TABLE IF NOT EXISTS floor_steps (
    xid TEXT PRIMARY KEY,
    pay_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    state TEXT NOT NULL,
    result_code TEXT NOT NULL,
    alipay_id TEXT,
    created_at TEXT NOT NULL
);
"""
_PAYMENT = "SELECT trans_id, xid, amount, currency, state FROM floor_payments WHERE pay_id = ?"
_INSERT_STEP = "INSERT INTO floor_steps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_PAYMENT = "INSERT INTO floor_payments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_MARK_FINAL = (
    "UPDATE floor_payments SET state = ?, alipay_payment_id = ?"
    " WHERE pay_id = ? AND state = 'PENDING' AND amount = ? AND currency = ?"
)
_OK = {"Status": "OK", "Description": "success", "Code": "00000000"}
_PENDING = {"Status": "AUTHORIZE_REQUEST", "Description": "pending", "Code": "61500003"}
_REFUSED = {"Status": "FAILED", "Description": "refused", "Code": "21500000"}


# A verified answer's result and body; None when the answer proves nothing.
Outcome = tuple[Result, dict[str, Any]] | None


def connect(path: Path, pragmas: Mapping[str, object]) -> sqlite3.Connection:
    """Autocommit: each statement is its own transaction, so one commit per request."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for name, value in pragmas.items():
        conn.execute(f"PRAGMA {name}={value}")
    conn.executescript(SCHEMA)
    return conn


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Upstream:
    """One signed Alipay+ call: sign, POST, verify the answer's signature, read its result."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._key = world.acqp_key
        self._alipay_public_key = world.alipay_public_key
        self.http = httpx.AsyncClient(
            base_url=world.upstream_url,
            trust_env=False,
            timeout=8.0,
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
        )

    async def call(self, api: Api, body: Mapping[str, Any]) -> Outcome:
        raw = encode_body(body)
        headers = signed_headers(
            uri=api.path,
            client_id=CLIENT_ID,
            body=raw,
            private_key=self._key,
            key_version=KEY_VERSION,
            now=datetime.now(UTC),
            time_header="Request-Time",
        )
        try:
            response = await self.http.post(api.path, content=raw, headers=headers)
        except httpx.HTTPError:
            return None
        if response.status_code != 200 or not verify_message(
            uri=api.path,
            headers=response.headers,
            body=response.content,
            public_key=self._alipay_public_key,
            time_header="Response-Time",
        ):
            return None
        try:
            answer = decode_object(response.content)
            return Result.from_json(answer.get("result")), answer
        except MessageError:
            return None


class Floor:
    def __init__(self, world: World, db: sqlite3.Connection) -> None:
        self.world = world
        self.db = db
        self.cipher = BlowfishCipher(world.blowfish_key.encode())
        self.hmac_key = world.hmac_key.encode()
        self.upstream = Upstream(world)

    def decoded(self, outer: Fields, scheme: MacScheme) -> RawRequest:
        if outer.get("MerchantID") != self.world.merchant_id:
            raise PaygateError(Category.NOT_ALLOWED, "MerchantID", "MerchantID is not known")
        raw = decode_request(outer, self.cipher)
        verify_request_mac(raw, [self.hmac_key], scheme=scheme)
        return raw

    def answer(self, raw: RawRequest | None, values: Mapping[str, str]) -> Response:
        fields = raw.fields if raw is not None else Fields()
        base = {
            "mid": self.world.merchant_id,
            "PayID": fields.get("PayID") or secrets.token_hex(16),
            "XID": secrets.token_hex(16),
            "TransID": fields.get("TransID", ""),
        }
        length, data = encrypt_response({**base, **values}, self.hmac_key, self.cipher)
        return PlainTextResponse(s2s_body(length, data))

    def payment(self, pay_id: str) -> tuple[str, str, int, str, str] | None:
        row: tuple[str, str, int, str, str] | None = self.db.execute(_PAYMENT, (pay_id,)).fetchone()
        return row

    def step(
        self, pay_id: str, kind: str, amount: int, currency: str, outcome: Outcome, xid: str
    ) -> Mapping[str, str]:
        """Store the step's definite outcome (one row) and say what to answer."""
        if outcome is None or outcome[0].status == "U":
            return _PENDING
        result, body = outcome
        state = "SUCCESS" if result.status == "S" else "FAILED"
        self.db.execute(
            _INSERT_STEP,
            (xid, pay_id, kind, amount, currency, state, result.code, body.get("refundId"), _now()),
        )
        return _OK if state == "SUCCESS" else _REFUSED


async def _outer(request: Request) -> Fields:
    body = await request.body()
    return Fields(parse_qsl(body.decode("latin-1"), keep_blank_values=True))


def create_floor(world: World, db: sqlite3.Connection, public_url: str) -> Starlette:
    floor = Floor(world, db)

    async def inquire(request: Request) -> Response:
        try:
            raw = floor.decoded(await _outer(request), MacScheme.INQUIRE)
        except PaygateError:
            return floor.answer(None, _REFUSED)
        row = floor.payment(raw.fields.get("PayID", ""))
        if row is None:
            return floor.answer(raw, _REFUSED)
        trans_id, xid, amount, currency, state = row
        outcome = _OK if state == "SUCCESS" else _PENDING if state == "PENDING" else _REFUSED
        paid = str(amount) if state == "SUCCESS" else "0"
        return floor.answer(
            raw,
            {
                "XID": xid,
                "TransID": raw.fields.get("TransID") or trans_id,
                **outcome,
                "AmountAuth": paid,
                "AmountCap": paid,
                "AmountCred": "0",
                "Currency": currency,
                "LastStatus": outcome["Status"],
            },
        )

    async def credit(request: Request) -> Response:
        try:
            raw = floor.decoded(await _outer(request), MacScheme.OPERATION)
            amount = int(raw.fields.get("Amount", ""))
        except (PaygateError, ValueError):
            return floor.answer(None, _REFUSED)
        pay_id = raw.fields.get("PayID", "")
        row = floor.payment(pay_id)
        if row is None:
            return floor.answer(raw, _REFUSED)
        currency = row[3]
        xid = secrets.token_hex(16)
        body = build_refund_body(pay_id, xid, Amount(currency, amount), None)
        outcome = await floor.upstream.call(Api.REFUND, body)
        values = floor.step(pay_id, "credit", amount, currency, outcome, xid)
        return floor.answer(raw, {**values, "XID": xid})

    async def reverse(request: Request) -> Response:
        try:
            raw = floor.decoded(await _outer(request), MacScheme.OPERATION)
        except PaygateError:
            return floor.answer(None, _REFUSED)
        pay_id = raw.fields.get("PayID", "")
        row = floor.payment(pay_id)
        if row is None:
            return floor.answer(raw, _REFUSED)
        _, _, amount, currency, _ = row
        xid = secrets.token_hex(16)
        outcome = await floor.upstream.call(Api.CANCEL_PAYMENT, build_cancel_body(pay_id))
        values = floor.step(pay_id, "reverse", amount, currency, outcome, xid)
        return floor.answer(raw, {**values, "XID": xid})

    async def checkout(request: Request) -> Response:
        try:
            raw = floor.decoded(await _outer(request), MacScheme.PAYMENT)
            fields = raw.fields
            trans_id, amount = fields.get("TransID", ""), int(fields.get("Amount", ""))
            currency = fields.get("Currency", "")
        except (PaygateError, ValueError):
            return PlainTextResponse("refused", status_code=400)
        pay_id = secrets.token_hex(16)
        order = PayOrder(
            payment_request_id=pay_id,
            reference_order_id=trans_id,
            order_description=fields.get("OrderDesc") or trans_id,
            amount=Amount(currency, amount),
            merchant=PayMerchant(
                reference_merchant_id="B-1", mcc="5732", name="Bench", region="DE"
            ),
            terminal_type="WEB",
            redirect_url=f"{public_url}/alipayplus/return/{pay_id}",
            notify_url=f"{public_url}{NOTIFY_PATH}",
        )
        outcome = await floor.upstream.call(Api.PAY, build_pay_body(order))
        if outcome is None:
            return PlainTextResponse("no answer", status_code=502)
        result, body = outcome
        url = body.get("normalUrl")
        if result.status == "F" or not isinstance(url, str):
            return PlainTextResponse("refused", status_code=400)
        payment_id = body.get("paymentId")
        row = (pay_id, world.merchant_id, trans_id, secrets.token_hex(16), amount, currency)
        db.execute(_INSERT_PAYMENT, (*row, "PENDING", payment_id, url, _now()))
        return RedirectResponse(url, status_code=303)

    async def notify(request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        if not verify_notification(
            uri=path, headers=request.headers, body=body, alipay_public_key=world.alipay_public_key
        ):
            return JSONResponse({"result": {"resultStatus": "F"}}, status_code=400)
        try:
            notification = parse_notification(body)
        except MessageError:
            return JSONResponse({"result": {"resultStatus": "F"}}, status_code=400)
        amount = notification.payment_amount
        state = "SUCCESS" if notification.payment_result.status == "S" else "FAILED"
        db.execute(
            _MARK_FINAL,
            (
                state,
                notification.payment_id,
                notification.payment_request_id,
                amount.value if amount else 0,
                amount.currency if amount else "",
            ),
        )
        ack = ack_response_headers(
            uri=path,
            client_id=CLIENT_ID,
            private_key=world.acqp_key,
            key_version=KEY_VERSION,
            now=datetime.now(UTC),
        )
        return Response(ACK_BODY, headers=ack, media_type="application/json")

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await floor.upstream.http.aclose()

    return Starlette(
        routes=[
            Route("/inquire.aspx", inquire, methods=["POST"]),
            Route("/credit.aspx", credit, methods=["POST"]),
            Route("/reverse.aspx", reverse, methods=["POST"]),
            Route("/alipayplus.aspx", checkout, methods=["POST"]),
            Route(NOTIFY_PATH, notify, methods=["POST"]),
            Route("/healthz", health),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--pragmas", default="{}", help="JSON: the adapter's SQLite settings")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    db = connect(Path(args.database), json.loads(args.pragmas))
    app = create_floor(World.load(Path(args.world)), db, f"http://127.0.0.1:{args.port}")
    serve_forever(app, args.port)


if __name__ == "__main__":
    main()
