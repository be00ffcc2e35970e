"""The adapter's exception hierarchy, in one place.

Every error the adapter raises on purpose derives from :class:`AdapterError`::

    AdapterError
    ├── ConfigError        the configuration or mapping file is wrong; raised at start-up and
    │                      by ``check-config``, never while serving
    ├── PaygateError       a shop request broke a Paygate rule; answered with a Paygate
    │                      Status/Code (``adapter.paygate.errors``, codes in ``mapping.yaml``)
    ├── UpstreamUnknown    an Alipay+ call has no trustworthy answer: what it asked for may
    │                      have happened, so it is retried with the same request id, never FAILED
    ├── LockBusy           a payment stayed locked by other work longer than the caller could wait
    └── DuplicateTransID   another payment of the merchant already uses the TransID
"""

from __future__ import annotations


class AdapterError(Exception):
    """Base of the adapter's own errors."""


class ConfigError(AdapterError):
    """One or more problems in a configuration file, each a ``path: message`` line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class UpstreamUnknown(AdapterError):
    """No trustworthy answer: what was asked may or may not have happened upstream."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LockBusy(AdapterError):
    """The payment stayed locked for longer than the caller could wait."""


class DuplicateTransID(AdapterError):
    """Another payment of this merchant already uses the TransID."""
