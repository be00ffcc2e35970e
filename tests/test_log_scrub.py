"""No key, MAC, Data, secret field value or card number in anything the adapter writes.

Full flows run against a live stack with every logger at DEBUG: checkouts by POST and GET, the
Alipay+ notify, the shopper's return, credit, reverse, capture and inquire, refused requests
(wrong MAC, card data, a control character, a hostile URL), a URLNotify the shop refuses, an
Alipay+ error, a forged notify and a client that hangs up mid-request. Every log record of the
adapter (all threads but the test's own, the sandbox's and the shop's) and everything written
to stdout and stderr are searched.
"""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
import structlog
from itsdangerous import URLSafeSerializer

from adapter.alipayplus.signing import private_key_pem
from adapter.observability.logs import configure_logging
from adapter.paygate.fields import Fields
from adapter.paygate.mac import compute_mac, request_mac_message
from tests.support.forms import form_for_button
from tests.support.hostile import HostileStack, hostile_stack
from tests.support.returns import shop_return
from tests.support.s2s import S2SClient, answer_fields
from tests.support.waiting import wait_until

USER_DATA = "userdata-7f3a9c-secret"
CUSTOM_VALUE = "custom-5e1d77-secret"
CARD = "4111111111111111"


class Everything(logging.Handler):
    """Every record, formatted with its traceback, but those of the threads left out.

    The test's own thread is left out (its client logs the URLs it requests), except for the
    adapter's loggers: the configuration is read there.
    """

    def __init__(self, left_out: set[str]) -> None:
        super().__init__(logging.DEBUG)
        self.left_out = left_out
        self.records: list[tuple[str, str]] = []
        self.setFormatter(logging.Formatter("%(threadName)s %(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        ours = record.name.startswith("adapter.") and not record.name.startswith("adapter.sandbox")
        if record.threadName not in self.left_out or ours:
            self.records.append((record.name, self.format(record)))


@contextmanager
def logged_as_served() -> Iterator[None]:
    """Logging configured as ``serve`` configures it (JSON lines on stderr), then undone. The
    test's own thread is left out, as in :class:`Everything`: its client logs the URLs it asks."""
    configure_logging("json", "DEBUG")
    for handler in logging.getLogger().handlers:
        handler.addFilter(lambda record: record.threadName != "MainThread")
    try:
        yield
    finally:
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()


@contextmanager
def everything_at_debug(handler: logging.Handler) -> Iterator[Callable[[], None]]:
    """``handler`` on the root logger until the block ends; call what it yields to put every
    logger there is at DEBUG (again: servers set their own levels when they start).
    Every level is restored at the end."""
    root = logging.getLogger()
    levels: dict[logging.Logger, int] = {}

    def at_debug() -> None:
        known = logging.Logger.manager.loggerDict.values()
        for logger in [root, *(logger for logger in known if isinstance(logger, logging.Logger))]:
            levels.setdefault(logger, logger.level)
            logger.setLevel(logging.DEBUG)

    at_debug()
    root.addHandler(handler)
    try:
        yield at_debug
    finally:
        root.removeHandler(handler)
        for logger, level in levels.items():
            logger.setLevel(level)


@dataclass
class Flows:
    """Drives the stack like shops, shoppers and Alipay+ do, noting every secret that passes."""

    hostile: HostileStack
    http: httpx.Client
    secrets: dict[str, str] = field(default_factory=dict)  # value -> what it is

    @property
    def s2s(self) -> S2SClient:
        return S2SClient(self.hostile.stack.shop, self.hostile.stack.adapter_url, self.http)

    def note(self, what: str, *values: str) -> None:
        for value in values:
            if len(value) >= 8:  # shorter ones turn up anywhere by chance
                self.secrets[value] = what

    def note_result(self, fields: Fields, pairs: list[tuple[str, str]]) -> Fields:
        outer = dict(pairs)
        self.note("a result's Data", outer["Data"])
        self.note("a result's MAC", fields["MAC"])
        return fields

    def payment_fields(self, trans_id: str, **extra: str) -> dict[str, str]:
        stack = self.hostile.stack
        return stack.payment_fields(
            trans_id, UserData=USER_DATA, Custom=f"session={CUSTOM_VALUE}", **extra
        )

    def checkout(self, fields: dict[str, str], method: str = "POST") -> httpx.Response:
        stack = self.hostile.stack
        params = stack.shop.request(fields)
        mac = compute_mac(
            stack.shop.hmac_key.encode(),
            request_mac_message(
                "", fields["TransID"], stack.shop.merchant_id, fields["Amount"], "EUR"
            ),
        )
        self.note("a request's Data", params["Data"])
        self.note("a request's MAC", mac)
        url = f"{stack.adapter_url}/alipayplus.aspx"
        if method == "GET":
            return self.http.get(url, params=params)
        return self.http.post(url, data=params)

    def pay(self, trans_id: str, button: str = "pay", method: str = "POST") -> tuple[str, Fields]:
        """Checkout, the shopper's click at Alipay+, the return: (PayID, result at the shop)."""
        response = self.checkout(self.payment_fields(trans_id), method)
        assert response.status_code == 303, response.text
        checkout_url = response.headers["location"]
        action, pairs = form_for_button(self.http.get(checkout_url).text, button)
        clicked = self.http.post(urljoin(checkout_url, action), data=dict(pairs))
        return_url = clicked.headers["location"]
        token = urlsplit(return_url).path.rsplit("/", 1)[1]
        self.note("a return token", token)
        stack = self.hostile.stack
        serializer = URLSafeSerializer(stack.settings.token_secret.reveal(), salt="return")
        pay_id = str(serializer.loads(token))
        result_pairs = shop_return(self.http.get(return_url)).pairs
        return pay_id, self.note_result(stack.shop.decode(result_pairs), result_pairs)

    def notified(self, pay_id: str, count: int = 1) -> None:
        """Wait for the shop's notifies of ``pay_id`` and note what they carried."""
        stack = self.hostile.stack

        def arrived() -> list[list[tuple[str, str]]]:
            mine = [
                pairs
                for pairs in stack.received.notifies
                if stack.shop.decode(pairs)["PayID"] == pay_id
            ]
            return mine if len(mine) >= count else []

        for pairs in wait_until(arrived, message=f"no URLNotify for {pay_id}"):
            self.note_result(stack.shop.decode(pairs), pairs)

    def call(self, endpoint: str, fields: dict[str, str], **options: object) -> Fields:
        """An S2S call; its request and answer are noted."""
        s2s = self.s2s
        params = s2s.outer(fields, **options)  # type: ignore[arg-type]
        self.note("a request's Data", params.get("Data", ""))
        self.note("a request's MAC", s2s.mac(fields))
        response = s2s.send(endpoint, params)
        answer = answer_fields(self.hostile.stack.shop, response)
        pairs = [("Len", ""), ("Data", dict(httpx.QueryParams(response.text))["Data"])]
        return self.note_result(answer, pairs)


def _hang_up(adapter_url: str) -> None:
    """A client that announces a body and leaves after ten bytes of it."""
    address = urlsplit(adapter_url)
    with socket.create_connection((address.hostname, address.port)) as connection:
        connection.sendall(
            b"POST /credit.aspx HTTP/1.1\r\nHost: adapter\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
            b"MerchantID"
        )


def _run_flows(flows: Flows) -> None:
    stack = flows.hostile.stack
    _hang_up(stack.adapter_url)

    # Paid by POST and by GET, declined, and one whose URLNotify the shop refuses.
    paid, result = flows.pay("S-PAID")
    assert result["Status"] == "OK"
    flows.notified(paid)
    reversible, _ = flows.pay("S-REVERSE", method="GET")
    flows.notified(reversible)
    declined, result = flows.pay("S-DECLINE", button="decline")
    assert result["Status"] == "FAILED"
    flows.notified(declined)
    stack.received.notify_status = 500
    refused, _ = flows.pay("S-SHOP-SAYS-NO")
    flows.notified(refused)
    stack.received.notify_status = 200

    # Back office, with an Alipay+ error on the way.
    money = {"TransID": "S-PAID", "Currency": "EUR"}
    stack.replace_faults({"api": "refund", "mode": "http_500", "count": 1})
    credit = flows.call("credit", {"PayID": paid, "Amount": "100", "UserData": USER_DATA, **money})
    assert credit["Status"] == "OK", credit
    reverse = {"PayID": reversible, "TransID": "S-REVERSE", "Amount": "1250", "Currency": "EUR"}
    assert flows.call("reverse", reverse)["Status"] == "OK"
    assert flows.call("capture", {"PayID": paid, "Amount": "1250", **money})["Code"]
    assert flows.call("inquire", {"PayID": paid, "UserData": USER_DATA})["Status"] == "OK"

    # Refused: a wrong MAC, card data, a control character, an address the shop may not use.
    wrong = flows.call("credit", {"PayID": paid, "Amount": "1", **money}, signed={"PayID": paid})
    assert wrong["Code"] == "20120004"
    card = flows.call("credit", {"PayID": paid, "Amount": "1", "CCNr": CARD, **money})
    assert card["Code"] == "20160036"
    control = {"PayID": paid, "Amount": "1", "UserData": f"{USER_DATA}\x7f", **money}
    assert flows.call("credit", control)["Code"] == "20110015"
    for change in ({"CCNr": CARD, "CCCVC": "737"}, {"URLNotify": "https://evil.example/n"}):
        response = flows.checkout(flows.payment_fields("S-REFUSED", **change))
        pairs = shop_return(response).pairs
        flows.note_result(stack.shop.decode(pairs), pairs)

    # Alipay+'s notify, forged.
    forged = httpx.post(
        f"{stack.adapter_url}/alipayplus/notify",
        content=b'{"paymentRequestId":"' + paid.encode() + b'"}',
        headers={"client-id": "x", "request-time": "x", "signature": "signature=AAAA"},
    )
    assert b"INVALID_SIGNATURE" in forged.content


@dataclass(frozen=True)
class Written:
    """What the adapter wrote while the flows ran, and the secrets that passed."""

    records: list[tuple[str, str]]  # (logger name, formatted record)
    output: str  # stdout and stderr
    secrets: dict[str, str]

    def leaks(self, text: str) -> list[str]:
        return sorted({what for value, what in self.secrets.items() if value in text})


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    tmp_path = tmp_path_factory.mktemp("log-scrub")
    output = io.StringIO()
    handler = Everything({"MainThread"})
    # Before the servers start: their log handlers take sys.stderr as it is when they do. The
    # loggers stay at DEBUG until the servers have stopped, so that their shutdown is written.
    with (
        redirect_stdout(output),
        redirect_stderr(output),
        logged_as_served(),
        everything_at_debug(handler) as at_debug,
        hostile_stack(tmp_path) as hostile,
        httpx.Client(timeout=30) as http,
    ):
        stack = hostile.stack
        ports = {urlsplit(url).port for url in (stack.sandbox_url, stack.shop_url)}
        handler.left_out.update(f"uvicorn-{port}" for port in ports)
        at_debug()
        flows = Flows(hostile, http)
        _run_flows(flows)
    flows.note("an HMAC key", stack.shop.hmac_key, stack.other_shop.hmac_key)
    flows.note("a Blowfish key", stack.shop.blowfish_key, stack.other_shop.blowfish_key)
    flows.note("the token secret", stack.settings.token_secret.reveal())
    for pem in ((tmp_path / "acqp.pem").read_text(), private_key_pem(hostile.alipay_key)):
        flows.note("an RSA private key", *(line for line in pem.splitlines() if "---" not in line))
    flows.note("UserData", USER_DATA)
    flows.note("a Custom value", CUSTOM_VALUE)
    flows.note("a card number", CARD)
    return Written(handler.records, output.getvalue(), flows.secrets)


SQL_LOGGER = "sqlalchemy.engine"


def _logger_of(line: str) -> object:
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    return parsed.get("logger") if isinstance(parsed, dict) else None


def test_no_secret_reaches_the_logs_or_the_output(written: Written) -> None:
    # Hop lines are written straight to the handler's stream (stderr), not made records.
    hops = [line for line in written.output.splitlines() if _logger_of(line) == "adapter.hop"]
    assert any("shop_notify" in line for line in hops), "no hop line captured"
    assert "Application shutdown complete" in written.output, "no server output captured"
    logged = [line for name, line in written.records if not name.startswith(SQL_LOGGER)]
    text = "\n".join([*logged, written.output])
    assert not written.leaks(text), f"written by the adapter: {', '.join(written.leaks(text))}"
    assert "Traceback" not in text


def test_sql_statements_are_logged_without_their_values(written: Written) -> None:
    sql = [line for name, line in written.records if name.startswith(SQL_LOGGER)]
    assert sql, "SQLAlchemy logged nothing"
    text = "\n".join(sql)
    assert not written.leaks(text), f"in SQLAlchemy's log: {', '.join(written.leaks(text))}"
