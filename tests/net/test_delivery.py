"""The guarded poster: connects only to the address just checked, follows nothing, reads little.

Live loopback servers stand in for shops. 127.0.0.1 plays a public address (the policies here
admit it) and 127.0.0.2 an internal one, so a POST that reaches 127.0.0.2 is the attack.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapter.net import delivery
from adapter.net.addresses import IPAddress
from adapter.net.delivery import GuardedPoster, PinnedResolver, _Pin
from adapter.net.errors import InvalidUrl, UnresolvedHost, UnsafeTarget
from adapter.net.guard import PUBLIC_ONLY, TargetPolicy
from adapter.net.resolver import Resolver
from tests.net.fakes import FakeResolver
from tests.net.sinks import Sink, certificates, serving

CHECKED = ip_address("127.0.0.1")
INTERNAL = ip_address("127.0.0.2")
# 127.0.0.1 stands in for a public address; everything else, 127.0.0.2 included, is internal.
AS_IF_PUBLIC = TargetPolicy(admits=lambda address: address == CHECKED, refuses_loopback_names=True)
TIMEOUT = httpx.Timeout(5.0)
FORM = "application/x-www-form-urlencoded"


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


@contextlib.asynccontextmanager
async def _poster(
    resolver: Resolver, policy: TargetPolicy = AS_IF_PUBLIC, **options: Any
) -> AsyncIterator[GuardedPoster]:
    poster = GuardedPoster(resolver, policy, **options)
    try:
        yield poster
    finally:
        await poster.aclose()


async def _post(poster: GuardedPoster, url: str, body: bytes = b"Len=1&Data=AB") -> int:
    return await poster.post(url, body, FORM, TIMEOUT)


async def test_dns_rebinding_the_connection_goes_to_the_address_checked(shops: Shops) -> None:
    """Lookup one answers "public", a second would answer internal: there is no second."""
    resolver = FakeResolver({}, changing={"shop.example": [[str(CHECKED)], [str(INTERNAL)]]})
    async with _poster(resolver) as poster:
        status = await _post(poster, f"http://shop.example:{shops.port}/notify?x=%41%2F")
    assert status == 200
    assert resolver.lookups["shop.example"] == 1
    assert [a.local_address for a in shops.checked.arrivals] == [str(CHECKED)]
    assert shops.internal.arrivals == []
    arrival = shops.checked.arrivals[0]
    assert arrival.headers["host"] == f"shop.example:{shops.port}"
    assert arrival.request_line == "POST /notify?x=%41%2F HTTP/1.1"  # sent as given
    assert arrival.body == b"Len=1&Data=AB"


async def test_every_post_is_checked_again_and_a_rebound_name_is_refused(shops: Shops) -> None:
    resolver = FakeResolver({}, changing={"shop.example": [[str(CHECKED)], [str(INTERNAL)]]})
    async with _poster(resolver) as poster:
        await _post(poster, f"http://shop.example:{shops.port}/")
        with pytest.raises(UnsafeTarget):
            await _post(poster, f"http://shop.example:{shops.port}/")
    assert resolver.lookups["shop.example"] == 2
    assert len(shops.checked.arrivals) == 1
    assert shops.internal.arrivals == []


async def test_a_redirect_to_an_internal_address_is_an_answer_never_followed(
    shops: Shops,
) -> None:
    shops.checked.status = 302
    shops.checked.headers = [("location", f"http://{INTERNAL}:{shops.port}/internal")]
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with _poster(resolver) as poster:
        status = await _post(poster, f"http://shop.example:{shops.port}/notify")
    assert status == 302
    assert len(shops.checked.arrivals) == 1
    assert shops.internal.arrivals == []


async def test_a_refused_host_is_never_connected_to(shops: Shops) -> None:
    async with _poster(FakeResolver({}), PUBLIC_ONLY) as poster:
        with pytest.raises(UnsafeTarget):
            await _post(poster, f"http://127.0.0.1:{shops.port}/")
        with pytest.raises(UnsafeTarget):
            await _post(poster, f"http://localhost:{shops.port}/")
        with pytest.raises(UnsafeTarget):
            await _post(poster, f"http://[::ffff:127.0.0.1]:{shops.port}/")
        with pytest.raises(InvalidUrl):
            await _post(poster, f"http://2130706433:{shops.port}/")
    assert shops.checked.arrivals == []


async def test_a_host_that_does_not_resolve_is_refused() -> None:
    async with _poster(FakeResolver({})) as poster:
        with pytest.raises(UnresolvedHost):
            await _post(poster, "http://gone.shop.example/")


async def test_only_http_and_https_are_sent() -> None:
    async with _poster(FakeResolver({"shop.example": [str(CHECKED)]})) as poster:
        with pytest.raises(httpx.UnsupportedProtocol):
            await _post(poster, "ftp://shop.example/")


async def test_the_next_checked_address_is_tried_when_one_refuses(shops: Shops) -> None:
    """Nothing listens on 127.0.0.3: the second checked address is used, nothing else."""
    both = TargetPolicy(
        admits=lambda a: str(a) in ("127.0.0.3", "127.0.0.1"), refuses_loopback_names=True
    )
    resolver = FakeResolver({"shop.example": ["127.0.0.3", str(CHECKED)]})
    async with _poster(resolver, both) as poster:
        status = await _post(poster, f"http://shop.example:{shops.port}/")
    assert status == 200
    assert len(shops.checked.arrivals) == 1


async def test_a_refused_connection_is_an_httpx_connect_error(shops: Shops) -> None:
    policy = TargetPolicy(admits=lambda a: str(a) == "127.0.0.3", refuses_loopback_names=True)
    async with _poster(FakeResolver({"shop.example": ["127.0.0.3"]}), policy) as poster:
        with pytest.raises(httpx.ConnectError):
            await _post(poster, f"http://shop.example:{shops.port}/")


@contextlib.asynccontextmanager
async def _tls_shop(
    tmp_path: Path, certified_for: list[str]
) -> AsyncIterator[tuple[Sink, int, GuardedPoster]]:
    """A TLS sink with a certificate for ``certified_for``, on the checked address, and a poster
    that trusts its CA and finds shop.example there."""
    certs = certificates(tmp_path, certified_for)
    sink = Sink()
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with (
        serving(sink, tls=certs.server) as port,
        _poster(resolver, ssl_context=certs.client) as poster,
    ):
        yield sink, port, poster


async def test_tls_checks_the_host_name_while_connecting_to_the_pinned_address(
    tmp_path: Path,
) -> None:
    async with _tls_shop(tmp_path, ["shop.example"]) as (sink, port, poster):
        status = await _post(poster, f"https://shop.example:{port}/ok")
    assert status == 200
    [arrival] = sink.arrivals
    assert (arrival.server_name, arrival.headers["host"]) == (
        "shop.example",
        f"shop.example:{port}",
    )
    assert arrival.local_address == str(CHECKED)


async def test_tls_refuses_a_certificate_for_another_name(tmp_path: Path) -> None:
    async with _tls_shop(tmp_path, ["other.example"]) as (sink, port, poster):
        with pytest.raises(httpx.ConnectError):
            await _post(poster, f"https://shop.example:{port}/")
    assert sink.arrivals == []


async def test_environment_proxies_are_never_used(
    shops: Shops, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy would resolve the host itself, after our check."""
    monkeypatch.setenv("HTTP_PROXY", f"http://{INTERNAL}:{shops.port}")
    monkeypatch.setenv("ALL_PROXY", f"http://{INTERNAL}:{shops.port}")
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with _poster(resolver) as poster:
        await _post(poster, f"http://shop.example:{shops.port}/")
    assert shops.internal.arrivals == []
    assert len(shops.checked.arrivals) == 1


