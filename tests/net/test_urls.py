"""The shop URL reader: raw-string checks first, one strict authority form, nothing else."""

from __future__ import annotations

import contextlib
from ipaddress import ip_address
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from adapter.net.addresses import ends_in_number
from adapter.net.errors import InvalidUrl
from adapter.net.urls import MAX_URL_LENGTH, ShopUrl, parse_shop_url


def _reason(text: str) -> str:
    with pytest.raises(InvalidUrl) as caught:
        parse_shop_url(text)
    return caught.value.reason


@pytest.mark.parametrize(
    ("text", "scheme", "host", "port"),
    [
        ("https://shop.example/notify", "https", "shop.example", 443),
        ("http://shop.example/notify", "http", "shop.example", 80),
        ("HTTPS://SHOP.Example/Notify?A=1#F", "https", "shop.example", 443),
        ("https://shop.example./x", "https", "shop.example", 443),
        ("https://shop.example", "https", "shop.example", 443),
        ("https://shop.example?x", "https", "shop.example", 443),
        ("https://shop.example#x", "https", "shop.example", 443),
        ("https://shop.example:8443/x", "https", "shop.example", 8443),
        ("https://shop.example:443/x", "https", "shop.example", 443),
        ("https://shop.example:0443/x", "https", "shop.example", 443),
        ("https://www.shöp.example/", "https", "www.xn--shp-tna.example", 443),
        ("https://xn--shp-sna.example/", "https", "xn--shp-sna.example", 443),
        ("https://my_shop.example/", "https", "my_shop.example", 443),
        ("https://93.184.215.14/x", "https", "93.184.215.14", 443),
        ("https://[2606:4700::1111]:8443/x", "https", "2606:4700::1111", 8443),
        ("https://[2606:4700:0:0:0:0:0:1111]/", "https", "2606:4700::1111", 443),
        ("https://[::FFFF:127.0.0.1]/", "https", "::ffff:7f00:1", 443),
        ("https://shop.example/a%20b?q=%0D%0A", "https", "shop.example", 443),
        ("https://shop.example/ümlaut", "https", "shop.example", 443),
    ],
)
def test_accepted_urls_are_normalised_and_keep_the_original(
    text: str, scheme: str, host: str, port: int
) -> None:
    url = parse_shop_url(text)
    assert (url.scheme, url.host, url.port, url.original) == (scheme, host, port, text)


def test_ip_literals_carry_their_address_and_names_none() -> None:
    assert parse_shop_url("https://[::1]/").address == ip_address("::1")
    assert parse_shop_url("https://127.0.0.1/").address == ip_address("127.0.0.1")
    assert parse_shop_url("https://shop.example/").address is None


def test_the_default_port_is_known_per_scheme() -> None:
    assert parse_shop_url("https://shop.example:443/").has_default_port
    assert not parse_shop_url("http://shop.example:443/").has_default_port


CONTROL = [chr(code) for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))]
INVISIBLE_OR_SPACE = [
    " ",
    "\xa0",
    "\u1680",
    "\u2000",
    "\u2028",
    "\u2029",
    "\u3000",
    "\u200b",
    "\u200e",
    "\u202e",
    "\u2066",
    "\ufeff",
    "\ue000",
    "\ud800",
]


@pytest.mark.parametrize("char", CONTROL + INVISIBLE_OR_SPACE)
@pytest.mark.parametrize(
    "template",
    [
        "https://shop.example/{}",
        "https://shop{}.example/",
        "https://shop.example/a{}b?c",
        "{}",
        "https://shop.example/#{}",
        "https://shop.example:443{}/",
        "{}https://shop.example/",
    ],
)
def test_control_invisible_and_space_characters_are_refused_anywhere(
    char: str, template: str
) -> None:
    """urlsplit drops CR/LF/TAB silently; the raw string is checked before anything splits it."""
    text = template.format(char)
    assert "control" in _reason(text)


@pytest.mark.parametrize(
    "text",
    [
        "https://shop.example/\r\nLocation: https://evil.example/",
        "https://shop.example/\x00",
        "https://shop.example\t/",
        "https://shop.example/%0d%0a\n",
    ],
)
def test_header_injection_attempts_are_refused(text: str) -> None:
    with pytest.raises(InvalidUrl):
        parse_shop_url(text)


