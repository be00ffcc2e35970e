"""Checking the answers wrk sampled: each is what a shop (or Alipay+) would accept.

A check returns None when the answer is right, else what is wrong with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

from adapter.alipayplus.signing import verify_message
from adapter.paygate.errors import PaygateError
from adapter.paygate.fields import parse_inner
from adapter.paygate.mac import compute_mac, response_mac_message
from tests.bench.world import NOTIFY_PATH, World
from tests.bench.wrk import Sample

AnswerCheck = Callable[[Sample], str | None]


def paygate_answer(world: World, expected: Mapping[str, str]) -> AnswerCheck:
    """An S2S answer: ``Len``/``Data`` that decrypts, MAC right, ``expected`` fields present."""

    def check(sample: Sample) -> str | None:
        if sample.status != 200:
            return f"HTTP {sample.status}: {sample.body[:200]}"
        outer = dict(parse_qsl(sample.body, keep_blank_values=True))
        if "Data" not in outer or "Len" not in outer:
            return f"no Len/Data: {sample.body[:200]}"
        try:
            fields = parse_inner(world.cipher.decrypt(outer["Data"], outer["Len"]))
        except PaygateError as error:
            return f"does not decrypt: {error}"
        mac = compute_mac(
            world.hmac_key.encode(),
            response_mac_message(
                fields.get("PayID", ""),
                fields.get("TransID", ""),
                fields.get("mid", ""),
                fields.get("Status", ""),
                fields.get("Code", ""),
            ),
        )
        if fields.get("MAC") != mac:
            return "MAC does not verify"
        if fields.get("mid") != world.merchant_id:
            return f"mid is {fields.get('mid')!r}"
        for name, value in expected.items():
            if fields.get(name) != value:
                got = {key: fields.get(key) for key in ("Status", "Code", "Description", name)}
                return f"{name} is not {value!r}: {got}"
        return None

    return check


def redirect_to_checkout(world: World) -> AnswerCheck:
    def check(sample: Sample) -> str | None:
        if sample.status != 303:
            return f"HTTP {sample.status}: {sample.body[:200]}"
        if not sample.location.startswith(world.checkout_base):
            return f"303 to {sample.location!r}, not to the Alipay+ checkout"
        return None

    return check


def signed_ack(world: World) -> AnswerCheck:
    """notifyPayment's answer: the S ack, signed with our key over the notify path."""

    def check(sample: Sample) -> str | None:
        if sample.status != 200:
            return f"HTTP {sample.status}: {sample.body[:200]}"
        try:
            status = json.loads(sample.body)["result"]["resultStatus"]
        except (ValueError, KeyError, TypeError):
            return f"not an ack: {sample.body[:200]}"
        if status != "S":
            return f"ack says {status}: {sample.body[:200]}"
        headers = {
            "client-id": sample.client_id,
            "response-time": sample.response_time,
            "signature": sample.signature,
        }
        if not verify_message(
            uri=NOTIFY_PATH,
            headers=headers,
            body=sample.body.encode(),
            public_key=world.acqp_public_key,
            time_header="Response-Time",
        ):
            return "ack signature does not verify"
        return None

    return check
