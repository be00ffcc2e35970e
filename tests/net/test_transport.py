"""The guarded transport: connects only to the address just checked, follows nothing, reads little.

Live loopback servers stand in for shops. 127.0.0.1 plays a public address (the policies here
admit it) and 127.0.0.2 an internal one, so a request that reaches 127.0.0.2 is the attack.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

import httpcore
import httpx
import pytest

from adapter.net.addresses import IPAddress
from adapter.net.errors import InvalidUrl, UnresolvedHost, UnsafeTarget
from adapter.net.guard import PUBLIC_ONLY, TargetPolicy
from adapter.net.resolver import Resolver
from adapter.net.transport import (
    KEEPALIVE_SECONDS,
    MAX_RESPONSE_BYTES,
    GuardedTransport,
    PinnedBackend,
    guarded_client,
)
from tests.net.fakes import FakeResolver
from tests.net.sinks import Sink, certificates, serving

CHECKED = ip_address("127.0.0.1")
INTERNAL = ip_address("127.0.0.2")
# 127.0.0.1 stands in for a public address; everything else, 127.0.0.2 included, is internal.
AS_IF_PUBLIC = TargetPolicy(admits=lambda address: address == CHECKED, refuses_loopback_names=True)
TIMEOUT = httpx.Timeout(5.0)


@dataclass
class Shops:
    """A sink on the checked address and one on the internal address, on the same port."""

    port: int
    checked: Sink
    internal: Sink


@pytest.fixture
async def shops() -> AsyncIterator[Shops]:
    checked, internal = Sink(), Sink()
    async with contextlib.AsyncExitStack() as stack:
        port = await _same_port_on_both(stack, checked, internal)
        yield Shops(port, checked, internal)


async def _same_port_on_both(
    stack: contextlib.AsyncExitStack,
    checked: Sink,
    internal: Sink,
    addresses: tuple[IPAddress, IPAddress] = (CHECKED, INTERNAL),
) -> int:
    """The port comes from the URL, so both sinks need the same one on their addresses."""
    for _ in range(20):
        pair = contextlib.AsyncExitStack()
        port = await pair.enter_async_context(serving(checked, str(addresses[0])))
        try:
            await pair.enter_async_context(serving(internal, str(addresses[1]), port))
        except OSError:
            await pair.aclose()
            continue
        stack.push_async_exit(pair)
        return port
    pytest.fail("no port free on both loopback addresses")


def _client(resolver: Resolver, policy: TargetPolicy = AS_IF_PUBLIC) -> httpx.AsyncClient:
    return guarded_client(resolver, policy, timeout=TIMEOUT)


async def test_dns_rebinding_the_connection_goes_to_the_address_checked(shops: Shops) -> None:
    """Lookup one answers "public", a second would answer internal: there is no second."""
    resolver = FakeResolver({}, changing={"shop.example": [[str(CHECKED)], [str(INTERNAL)]]})
    async with _client(resolver) as client:
        response = await client.post(
            f"http://shop.example:{shops.port}/notify", data={"Len": "1", "Data": "AB"}
        )
    assert response.status_code == 200
    assert resolver.lookups["shop.example"] == 1
    assert [a.local_address for a in shops.checked.arrivals] == [str(CHECKED)]
    assert shops.internal.arrivals == []
    arrival = shops.checked.arrivals[0]
    assert arrival.headers["host"] == f"shop.example:{shops.port}"
    assert arrival.request_line == "POST /notify HTTP/1.1"
    assert arrival.body == b"Len=1&Data=AB"


async def test_every_request_is_checked_again_and_a_rebound_name_is_refused(
    shops: Shops,
) -> None:
    resolver = FakeResolver({}, changing={"shop.example": [[str(CHECKED)], [str(INTERNAL)]]})
    async with _client(resolver) as client:
        await client.get(f"http://shop.example:{shops.port}/")
        with pytest.raises(UnsafeTarget):
            await client.get(f"http://shop.example:{shops.port}/")
    assert resolver.lookups["shop.example"] == 2
    assert len(shops.checked.arrivals) == 1
    assert shops.internal.arrivals == []


async def test_a_redirect_to_an_internal_address_is_not_followed(shops: Shops) -> None:
    shops.checked.status = 302
    shops.checked.headers = [("location", f"http://{INTERNAL}:{shops.port}/internal")]
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with _client(resolver) as client:
        response = await client.post(f"http://shop.example:{shops.port}/notify", data={"a": "1"})
    assert response.status_code == 302
    assert len(shops.checked.arrivals) == 1
    assert shops.internal.arrivals == []


async def test_even_a_forced_redirect_is_checked_before_it_connects(shops: Shops) -> None:
    """Following is off; if a caller turned it on, each hop is still guarded."""
    shops.checked.status = 302
    shops.checked.headers = [("location", f"http://{INTERNAL}:{shops.port}/internal")]
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with _client(resolver) as client:
        with pytest.raises(UnsafeTarget):
            await client.get(f"http://shop.example:{shops.port}/", follow_redirects=True)
    assert shops.internal.arrivals == []


async def test_a_refused_host_is_never_connected_to(shops: Shops) -> None:
    async with _client(FakeResolver({}), PUBLIC_ONLY) as client:
        with pytest.raises(UnsafeTarget):
            await client.get(f"http://127.0.0.1:{shops.port}/")
        with pytest.raises(UnsafeTarget):
            await client.get(f"http://localhost:{shops.port}/")
        with pytest.raises(UnsafeTarget):
            await client.get(f"http://[::ffff:127.0.0.1]:{shops.port}/")
        with pytest.raises(InvalidUrl):
            await client.get(f"http://2130706433:{shops.port}/")
    assert shops.checked.arrivals == []


async def test_a_host_that_does_not_resolve_is_refused() -> None:
    async with _client(FakeResolver({})) as client:
        with pytest.raises(UnresolvedHost):
            await client.get("http://gone.shop.example/")


async def test_the_response_body_read_is_capped(shops: Shops) -> None:
    shops.checked.body = b"x" * 1_000_000
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    transport = GuardedTransport(resolver, AS_IF_PUBLIC, max_response_bytes=1000)
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
        response = await client.get(f"http://shop.example:{shops.port}/")
    assert response.status_code == 200
    assert response.content == b"x" * 1000


async def test_the_next_checked_address_is_tried_when_one_refuses(shops: Shops) -> None:
    """Nothing listens on 127.0.0.3: the second checked address is used, nothing else."""
    both = TargetPolicy(
        admits=lambda a: str(a) in ("127.0.0.3", "127.0.0.1"), refuses_loopback_names=True
    )
    resolver = FakeResolver({"shop.example": ["127.0.0.3", str(CHECKED)]})
    async with _client(resolver, both) as client:
        response = await client.get(f"http://shop.example:{shops.port}/")
    assert response.status_code == 200
    assert len(shops.checked.arrivals) == 1


async def test_a_refused_connection_is_an_httpx_connect_error(shops: Shops) -> None:
    policy = TargetPolicy(admits=lambda a: str(a) == "127.0.0.3", refuses_loopback_names=True)
    async with _client(FakeResolver({"shop.example": ["127.0.0.3"]}), policy) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://shop.example:{shops.port}/")


async def test_tls_checks_the_host_name_while_connecting_to_the_pinned_address(
    tmp_path: Path,
) -> None:
    certs = certificates(tmp_path, ["shop.example"])
    sink = Sink()
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with serving(sink, tls=certs.server) as port:
        client = guarded_client(resolver, AS_IF_PUBLIC, timeout=TIMEOUT, ssl_context=certs.client)
        async with client:
            response = await client.get(f"https://shop.example:{port}/ok")
    assert response.status_code == 200
    [arrival] = sink.arrivals
    assert (arrival.server_name, arrival.headers["host"]) == (
        "shop.example",
        f"shop.example:{port}",
    )
    assert arrival.local_address == str(CHECKED)


async def test_tls_refuses_a_certificate_for_another_name(tmp_path: Path) -> None:
    certs = certificates(tmp_path, ["other.example"])
    sink = Sink()
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with serving(sink, tls=certs.server) as port:
        client = guarded_client(resolver, AS_IF_PUBLIC, timeout=TIMEOUT, ssl_context=certs.client)
        async with client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"https://shop.example:{port}/")
    assert sink.arrivals == []


async def test_an_sni_override_in_the_request_is_ignored(tmp_path: Path) -> None:
    certs = certificates(tmp_path, ["shop.example"])
    sink = Sink()
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with serving(sink, tls=certs.server) as port:
        client = guarded_client(resolver, AS_IF_PUBLIC, timeout=TIMEOUT, ssl_context=certs.client)
        async with client:
            await client.get(
                f"https://shop.example:{port}/", extensions={"sni_hostname": "other.example"}
            )
    assert sink.arrivals[0].server_name == "shop.example"


async def test_environment_proxies_are_never_used(
    shops: Shops, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy would resolve the host itself, after our check."""
    monkeypatch.setenv("HTTP_PROXY", f"http://{INTERNAL}:{shops.port}")
    monkeypatch.setenv("ALL_PROXY", f"http://{INTERNAL}:{shops.port}")
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with _client(resolver) as client:
        await client.get(f"http://shop.example:{shops.port}/")
    assert shops.internal.arrivals == []
    assert len(shops.checked.arrivals) == 1


