"""Delivering final results to the shop's URLNotify from the transactional outbox.

Rows are written in the same transaction as the final state; the worker leases due rows, so
several adapter processes can share one database, and builds each payload from committed state.
What this process queues while its worker runs is written already leased to it and handed over
in memory once committed, so it is sent without a claim.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
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
from adapter.store.payments import DeliveryAttempt, DueNotification, Handover, Notification

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
        # What this process queued and handed over, with when (time.monotonic()).
        self._handed: list[tuple[float, DueNotification]] = []
        self._handed_ready = asyncio.Event()
        self._running = False
        self._claimed_at = -math.inf
        self._last_claim_full = False

    def _take(self, queued: Sequence[DueNotification]) -> None:
        at = time.monotonic()
        self._handed.extend((at, notification) for notification in queued)
        self._handed_ready.set()

    def _handed_over(self) -> list[DueNotification]:
        """Up to a batch of what was handed over. One whose lease is half spent is left to a
        claim once the lease has run out: it might run out during the delivery."""
        taken, self._handed = self._handed[:BATCH], self._handed[BATCH:]
        fresh_since = time.monotonic() - LEASE.total_seconds() / 2
        return [notification for at, notification in taken if at > fresh_since]

    def _claim_now(self, handed: int) -> bool:
        """Whether a pass that took ``handed`` rows over claims due rows too.

        Rows handed over never call for a claim. A claim runs when one is asked for
        (``ctx.outbox_wakeup``: a row queued another way), when the last one came back full,
        once a poll interval (another process's rows, retries), and on every pass of a worker
        whose passes are driven one by one rather than by :meth:`run`.
        """
        asked = self.ctx.outbox_wakeup.is_set()
        self.ctx.outbox_wakeup.clear()
        if handed >= BATCH:
            return False
        return (
            asked
            or self._last_claim_full
            or not self._running
            or time.monotonic() - self._claimed_at >= POLL_SECONDS
        )

    async def _until_woken(self) -> None:
        """Until rows are handed over, a claim is asked for or the poll interval is over."""
        self._handed_ready.clear()  # nothing is waiting in self._handed: run() just looked
        waits = {
            asyncio.ensure_future(event.wait())
            for event in (self.ctx.outbox_wakeup, self._handed_ready)
        }
        try:
            await asyncio.wait(waits, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

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
        due = self._handed_over()
        if self._claim_now(len(due)):
            self._claimed_at = time.monotonic()
            limit = BATCH - len(due)
            claimed = await self.ctx.payments.claim_due_notifications(
                now=self.ctx.clock(), lease=LEASE, limit=limit
            )
            self._last_claim_full = len(claimed) == limit
            due += claimed
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
        ctx.payments.handover = Handover(LEASE, self._take)
        self._running = True
        try:
            while not ctx.stopping.is_set():
                try:
                    if await self.run_once() == BATCH or self._handed:
                        continue  # more are likely due now, not after the poll
                except Exception:
                    log.exception("outbox pass failed")
                await self._until_woken()
        finally:
            self._running = False
            ctx.payments.handover = None
            # Given back for another process now rather than after their lease.
            unsent = [notification.id for _, notification in self._handed]
            self._handed = []
            await asyncio.shield(ctx.payments.release_notifications(unsent))

    async def aclose(self) -> None:
        for poster in self._posters.values():
            await poster.aclose()