async def test_a_cookie_the_shop_sets_is_never_sent_back(shops: Shops) -> None:
    shops.checked.headers = [("set-cookie", "session=abc; Path=/")]
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with _poster(resolver) as poster:
        for _ in range(2):
            await _post(poster, f"http://shop.example:{shops.port}/")
    assert ["cookie" in arrival.headers for arrival in shops.checked.arrivals] == [False, False]


@dataclass
class _Recording:
    """An address route that records what it is asked for and refuses it."""

    asked: list[tuple[str, int]] = field(default_factory=list)

    def __call__(self, address: IPAddress, port: int) -> tuple[str, int]:
        self.asked.append((str(address), port))
        raise OSError("recorded only")


async def test_the_pinned_resolver_answers_only_its_host_and_port_with_checked_addresses() -> None:
    addresses: tuple[IPAddress, ...] = (ip_address("93.184.215.14"), ip_address("2606:2800::1"))
    pin = _Pin("https", "shop.example", 443, addresses)
    answers = await PinnedResolver(pin, lambda address, port: (str(address), port)).resolve(
        "shop.example", 443
    )
    assert [(a["hostname"], a["host"], a["port"], a["family"]) for a in answers] == [
        ("shop.example", "93.184.215.14", 443, socket.AF_INET),
        ("shop.example", "2606:2800::1", 443, socket.AF_INET6),
    ]
    recording = _Recording()
    resolver = PinnedResolver(pin, recording)
    for host, port in (("other.example", 443), ("shop.example", 8443)):
        with pytest.raises(OSError, match="pinned"):
            await resolver.resolve(host, port)
    with pytest.raises(OSError, match="no checked address"):
        await resolver.resolve("shop.example", 443)
    assert recording.asked == [("93.184.215.14", 443), ("2606:2800::1", 443)]


async def test_the_injected_route_is_used() -> None:
    recording = _Recording()
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with _poster(resolver, route=recording) as poster:
        with pytest.raises(httpx.ConnectError):
            await _post(poster, "https://shop.example/")
    assert recording.asked == [(str(CHECKED), 443)]


