"""Hostile shop URLs over real HTTP: SSRF through URLNotify, ports, odd characters, forged
result fields. Each refusal has its Paygate code, stores nothing, calls no Alipay+ API and sends
nobody anywhere the allowlist does not admit."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import parse_qsl

import httpx
import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from adapter.paygate.mac import compute_mac, request_mac_message
from adapter.store.tables import notifications, notify_attempts
from tests.net.fakes import FakeResolver
from tests.support.hostile import (
    PUBLIC,
    HostileStack,
    Sink,
    assert_unique_keys,
    failure_result,
    hostile_stack,
    nothing_changes,
    page_code,
    serving,
)
from tests.support.returns import shop_return
from tests.support.waiting import wait_until

URL_SUCCESS = "https://shop.example/success"
URL_FAILURE = "https://shop.example/failure"
URL_NOTIFY = "https://shop.example/notify"

# Every name the allowlist admits, so that what refuses the internal ones is the address check.
ALLOWED_HOSTS = [
    "shop.example",
    "*.shop.example",
    "api.example:8443",
    "*.nip.io",
    "metadata.google.internal",
    "localhost",
    "ip6-localhost",
    "127.0.0.1",
    "10.0.0.1",
    "169.254.169.254",
    "100.100.100.200",
    "[::1]",
    "[::ffff:127.0.0.1]",
]
INTERNAL_ANSWERS: dict[str, list[str]] = {
    "loopback.shop.example": ["127.0.0.1"],
    "loopback2.shop.example": ["127.0.0.2"],
    "private10.shop.example": ["10.0.0.1"],
    "private172.shop.example": ["172.16.0.1"],
    "private192.shop.example": ["192.168.1.1"],
    "linklocal.shop.example": ["169.254.169.254"],
    "cgnat.shop.example": ["100.64.0.1"],
    "metadata.shop.example": ["100.100.100.200"],
    "metadata.google.internal": ["169.254.169.254"],
    "127.0.0.1.nip.io": ["127.0.0.1"],
    "mapped.shop.example": ["::ffff:127.0.0.1"],
    "mapped-private.shop.example": ["::ffff:10.0.0.1"],
    "nat64.shop.example": ["64:ff9b::a9fe:a9fe"],
    "sixtofour.shop.example": ["2002:c0a8:101::1"],
    "v6loopback.shop.example": ["::1"],
    "ula.shop.example": ["fd00::1"],
    "v6linklocal.shop.example": ["fe80::1"],
    "multicast.shop.example": ["224.0.0.1"],
    "broadcast.shop.example": ["255.255.255.255"],
    "unspecified.shop.example": ["0.0.0.0"],
    "documentation.shop.example": ["192.0.2.10"],
    "reserved.shop.example": ["240.0.0.1"],
    "mixed.shop.example": [PUBLIC[0], "127.0.0.1"],
    "mixed6.shop.example": ["2606:2800:220:1::1", "fd00::1"],
    "empty.shop.example": [],
}
RESOLVER = FakeResolver(
    {
        "shop.example": [PUBLIC[0]],
        "api.example": [PUBLIC[0]],
        "notify.shop.example": [PUBLIC[3]],
        "redirect.shop.example": [PUBLIC[2]],
        **INTERNAL_ANSWERS,
    },
    changing={
        # Public when the checkout arrives, loopback when the notify is due.
        "rebind.shop.example": [[PUBLIC[0]], ["127.0.0.1"]],
        # Public twice (checkout, delivery check); a third lookup, if any, would say loopback.
        "pinned.shop.example": [[PUBLIC[0]], [PUBLIC[1]], ["127.0.0.1"]],
    },
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileStack]:
    """A merchant that may not reach private addresses, whose allowlist admits all the above."""
    with hostile_stack(
        tmp_path_factory.mktemp("hostile-urls"),
        merchant_settings={
            "allowed_hosts": ALLOWED_HOSTS,
            "allow_private_targets": False,
            "allow_http": True,  # the delivery tests' sinks speak plain HTTP
        },
        # A failed delivery is not retried while the module runs: each test sees its own.
        adapter_settings={"notify_retry_seconds": [3600]},
        resolver=RESOLVER,
    ) as running:
        yield running


def _fields(trans_id: str, **change: str) -> dict[str, str]:
    fields = {
        "TransID": trans_id,
        "RefNr": "R-1",
        "Amount": "1250",
        "Currency": "EUR",
        "OrderDesc": "Two books",
        "URLSuccess": URL_SUCCESS,
        "URLFailure": URL_FAILURE,
        "URLNotify": URL_NOTIFY,
        "UserData": "basket-7",
        "Custom": "session=abc",
        "Response": "encrypt",
    }
    fields.update(change)
    return fields


def _trans_id() -> str:
    return f"H-{secrets.token_hex(8)}"


def _checkout(
    hostile: HostileStack, fields: dict[str, str], transport: str = "encrypted"
) -> httpx.Response:
    """Send a correctly signed request: encrypted in Data, or plain by POST or GET."""
    shop = hostile.stack.shop
    url = f"{hostile.stack.adapter_url}/alipayplus.aspx"
    if transport == "encrypted":
        return httpx.post(url, data=shop.request(fields), timeout=30)
    message = request_mac_message(
        "", fields["TransID"], shop.merchant_id, fields["Amount"], fields["Currency"]
    )
    mac = compute_mac(shop.hmac_key.encode(), message)
    plain = {"MerchantID": shop.merchant_id, **fields, "MAC": mac}
    if transport == "plain-get":
        return httpx.get(url, params=plain, timeout=30)
    return httpx.post(url, data=plain, timeout=30)


def _refused(
    hostile: HostileStack, fields: dict[str, str], transport: str = "encrypted"
) -> httpx.Response:
    """Send, and check the refusal stored nothing and made no Alipay+ call."""
    with nothing_changes(hostile):
        response = _checkout(hostile, fields, transport)
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    # Only ever to the merchant's own URLFailure (a 303 carrying the FAILED result).
    location = response.headers.get("location")
    assert location is None or location.startswith(f"{URL_FAILURE}?"), location
    assert hostile.payments_of(fields["TransID"]) == 0
    return response


def _refused_to_url_failure(hostile: HostileStack, fields: dict[str, str]) -> str:
    """The refusal's code, from the FAILED result that goes to the (valid) URLFailure."""
    response = _refused(hostile, fields)
    return failure_result(hostile.stack, response, URL_FAILURE)["Code"]


