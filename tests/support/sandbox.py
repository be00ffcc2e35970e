"""The Alipay+ sandbox as the end-to-end tests run it: one ACQP client, its notify schedule run
a thousand times faster."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from starlette.applications import Starlette

from adapter.sandbox.app import create_sandbox_app
from adapter.sandbox.config import SandboxClient, SandboxConfig


def fast_sandbox(
    client_id: str,
    acqp_public_key: RSAPublicKey,
    private_key: RSAPrivateKey,
    public_url: str,
    *,
    acquirer_id: str = "ACQ-1",
    notify_timeout: float = SandboxConfig.notify_timeout,
) -> Starlette:
    return create_sandbox_app(
        SandboxConfig(
            clients={client_id: SandboxClient(client_id, {"1": acqp_public_key}, acquirer_id)},
            private_key=private_key,
            public_url=public_url,
            time_scale=0.001,
            notify_timeout=notify_timeout,
        )
    )
