"""The demo shop speaks Paygate like a real legacy shop: request out, checked answers in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from adapter.demo.shop import create_shop_app
from adapter.paygate.blowfish import BlowfishCipher
from adapter.paygate.fields import format_inner, parse_inner
from adapter.paygate.mac import compute_mac, request_mac_message, response_mac_message
from tests.support.servers import serve

MID = "demo_shop"
HMAC_KEY = "H" * 32
BLOWFISH_KEY = "B" * 16
PAYGATE = "http://paygate.test"
PUBLIC = "http://shop.test"


class _Collect(HTMLParser):
    """Elements by id (their text) and form inputs by name: enough to read the shop's pages."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.inputs: dict[str, str] = {}
        self.forms: list[dict[str, str | None]] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "form":
            self.forms.append(attr)
        if tag == "input" and attr.get("name"):
            self.inputs[str(attr["name"])] = attr.get("value") or ""
        if attr.get("id") and tag != "input":
            self.by_id[str(attr["id"])] = ""
            self._open.append(str(attr["id"]))
        elif tag not in {"input", "br", "meta"}:
            self._open.append("")

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for element_id in self._open:
            if element_id:
                self.by_id[element_id] += data


def parse_html(text: str) -> _Collect:
    parser = _Collect()
    parser.feed(text)
    return parser


@pytest.fixture
def shop() -> Starlette:
    app = create_shop_app(
        merchant_id=MID,
        hmac_key=HMAC_KEY,
        blowfish_key=BLOWFISH_KEY,
        paygate_url=PAYGATE,
        public_url="http://placeholder",
    )
    # As the e2e tests do: the address is only known after the server listens.
    app.state.config.public_url = lambda: PUBLIC + "/"
    return app


@pytest.fixture
def client(shop: Starlette) -> Iterator[httpx.Client]:
    with serve(shop) as url, httpx.Client(base_url=url, follow_redirects=True) as http:
        yield http


def checkout(client: httpx.Client, **form: str) -> dict[str, str]:
    """Submit the order form and return the decrypted inner fields of the Paygate request."""
    response = client.post("/checkout", data=form)
    assert response.status_code == 200, response.text
    page = parse_html(response.text)
    assert page.forms[0]["action"] == f"{PAYGATE}/alipayplus.aspx"
    assert page.forms[0]["method"] == "post"
    assert "continue" in page.by_id
    assert set(page.inputs) == {"MerchantID", "Len", "Data"}
    assert page.inputs["MerchantID"] == MID
    plaintext = BlowfishCipher(BLOWFISH_KEY.encode()).decrypt(
        page.inputs["Data"], page.inputs["Len"]
    )
    assert int(page.inputs["Len"]) == len(plaintext)
    return dict(parse_inner(plaintext).items())


def answer(
    fields: dict[str, str],
    *,
    status: str = "OK",
    code: str = "00000000",
    mid: str = MID,
    mac_key: str = HMAC_KEY,
    mac_override: str | None = None,
) -> dict[str, str]:
    """What the adapter sends back for the request ``fields``: Len/Data plus the Custom pairs."""
    pay_id = "0123456789abcdef0123456789abcdef"
    mac = compute_mac(
        mac_key.encode(), response_mac_message(pay_id, fields["TransID"], mid, status, code)
    )
    inner = format_inner(
        [
            ("mid", mid),
            ("PayID", pay_id),
            ("XID", "fedcba9876543210fedcba9876543210"),
            ("TransID", fields["TransID"]),
            ("refnr", fields["RefNr"]),
            ("Status", status),
            ("Description", "success" if code.startswith("0") else "declined"),
            ("Code", code),
            ("UserData", fields["UserData"]),
            ("MAC", mac_override or mac),
        ]
    )
    length, data = BlowfishCipher(BLOWFISH_KEY.encode()).encrypt(inner)
    custom = dict(pair.split("=", 1) for pair in fields["Custom"].split("|"))
    return {"Len": str(length), "Data": data, **custom}


