"""What every use case works with, bundled once per process (built by ``adapter.runtime``)."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from adapter.alipayplus.client import AlipayPlusClient
from adapter.alipayplus.notify import AnswerSigner
from adapter.config import Settings
from adapter.core.clock import Clock, utc_now
from adapter.core.journal import Journal
from adapter.core.locks import PaymentLocks
from adapter.core.results import ResultBuilder
from adapter.mapping import ResultCodes
from adapter.net.resolver import Resolver
from adapter.store.operations import OperationStore
from adapter.store.payments import PaymentStore
from adapter.store.replays import ReplayStore


@dataclass
class Context:
    settings: Settings
    codes: ResultCodes  # Paygate Status/Code/Description for every outcome (mapping.yaml)
    payments: PaymentStore  # payments and their shop notifications
    operations: OperationStore  # credits and reversals
    replays: ReplayStore  # ReqId claims and stored answers
    alipay: AlipayPlusClient
    notify_signer: AnswerSigner  # our answers to notifyPayment
    results: ResultBuilder
    locks: PaymentLocks
    resolver: Resolver  # looks up the shop's URLNotify hosts
    journal: Journal  # every hop: journalled, counted, logged
    clock: Clock = utc_now
    outbox_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    # Set when the process shuts down: background work takes nothing new and finishes.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def return_url(self, token: str) -> str:
        return f"{self.settings.public_url}/alipayplus/return/{token}"

    @property
    def notify_url(self) -> str:
        return f"{self.settings.public_url}/alipayplus/notify"

    @functools.cached_property
    def notify_path(self) -> str:
        """The path Alipay+ signs in a notify: that of :attr:`notify_url`, which behind a proxy
        that strips a path prefix is longer than the path the request arrives on."""
        return urlsplit(self.notify_url).path
