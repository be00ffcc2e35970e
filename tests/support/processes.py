"""Adapter processes started the way an operator starts them: ``paygate-adapter serve``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.waiting import wait_until


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class ServeProcess:
    """One ``serve`` command; its output goes to ``log`` (printed when the test ends)."""

    config: Path
    port: int
    workers: int = 1
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.config.parent / f"serve-{self.port}.log"

    def start(self) -> ServeProcess:
        args = [sys.executable, "-m", "adapter.cli", "serve", "--config", str(self.config)]
        args += ["--port", str(self.port), "--workers", str(self.workers)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
            )
        wait_until(
            lambda: accepts(self.port) or self._exited(),
            timeout=60,
            message=lambda: f"serve on {self.port} never listened:\n{self.output()}",
        )
        assert not self._exited(), self.output()
        return self

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def signal(self, number: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def wait(self, timeout: float = 60) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def print_output(self) -> None:
        """Shown by pytest when the test fails."""
        print(f"--- serve on {self.port}\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
