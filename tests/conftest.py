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


@pytest.fixture(autouse=True)
def _logging_left_as_found() -> Iterator[None]:
    """A test that configures logging (the CLI's ``main`` does) leaves no handler behind on the
    stream pytest captured for it: that stream is closed afterwards, and a line a later test's
    server thread logs would fail on it ("--- Logging error ---")."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    if root.handlers != handlers:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()
