"""The strict reader of the URLs a shop gives us (URLSuccess, URLFailure, URLNotify, URLBack).

Every check runs on the raw string before anything splits it, because the usual parsers forgive
what a browser or an HTTP client later reads differently: ``urlsplit`` silently drops CR, LF and
TAB, raises on ``https://[shop.example]/``, and takes ``\\`` literally where browsers read ``/``.
So a URL with any control, invisible or whitespace character, a backslash, user information or
an authority that is not exactly ``host[:port]`` is refused, and what is accepted reads the same
to this module, ``urlsplit``, httpx and a browser (the tests compare them).

The value keeps the exact string it was read from: that string, and nothing rebuilt from the
parts, is what a shopper is sent to and what a notify is posted to.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Literal

import idna

from adapter.net.addresses import IPAddress, ends_in_number, parse_address, read_ipv4
from adapter.net.errors import InvalidUrl

Scheme = Literal["http", "https"]

MAX_URL_LENGTH = 2048
DEFAULT_PORTS: dict[Scheme, int] = {"http": 80, "https": 443}

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_PORT = re.compile(r"[0-9]{1,5}")
# A DNS label after IDNA: letters, digits, hyphens inside; "_" is used by real hosts.
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?")
_MAX_HOST_LENGTH = 253
# Control (C0, DEL, C1), format (bidi overrides, zero-width), surrogate, private-use and
# unassigned characters, and every kind of space: none of them belongs in a URL we hand on.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


@dataclass(frozen=True)
class Host:
    """A host as resolvers and the allowlist compare it.

    ``name`` is lower case, without one trailing dot, IDNA-encoded (``xn--…``); an IPv6
    address is in its compressed form without brackets. ``address`` is set for IP literals.
    """

    name: str
    address: IPAddress | None


@dataclass(frozen=True)
class ShopUrl:
    """A URL that passed :func:`parse_shop_url`; ``original`` is the string to use."""

    original: str
    scheme: Scheme
    host: str
    port: int  # the explicit port, or the scheme's default
    address: IPAddress | None  # the host when it is an IP literal (never resolved)

    @property
    def has_default_port(self) -> bool:
        return self.port == DEFAULT_PORTS[self.scheme]

    def with_query(self, query: str) -> str:
        """``original`` with ``query`` (already encoded) added to its query, fragment kept.

        The original is extended as text, never split and rebuilt, so the rest of it stays
        exactly as validated (``urlunsplit`` would drop an empty ``?`` or ``#``).
        """
        if not query:
            return self.original
        head, hash_sign, fragment = self.original.partition("#")
        if "?" not in head:
            separator = "?"
        elif head.endswith(("?", "&")):
            separator = ""
        else:
            separator = "&"
        return f"{head}{separator}{query}{hash_sign}{fragment}"


# Kept by the string: a shop sends the same URLs with every payment, and the outbox checks its
# URLNotify before every delivery; a ShopUrl is immutable, and a refusal is never kept.
@functools.lru_cache(maxsize=1024)
def parse_shop_url(text: str) -> ShopUrl:
    """Read ``text`` as an absolute http(s) URL or raise :class:`InvalidUrl` (module docstring)."""
    if len(text) > MAX_URL_LENGTH:
        raise InvalidUrl(f"is longer than {MAX_URL_LENGTH} characters")
    check_characters(text)
    match = _SCHEME.match(text)
    scheme = match.group(1).lower() if match else ""
    if scheme not in ("http", "https"):
        raise InvalidUrl("must be an absolute http or https URL")
    rest = text[len(scheme) + 1 :]
    if not rest.startswith("//"):
        raise InvalidUrl("must be an absolute http or https URL")
    authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0]
    host, port = parse_authority(authority)
    checked_scheme: Scheme = "https" if scheme == "https" else "http"
    return ShopUrl(
        original=text,
        scheme=checked_scheme,
        host=host.name,
        port=DEFAULT_PORTS[checked_scheme] if port is None else port,
        address=host.address,
    )


def check_characters(text: str) -> None:
    """Refuse the characters no URL of ours may contain, wherever they are (module docstring)."""
    for char in text:
        if char == "\\":
            raise InvalidUrl("must not contain a backslash")
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise InvalidUrl("must not contain control, invisible or whitespace characters")


def parse_authority(text: str) -> tuple[Host, int | None]:
    """``host``, ``host:port``, ``[ipv6]`` or ``[ipv6]:port``; the port is None when absent."""
    if not text:
        raise InvalidUrl("has no host")
    if "@" in text:
        raise InvalidUrl("must not carry user information")
    if text.startswith("["):
        inside, bracket, after = text[1:].partition("]")
        if not bracket:
            raise InvalidUrl("has an unclosed '['")
        host = _bracketed(inside)
    else:
        host_text, colon, port_text = text.partition(":")
        host = parse_host(host_text)
        after = colon + port_text
    if not after:
        return host, None
    if not after.startswith(":"):
        raise InvalidUrl("has text after the host that is not a port")
    return host, _port(after[1:])


def parse_host(text: str) -> Host:
    """A host name or IPv4 address (no brackets), normalised as :class:`Host` describes."""
    if "[" in text or "]" in text:
        raise InvalidUrl("may use brackets only around an IPv6 address")
    name = text.lower()
    name = name.removesuffix(".")
    if not name:
        raise InvalidUrl("has no host")
    try:
        if not name.isascii():
            name = idna.encode(name).decode("ascii")
        for label in name.split("."):
            if label.startswith("xn--"):
                idna.decode(label)  # an A-label must be the encoding of a valid U-label
    except UnicodeError:
        raise InvalidUrl("has a host that is not a valid internationalised name") from None
    labels = name.split(".")
    if "" in labels:
        raise InvalidUrl("has an empty label in its host")
    if ends_in_number(name):
        return Host(name, _ipv4(name))
    if len(name) > _MAX_HOST_LENGTH or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidUrl("has a host that is not a valid name")
    return Host(name, None)


@functools.lru_cache(maxsize=1024)
def read_host(text: str) -> Host:
    """A host as a :class:`ShopUrl` or httpx holds it: a name, IPv4, or IPv6 without brackets."""
    return _bracketed(text) if ":" in text else parse_host(text)


def _ipv4(name: str) -> IPAddress:
    address = read_ipv4(name)
    if address is None:
        raise InvalidUrl("has a host that ends in a number but is not an IPv4 address")
    if str(address) != name:
        # 2130706433, 0x7f000001, 0177.0.0.1 and 127.1 are all 127.0.0.1 to a resolver and a
        # browser: only the one spelling everyone reads the same way is taken.
        raise InvalidUrl("must write an IPv4 host as four decimal numbers without leading zeros")
    return address


def _bracketed(text: str) -> Host:
    if "%" in text:
        raise InvalidUrl("must not carry an IPv6 zone id")
    address = parse_address(text)
    if not isinstance(address, IPv6Address):
        raise InvalidUrl("may use brackets only around an IPv6 address")
    return Host(str(address), address)


def _port(text: str) -> int:
    if not _PORT.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise InvalidUrl("has a port that is not a number from 1 to 65535")
    return int(text)