class _Recording(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self.hosts: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.hosts.append(host)
        raise httpcore.ConnectError("recorded only")


async def test_the_pinned_backend_connects_only_to_checked_addresses_of_its_host() -> None:
    inner = _Recording()
    addresses: list[IPAddress] = [ip_address("93.184.215.14"), ip_address("2606:2800::1")]
    backend = PinnedBackend("shop.example", 443, addresses, inner)
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("shop.example", 443)
    assert inner.hosts == ["93.184.215.14", "2606:2800::1"]
    for host, port in (("other.example", 443), ("shop.example", 8443)):
        with pytest.raises(httpcore.ConnectError, match="pinned"):
            await backend.connect_tcp(host, port)
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_unix_socket("/run/shop.sock")
    assert inner.hosts == ["93.184.215.14", "2606:2800::1"]


async def test_only_http_and_https_are_sent() -> None:
    transport = GuardedTransport(FakeResolver({}), AS_IF_PUBLIC)
    with pytest.raises(httpx.UnsupportedProtocol):
        await transport.handle_async_request(httpx.Request("GET", "ftp://shop.example/"))


async def test_the_injected_network_backend_is_used() -> None:
    recording = _Recording()
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    client = guarded_client(resolver, AS_IF_PUBLIC, timeout=TIMEOUT, network_backend=recording)
    async with client:
        with contextlib.suppress(httpx.ConnectError):
            await client.get("https://shop.example/")
    assert recording.hosts == [str(CHECKED)]


def _kept_alive(*, close_after: int | None = None, hang_up_after: int | None = None) -> Sink:
    return Sink(keep_alive=True, close_after=close_after, hang_up_after=hang_up_after)


async def test_a_kept_connection_serves_the_next_requests_checked_to_the_same_addresses() -> None:
    shop = _kept_alive()
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with serving(shop, str(CHECKED)) as port, _client(resolver) as client:
        for n in range(3):
            response = await client.post(f"http://shop.example:{port}/notify", data={"n": n})
            assert response.status_code == 200
    assert resolver.lookups["shop.example"] == 3  # each request checked all the same
    assert [arrival.body for arrival in shop.arrivals] == [b"n=0", b"n=1", b"n=2"]
    assert shop.connections == 1


async def test_a_name_now_resolving_elsewhere_gets_a_new_connection_to_where_it_resolves() -> None:
    other = ip_address("127.0.0.3")
    both = TargetPolicy(admits=lambda a: a in (CHECKED, other), refuses_loopback_names=True)
    first, second = _kept_alive(), _kept_alive()
    resolver = FakeResolver({}, changing={"shop.example": [[str(CHECKED)], [str(other)]]})
    async with contextlib.AsyncExitStack() as stack:
        port = await _same_port_on_both(stack, first, second, (CHECKED, other))
        async with _client(resolver, both) as client:
            for _ in range(2):
                await client.get(f"http://shop.example:{port}/")
    assert (len(first.arrivals), len(second.arrivals)) == (1, 1)
    assert second.arrivals[0].local_address == str(other)


async def test_a_connection_the_shop_closed_is_not_reused() -> None:
    shop = _kept_alive(close_after=1)
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with serving(shop, str(CHECKED)) as port, _client(resolver) as client:
        # Whether the close is seen before the second request goes out or only when its answer
        # is awaited, the second request is answered on a connection of its own.
        for _ in range(2):
            assert (await client.get(f"http://shop.example:{port}/")).status_code == 200
    assert (shop.connections, len(shop.arrivals)) == (2, 2)


async def test_a_request_the_kept_connection_drops_is_sent_once_more_on_a_new_one() -> None:
    shop = _kept_alive(hang_up_after=1)
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with serving(shop, str(CHECKED)) as port, _client(resolver) as client:
        await client.post(f"http://shop.example:{port}/notify", data={"n": "1"})
        second = await client.post(f"http://shop.example:{port}/notify", data={"n": "2"})
    assert second.status_code == 200
    assert [arrival.body for arrival in shop.arrivals] == [b"n=1", b"n=2", b"n=2"]
    assert shop.connections == 2


async def _two_gets(
    shop: Sink,
    *,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
    keepalive_seconds: float = KEEPALIVE_SECONDS,
) -> list[httpx.Response]:
    """Two GETs in turn to ``shop`` through one transport with these settings."""
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    transport = GuardedTransport(
        resolver,
        AS_IF_PUBLIC,
        max_response_bytes=max_response_bytes,
        keepalive_seconds=keepalive_seconds,
    )
    async with (
        serving(shop, str(CHECKED)) as port,
        httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client,
    ):
        return [await client.get(f"http://shop.example:{port}/") for _ in range(2)]


async def test_an_answer_cut_at_the_cap_leaves_no_connection_to_reuse() -> None:
    shop = _kept_alive()
    shop.body = b"x" * 100_000
    for response in await _two_gets(shop, max_response_bytes=1000):
        assert len(response.content) == 1000
    assert shop.connections == 2


async def test_no_connection_is_kept_without_a_keep_alive_time() -> None:
    shop = _kept_alive()
    await _two_gets(shop, keepalive_seconds=0)
    assert shop.connections == 2


async def test_a_post_of_the_transport_alone_is_checked_pinned_and_asks_for_no_compression(
    shops: Shops,
) -> None:
    resolver = FakeResolver({}, changing={"shop.example": [[str(CHECKED)], [str(INTERNAL)]]})
    transport = GuardedTransport(resolver, AS_IF_PUBLIC)
    url = f"http://shop.example:{shops.port}/notify"
    status = await transport.post(
        url, b"Len=1&Data=AB", "application/x-www-form-urlencoded", TIMEOUT
    )
    assert status == 200
    with pytest.raises(UnsafeTarget):
        await transport.post(url, b"Len=1&Data=AB", "application/x-www-form-urlencoded", TIMEOUT)
    await transport.aclose()
    (arrival,) = shops.checked.arrivals
    assert arrival.body == b"Len=1&Data=AB"
    assert arrival.headers["content-type"] == "application/x-www-form-urlencoded"
    assert arrival.headers["accept-encoding"] == "identity"
    assert arrival.headers["host"] == f"shop.example:{shops.port}"
    assert shops.internal.arrivals == []
