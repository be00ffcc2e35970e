"""The adapter's exception hierarchy, in one place.

- :class:`adapter.paygate.errors.PaygateError` — a shop request broke a Paygate rule; it is
  answered with a Paygate Status/Code (see ``mapping.yaml``).
- :class:`ConfigError` — the configuration or mapping file is wrong; raised at start-up and by
  ``check-config``, never while serving.
- :class:`adapter.alipayplus.client.UpstreamUnknown` — an Alipay+ call has no trustworthy
  answer; what it asked for may have happened.
- :class:`NotFound` — a payment or token the request names does not exist for this merchant.
"""

from __future__ import annotations


class AdapterError(Exception):
    """Base of the adapter's own errors."""


class ConfigError(AdapterError):
    """One or more problems in a configuration file, each a ``path: message`` line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class NotFound(AdapterError):
    """The referenced payment, operation or token is unknown."""