# --- SSRF at checkout ------------------------------------------------------------------------


@pytest.mark.parametrize("host", sorted(INTERNAL_ANSWERS))
def test_url_notify_whose_name_resolves_internally_is_refused(
    hostile: HostileStack, host: str
) -> None:
    fields = _fields(_trans_id(), URLNotify=f"https://{host}/notify")
    assert _refused_to_url_failure(hostile, fields) == "20160012"
    assert RESOLVER.lookups[host] >= 1


def test_url_notify_whose_name_does_not_resolve_is_refused(hostile: HostileStack) -> None:
    fields = _fields(_trans_id(), URLNotify="https://nxdomain.shop.example/notify")
    assert _refused_to_url_failure(hostile, fields) == "20160012"


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/notify",
        "https://10.0.0.1/notify",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.100.100.200/latest/meta-data/",
        "https://[::1]/notify",
        "https://[::ffff:127.0.0.1]/notify",
        "https://[::ffff:7f00:1]/notify",
        "https://localhost/notify",
        "https://localhost./notify",
        "https://LOCALHOST/notify",
        "https://ip6-localhost/notify",
        "https://evil.localhost/notify",
    ],
)
def test_url_notify_naming_an_internal_address_or_this_machine_is_refused_unresolved(
    hostile: HostileStack, url: str
) -> None:
    lookups = RESOLVER.lookups.total()
    fields = _fields(_trans_id(), URLNotify=url)
    assert _refused_to_url_failure(hostile, fields) in ("20160012", "20110012")
    assert RESOLVER.lookups.total() == lookups


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.1", "127.0.0.01", "1.2.3.4.5"]
)
def test_numeric_host_spellings_are_a_format_error(hostile: HostileStack, host: str) -> None:
    fields = _fields(_trans_id(), URLNotify=f"https://{host}/notify")
    assert _refused_to_url_failure(hostile, fields) == "20110012"


def test_a_name_off_the_allowlist_is_refused_without_being_looked_up(hostile: HostileStack) -> None:
    fields = _fields(_trans_id(), URLNotify="https://internal.corp.example/notify")
    assert _refused_to_url_failure(hostile, fields) == "20160012"
    assert RESOLVER.lookups["internal.corp.example"] == 0


