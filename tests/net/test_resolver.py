"""The system resolver: every address getaddrinfo gives, de-duplicated; failures are refusals."""

from __future__ import annotations

import asyncio
import socket
from ipaddress import ip_address
from typing import Any

import pytest

from adapter.net.errors import UnresolvedHost, UnsafeTarget
from adapter.net.resolver import SystemResolver


async def test_numeric_hosts_come_back_as_addresses_without_a_query() -> None:
    resolver = SystemResolver()
    assert await resolver.resolve("127.0.0.1", 443) == [ip_address("127.0.0.1")]
    assert await resolver.resolve("::1", 443) == [ip_address("::1")]


def _answering(*sockaddrs: tuple[Any, ...]) -> Any:
    async def getaddrinfo(*args: object, **kwargs: object) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", sockaddr) for sockaddr in sockaddrs]

    return getaddrinfo


async def test_every_address_once_in_the_order_given(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    answer = _answering(("93.184.215.14", 443), ("10.0.0.1", 443), ("93.184.215.14", 443))
    monkeypatch.setattr(loop, "getaddrinfo", answer)
    assert await SystemResolver().resolve("shop.example", 443) == [
        ip_address("93.184.215.14"),
        ip_address("10.0.0.1"),
    ]


async def test_a_zone_id_is_dropped_from_a_link_local_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", _answering(("fe80::1%eth0", 443, 0, 2)))
    assert await SystemResolver().resolve("shop.example", 443) == [ip_address("fe80::1")]


async def test_an_unreadable_answer_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", _answering(("not-an-address", 443)))
    with pytest.raises(UnsafeTarget):
        await SystemResolver().resolve("shop.example", 443)


@pytest.mark.parametrize("error", [socket.gaierror(socket.EAI_NONAME, "no"), UnicodeError("x")])
async def test_lookup_failures_are_unresolved_hosts(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    async def failing(*args: object, **kwargs: object) -> list[tuple[Any, ...]]:
        raise error

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", failing)
    with pytest.raises(UnresolvedHost, match="does not resolve"):
        await SystemResolver().resolve("gone.shop.example", 443)


async def test_no_answer_is_an_unresolved_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", _answering())
    with pytest.raises(UnresolvedHost):
        await SystemResolver().resolve("shop.example", 443)


async def test_a_slow_lookup_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    never = asyncio.Event()

    async def hanging(*args: object, **kwargs: object) -> list[tuple[Any, ...]]:
        await never.wait()
        return []

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", hanging)
    with pytest.raises(UnresolvedHost, match=r"within 0\.05 s"):
        await SystemResolver(timeout=0.05).resolve("slow.shop.example", 443)


async def test_an_overlong_label_fails_without_a_query() -> None:
    with pytest.raises(UnresolvedHost):
        await SystemResolver().resolve("a" * 64 + ".example", 443)