@pytest.mark.parametrize(
    "text",
    [
        "https://shop.example\\@evil.example/",
        "https:\\\\evil.example/",
        "https://shop.example/a\\b",
    ],
)
def test_backslashes_are_refused(text: str) -> None:
    """Browsers read ``\\`` as ``/``; urlsplit does not."""
    assert "backslash" in _reason(text)


def test_urls_over_the_cap_are_refused_before_anything_else() -> None:
    text = "https://shop.example/" + "a" * 2079
    assert len(text) == 2100
    assert "longer" in _reason(text)
    at_cap = "https://shop.example/" + "a" * (MAX_URL_LENGTH - 21)
    assert parse_shop_url(at_cap).original == at_cap


@pytest.mark.parametrize(
    "text",
    [
        "ftp://shop.example/",
        "javascript:alert(1)",
        "data:text/html,x",
        "file:///etc/passwd",
        "//shop.example/",
        "/relative",
        "shop.example/ok",
        "https:shop.example",
        "https:/x/y",
        "",
        "https",
        "https:",
        "ws://shop.example/",
        "1https://shop.example/",
    ],
)
def test_only_absolute_http_and_https_urls(text: str) -> None:
    with pytest.raises(InvalidUrl):
        parse_shop_url(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("https:///path", "no host"),
        ("https://", "no host"),
        ("https://?x", "no host"),
        ("https://:443/", "no host"),
        ("https://./", "no host"),
        ("https://user@shop.example/", "user information"),
        ("https://user:pw@shop.example/", "user information"),
        ("https://shop.example@evil.example/", "user information"),
        ("https://@shop.example/", "user information"),
        ("https://shop..example/", "empty label"),
        ("https://.shop.example/", "empty label"),
        ("https://shop.example../", "empty label"),
        ("https://[shop.example]/", "brackets"),
        ("https://[127.0.0.1]/", "brackets"),
        ("https://[v1.fe80::1]/", "brackets"),
        ("https://shop[.example/", "brackets"),
        ("https://shop].example/", "brackets"),
        ("https://[::1/", "unclosed"),
        ("https://[fe80::1%25eth0]/", "zone id"),
        ("https://[fe80::1%eth0]/", "zone id"),
        ("https://[::1]x/", "not a port"),
        ("https://shop.example:/", "port"),
        ("https://shop.example:0/", "port"),
        ("https://shop.example:65536/", "port"),
        ("https://shop.example:99999/", "port"),
        ("https://shop.example:123456/", "port"),
        ("https://shop.example:-1/", "port"),
        ("https://shop.example:+443/", "port"),
        ("https://shop.example:0x1bb/", "port"),
        ("https://shop.example:443:443/", "port"),
        ("https://::1/", "no host"),
        ("https://shop%2eexample/", "not a valid name"),
        ("https://shop.example%00/", "not a valid name"),
        ("https://-shop.example/", "not a valid name"),
        ("https://shop-.example/", "not a valid name"),
        ("https://shop!.example/", "not a valid name"),
        ("https://" + "a" * 64 + ".example/", "not a valid name"),
        ("https://" + "a." * 127 + "example/", "not a valid name"),
        ("https://xn--.example/", "internationalised"),
        ("https://\uff53\uff48\uff4f\uff50.example/", "internationalised"),
        ("https://shop.exämple../", "empty label"),
        ("https://xn--a-ecp.example/", "internationalised"),
    ],
)
def test_anything_odd_in_the_authority_is_refused(text: str, fragment: str) -> None:
    assert fragment in _reason(text)


@pytest.mark.parametrize(
    "text",
    [
        "https://2130706433/",
        "https://0x7f000001/",
        "https://0177.0.0.1/",
        "https://127.1/",
        "https://127.0.1/",
        "https://0x7f.1/",
        "https://127.000.000.001/",
        "https://0/",
        "https://134744072/",
        "https://08.8.8.8/",
        "https://1.2.3.4.5/",
        "https://shop.0x1/",
        "https://4294967296/",
        "https://1.2.3.256/",
        "https://example.123/",
    ],
)
def test_numeric_hosts_are_taken_only_as_four_decimal_numbers(text: str) -> None:
    """What a resolver reads as 127.0.0.1 must not pass as a name or a second spelling."""
    assert "IPv4" in _reason(text) or "number" in _reason(text)