@pytest.mark.parametrize(
    ("parameter", "url", "code"),
    [
        ("URLSuccess", "https://127.0.0.1/success", "20160010"),
        ("URLSuccess", "https://localhost/success", "20160010"),
        ("URLBack", "https://169.254.169.254/", "20160013"),
        ("URLBack", "https://[::ffff:127.0.0.1]/", "20160013"),
    ],
)
def test_browser_urls_naming_internal_addresses_are_refused(
    hostile: HostileStack, parameter: str, url: str, code: str
) -> None:
    fields = _fields(_trans_id(), **{parameter: url})
    assert _refused_to_url_failure(hostile, fields) == code


def test_allow_private_targets_still_admits_a_loopback_shop(hostile: HostileStack) -> None:
    """The other merchant of the stack allows private targets, as test shops do."""
    stack = hostile.stack
    trans_id = _trans_id()
    fields = {**stack.payment_fields(trans_id), "MerchantID": stack.other_shop.merchant_id}
    response = httpx.post(
        f"{stack.adapter_url}/alipayplus.aspx", data=stack.other_shop.request(fields), timeout=30
    )
    assert response.status_code == 303, response.text
    assert hostile.payments_of(trans_id) == 1


# --- at delivery -----------------------------------------------------------------------------


def _paid(hostile: HostileStack, url_notify: str, **change: str) -> str:
    """A payment with this URLNotify, paid at the sandbox; returns its PayID."""
    trans_id = _trans_id()
    response = _checkout(hostile, _fields(trans_id, URLNotify=url_notify, **change))
    assert response.status_code == 303, response.text
    pay_id = hostile.stack.pay_id_for(trans_id)
    hostile.stack.sim(f"payments/{pay_id}/complete", {"status": "S"})
    return pay_id


def _attempts(hostile: HostileStack, pay_id: str) -> list[tuple[int | None, str | None]]:
    """(http_status, error) of each recorded delivery attempt."""
    query = (
        select(notify_attempts.c.http_status, notify_attempts.c.error)
        .join(notifications, notifications.c.id == notify_attempts.c.notification_id)
        .where(notifications.c.pay_id == pay_id)
    )
    return [(status, error) for status, error in hostile.rows(query)]


def test_url_notify_that_resolves_internally_at_delivery_is_not_delivered(
    hostile: HostileStack,
) -> None:
    connections = len(hostile.network.connections)
    pay_id = _paid(hostile, "http://rebind.shop.example/notify")
    ((status, error),) = wait_until(
        lambda: _attempts(hostile, pay_id), message="no delivery attempt was recorded"
    )
    assert status is None
    assert error == "URLNotify has a host that leads to a non-public address (loopback)"
    assert RESOLVER.lookups["rebind.shop.example"] == 2  # at checkout, and before delivery
    assert len(hostile.network.connections) == connections  # not even an attempt


def test_the_delivery_connects_to_the_address_it_checked_never_a_later_answer(
    hostile: HostileStack,
) -> None:
    sink = Sink()
    with serving(sink) as port:
        hostile.network.routes[PUBLIC[1]] = port
        connections = len(hostile.network.connections)
        pay_id = _paid(hostile, "http://pinned.shop.example/notify")
        (arrival,) = wait_until(lambda: sink.arrivals, message="the shop got no notify")
    assert (arrival.method, arrival.path, arrival.host) == (
        "POST",
        "/notify",
        "pinned.shop.example",
    )
    assert hostile.stack.shop.decode(parse_qsl(arrival.body.decode()))["PayID"] == pay_id
    assert hostile.network.connections[connections:] == [(PUBLIC[1], 80)]
    assert RESOLVER.lookups["pinned.shop.example"] == 2


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1/admin",
        "http://shop.example/elsewhere",  # admitted and public: still not followed
    ],
)
def test_a_redirect_answered_to_the_notify_is_not_followed(
    hostile: HostileStack, location: str
) -> None:
    redirecting, elsewhere = Sink(status=302, headers={"location": location}), Sink()
    with serving(redirecting) as port, serving(elsewhere) as elsewhere_port:
        hostile.network.routes[PUBLIC[2]] = port
        hostile.network.routes[PUBLIC[0]] = elsewhere_port
        connections = len(hostile.network.connections)
        pay_id = _paid(hostile, "http://redirect.shop.example/notify")
        ((status, error),) = wait_until(
            lambda: _attempts(hostile, pay_id), message="no delivery attempt was recorded"
        )
        del hostile.network.routes[PUBLIC[0]]
    assert (status, error) == (302, "HTTP 302")
    assert [arrival.path for arrival in redirecting.arrivals] == ["/notify"]
    assert elsewhere.arrivals == []
    assert hostile.network.connections[connections:] == [(PUBLIC[2], 80)]


