"""A sandbox and an ACQP notify receiver on loopback, shared by the suite and reset per test."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from adapter.alipayplus.signing import generate_private_key
from adapter.sandbox.app import create_sandbox_app
from adapter.sandbox.config import SandboxClient, SandboxConfig
from tests.sandbox.harness import Acqp, Receiver, Sim
from tests.support.servers import reserve_port, serve

CLIENT_ID = "SANDBOX_5YC47N2ZQHJ004124"
OTHER_CLIENT_ID = "SANDBOX_OTHER"  # has no default notify URL
ACQUIRER_ID = "1022188000000000001"
# 25 h of resends in under a second.
TIME_SCALE = 1e-5


@dataclass(frozen=True)
class Keys:
    acqp: RSAPrivateKey
    sandbox: RSAPrivateKey


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(acqp=generate_private_key(), sandbox=generate_private_key())


@pytest.fixture(scope="session")
def receiver_and_url(keys: Keys) -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver(keys.acqp, keys.sandbox.public_key(), CLIENT_ID)
    with serve(receiver.app) as url:
        yield receiver, url


@pytest.fixture
def receiver(receiver_and_url: tuple[Receiver, str]) -> Receiver:
    return receiver_and_url[0]


@pytest.fixture
def notify_url(receiver_and_url: tuple[Receiver, str]) -> str:
    return f"{receiver_and_url[1]}/acqp/notify"


def sandbox_config(keys: Keys, notify_url: str, **knobs: Any) -> SandboxConfig:
    public = {"1": keys.acqp.public_key()}
    clients = {
        CLIENT_ID: SandboxClient(CLIENT_ID, public, ACQUIRER_ID, default_notify_url=notify_url),
        OTHER_CLIENT_ID: SandboxClient(OTHER_CLIENT_ID, public, "1022188000000000002"),
    }
    # A generous notify timeout: a busy machine must not turn a slow ack into a resend.
    knobs = {"time_scale": TIME_SCALE, "notify_timeout": 10.0} | knobs
    return SandboxConfig(clients=clients, private_key=keys.sandbox, public_url="", **knobs)


@contextmanager
def running_sandbox(
    config: SandboxConfig, clock: Callable[[], datetime] | None = None
) -> Iterator[str]:
    port = reserve_port()
    url = f"http://127.0.0.1:{port}"
    with serve(create_sandbox_app(config.with_public_url(url), clock=clock), port):
        yield url


@pytest.fixture(scope="session")
def shared_sandbox(keys: Keys, receiver_and_url: tuple[Receiver, str]) -> Iterator[str]:
    config = sandbox_config(keys, f"{receiver_and_url[1]}/acqp/notify")
    with running_sandbox(config) as url:
        yield url


# Building an SSL context costs ~50 ms: every test client shares this one (loopback is plain HTTP).
_SSL_CONTEXT = ssl.create_default_context()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10, verify=_SSL_CONTEXT) as client:
        yield client


@pytest.fixture
async def sandbox_url(shared_sandbox: str, receiver: Receiver, http: httpx.AsyncClient) -> str:
    response = await http.post(f"{shared_sandbox}/_sim/reset")
    assert response.status_code == 200
    # Only now: the reset cancelled the deliveries a previous test left running.
    receiver.reset()
    return shared_sandbox


@pytest.fixture
def acqp(http: httpx.AsyncClient, sandbox_url: str, keys: Keys) -> Acqp:
    return Acqp(http, sandbox_url, keys.acqp, keys.sandbox.public_key(), CLIENT_ID)


@pytest.fixture
def sim(http: httpx.AsyncClient, sandbox_url: str) -> Sim:
    return Sim(http, sandbox_url)


StartSandbox = Callable[..., tuple[Acqp, Sim]]


@pytest.fixture
def start_sandbox(
    keys: Keys, receiver: Receiver, notify_url: str, http: httpx.AsyncClient
) -> Iterator[StartSandbox]:
    """Start a sandbox of its own with other knobs (``clock=`` or any SandboxConfig field)."""
    receiver.reset()
    with ExitStack() as stack:

        def start(clock: Callable[[], datetime] | None = None, **knobs: Any) -> tuple[Acqp, Sim]:
            config = sandbox_config(keys, notify_url, **knobs)
            url = stack.enter_context(running_sandbox(config, clock))
            return Acqp(http, url, keys.acqp, keys.sandbox.public_key(), CLIENT_ID), Sim(http, url)

        yield start
