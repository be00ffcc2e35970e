"""Static configuration of the Alipay+ sandbox: who may call it and how it behaves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

DEFAULT_CURRENCIES = frozenset(
    {
        "EUR", "USD", "JPY", "CNY", "HKD", "SGD", "KRW", "GBP",
        "AUD", "CHF", "THB", "MYR", "PHP", "IDR", "NZD", "CAD",
    }
)  # fmt: skip

# Initial send plus 7 resends (+2m, +10m, +10m, +1h, +2h, +6h, +15h):
# docs/alipayplus.md#resend-schedule.
DEFAULT_NOTIFY_SCHEDULE = (0.0, 120.0, 600.0, 600.0, 3600.0, 7200.0, 21600.0, 54000.0)


@dataclass(frozen=True)
class SandboxClient:
    """One ACQP registered with the sandbox."""

    client_id: str
    acqp_public_keys: Mapping[str, RSAPublicKey]  # by keyVersion
    acquirer_id: str
    default_notify_url: str | None = None


@dataclass(frozen=True)
class SandboxConfig:
    clients: Mapping[str, SandboxClient]
    private_key: RSAPrivateKey
    public_url: str  # base URL the browser reaches the sandbox at; normalUrl is built from it
    key_version: str = "1"
    currencies: frozenset[str] = DEFAULT_CURRENCIES
    # Waits between notification attempts (the first is counted from the final state).
    notify_schedule: tuple[float, ...] = DEFAULT_NOTIFY_SCHEDULE
    time_scale: float = 1.0  # multiplies every notify wait, so tests run a 25 h schedule in ms
    notify_timeout: float = 5.0
    strict_ack: bool = True
    decline_code: str = "USER_PAYMENT_VERIFICATION_FAILED"
    expiry_code: str = "ORDER_IS_CLOSED"

    def with_public_url(self, public_url: str) -> SandboxConfig:
        """The same config for a sandbox whose address is only known once it listens."""
        return replace(self, public_url=public_url)

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/")
