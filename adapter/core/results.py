"""Turning a payment and its outcome into the encrypted Paygate result a shop receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlencode

from adapter.config import Merchant
from adapter.mapping import PaygateResult, ResultCodes
from adapter.model import Payment, PaymentState, ShopNotice
from adapter.paygate.blowfish import BlowfishCipher
from adapter.paygate.response import custom_pairs, encrypt_response


@dataclass(frozen=True)
class ShopDelivery:
    """A result on its way to URLSuccess / URLFailure / URLNotify as form pairs."""

    url: str
    pairs: list[tuple[str, str]]
    method: Literal["post", "get"]
    code: str  # the Paygate Code inside, for the journal
    pay_id: str | None = None  # None for a refused request that never became a payment


class Settled(Protocol):
    """What decides a payment's Paygate result: a :class:`Payment` or a ``PaymentStanding``."""

    @property
    def state(self) -> PaymentState: ...

    @property
    def result_code(self) -> str | None: ...


class ResultBuilder:
    """Builds Paygate results; keeps one Blowfish cipher per merchant key."""

    def __init__(self, codes: ResultCodes) -> None:
        self.codes = codes
        self._ciphers: dict[str, BlowfishCipher] = {}

    def cipher(self, merchant: Merchant) -> BlowfishCipher:
        key = merchant.blowfish_key.reveal()
        cipher = self._ciphers.get(key)
        if cipher is None:
            cipher = self._ciphers[key] = BlowfishCipher(key.encode("utf-8"))
        return cipher

    def outcome(self, payment: Settled) -> PaygateResult:
        """The Paygate result that describes the payment's current state."""
        if payment.state is PaymentState.SUCCESS:
            return self.codes.alipay("SUCCESS", "S")
        if payment.state is PaymentState.FAILED:
            return self.codes.alipay(payment.result_code or "PROCESS_FAIL", "F")
        if payment.state is PaymentState.CANCELLED:
            return self.codes.alipay("ORDER_IS_CLOSED", "F")
        if payment.state is PaymentState.UNKNOWN:
            return self.codes.adapter("upstream_unknown")
        return self.codes.adapter("pending")

    def fields(self, merchant: Merchant, payment: Payment, result: PaygateResult) -> dict[str, str]:
        status = merchant.success_status if result.status == "OK" else result.status
        details = payment.details
        return {
            "mid": merchant.merchant_id,
            "PayID": payment.pay_id,
            "XID": payment.xid,
            "TransID": payment.trans_id,
            "refnr": details.ref_nr or "",
            "Status": status,
            "Description": result.description,
            "Code": result.code,
            "UserData": details.user_data or "",
        }

    def encrypted_pairs(
        self,
        merchant: Merchant,
        fields: dict[str, str],
        *,
        custom: str | None,
        plain: str | None,
    ) -> list[tuple[str, str]]:
        length, data = encrypt_response(
            fields, merchant.signing_key.reveal_bytes(), self.cipher(merchant)
        )
        pairs = [("Len", str(length)), ("Data", data)]
        if custom:
            pairs.extend(custom_pairs(custom))
        if plain:
            pairs.append(("Plain", plain))
        return pairs

    def browser_delivery(
        self, merchant: Merchant, payment: Payment, result: PaygateResult
    ) -> ShopDelivery:
        """Success and pending go to URLSuccess, everything else to URLFailure."""
        details = payment.details
        url = details.url_failure if result.status == "FAILED" else details.url_success
        pairs = self.encrypted_pairs(
            merchant,
            self.fields(merchant, payment, result),
            custom=details.custom,
            plain=details.plain,
        )
        return ShopDelivery(url, pairs, merchant.return_method, result.code, payment.pay_id)

    def notice(self, merchant: Merchant, payment: Payment) -> ShopNotice | None:
        """The URLNotify POST that tells the shop the payment's (final) state; None without a
        URLNotify."""
        details = payment.details
        if not details.url_notify:
            return None
        pairs = self.encrypted_pairs(
            merchant,
            self.fields(merchant, payment, self.outcome(payment)),
            custom=details.custom,
            plain=details.plain,
        )
        return ShopNotice(details.url_notify, urlencode(pairs))