def orders(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get("/api/orders")
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.json()
    return result


def test_index_has_the_form_with_defaults(client: httpx.Client) -> None:
    page = parse_html(client.get("/").text)
    assert page.inputs["amount"] == "1250"
    assert page.inputs["orderdesc"] == "Demo order"
    assert {"currency", "device", "checkout", "order-form"} <= set(page.by_id)
    assert re.search(r'<option value="EUR" selected>', client.get("/").text)


def test_checkout_sends_the_documented_request(client: httpx.Client) -> None:
    fields = checkout(client, amount="1250", currency="EUR", orderdesc="Demo order")
    assert list(fields) == [
        "MerchantID",
        "TransID",
        "RefNr",
        "Amount",
        "Currency",
        "OrderDesc",
        "URLSuccess",
        "URLFailure",
        "URLNotify",
        "UserData",
        "Custom",
        "Device",
        "MAC",
        "Response",
    ]
    assert fields["MerchantID"] == MID
    assert re.fullmatch(r"DEMO-1-[0-9a-f]+", fields["TransID"])
    assert fields["Amount"] == "1250"
    assert fields["Currency"] == "EUR"
    assert fields["OrderDesc"] == "Demo order"
    assert fields["URLSuccess"] == f"{PUBLIC}/result/success"
    assert fields["URLFailure"] == f"{PUBLIC}/result/failure"
    assert fields["URLNotify"] == f"{PUBLIC}/notify"
    assert fields["Custom"] == "order=1|shop=demo"
    assert fields["Device"] == "DesktopWEB"
    assert fields["Response"] == "encrypt"
    expected = compute_mac(
        HMAC_KEY.encode(), request_mac_message("", fields["TransID"], MID, "1250", "EUR")
    )
    assert fields["MAC"] == expected
    assert orders(client)[0]["trans_id"] == fields["TransID"]


def test_mobile_checkout_adds_the_os_type(client: httpx.Client) -> None:
    fields = checkout(client, amount="990", currency="USD", device="MobileWAP")
    assert fields["Device"] == "MobileWAP"
    assert fields["osType"] == "ANDROID"
    assert list(fields)[-2:] == ["MAC", "Response"]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"orderdesc": "Tea & cake"}, "must not contain"),
        ({"orderdesc": "50% off"}, "must not contain"),
        ({"orderdesc": "a+b"}, "must not contain"),
        ({"orderdesc": "#1"}, "must not contain"),
        ({"amount": "12.50"}, "whole number"),
        ({"currency": "XXX"}, "currency"),
    ],
)
def test_checkout_refuses_bad_input(
    client: httpx.Client, form: dict[str, str], message: str
) -> None:
    response = client.post("/checkout", data=form)
    assert response.status_code == 400
    assert message in parse_html(response.text).by_id["errors"]
    assert orders(client) == []


def test_success_return_with_a_correct_mac_is_verified(client: httpx.Client) -> None:
    fields = checkout(client)
    response = client.post("/result/success", data=answer(fields))
    assert response.status_code == 200
    page = parse_html(response.text)
    assert page.by_id["mac-ok"] == "verified"
    assert page.by_id["status"] == "OK"
    assert page.by_id["code"] == "00000000"
    assert page.by_id["description"] == "success"
    assert page.by_id["transid"] == fields["TransID"]
    assert page.by_id["payid"] == "0123456789abcdef0123456789abcdef"
    assert "demo|order-1" in page.by_id["fields"]
    assert "shop" in page.by_id["custom"]

    [order] = orders(client)
    assert order["status"] == "OK"
    [ret] = order["returns"]
    assert ret["path"] == "success"
    assert ret["mac_ok"] is True
    assert ret["fields"]["TransID"] == fields["TransID"]
    assert ret["custom"] == {"order": "1", "shop": "demo"}


@pytest.mark.parametrize(
    "tamper",
    [
        {"mac_override": "0" * 64},
        {"mid": "someone_else"},
        {"mac_key": "wrong key"},
    ],
)
def test_tampered_return_is_invalid(client: httpx.Client, tamper: dict[str, str]) -> None:
    fields = checkout(client)
    response = client.post("/result/failure", data=answer(fields, **tamper))
    page = parse_html(response.text)
    assert page.by_id["mac-ok"] == "INVALID"
    [order] = orders(client)
    assert order["returns"][0]["mac_ok"] is False
    assert order["status"] == "pending"  # an unverified answer must not change the order


def test_lower_case_mac_is_invalid_like_pretix(client: httpx.Client) -> None:
    fields = checkout(client)
    good = compute_mac(
        HMAC_KEY.encode(),
        response_mac_message(
            "0123456789abcdef0123456789abcdef", fields["TransID"], MID, "OK", "00000000"
        ),
    )
    response = client.post("/result/success", data=answer(fields, mac_override=good.lower()))
    assert parse_html(response.text).by_id["mac-ok"] == "INVALID"


