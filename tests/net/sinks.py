"""Loopback HTTP(S) servers that record what reaches them and answer one fixed response."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Arrival:
    """One request as the server saw it."""

    local_address: str
    request_line: str
    headers: dict[str, str]
    body: bytes
    server_name: str | None  # the TLS SNI, None for plain HTTP or an IP literal


@dataclass
class Sink:
    """Answers every request with ``status``, ``headers`` and ``body``; keeps what arrived.

    With ``keep_alive`` a connection stays open for further requests (until the client closes
    it, or ``close_after`` answers on it); otherwise each answer says ``connection: close``.
    ``hang_up_after`` answers on one connection, the next request is read and the connection
    closed without an answer (a shop dropping an idle connection just as a request arrives).
    With ``drip_seconds`` the body goes out one byte at a time, that long apart.
    """

    status: int = 200
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b"ok"
    keep_alive: bool = False
    close_after: int | None = None
    hang_up_after: int | None = None
    drip_seconds: float | None = None
    arrivals: list[Arrival] = field(default_factory=list)
    connections: int = 0
    _server_names: dict[int, str] = field(default_factory=dict)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        answered = 0
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                await self._answer_one(reader, writer, hang_up=answered == self.hang_up_after)
                answered += 1
                if not self.keep_alive or answered == self.close_after:
                    break
        writer.close()

    async def _answer_one(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, hang_up: bool
    ) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = head.split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines if line)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        ssl_object = writer.get_extra_info("ssl_object")
        self.arrivals.append(
            Arrival(
                local_address=writer.get_extra_info("sockname")[0],
                request_line=request_line,
                headers=headers,
                body=body,
                server_name=self._server_names.get(id(ssl_object)),
            )
        )
        if hang_up:
            raise ConnectionResetError("hung up without an answer")
        extra = "".join(f"{name}: {value}\r\n" for name, value in self.headers)
        connection = "keep-alive" if self.keep_alive else "close"
        writer.write(
            f"HTTP/1.1 {self.status} Answer\r\ncontent-length: {len(self.body)}\r\n"
            f"connection: {connection}\r\n{extra}\r\n".encode("latin-1")
        )
        if self.drip_seconds is None:
            writer.write(self.body)
            await writer.drain()
            return
        for byte in self.body:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(self.drip_seconds)

    def remember_server_name(
        self, ssl_object: ssl.SSLObject, name: str | None, _: ssl.SSLContext
    ) -> None:
        if name is not None:
            self._server_names[id(ssl_object)] = name


@asynccontextmanager
async def serving(
    sink: Sink, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    """Run ``sink`` on ``host``; yields the port."""
    if tls is not None:
        tls.sni_callback = sink.remember_server_name
    server = await asyncio.start_server(sink.handle, host, port, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@dataclass(frozen=True)
class TestCertificates:
    """A private CA and a server certificate it signed for ``names``."""

    client: ssl.SSLContext  # trusts only the CA
    server: ssl.SSLContext


def certificates(directory: Path, names: Sequence[str]) -> TestCertificates:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file = directory / "server.pem"
    key_file = directory / "server.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(
        cadata=ca.public_bytes(serialization.Encoding.PEM).decode("ascii")
    )
    return TestCertificates(client=client, server=server)
