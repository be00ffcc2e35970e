"""Structured logs: JSON lines, a request id and the correlation keys on every hop, no secrets."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog

from adapter.model import Event, Hop
from adapter.observability.logs import (
    HOP_LOGGER,
    MASK,
    Correlated,
    bind_correlation,
    configure_logging,
    log_hop,
    redact,
)
from tests.e2e.instances import running_instances
from tests.e2e.test_instances import _paid_payment
from tests.support.models import NOW
from tests.support.s2s import S2SClient
from tests.support.waiting import wait_until


@pytest.fixture
def captured(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """Logs configured as ``serve`` does, into the test's stderr (configured in the test's own
    phase: the handler keeps the stream it is given)."""
    yield capsys
    logging.getLogger().handlers.clear()
    structlog.reset_defaults()


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_hop_is_one_json_line_with_the_correlation_keys_bound_for_the_request(
    captured: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json", "DEBUG")
    with Correlated(request_id="r-1"):
        bind_correlation(merchant_id="Shop", trans_id="T-1", pay_id="p" * 32)
        log_hop(Event(NOW, Hop.SHOP_REQUEST, "credit", "00000000", detail={"status": "OK"}))
    log_hop(Event(NOW, Hop.SHOP_REQUEST, "inquire", "00000000"))
    line, after = _lines(captured.readouterr().err)
    assert line["event"] == "shop_request"
    assert (line["request_id"], line["merchant_id"], line["trans_id"]) == ("r-1", "Shop", "T-1")
    assert (line["name"], line["outcome"], line["status"]) == ("credit", "00000000", "OK")
    assert {"timestamp", "level", "logger"} <= set(line)
    assert not {"request_id", "merchant_id", "trans_id", "pay_id"} & set(after)


def test_a_hop_line_has_the_keys_in_the_order_every_other_structlog_line_has(
    captured: pytest.CaptureFixture[str],
) -> None:
    """Hop lines skip the shared processor chain for speed; what they write must not differ."""
    configure_logging("json", "DEBUG")
    event = Event(NOW, Hop.PAYMENT, "SUCCESS", "SUCCESS", pay_id="p" * 32, merchant_id="Shop")
    with Correlated(request_id="r-1", trans_id="T-1", pay_id="other"):
        log_hop(dataclasses.replace(event, detail={"mac": "M", "ms": 3}))
        structlog.get_logger(HOP_LOGGER).info(
            "payment",
            name="SUCCESS",
            outcome="SUCCESS",
            pay_id="p" * 32,
            merchant_id="Shop",
            actor="adapter",
            mac="M",
            ms=3,
        )
    hop, chained = _lines(captured.readouterr().err)
    assert str(hop.pop("timestamp")).endswith("Z") and str(chained.pop("timestamp")).endswith("Z")
    assert list(hop.items()) == list(chained.items())
    assert (hop["mac"], hop["pay_id"], hop["trans_id"]) == (MASK, "p" * 32, "T-1")


def test_a_line_keeps_text_as_given_and_writes_other_values_as_text(
    captured: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json", "DEBUG")
    structlog.get_logger("t").info("x", shop="Café ☕", path=Path("/a"), at=NOW)
    structlog.get_logger("t").info("y", big=2**70)
    line, big = _lines(captured.readouterr().err)
    assert (line["shop"], line["at"]) == ("Café ☕", NOW.isoformat())
    assert line["path"] == repr(Path("/a"))
    assert big["big"] == 2**70


@pytest.mark.parametrize(("level", "lines"), [("DEBUG", 1), ("INFO", 0)])
def test_a_routine_hop_is_a_line_at_debug_and_none_at_info(
    captured: pytest.CaptureFixture[str], level: str, lines: int
) -> None:
    configure_logging("json", level)
    log_hop(Event(NOW, Hop.SHOP_REQUEST, "inquire", "00000000", routine=True))
    assert len(_lines(captured.readouterr().err)) == lines


def test_values_named_like_secrets_never_reach_a_line_nor_do_standard_library_ones(
    captured: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json", "DEBUG")
    structlog.get_logger("t").info("x", hmac_key="k1", Data="ABCDEF", mac="M", password="p")
    logging.getLogger("other").warning("plain %s", "text")
    first, second = _lines(captured.readouterr().err)
    assert [first[k] for k in ("hmac_key", "Data", "mac", "password")] == [MASK] * 4
    assert second["event"] == "plain text" and second["level"] == "warning"


def test_a_structlog_line_logged_with_an_exception_carries_its_traceback(
    captured: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json", "INFO")
    try:
        raise RuntimeError("upstream went away")
    except RuntimeError:
        structlog.get_logger("t").exception("call failed", pay_id="p" * 32)
    (line,) = _lines(captured.readouterr().err)
    assert line["event"] == "call failed" and line["level"] == "error"
    assert "RuntimeError: upstream went away" in str(line["exception"])


def test_hop_lines_and_other_threads_standard_library_lines_share_one_stream_whole(
    captured: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json", "INFO")

    def uvicorn_lines() -> None:
        for n in range(300):
            logging.getLogger("uvicorn.error").warning("plain %d", n)

    thread = threading.Thread(target=uvicorn_lines)
    thread.start()
    for n in range(300):
        log_hop(Event(NOW, Hop.PAYMENT, "SUCCESS", str(n), pay_id="p" * 32))
    thread.join()
    lines = _lines(captured.readouterr().err)  # a torn line would not parse
    hops = [line["outcome"] for line in lines if line["logger"] == "adapter.hop"]
    plain = [line["event"] for line in lines if line["logger"] == "uvicorn.error"]
    assert hops == [str(n) for n in range(300)]
    assert plain == [f"plain {n}" for n in range(300)]


def test_console_lines_are_rendered_for_people_not_as_json(
    captured: pytest.CaptureFixture[str],
) -> None:
    configure_logging("console", "INFO")
    structlog.get_logger("adapter.hop").info("payment", name="SUCCESS")
    logging.getLogger("uvicorn.error").warning("plain %s", "text")
    first, second = captured.readouterr().err.splitlines()
    assert "payment" in first and "name=SUCCESS" in first and not first.startswith("{")
    assert "plain text" in second and not second.startswith("{")


def test_every_line_of_a_served_adapter_parses_and_hops_carry_their_keys(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path}/adapter.sqlite3"
    settings = {"operation_budget_seconds": 3, "reconcile_after_seconds": 4}
    with running_instances(tmp_path, database, count=1, adapter_settings=settings) as it:
        pay_id = _paid_payment(it, "T-LOG")
        with httpx.Client(timeout=30) as http:
            response = http.get(f"{it.public_url}/healthz", headers={"x-request-id": "probe-7"})
            assert response.headers["x-request-id"] == "probe-7"
            S2SClient(it.shop, it.public_url, http).credit(pay_id, "T-LOG-C", "100")
        adapter = it.adapters[0]
        wait_until(lambda: '"credit SUCCESS"' in adapter.output(), message="no credit logged")
    lines = _lines(adapter.output())
    hops = [line for line in lines if line.get("logger") == "adapter.hop"]
    credit = next(h for h in hops if h["event"] == "shop_request" and h["name"] == "credit")
    assert credit["merchant_id"] == it.shop.merchant_id
    assert credit["trans_id"] == "T-LOG-C" and credit["pay_id"] == pay_id
    assert isinstance(credit["request_id"], str) and credit["request_id"]
    assert all(h.get("request_id") for h in hops if h["event"] == "shop_request")
    assert it.shop.hmac_key not in adapter.output()
    assert it.shop.blowfish_key not in adapter.output()


def test_redaction_masks_secret_names_in_nested_mappings_and_leaves_the_caller_s_alone() -> None:
    detail = {"blowfish_key": "k", "status": "OK"}
    for _ in range(2):  # the second pass reads the names' verdicts from the cache
        line = redact(None, "info", {"event": "mac", "detail": detail, "Len": "12"})
        assert line == {
            "event": "mac",
            "detail": {"blowfish_key": MASK, "status": "OK"},
            "Len": MASK,
        }
    assert detail == {"blowfish_key": "k", "status": "OK"}