# What a shop might send: every piece drawn from characters that matter to URL parsers.
_PIECES = st.sampled_from(
    [
        "https",
        "http",
        "HTTPS",
        "ftp",
        ":",
        "//",
        "/",
        "\\",
        "@",
        "[",
        "]",
        "?",
        "#",
        ".",
        "..",
        "%",
        "%2e",
        "%00",
        "shop",
        "example",
        "xn--shp-sna",
        "shöp",
        "127",
        "0x7f",
        "1",
        "443",
        "::1",
        "fe80::1%eth0",
        "\r\n",
        "\t",
        " ",
        "\x00",
        "\x7f",
        "\x85",
        "\u202e",
        "a" * 70,
        "*",
    ]
)


@settings(max_examples=400)
@given(st.one_of(st.text(max_size=80), st.lists(_PIECES, max_size=14).map("".join)))
@example("https://[shop.example]/")
@example("https://shop.example:99999999999999999999/")
def test_the_parser_raises_nothing_but_its_own_error(text: str) -> None:
    with contextlib.suppress(InvalidUrl):
        parse_shop_url(text)


_LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9\-]{0,8}[a-z0-9])?", fullmatch=True)
_HOST = (
    st.lists(_LABEL, min_size=1, max_size=4).map(".".join).filter(lambda h: not ends_in_number(h))
)
_TAIL = st.text(alphabet="abcXYZ019-._~!$&'()*+,;=:@/?#%", max_size=30)


@settings(max_examples=300)
@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "Https"]),
    host=_HOST,
    upper=st.booleans(),
    dot=st.booleans(),
    port=st.none() | st.integers(1, 65535),
    tail=_TAIL,
)
def test_accepted_urls_read_the_same_to_urlsplit_and_httpx(
    scheme: str, host: str, upper: bool, dot: bool, port: int | None, tail: str
) -> None:
    """No parser differential: host and port agree with urllib and with what httpx connects to."""
    assume(not ends_in_number(host))
    authority = (host.upper() if upper else host) + ("." if dot else "")
    authority += "" if port is None else f":{port}"
    text = f"{scheme}://{authority}/{tail}"
    url = parse_shop_url(text)
    assert url.original == text and url == parse_shop_url(url.original)
    parts = urlsplit(text)
    assert parts.hostname is not None and parts.hostname.removesuffix(".") == url.host
    assert (parts.port or url.port) == url.port
    request_url = httpx.URL(text)
    assert request_url.raw_host.decode().removesuffix(".") == url.host
    assert (request_url.port or url.port) == url.port


@given(st.text(max_size=60))
def test_whatever_is_accepted_round_trips(text: str) -> None:
    try:
        url = parse_shop_url(text)
    except InvalidUrl:
        return
    assert isinstance(url, ShopUrl) and parse_shop_url(url.original) == url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://shop.example/ok", "https://shop.example/ok?Len=2&Data=AB"),
        ("https://shop.example/ok?o=1", "https://shop.example/ok?o=1&Len=2&Data=AB"),
        ("https://shop.example/ok?", "https://shop.example/ok?Len=2&Data=AB"),
        ("https://shop.example/ok?o=1&", "https://shop.example/ok?o=1&Len=2&Data=AB"),
        ("https://shop.example/ok#top", "https://shop.example/ok?Len=2&Data=AB#top"),
        ("https://shop.example/ok?o=1#t?x", "https://shop.example/ok?o=1&Len=2&Data=AB#t?x"),
        ("https://shop.example", "https://shop.example?Len=2&Data=AB"),
        ("HTTPS://Shop.Example./a%2Fb", "HTTPS://Shop.Example./a%2Fb?Len=2&Data=AB"),
    ],
)
def test_a_result_query_is_added_to_the_url_exactly_as_validated(text: str, expected: str) -> None:
    assert parse_shop_url(text).with_query("Len=2&Data=AB") == expected


def test_an_empty_query_leaves_the_url_unchanged() -> None:
    assert parse_shop_url("https://shop.example/ok?#").with_query("") == "https://shop.example/ok?#"
