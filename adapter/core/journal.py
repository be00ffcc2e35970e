"""The event journal as the use cases see it: each hop is reported once, here, and from here it
is journalled, counted by the metrics and logged (the observers, ``adapter.observability``),
never recomputed elsewhere.

A hop that is not a state change (a shop request answered, an Alipay+ call, a URLNotify
attempt, a reconciler look) is :meth:`Journal.note`\\ d: it rides with the next write
transaction of its unit of work, or is written in a batch off the request's path. A state change
is built here (:func:`payment_event`, :func:`step_event`), written by the store method that
makes the change, in its transaction, and reported with :meth:`Journal.changed` once applied.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from adapter.alipayplus.client import CallReport
from adapter.core.clock import Clock
from adapter.core.retries import current_attempt
from adapter.model import Event, Hop, Operation, OperationState, Payment, PaymentState
from adapter.store.journal import JournalStore, UnitOfWork, ride

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0

Observer = Callable[[Event], None]


class Journal:
    def __init__(
        self, store: JournalStore, clock: Clock, observers: Sequence[Observer] = ()
    ) -> None:
        self.store = store
        self.clock = clock
        self._observers = list(observers)
        self._leftovers: list[Event] = []

    def observe(self, observer: Observer) -> None:
        self._observers.append(observer)

    def note(self, event: Event) -> None:
        """A hop: journalled (a routine one is only counted and logged)."""
        if not event.routine and not ride(event):
            self._leftovers.append(event)
        self._report(event)

    def changed(self, events: Sequence[Event]) -> None:
        """State changes a store method has just written in its transaction."""
        for event in events:
            self._report(event)

    def _report(self, event: Event) -> None:
        for observer in self._observers:
            try:
                observer(event)
            except Exception:
                log.exception("observer of %s %s failed", event.hop, event.name)

    def unit(self) -> UnitOfWork:
        """A unit of work (a request, a delivery, a look): its notes ride with its writes."""
        return UnitOfWork(self._keep)

    def _keep(self, events: list[Event]) -> None:
        # Looked up at the unit's end: a flush meanwhile has replaced the list.
        self._leftovers.extend(events)

    async def flush(self) -> None:
        """Write what units left over, in one transaction."""
        rows, self._leftovers = self._leftovers, []
        try:
            await self.store.append(rows)
        except Exception:
            self._leftovers[:0] = rows  # kept for the next flush
            raise

    async def run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except Exception:
                log.exception("writing the journal failed; retrying")


def call_event(clock: Clock, report: CallReport) -> Event:
    """One Alipay+ call; its time is when it was sent."""
    result = report.result
    detail: dict[str, str | int | None] = {
        "alipay_request_id": report.request_id,
        "ms": round(report.seconds * 1000),
        "attempt": current_attempt.get(),
    }
    if report.error:
        detail["error"] = report.error
    return Event(
        at=clock() - timedelta(seconds=report.seconds),
        hop=Hop.ALIPAY_CALL,
        name=report.api.value,
        outcome=f"{result.status} {result.code}" if result else "no answer",
        pay_id=report.payment_request_id or None,
        detail=detail,
    )


def payment_event(
    clock: Clock, payment: Payment, state: PaymentState, code: str | None = None
) -> Event:
    return Event(
        at=clock(),
        hop=Hop.PAYMENT,
        name=state.value,
        outcome=code,
        pay_id=payment.pay_id,
        merchant_id=payment.merchant_id,
    )


def step_event(
    clock: Clock, step: Operation, state: OperationState | str, code: str | None = None
) -> Event:
    """``state`` is the step's new state, or what happened to it (``refund_instead``)."""
    return Event(
        at=clock(),
        hop=Hop.STEP,
        name=f"{step.kind.value} {state}",  # e.g. "credit SUCCESS"
        outcome=code,
        pay_id=step.pay_id,
        merchant_id=step.merchant_id,
        detail={"xid": step.xid},
    )
