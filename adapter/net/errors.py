"""Why a URL or a target host was refused.

``reason`` names the broken rule and never repeats the input: it ends up in Paygate
Descriptions, log lines and the operator's attention list, and a hostile URL must not carry
its CR/LF or a private address into any of them.
"""

from __future__ import annotations

from adapter.errors import AdapterError


class TargetRefused(AdapterError):
    """A URL or host that must not be used; subclasses say why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidUrl(TargetRefused):
    """The text is not a URL this adapter accepts (a format problem of the request)."""


class UnsafeTarget(TargetRefused):
    """The host is, or resolves to, an address the merchant's policy does not admit."""


class UnresolvedHost(TargetRefused):
    """The host name has no address (or none in time): nothing was checked, so nothing is sent."""
