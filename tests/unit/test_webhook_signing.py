"""Standard Webhooks signatures: checked against the spec's scheme written again here with
plain hmac and base64, the libraries' shared known-answer vector, and svix's verifier (what
a receiver of our webhooks is told to use)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError as SvixVerificationError

from chatfn.webhooks.signing import (
    BadSignature,
    MissingHeader,
    TimestampOutOfTolerance,
    new_secret,
    sign,
    verify,
)

BODY = b'{"type":"message.sent","data":{"id":"0190"}}'
MSG_ID = "msg_0190a1b2c3"


def spec_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """The spec's `v1` signature, from its text alone."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert new_secret() != secret


def test_the_signature_is_the_specs() -> None:
    secret = new_secret()
    headers = sign(MSG_ID, BODY, secret, timestamp=1_700_000_000)
    assert headers == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": "1700000000",
        "webhook-signature": spec_signature(secret, MSG_ID, "1700000000", BODY),
    }


def test_the_known_answer_every_standard_webhooks_library_tests() -> None:
    headers = sign(
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        b'{"test": 2432232314}',
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        timestamp=1614265330,
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_timestamp_is_now_by_default() -> None:
    before = int(time.time())
    stamp = int(sign(MSG_ID, BODY, new_secret())["webhook-timestamp"])
    assert before <= stamp <= int(time.time())


def test_svix_verifies_what_we_sign() -> None:
    secret = new_secret()
    headers = sign(MSG_ID, BODY, secret)
    SvixWebhook(secret).verify(BODY, headers)
    with pytest.raises(SvixVerificationError):
        SvixWebhook(secret).verify(BODY + b" ", headers)
    with pytest.raises(SvixVerificationError):
        SvixWebhook(new_secret()).verify(BODY, headers)


def test_we_verify_what_svix_signs() -> None:
    secret = new_secret()
    now = datetime.now(UTC).replace(microsecond=0)
    headers = {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": SvixWebhook(secret).sign(MSG_ID, now, BODY.decode()),
    }
    verify(BODY, headers, secret)


def test_a_rotated_secret_signs_with_both_and_either_verifies() -> None:
    old, current = new_secret(), new_secret()
    headers = sign(MSG_ID, BODY, current, old, timestamp=int(time.time()))
    stamp = headers["webhook-timestamp"]
    assert headers["webhook-signature"].split(" ") == [
        spec_signature(current, MSG_ID, stamp, BODY),
        spec_signature(old, MSG_ID, stamp, BODY),
    ]
    verify(BODY, headers, old)  # a receiver not yet given the new secret
    verify(BODY, headers, current)  # one that has moved on
    SvixWebhook(old).verify(BODY, headers)
    SvixWebhook(current).verify(BODY, headers)
    with pytest.raises(BadSignature):
        verify(BODY, headers, new_secret())


def test_verify_tries_each_of_its_own_secrets() -> None:
    old, current = new_secret(), new_secret()
    verify(BODY, sign(MSG_ID, BODY, old), current, old)
    verify(BODY, sign(MSG_ID, BODY, current), current, old)


Tamper = Callable[[bytes, dict[str, str]], tuple[bytes, dict[str, str]]]
TAMPERINGS: dict[str, Tamper] = {
    "body": lambda body, headers: (body + b"\n", headers),
    "id": lambda body, headers: (body, headers | {"webhook-id": "msg_other"}),
    "timestamp": lambda body, headers: (
        body,
        headers | {"webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)},
    ),
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_anything_tampered_with_fails(tamper: Tamper) -> None:
    secret = new_secret()
    body, headers = tamper(BODY, sign(MSG_ID, BODY, secret))
    with pytest.raises(BadSignature):
        verify(body, headers, secret)


def test_the_timestamp_must_be_within_the_tolerance() -> None:
    secret = new_secret()
    headers = sign(MSG_ID, BODY, secret, timestamp=1_700_000_000)
    verify(BODY, headers, secret, now=1_700_000_300)
    verify(BODY, headers, secret, now=1_699_999_700)
    with pytest.raises(TimestampOutOfTolerance, match="301 s in the past"):
        verify(BODY, headers, secret, now=1_700_000_301)
    with pytest.raises(TimestampOutOfTolerance, match="301 s in the future"):
        verify(BODY, headers, secret, now=1_699_999_699)
    verify(BODY, headers, secret, now=1_700_000_900, tolerance=900)
    with pytest.raises(TimestampOutOfTolerance):
        verify(BODY, headers, secret, now=1_700_000_060, tolerance=30)


@pytest.mark.parametrize("stamp", ["1.7e9", "-1", " 1700000000", "\u0661" * 10, "now"])
def test_a_timestamp_that_is_not_unix_seconds_fails(stamp: str) -> None:
    secret = new_secret()
    headers = sign(MSG_ID, BODY, secret) | {"webhook-timestamp": stamp}
    with pytest.raises(TimestampOutOfTolerance, match="not unix seconds"):
        verify(BODY, headers, secret, now=1_700_000_000)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_fails(missing: str) -> None:
    secret = new_secret()
    headers = sign(MSG_ID, BODY, secret)
    del headers[missing]
    with pytest.raises(MissingHeader):
        verify(BODY, headers, secret)


def test_header_names_match_in_any_case() -> None:
    secret = new_secret()
    headers = {name.title(): value for name, value in sign(MSG_ID, BODY, secret).items()}
    verify(BODY, headers, secret)


@pytest.mark.parametrize(
    "signature", ["v1", "v1,", "v1,!!!", "v1,a,b", "v1a,AAAA", ",", "   ", "v2,AAAA", "é"]
)
def test_a_malformed_signature_header_is_a_bad_signature_not_a_crash(signature: str) -> None:
    secret = new_secret()
    headers = sign(MSG_ID, BODY, secret) | {"webhook-signature": signature}
    with pytest.raises(BadSignature):
        verify(BODY, headers, secret)


def test_the_valid_signature_is_found_among_others() -> None:
    secret = new_secret()
    headers = sign(MSG_ID, BODY, secret)
    headers["webhook-signature"] = f"v1a,AAAA v1,!!! {headers['webhook-signature']} v1,AAAA"
    verify(BODY, headers, secret)


def test_a_body_that_is_not_utf8_is_signed_as_bytes() -> None:
    secret = new_secret()
    body = b"\xff\xfe\x00binary"
    headers = sign(MSG_ID, body, secret)
    assert headers["webhook-signature"] == spec_signature(
        secret, MSG_ID, headers["webhook-timestamp"], body
    )
    verify(body, headers, secret)


@pytest.mark.parametrize("msg_id", ["", "msg.1700000000"])
def test_an_id_that_could_shift_the_signed_fields_is_refused(msg_id: str) -> None:
    with pytest.raises(ValueError, match="id"):
        sign(msg_id, BODY, new_secret())


@pytest.mark.parametrize(
    "secret",
    ["whsec_" + base64.b64encode(b"k" * 16).decode(), "whsec_not base64!", "whsec_"],
)
def test_a_secret_outside_the_specs_bounds_is_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        sign(MSG_ID, BODY, secret)


def test_a_secret_is_needed() -> None:
    with pytest.raises(ValueError, match="secret"):
        sign(MSG_ID, BODY)
    with pytest.raises(ValueError, match="secret"):
        verify(BODY, sign(MSG_ID, BODY, new_secret()))
