"""allowed_hosts: no port admits only the default port, '*.' only subdomains, entries checked."""

from __future__ import annotations

import pytest

from adapter.net.allowlist import Allowlist, HostPattern, entry_problem
from adapter.net.errors import InvalidUrl
from adapter.net.urls import parse_shop_url


def _admits(entries: list[str], url: str) -> bool:
    return Allowlist(entries).admits(parse_shop_url(url))


@pytest.mark.parametrize(
    ("url", "admitted"),
    [
        ("https://shop.example/", True),
        ("https://shop.example:443/", True),
        ("http://shop.example/", True),
        ("http://shop.example:80/", True),
        ("https://shop.example:8443/", False),
        ("https://shop.example:1/", False),
        ("https://shop.example:80/", False),
        ("http://shop.example:443/", False),
        ("https://shop.example:22/", False),
    ],
)
def test_an_entry_without_a_port_admits_only_the_schemes_default_port(
    url: str, admitted: bool
) -> None:
    assert _admits(["shop.example"], url) is admitted


@pytest.mark.parametrize(
    ("url", "admitted"),
    [
        ("https://shop.example:8443/", True),
        ("http://shop.example:8443/", True),
        ("https://shop.example/", False),
        ("https://shop.example:8444/", False),
    ],
)
def test_a_host_port_entry_admits_that_port(url: str, admitted: bool) -> None:
    assert _admits(["shop.example:8443"], url) is admitted


def test_a_host_can_be_listed_with_and_without_a_port() -> None:
    entries = ["shop.example", "shop.example:8443"]
    assert _admits(entries, "https://shop.example/")
    assert _admits(entries, "https://shop.example:8443/")
    assert not _admits(entries, "https://shop.example:9443/")


@pytest.mark.parametrize(
    ("url", "admitted"),
    [
        ("https://a.shop.example/", True),
        ("https://a.b.shop.example/", True),
        ("https://shop.example/", False),
        ("https://evilshop.example/", False),
        ("https://a.shop.example.evil.example/", False),
        ("https://shop.example.evil.example/", False),
        ("https://a.shop.example:8443/", False),
    ],
)
def test_a_wildcard_matches_subdomains_only(url: str, admitted: bool) -> None:
    assert _admits(["*.shop.example"], url) is admitted


def test_a_wildcard_with_a_port() -> None:
    assert _admits(["*.shop.example:8443"], "https://a.shop.example:8443/")
    assert not _admits(["*.shop.example:8443"], "https://a.shop.example/")


@pytest.mark.parametrize(
    ("entry", "url"),
    [
        ("shop.example.", "https://shop.example/"),
        ("shop.example", "https://shop.example./"),
        ("SHOP.Example", "https://shop.EXAMPLE/"),
        ("*.shop.example.", "https://a.shop.example./"),
        ("shöp.example", "https://xn--shp-tna.example/"),
        ("xn--shp-tna.example", "https://shöp.example/"),
        ("127.0.0.1:8080", "http://127.0.0.1:8080/"),
        ("[::1]:8080", "http://[::1]:8080/"),
        ("[0:0::1]", "https://[::1]/"),
    ],
)
def test_hosts_are_compared_normalised_on_both_sides(entry: str, url: str) -> None:
    assert _admits([entry], url)


@pytest.mark.parametrize(
    ("entry", "url"),
    [
        ("shop.example..", "https://shop.example/"),
        ("127.0.0.1", "https://2130706433/"),
        ("*.example", "https://127.0.0.1/"),
    ],
)
def test_no_second_spelling_slips_through(entry: str, url: str) -> None:
    with pytest.raises(InvalidUrl):
        _admits([entry], url)


def test_ip_literals_never_match_a_wildcard() -> None:
    pattern = HostPattern.parse("*.0.0.1.example")
    assert not pattern.admits(parse_shop_url("https://127.0.0.1/"))


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "*",
        "*.",
        "*.com",
        "*.*.shop.example",
        "a*.shop.example",
        "shop.*.example",
        "https://shop.example",
        "shop.example/path",
        "shop.example:",
        "shop.example:0",
        "shop.example:65536",
        "shop.example:http",
        "::1",
        "[::1",
        "[shop.example]",
        "*.127.0.0.1",
        "*.[::1]",
        "user@shop.example",
        "shop..example",
        "shop.example..",
        " shop.example",
        "shop.example\n",
        "shop\\example",
        "2130706433",
        "127.1",
        "[fe80::1%eth0]",
    ],
)
def test_bad_entries_are_reported_for_the_configuration_check(entry: str) -> None:
    problem = entry_problem(entry)
    assert problem
    with pytest.raises(InvalidUrl):
        Allowlist([entry])


@pytest.mark.parametrize("entry", [None, 443, ["shop.example"]])
def test_entries_must_be_strings(entry: object) -> None:
    assert entry_problem(entry) == "must be a string: a host, '*.domain' or host:port"


@pytest.mark.parametrize(
    "entry",
    ["shop.example", "shop.example:8443", "*.shop.example", "127.0.0.1:8002", "[::1]", "a.b.c."],
)
def test_good_entries_have_no_problem(entry: str) -> None:
    assert entry_problem(entry) is None
