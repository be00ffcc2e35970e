"""A shop back end calling reverse.aspx, credit.aspx and inquire.aspx as real clients do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

import httpx

from adapter.paygate.fields import Fields, format_inner
from adapter.paygate.mac import compute_mac, request_mac_message
from tests.support.shop import ShopKeys

Method = Literal["POST", "GET"]


@dataclass
class S2SClient:
    keys: ShopKeys
    adapter_url: str
    http: httpx.Client

    def mac(self, signed: dict[str, str]) -> str:
        return compute_mac(
            self.keys.hmac_key.encode(),
            request_mac_message(
                signed.get("PayID", ""),
                signed.get("TransID", ""),
                self.keys.merchant_id,
                signed.get("Amount", ""),
                signed.get("Currency", ""),
            ),
        )

    def outer(
        self,
        fields: dict[str, str],
        *,
        signed: dict[str, str] | None = None,
        encrypted: bool = True,
        lower_hex: bool = False,
        lower_keys: bool = False,
    ) -> dict[str, str]:
        """The parameters a shop sends: Len/Data (or plain fields) with the MAC over ``signed``."""
        mac = self.mac(signed if signed is not None else fields)
        inner = {**fields, "MAC": mac.lower() if lower_hex else mac}
        if lower_keys:
            inner = {key.lower(): value for key, value in inner.items()}
        if not encrypted:
            merchant_key = "merchantid" if lower_keys else "MerchantID"
            return {merchant_key: self.keys.merchant_id, **inner}
        length, data = self.keys.cipher.encrypt(format_inner(inner.items()))
        outer = {"MerchantID": self.keys.merchant_id, "Len": str(length), "Data": data}
        if lower_hex:
            outer["Data"] = outer["Data"].lower()
        if lower_keys:
            outer = {key.lower(): value for key, value in outer.items()}
        return outer

    def send(
        self, endpoint: str, params: dict[str, str], method: Method = "POST"
    ) -> httpx.Response:
        url = f"{self.adapter_url}/{endpoint}.aspx"
        if method == "GET":
            return self.http.get(url, params=params)
        return self.http.post(url, data=params)

    def call(
        self,
        endpoint: str,
        fields: dict[str, str],
        *,
        method: Method = "POST",
        signed: dict[str, str] | None = None,
        encrypted: bool = True,
        lower_hex: bool = False,
        lower_keys: bool = False,
    ) -> Fields:
        """Send one request and decode the answer, checking its MAC as pretix does."""
        params = self.outer(
            fields, signed=signed, encrypted=encrypted, lower_hex=lower_hex, lower_keys=lower_keys
        )
        return answer_fields(self.keys, self.send(endpoint, params, method))

    def credit(self, pay_id: str, trans_id: str, amount: str, **extra: str) -> Fields:
        fields = {"PayID": pay_id, "TransID": trans_id, "Amount": amount, "Currency": "EUR"}
        return self.call("credit", {**fields, **extra})

    def reverse(self, pay_id: str, trans_id: str, amount: str, **extra: str) -> Fields:
        fields = {"PayID": pay_id, "TransID": trans_id, "Amount": amount, "Currency": "EUR"}
        return self.call("reverse", {**fields, **extra})

    def capture(self, pay_id: str, trans_id: str, amount: str) -> Fields:
        fields = {"PayID": pay_id, "TransID": trans_id, "Amount": amount, "Currency": "EUR"}
        return self.call("capture", fields)

    def inquire(self, pay_id: str, **extra: str) -> Fields:
        return self.call("inquire", {"PayID": pay_id, **extra})


def answer_fields(keys: ShopKeys, response: httpx.Response) -> Fields:
    assert response.status_code == 200, response.text
    assert not response.text.endswith("\n"), "a trailing newline breaks pretix"
    pairs = parse_qsl(response.text, keep_blank_values=True)
    assert [key for key, _ in pairs][:2] == ["Len", "Data"], response.text
    return keys.decode(pairs)