# --- ports -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://shop.example:8443/notify", "20160012"),
        ("https://shop.example:1/notify", "20160012"),
        ("https://shop.example:22/notify", "20160012"),
        ("http://shop.example:443/notify", "20160012"),  # 443 is not http's default port
        ("https://sub.shop.example:8443/notify", "20160012"),
        ("https://api.example/notify", "20160012"),  # its entry names 8443 only
        ("https://api.example:8444/notify", "20160012"),
        ("https://shop.example:0/notify", "20110012"),
        ("https://shop.example:65536/notify", "20110012"),
        ("https://shop.example:/notify", "20110012"),
    ],
)
def test_a_port_the_allowlist_does_not_name_is_refused(
    hostile: HostileStack, url: str, code: str
) -> None:
    assert _refused_to_url_failure(hostile, _fields(_trans_id(), URLNotify=url)) == code


def test_a_port_on_a_browser_url_is_checked_too(hostile: HostileStack) -> None:
    fields = _fields(_trans_id(), URLSuccess="https://shop.example:8443/success")
    assert _refused_to_url_failure(hostile, fields) == "20160010"


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example/notify",
        "https://shop.example:443/notify",
        "http://shop.example:80/notify",
        "https://api.example:8443/notify",
    ],
)
def test_the_default_port_or_the_listed_port_is_admitted(hostile: HostileStack, url: str) -> None:
    trans_id = _trans_id()
    response = _checkout(hostile, _fields(trans_id, URLNotify=url))
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith(hostile.stack.sandbox_url)
    assert hostile.payments_of(trans_id) == 1


# --- characters and shapes -------------------------------------------------------------------

# (id, URL, Paygate category): every one of them is a shop URL only a lenient parser accepts.
BAD_URLS = [
    ("crlf", "https://shop.example/ok\r\nLocation: https://evil.example/", "2011"),
    ("nul", "https://shop.example/ok\x00.evil.example", "2011"),
    ("tab-in-host", "https://shop.example\t.evil.example/", "2011"),
    ("escape", "https://shop.example/\x1b[31m", "2011"),
    ("del", "https://shop.example/ok\x7f", "2011"),
    ("c1-nel", "https://shop.example/ok\x85", "2011"),
    ("c1-last", "https://shop.example/ok\x9f", "2011"),
    ("space", "https://shop.example/ok page", "2011"),
    ("leading-space", " https://shop.example/ok", "2011"),
    ("nbsp", "https://shop.example/ok\u00a0", "2011"),
    ("line-separator", "https://shop.example/ok\u2028", "2011"),
    ("zero-width", "https://shop.example\u200b.evil.example/", "2011"),
    ("bidi-override", "https://shop.example/\u202eelpmaxe.live", "2011"),
    ("backslash", "https://shop.example\\@evil.example/", "2011"),
    ("backslash-path", "https://shop.example/\\\\evil.example", "2011"),
    ("too-long", "https://shop.example/" + "a" * 2100, "2014"),
    ("bracketed-name", "https://[shop.example]/", "2011"),
    ("bracketed-name-port", "https://[shop.example]:443/", "2011"),
    ("unclosed-bracket", "https://[::1/", "2011"),
    ("zone-id", "https://[fe80::1%25eth0]/", "2011"),
    ("empty-label", "https://shop..example/", "2011"),
    ("user-info", "https://shop.example@evil.example/", "2011"),
    ("no-scheme", "//shop.example/", "2011"),
    ("javascript", "javascript:alert(1)//shop.example/", "2011"),
    ("data", "data:text/html,<script>alert(1)</script>", "2011"),
    ("relative", "/success", "2011"),
]
URL_PARAMETERS = {
    "URLSuccess": "0010",
    "URLFailure": "0011",
    "URLNotify": "0012",
    "URLBack": "0013",
}


