"""A test shop: records what the adapter posts to URLNotify and decodes Paygate results."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from adapter.paygate.blowfish import BlowfishCipher
from adapter.paygate.fields import Fields, format_inner, parse_inner
from adapter.paygate.mac import compute_mac, request_mac_message, response_mac_message


@dataclass
class Received:
    """What the shop's URLNotify got, recorded before it answers ``notify_status``."""

    notifies: list[list[tuple[str, str]]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)  # the same calls, byte for byte
    notify_status: int = 200


def create_test_shop(received: Received) -> Starlette:
    async def notify(request: Request) -> PlainTextResponse:
        body = await request.body()
        received.bodies.append(body)
        received.notifies.append(parse_qsl(body.decode(), keep_blank_values=True))
        return PlainTextResponse("OK", status_code=received.notify_status)

    return Starlette(routes=[Route("/notify", notify, methods=["POST"])])


@dataclass(frozen=True)
class ShopKeys:
    merchant_id: str
    hmac_key: str
    blowfish_key: str

    @property
    def cipher(self) -> BlowfishCipher:
        return BlowfishCipher(self.blowfish_key.encode())

    def request(
        self, fields: dict[str, str], *, mac_over: dict[str, str] | None = None
    ) -> dict[str, str]:
        """Outer form of an encrypted Paygate request, MAC computed as real shops do."""
        values = mac_over or fields
        mac = compute_mac(
            self.hmac_key.encode(),
            request_mac_message(
                values.get("PayID", ""),
                values.get("TransID", ""),
                self.merchant_id,
                values.get("Amount", ""),
                values.get("Currency", ""),
            ),
        )
        length, data = self.cipher.encrypt(format_inner([*fields.items(), ("MAC", mac)]))
        return {"MerchantID": self.merchant_id, "Len": str(length), "Data": data}

    def decode(self, pairs: list[tuple[str, str]]) -> Fields:
        """Decrypt a result and check its MAC exactly as pretix does (UPPER, mid must match)."""
        outer = dict(pairs)
        fields = parse_inner(self.cipher.decrypt(outer["Data"], outer["Len"]))
        assert fields["mid"] == self.merchant_id
        expected = compute_mac(
            self.hmac_key.encode(),
            response_mac_message(
                fields["PayID"],
                fields.get("TransID", ""),
                fields["mid"],
                fields["Status"],
                fields["Code"],
            ),
        )
        assert fields["MAC"] == expected, "response MAC does not verify"
        keys = list(fields)
        assert (keys[0], keys[-1]) == ("mid", "MAC")
        assert all(fields[k] for k in fields), "no empty values"
        return fields


_INPUT = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')
_ACTION = re.compile(r'<form id="result" method="post" action="([^"]*)">')


def parse_result_form(html: str) -> tuple[str, list[tuple[str, str]]]:
    """The URL and pairs of the adapter's auto-submitting result form."""
    import html as html_lib

    action = _ACTION.search(html)
    assert action, "no result form"
    pairs = [(html_lib.unescape(k), html_lib.unescape(v)) for k, v in _INPUT.findall(html)]
    return html_lib.unescape(action.group(1)), pairs
