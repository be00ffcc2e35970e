"""Suite-wide rules: with PAYGATE_REQUIRE_ALL=1 (CI) a skipped test fails the run, and no test
resolves a name that is not loopback."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from structlog.stdlib import ProcessorFormatter

from adapter.observability.logs import merge_correlation


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("PAYGATE_REQUIRE_ALL") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if reporter and skipped:
        reporter.write_line(f"FAILED: {len(skipped)} tests were skipped; CI runs every test")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True, scope="session")
def _loopback_only() -> Iterator[None]:
    """No test looks up a name on the network: only loopback hosts resolve in this process."""
    real = socket.getaddrinfo

    def loopback_getaddrinfo(host: bytes | str | None, *args: Any, **kwargs: Any) -> Any:
        text = host.decode() if isinstance(host, bytes) else str(host)
        try:
            if ipaddress.ip_address(text).is_loopback:
                return real(host, *args, **kwargs)
        except ValueError:
            if text in ("localhost", "None"):  # None: bind to every local address
                return real(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, f"tests resolve loopback hosts only: {text}")

    socket.getaddrinfo = loopback_getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = real


def _structlog_through_logging() -> None:
    """Outside the tests that configure logging as ``serve`` does, structlog's lines (the hop
    lines of the servers the tests start) become standard library records: pytest captures
    those with the test that caused them, where structlog's default would print them."""
    structlog.configure(
        processors=[
            merge_correlation,
            structlog.processors.add_log_level,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )


@pytest.fixture(autouse=True, scope="session")
def _structlog_for_the_session() -> Iterator[None]:
    _structlog_through_logging()
    yield
    structlog.reset_defaults()


@pytest.fixture(autouse=True)
def _logging_left_as_found() -> Iterator[None]:
    """A test that configures logging (the CLI's ``main`` does) leaves no handler behind on the
    stream pytest captured for it: that stream is closed afterwards, and a line a later test's
    server thread logs would fail on it ("--- Logging error ---")."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    configured = [
        handler
        for handler in root.handlers
        if handler not in handlers and isinstance(handler.formatter, ProcessorFormatter)
    ]
    for handler in configured:
        root.removeHandler(handler)
    if configured:
        root.setLevel(level)
    _structlog_through_logging()