@pytest.mark.parametrize("transport", ["encrypted", "plain-post", "plain-get"])
@pytest.mark.parametrize("parameter", sorted(URL_PARAMETERS))
@pytest.mark.parametrize(("case", "url", "category"), BAD_URLS, ids=[case for case, *_ in BAD_URLS])
def test_a_malformed_url_in_any_url_field_is_refused_with_its_code(
    hostile: HostileStack, transport: str, parameter: str, case: str, url: str, category: str
) -> None:
    fields = _fields(_trans_id(), **{parameter: url})
    code = category + URL_PARAMETERS[parameter]
    response = _refused(hostile, fields, transport)
    assert "evil.example" not in response.text
    if parameter == "URLFailure":
        # No URL to send the result to: the shopper sees the error page, nothing is delivered.
        assert response.status_code == 400
        assert page_code(response) == code
        assert "<form" not in response.text
    else:
        assert failure_result(hostile.stack, response, URL_FAILURE)["Code"] == code


# --- Custom cannot forge result fields -------------------------------------------------------

# Every field a result carries, in Data or beside it, spelled as the shops read them.
RESULT_FIELDS = [
    "Len", "Data", "MAC", "mid", "MerchantID", "PayID", "XID", "TransID", "refnr", "Type", "pt",
    "CodeExt", "ErrorText", "Status", "Description", "Code", "UserData", "AmountAuth",
    "AmountCap", "AmountCred", "Currency", "LastStatus", "Plain",
]  # fmt: skip


def _spellings(name: str) -> list[str]:
    return sorted({name, name.lower(), name.upper(), name.swapcase()})


@pytest.mark.parametrize(
    "key", [spelling for name in RESULT_FIELDS for spelling in _spellings(name)]
)
def test_custom_naming_a_result_field_is_refused(hostile: HostileStack, key: str) -> None:
    fields = _fields(_trans_id(), Custom=f"session=abc|{key}=OK")
    response = _refused(hostile, fields)
    assert failure_result(hostile.stack, response, URL_FAILURE)["Code"] == "20160031"
    pairs = shop_return(response).pairs
    assert [name for name, _ in pairs] == ["Len", "Data", "session"]


@pytest.mark.parametrize(
    ("custom", "code"),
    [
        ("Status[]=OK", "20110031"),
        ("Status%5B%5D=OK", "20110031"),
        (" Status=OK", "20110031"),
        ("session=abc|session=def", "20170031"),
        ("session=abc|SESSION=def", "20170031"),
    ],
)
def test_custom_keys_that_are_no_plain_name_or_come_twice_are_refused(
    hostile: HostileStack, custom: str, code: str
) -> None:
    response = _refused(hostile, _fields(_trans_id(), Custom=custom))
    assert failure_result(hostile.stack, response, URL_FAILURE)["Code"] == code
    pairs = shop_return(response).pairs
    assert_unique_keys(pairs)


def test_every_result_of_a_payment_has_one_value_per_key(hostile: HostileStack) -> None:
    """URLSuccess (the browser) and URLNotify (the outbox) each get each key once."""
    stack = hostile.stack
    sink = Sink()
    with serving(sink) as port:
        hostile.network.routes[PUBLIC[3]] = port
        pay_id = _paid(
            hostile,
            "http://notify.shop.example/notify",
            Custom="session=abc|lang=de|x-y.z=1|empty",
            Plain="plain-value",
        )
        (arrival,) = wait_until(lambda: sink.arrivals, message="the shop got no notify")
    notified = parse_qsl(arrival.body.decode(), keep_blank_values=True)
    token = URLSafeSerializer(stack.settings.token_secret.reveal(), salt="return").dumps(pay_id)
    response = httpx.get(f"{stack.adapter_url}/alipayplus/return/{token}", timeout=30)
    back = shop_return(response)
    url, returned = back.url, back.pairs
    assert url == URL_SUCCESS
    for pairs in (notified, returned):
        assert_unique_keys(pairs)
        assert [name for name, _ in pairs] == [
            "Len",
            "Data",
            "session",
            "lang",
            "x-y.z",
            "empty",
            "Plain",
        ]
        assert stack.shop.decode(pairs)["Status"] == "OK"