def _kept_alive(*, close_after: int | None = None, hang_up_after: int | None = None) -> Sink:
    return Sink(keep_alive=True, close_after=close_after, hang_up_after=hang_up_after)


async def test_a_kept_connection_serves_the_next_posts_checked_to_the_same_addresses() -> None:
    shop = _kept_alive()
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with serving(shop, str(CHECKED)) as port, _poster(resolver) as poster:
        for n in range(3):
            assert await _post(poster, f"http://shop.example:{port}/notify", b"n=%d" % n) == 200
    assert resolver.lookups["shop.example"] == 3  # each POST checked all the same
    assert [arrival.body for arrival in shop.arrivals] == [b"n=0", b"n=1", b"n=2"]
    assert shop.connections == 1


async def test_a_name_now_resolving_elsewhere_gets_a_new_connection_to_where_it_resolves() -> None:
    other = ip_address("127.0.0.3")
    both = TargetPolicy(admits=lambda a: a in (CHECKED, other), refuses_loopback_names=True)
    first, second = _kept_alive(), _kept_alive()
    resolver = FakeResolver({}, changing={"shop.example": [[str(CHECKED)], [str(other)]]})
    async with contextlib.AsyncExitStack() as stack:
        port = await _same_port_on_both(stack, first, second, (CHECKED, other))
        async with _poster(resolver, both) as poster:
            for _ in range(2):
                await _post(poster, f"http://shop.example:{port}/")
    assert (len(first.arrivals), len(second.arrivals)) == (1, 1)
    assert second.arrivals[0].local_address == str(other)


async def test_a_connection_the_shop_closed_is_not_reused() -> None:
    shop = _kept_alive(close_after=1)
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with serving(shop, str(CHECKED)) as port, _poster(resolver) as poster:
        # Whether the close is seen before the second POST goes out or only when its answer
        # is awaited, the second POST is answered on a connection of its own.
        for _ in range(2):
            assert await _post(poster, f"http://shop.example:{port}/") == 200
    assert (shop.connections, len(shop.arrivals)) == (2, 2)


async def test_a_post_the_kept_connection_drops_is_sent_once_more_on_a_new_one() -> None:
    shop = _kept_alive(hang_up_after=1)
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with serving(shop, str(CHECKED)) as port, _poster(resolver) as poster:
        await _post(poster, f"http://shop.example:{port}/notify", b"n=1")
        second = await _post(poster, f"http://shop.example:{port}/notify", b"n=2")
    assert second == 200
    assert [arrival.body for arrival in shop.arrivals] == [b"n=1", b"n=2", b"n=2"]
    assert shop.connections == 2


async def _connections_for_two_posts(shop: Sink, **options: Any) -> int:
    """How many connections ``shop`` saw for two POSTs in turn through one poster."""
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with serving(shop, str(CHECKED)) as port, _poster(resolver, **options) as poster:
        for _ in range(2):
            assert await _post(poster, f"http://shop.example:{port}/") == 200
    return shop.connections


async def test_an_answer_over_the_cap_is_cut_and_leaves_no_connection_to_reuse() -> None:
    shop = _kept_alive()
    shop.body = b"x" * 1_000_000
    assert await _connections_for_two_posts(shop, max_response_bytes=1000) == 2


async def test_no_connection_is_kept_without_a_keep_alive_time() -> None:
    assert await _connections_for_two_posts(_kept_alive(), keepalive_seconds=0) == 2


async def test_a_post_names_its_type_and_asks_for_no_compression(shops: Shops) -> None:
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with _poster(resolver) as poster:
        await _post(poster, f"http://shop.example:{shops.port}/notify")
    (arrival,) = shops.checked.arrivals
    assert arrival.headers["content-type"] == FORM
    assert arrival.headers["content-length"] == str(len(b"Len=1&Data=AB"))
    assert arrival.headers["accept-encoding"] == "identity"
    assert arrival.headers["user-agent"] == "paygate-adapter"


async def test_beyond_the_kept_pools_the_longest_unused_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delivery, "MAX_KEPT_POOLS", 1)
    first, second = _kept_alive(), _kept_alive()
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with (
        serving(first, str(CHECKED)) as first_port,
        serving(second, str(CHECKED)) as second_port,
        _poster(resolver) as poster,
    ):
        for port in (first_port, second_port, first_port):
            assert await _post(poster, f"http://shop.example:{port}/") == 200
    assert (first.connections, second.connections) == (2, 1)


async def test_an_answer_dripped_past_the_deadline_is_a_read_timeout() -> None:
    """Each byte comes well within the read timeout; the whole answer does not."""
    shop = Sink(body=b"x" * 1000, drip_seconds=0.05)
    resolver = FakeResolver({"shop.example": [str(CHECKED)]})
    async with (
        serving(shop, str(CHECKED)) as port,
        _poster(resolver, deadline_seconds=0.5) as poster,
    ):
        with pytest.raises(httpx.ReadTimeout):
            await _post(poster, f"http://shop.example:{port}/")
    assert len(shop.arrivals) == 1
