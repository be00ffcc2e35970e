"""The Alipay+ sandbox as one Starlette app: API, checkout page and test control."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from adapter.sandbox.calls import CallLog
from adapter.sandbox.checkout import checkout_routes
from adapter.sandbox.clock import SimClock, utc_now
from adapter.sandbox.config import SandboxConfig
from adapter.sandbox.control import control_routes
from adapter.sandbox.engine import Engine
from adapter.sandbox.faults import FaultBook
from adapter.sandbox.gateway import Gateway
from adapter.sandbox.notifier import Notifier
from adapter.sandbox.store import Store

# Expiry is applied lazily on access; this sweep makes abandoned checkouts fail (and notify)
# on time even when nobody looks at them.
EXPIRY_SWEEP_SECONDS = 1.0


def create_sandbox_app(
    config: SandboxConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """``transport`` carries the notifications; ``clock`` is the real clock to offset from."""
    sim_clock = SimClock(clock or utc_now)
    store = Store()
    faults = FaultBook()
    calls = CallLog()
    notifier = Notifier(config, sim_clock, transport)
    engine = Engine(config, sim_clock, store, on_final=notifier.schedule)
    gateway = Gateway(config, sim_clock, engine, faults, calls)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with notifier:
            sweeper = asyncio.create_task(_sweep(engine))
            try:
                yield
            finally:
                sweeper.cancel()

    routes = [
        # Every method is answered, non-POST with METHOD_NOT_SUPPORTED
        # (docs/alipayplus.md#transport-and-authentication).
        Route(
            "/aps/api/{rest:path}",
            gateway.handle,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        ),
        *checkout_routes(engine, store),
        *control_routes(
            clock=sim_clock,
            store=store,
            engine=engine,
            faults=faults,
            calls=calls,
            notifier=notifier,
        ),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


async def _sweep(engine: Engine) -> None:
    while True:
        await asyncio.sleep(EXPIRY_SWEEP_SECONDS)
        engine.expire_due()
