"""HMAC signing of HTTP bodies: fresh, untampered messages from the secret's holder only."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from providers.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign,
    verify,
)

SECRET = "provider-secret-0123456789"
BODY = b'{"bet_ref":"b-1","status":"settled","payout":"120.50","currency":"EUR"}'
SENT = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def signed(**headers: str) -> dict[str, str]:
    return {**sign(SECRET, BODY, now=SENT), **headers}


def test_a_signed_body_verifies_with_the_same_secret() -> None:
    verify(SECRET, sign(SECRET, BODY, now=SENT), BODY, now=SENT + 1)


def test_the_signature_covers_the_timestamp_and_the_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1767225600." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, now=SENT + 0.9) == {
        TIMESTAMP_HEADER: "1767225600",
        SIGNATURE_HEADER: expected,
    }


@pytest.mark.parametrize("missing", [TIMESTAMP_HEADER, SIGNATURE_HEADER])
def test_a_message_missing_a_signature_header_is_refused(missing: str) -> None:
    headers = signed()
    del headers[missing]
    with pytest.raises(SignatureError, match="missing signature headers"):
        verify(SECRET, headers, BODY, now=SENT)


@pytest.mark.parametrize("emptied", [TIMESTAMP_HEADER, SIGNATURE_HEADER])
def test_a_message_with_an_empty_signature_header_is_refused(emptied: str) -> None:
    with pytest.raises(SignatureError, match="missing signature headers"):
        verify(SECRET, signed(**{emptied: ""}), BODY, now=SENT)


def test_an_unsigned_message_is_refused() -> None:
    with pytest.raises(SignatureError):
        verify(SECRET, {}, BODY, now=SENT)


def test_a_body_signed_with_another_secret_is_refused() -> None:
    headers = sign("someone-elses-secret-000", BODY, now=SENT)
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, headers, BODY, now=SENT)


def test_a_tampered_body_is_refused() -> None:
    tampered = BODY.replace(b"120.50", b"999.50")
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, signed(), tampered, now=SENT)


def test_a_captured_signature_replayed_under_a_fresh_timestamp_is_refused() -> None:
    replayed = signed(**{TIMESTAMP_HEADER: str(int(SENT) + 3600)})
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, replayed, BODY, now=SENT + 3600)


def test_a_truncated_signature_is_refused() -> None:
    headers = signed()
    headers[SIGNATURE_HEADER] = headers[SIGNATURE_HEADER][:-1]
    with pytest.raises(SignatureError):
        verify(SECRET, headers, BODY, now=SENT)


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_a_stale_or_future_timestamp_is_refused(skew: int) -> None:
    with pytest.raises(SignatureError, match="stale timestamp"):
        verify(SECRET, signed(), BODY, now=SENT + skew)


@pytest.mark.parametrize("skew", [0, 300, -300])
def test_a_timestamp_within_five_minutes_either_way_is_accepted(skew: int) -> None:
    verify(SECRET, signed(), BODY, now=SENT + skew)


def test_the_allowed_skew_can_be_tightened() -> None:
    with pytest.raises(SignatureError, match="stale timestamp"):
        verify(SECRET, signed(), BODY, now=SENT + 11, max_skew=10)


@pytest.mark.parametrize("timestamp", ["yesterday", "1767225600.5", "0x69558e80"])
def test_a_malformed_timestamp_is_refused(timestamp: str) -> None:
    with pytest.raises(SignatureError, match="malformed timestamp"):
        verify(SECRET, signed(**{TIMESTAMP_HEADER: timestamp}), BODY, now=SENT)


@pytest.mark.parametrize(
    "headers",
    [
        {TIMESTAMP_HEADER: "\xa01767225600"},  # a latin-1 no-break space: int() strips it
        {TIMESTAMP_HEADER: "\uff11\uff17\uff16\uff17\uff12\uff12\uff15\uff16\uff10\uff10"},
        {SIGNATURE_HEADER: "\xe9" * 64},
    ],
    ids=["nbsp-timestamp", "fullwidth-digits", "latin1-signature"],
)
def test_non_ascii_signature_headers_are_refused_as_a_bad_signature(
    headers: dict[str, str],
) -> None:
    with pytest.raises(SignatureError):
        verify(SECRET, signed(**headers), BODY, now=SENT)
