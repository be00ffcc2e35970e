from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapter.alipayplus import notify, signing
from adapter.alipayplus.models import ACK_BODY
from adapter.alipayplus.notify import AnswerSigner, ack_response_headers, verify_notification
from tests.alipayplus import independent

URI = "/alipayplus/notify"
CLIENT_ID = "T_111222333"
STAMP = "2019-07-12T12:08:56.253+05:30"  # the docs' sample, fraction and offset kept verbatim
BODY = b'{"paymentRequestId":"pr-1","paymentResult":{"resultCode":"SUCCESS","resultStatus":"S"}}'


def notification_headers(
    key: rsa.RSAPrivateKey, *, body: bytes = BODY, lowercase_escapes: bool = False
) -> dict[str, str]:
    data = independent.content("POST", URI, CLIENT_ID, STAMP, body)
    signature = independent.sign(key, data, lowercase_escapes=lowercase_escapes)
    # Names as in the docs' sample: mixed case, client-id in lower case.
    return {
        "Content-Type": "application/json",
        "Request-Time": STAMP,
        "client-id": CLIENT_ID,
        "Signature": independent.signature_header(signature),
    }


@pytest.mark.parametrize("lowercase_escapes", [False, True])
def test_notification_signed_by_alipay_verifies(
    alipay_key: rsa.RSAPrivateKey, lowercase_escapes: bool
) -> None:
    headers = notification_headers(alipay_key, lowercase_escapes=lowercase_escapes)
    assert verify_notification(
        uri=URI, headers=headers, body=BODY, alipay_public_key=alipay_key.public_key()
    )


def test_notification_with_a_changed_body_does_not_verify(alipay_key: rsa.RSAPrivateKey) -> None:
    headers = notification_headers(alipay_key)
    tampered = BODY.replace(b'"S"', b'"F"')
    assert not verify_notification(
        uri=URI, headers=headers, body=tampered, alipay_public_key=alipay_key.public_key()
    )


def test_notification_signed_for_another_path_does_not_verify(
    alipay_key: rsa.RSAPrivateKey,
) -> None:
    headers = notification_headers(alipay_key)
    assert not verify_notification(
        uri="/aps/api/v1/payments/notifyPayment",
        headers=headers,
        body=BODY,
        alipay_public_key=alipay_key.public_key(),
    )


def test_notification_signed_by_another_key_does_not_verify(
    alipay_key: rsa.RSAPrivateKey, stranger_key: rsa.RSAPrivateKey
) -> None:
    headers = notification_headers(stranger_key)
    assert not verify_notification(
        uri=URI, headers=headers, body=BODY, alipay_public_key=alipay_key.public_key()
    )


def test_notification_time_must_come_from_request_time(alipay_key: rsa.RSAPrivateKey) -> None:
    headers = notification_headers(alipay_key)
    headers["Response-Time"] = headers.pop("Request-Time")
    assert not verify_notification(
        uri=URI, headers=headers, body=BODY, alipay_public_key=alipay_key.public_key()
    )


def test_ack_headers_sign_the_ack_body_with_our_key_over_response_time(
    acqp_key: rsa.RSAPrivateKey,
) -> None:
    headers = ack_response_headers(
        uri=URI,
        client_id=CLIENT_ID,
        private_key=acqp_key,
        key_version="1",
        now=datetime(2025, 2, 20, 8, 51, 49, tzinfo=UTC),
    )
    assert headers["client-id"] == CLIENT_ID
    assert headers["response-time"] == "2025-02-20T08:51:49+00:00"
    data = independent.content("POST", URI, CLIENT_ID, headers["response-time"], ACK_BODY)
    assert independent.verify(acqp_key.public_key(), data, headers["signature"])
    assert "request-time" not in headers


def _counting_signs(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    signed: list[bytes] = []

    def sign(content: bytes, private_key: rsa.RSAPrivateKey) -> str:
        signed.append(content)
        return signing.sign(content, private_key)

    monkeypatch.setattr(notify, "sign", sign)
    return signed


def _answer_verifies(key: rsa.RSAPrivateKey, headers: dict[str, str], body: bytes) -> bool:
    data = independent.content("POST", URI, CLIENT_ID, headers["response-time"], body)
    return independent.verify(key.public_key(), data, headers["signature"])


def test_answers_in_one_second_share_one_signature(
    acqp_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = _counting_signs(monkeypatch)
    signer = AnswerSigner(client_id=CLIENT_ID, private_key=acqp_key, key_version="1")
    second = datetime(2025, 2, 20, 8, 51, 49, tzinfo=UTC)
    answers = [
        signer.headers(uri=URI, body=ACK_BODY, now=second + timedelta(microseconds=us))
        for us in (0, 250_000, 999_999)
    ]
    assert len(signed) == 1
    assert all(_answer_verifies(acqp_key, headers, ACK_BODY) for headers in answers)


def test_another_second_or_body_or_path_is_signed_afresh(
    acqp_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = _counting_signs(monkeypatch)
    signer = AnswerSigner(client_id=CLIENT_ID, private_key=acqp_key, key_version="1")
    second = datetime(2025, 2, 20, 8, 51, 49, tzinfo=UTC)
    refusal = b'{"result":{"resultCode":"PARAM_ILLEGAL","resultStatus":"F"}}'
    ack = signer.headers(uri=URI, body=ACK_BODY, now=second)
    refused = signer.headers(uri=URI, body=refusal, now=second)
    next_ack = signer.headers(uri=URI, body=ACK_BODY, now=second + timedelta(seconds=1))
    elsewhere = signer.headers(uri=URI + "/", body=ACK_BODY, now=second + timedelta(seconds=1))
    assert len(signed) == 4
    assert _answer_verifies(acqp_key, ack, ACK_BODY)
    assert _answer_verifies(acqp_key, refused, refusal)
    assert _answer_verifies(acqp_key, next_ack, ACK_BODY)
    assert next_ack["response-time"] == "2025-02-20T08:51:50+00:00"
    data = independent.content("POST", URI + "/", CLIENT_ID, elsewhere["response-time"], ACK_BODY)
    assert independent.verify(acqp_key.public_key(), data, elsewhere["signature"])