def test_result_by_get_query(client: httpx.Client) -> None:
    fields = checkout(client)
    params = answer(fields, status="FAILED", code="21500012")
    response = client.get("/result/failure", params=params)
    assert response.status_code == 200
    page = parse_html(response.text)
    assert page.by_id["mac-ok"] == "verified"
    assert page.by_id["status"] == "FAILED"
    ret = orders(client)[0]["returns"][0]
    assert (ret["path"], ret["method"]) == ("failure", "GET")


def test_undecryptable_return_shows_an_error(client: httpx.Client) -> None:
    checkout(client)
    response = client.post("/result/success", data={"Len": "8", "Data": "ABC", "order": "1"})
    assert response.status_code == 400
    page = parse_html(response.text)
    assert page.by_id["mac-ok"] == "INVALID"
    assert "error" in page.by_id
    # Filed under the order its Custom pair names, so the demo shows what went wrong.
    [ret] = orders(client)[0]["returns"]
    assert ret["mac_ok"] is False
    assert ret["error"]


def test_notify_stores_and_answers(client: httpx.Client) -> None:
    fields = checkout(client)
    good = client.post("/notify", data=answer(fields))
    assert (good.status_code, good.text) == (200, "OK")
    bad = client.post("/notify", data=answer(fields, mac_override="F" * 64))
    assert bad.status_code == 400
    notifies = orders(client)[0]["notifies"]
    assert [n["mac_ok"] for n in notifies] == [True, False]
    assert notifies[0]["fields"]["Status"] == "OK"
    assert notifies[0]["custom"] == {"order": "1", "shop": "demo"}
    assert notifies[0]["received_at"]


def test_notify_for_an_unknown_order_is_kept_aside(client: httpx.Client) -> None:
    fields = checkout(client)
    stranger = {**fields, "TransID": "OTHER-1"}
    response = client.post("/notify", data=answer(stranger))
    assert response.status_code == 200  # the MAC is right, it is just not ours
    assert orders(client)[0]["notifies"] == []
    assert "OTHER-1" in client.get("/").text


def test_order_pages(client: httpx.Client) -> None:
    fields = checkout(client)
    client.post("/result/success", data=answer(fields))
    client.post("/notify", data=answer(fields))
    index = parse_html(client.get("/").text)
    assert index.by_id["order-1"].count("OK") == 1
    page = parse_html(client.get("/orders/1").text)
    assert page.by_id["transid"] == fields["TransID"]
    assert page.by_id["status"] == "OK"
    assert page.by_id["return-1-mac"] == "verified"
    assert page.by_id["notify-1-mac"] == "verified"
    assert client.get("/orders/2").status_code == 404


def test_back_office_needs_a_verified_pay_id_and_a_known_action(client: httpx.Client) -> None:
    fields = checkout(client)
    assert client.post("/orders/1/credit", data={"amount": "100"}).status_code == 409
    client.post("/result/success", data=answer(fields, mac_override="0" * 64))
    assert orders(client)[0]["returns"][0]["mac_ok"] is False
    assert client.post("/orders/1/credit", data={"amount": "100"}).status_code == 409
    client.post("/result/success", data=answer(fields))
    assert client.post("/orders/1/refund-everything").status_code == 404
    assert client.post("/orders/9/inquire").status_code == 404
    page = parse_html(client.get("/orders/1").text)
    assert page.by_id["payid"] == "0123456789abcdef0123456789abcdef"


def test_back_office_records_an_unreachable_paygate(shop: Starlette, client: httpx.Client) -> None:
    fields = checkout(client)
    client.post("/result/success", data=answer(fields))
    shop.state.config.paygate_url = "http://127.0.0.1:9"
    response = client.post("/orders/1/inquire", follow_redirects=False)
    assert response.status_code == 303
    (call,) = orders(client)[0]["calls"]
    assert call["action"] == "inquire"
    assert call["sent"] == {
        "PayID": "0123456789abcdef0123456789abcdef",
        "TransID": f"{fields['TransID']}-1",
    }
    assert call["error"] == "ConnectError calling http://127.0.0.1:9/inquire.aspx"
