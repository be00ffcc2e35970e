"""In-memory orders of the demo shop and what Paygate delivered for each of them."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

ReturnPath = Literal["success", "failure"]
BackOfficeAction = Literal["inquire", "credit", "reverse"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# Orders deliveries by arrival; timestamps can tie within a millisecond.
_arrival = itertools.count(1)


@dataclass
class Delivery:
    """One decoded browser return or notify, kept even when its MAC is wrong (that is the point)."""

    fields: dict[str, str]
    mac_ok: bool
    custom: dict[str, str]
    error: str | None = None  # why Data could not be read, if it could not
    received_at: str = field(default_factory=_now)
    seq: int = field(default_factory=lambda: next(_arrival))

    def as_json(self) -> dict[str, object]:
        return {
            "fields": dict(self.fields),
            "mac_ok": self.mac_ok,
            "custom": dict(self.custom),
            "error": self.error,
            "received_at": self.received_at,
        }


@dataclass
class BrowserReturn(Delivery):
    path: ReturnPath = "success"
    method: str = "GET"

    def as_json(self) -> dict[str, object]:
        return {"path": self.path, "method": self.method, **super().as_json()}


@dataclass
class BackOfficeCall(Delivery):
    """A server-to-server call the shop made for an order, with what it sent and got back."""

    action: BackOfficeAction = "inquire"
    sent: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"action": self.action, "sent": dict(self.sent), **super().as_json()}


@dataclass
class Order:
    n: int
    trans_id: str
    ref_nr: str
    amount: int
    currency: str
    order_desc: str
    device: str
    created_at: str = field(default_factory=_now)
    returns: list[BrowserReturn] = field(default_factory=list)
    notifies: list[Delivery] = field(default_factory=list)
    calls: list[BackOfficeCall] = field(default_factory=list)

    @property
    def pay_id(self) -> str | None:
        """The PayID Paygate gave the order in a verified return or notify: what refunds name."""
        verified = [d for d in (*self.returns, *self.notifies) if d.mac_ok]
        return max(verified, key=lambda d: d.seq).fields.get("PayID") if verified else None

    @property
    def status(self) -> str:
        """Status of the newest verified delivery; unverified ones must not change what we show."""
        verified = [d for d in (*self.returns, *self.notifies) if d.mac_ok]
        if not verified:
            return "pending"
        latest = max(verified, key=lambda d: d.seq)
        return latest.fields.get("Status", "?")

    def as_json(self) -> dict[str, object]:
        return {
            "n": self.n,
            "trans_id": self.trans_id,
            "ref_nr": self.ref_nr,
            "amount": self.amount,
            "currency": self.currency,
            "order_desc": self.order_desc,
            "device": self.device,
            "created_at": self.created_at,
            "status": self.status,
            "returns": [r.as_json() for r in self.returns],
            "notifies": [d.as_json() for d in self.notifies],
            "calls": [c.as_json() for c in self.calls],
        }


@dataclass
class ShopStore:
    """All state of one shop app.

    Handlers only touch it between awaits on the single event loop, so no lock is needed.
    """

    orders: list[Order] = field(default_factory=list)
    # Deliveries whose TransID matches no order (or that did not decrypt); shown for debugging.
    unmatched: list[Delivery] = field(default_factory=list)

    def create_order(self, *, amount: int, currency: str, order_desc: str, device: str) -> Order:
        n = len(self.orders) + 1
        # The random part keeps TransIDs unique across shop restarts against a persistent adapter.
        order = Order(
            n=n,
            trans_id=f"DEMO-{n}-{secrets.token_hex(3)}",
            ref_nr=f"DEMO-{n}",
            amount=amount,
            currency=currency,
            order_desc=order_desc,
            device=device,
        )
        self.orders.append(order)
        return order

    def get(self, n: int) -> Order | None:
        return self.orders[n - 1] if 1 <= n <= len(self.orders) else None

    def find(self, trans_id: str | None, custom: dict[str, str]) -> Order | None:
        """The order a delivery belongs to: by TransID, else by the ``order`` Custom pair.

        The Custom fallback only applies when there is no TransID (Data did not decrypt), so a
        delivery naming a foreign TransID is never filed under one of our orders.
        """
        if trans_id is not None:
            return next((o for o in self.orders if o.trans_id == trans_id), None)
        number = custom.get("order", "")
        return self.get(int(number)) if number.isdigit() else None
