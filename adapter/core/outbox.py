"""Delivering final results to the shop's URLNotify from the transactional outbox.

Rows are written in the same transaction as the final state; the worker leases due rows, so
several adapter processes can share one database, and builds each payload from committed state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace
from datetime import timedelta

import httpx

from adapter.config import Merchant
from adapter.core.context import Context
from adapter.core.urls import allowed_url
from adapter.model import Event, Hop
from adapter.net.delivery import AddressRoute, GuardedPoster, direct
from adapter.net.errors import TargetRefused
from adapter.net.guard import target_policy
from adapter.observability.logs import Correlated
from adapter.paygate.errors import PaygateError
from adapter.store.payments import DeliveryAttempt, DueNotification, Notification

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
POLL_SECONDS = 1.0
BATCH = 20  # notifications leased per pass
NOTIFY_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class OutboxWorker:
    """Delivers due notifications; ``route`` lets tests see where connections go."""

    def __init__(self, ctx: Context, *, route: AddressRoute = direct) -> None:
        self.ctx = ctx
        # One poster per target policy: it resolves each URLNotify host, refuses it unless
        # every address is admitted, and connects to the address it checked.
        self._posters = {
            allow_private: GuardedPoster(ctx.resolver, target_policy(allow_private), route=route)
            for allow_private in (False, True)
        }

    async def deliver(self, notification: DueNotification) -> None:
        """Deliver one notification now and record the attempt."""
        await self._record([await self.attempt(notification)])

    async def attempt(self, notification: DueNotification) -> tuple[DeliveryAttempt, Event]:
        """Send the notification once; the attempt to record and its event (not yet stored)."""
        with (
            self.ctx.journal.unit(),
            Correlated(pay_id=notification.pay_id),
        ):
            return await self._send(notification)

    async def _send(self, notification: DueNotification) -> tuple[DeliveryAttempt, Event]:
        ctx = self.ctx
        merchant_id = notification.merchant_id
        merchant = ctx.settings.merchant(merchant_id) if merchant_id else None
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        body = notification.body if merchant else None
        if merchant is not None and body is None:
            body = await self._legacy_body(notification, merchant)
        if merchant is None or body is None:
            error = "payment or merchant no longer configured"
        else:
            try:
                # Checked again on every attempt: the allowlist may have changed since.
                url = allowed_url(merchant, notification.url, "URLNotify")
                status = await self._posters[merchant.allow_private_targets].post(
                    url.original,
                    body.encode(),
                    "application/x-www-form-urlencoded",
                    NOTIFY_TIMEOUT,
                )
            except PaygateError as exc:
                error = exc.reason
            except TargetRefused as exc:
                error = f"URLNotify {exc.reason}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
        delivered = status is not None and 200 <= status < 300
        if not delivered and error is None:
            error = f"HTTP {status}"
        schedule = ctx.settings.notify_retry_seconds
        retry = notification.attempts < len(schedule) and merchant_id is not None
        now = ctx.clock()
        duration_ms = int((time.monotonic() - started) * 1000)
        next_attempt_at = (
            None
            if delivered or not retry
            else now + timedelta(seconds=schedule[notification.attempts])
        )
        attempt = DeliveryAttempt(
            notification.id, now, status, error, duration_ms, delivered, next_attempt_at
        )
        event = Event(
            at=now,
            hop=Hop.SHOP_NOTIFY,
            name=notification.final_state.value,
            outcome="delivered" if delivered else ("retry" if next_attempt_at else "dead"),
            pay_id=notification.pay_id,
            merchant_id=merchant_id,
            detail={
                "attempt": notification.attempts + 1,
                "http_status": status,
                "ms": duration_ms,
                "error": error,
            },
        )
        return attempt, event

    async def _record(self, sent: list[tuple[DeliveryAttempt, Event]]) -> None:
        """Store attempts with their events in one transaction, then report the events."""
        attempts = [attempt for attempt, _ in sent]
        events = [event for _, event in sent]
        await self.ctx.payments.record_attempts(attempts, events)
        self.ctx.journal.changed(events)

    async def _legacy_body(self, notification: Notification, merchant: Merchant) -> str | None:
        """The body of a row queued before bodies were stored: built for the state the row was
        written for; None when the payment is gone."""
        payment = await self.ctx.payments.get(notification.pay_id)
        if payment is None:
            return None
        notice = self.ctx.results.notice(merchant, replace(payment, state=notification.final_state))
        return notice.body if notice is not None else ""

    async def run_once(self) -> int:
        """Deliver what is due, all at once; the attempts that finish together are recorded
        in one transaction (docs/performance.md#known-traps)."""
        due = await self.ctx.payments.claim_due_notifications(
            now=self.ctx.clock(), lease=LEASE, limit=BATCH
        )
        sending = {asyncio.ensure_future(self.attempt(n)) for n in due}
        recorded: set[int] = set()
        failure: BaseException | None = None
        try:
            while sending:
                done, sending = await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
                sent = []
                for task in done:
                    if (error := task.exception()) is not None:
                        failure = failure or error  # its lease runs out: retried after it
                    else:
                        sent.append(task.result())
                if sent:
                    await self._record(sent)
                    recorded.update(attempt.notification_id for attempt, _ in sent)
        except asyncio.CancelledError:
            # Cut short by shutdown: give back what was not recorded, for another process now
            # rather than after the lease (a delivery already sent is repeated: at least once).
            for task in sending:
                task.cancel()
            await asyncio.gather(*sending, return_exceptions=True)
            unrecorded = [n.id for n in due if n.id not in recorded]
            await asyncio.shield(self.ctx.payments.release_notifications(unrecorded))
            raise
        if failure is not None:
            raise failure
        return len(due)

    async def run(self) -> None:
        """Deliver until the process stops; a delivery under way is finished first."""
        ctx = self.ctx
        while not ctx.stopping.is_set():
            try:
                if await self.run_once() == BATCH:
                    continue  # a full batch: more are likely due now, not after the poll
            except Exception:
                log.exception("outbox pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ctx.outbox_wakeup.wait(), POLL_SECONDS)
            ctx.outbox_wakeup.clear()

    async def aclose(self) -> None:
        for poster in self._posters.values():
            await poster.aclose()
