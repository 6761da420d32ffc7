"""HMAC signatures bound to one request: fresh, untampered messages from the secret's
holder only, and answers that fit the very request they answer."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import unquote

import pytest

from betguard.providers.signing import (
    REQUEST_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Exchange,
    SignatureError,
    new_request_id,
    request_id_of,
    sign_request,
    sign_response,
    verify_request,
    verify_response,
)

SECRET = "provider-secret-0123456789"
BODY = b'{"bet_ref":"b-1","status":"settled","payout":"120.50","currency":"EUR"}'
SENT = 1_767_225_600.0  # 2026-01-01T00:00:00Z
RID = "0123456789abcdef0123456789abcdef"
ASKED = Exchange(RID, "GET", "/bets/b-1")
NOT_FOUND = b'{"error":"unknown bet"}'


def answered(**headers: str) -> dict[str, str]:
    return {**sign_response(SECRET, ASKED, 200, BODY, now=SENT), **headers}


def check_answer(headers: dict[str, str], exchange: Exchange = ASKED, status: int = 200,
                 body: bytes = BODY, now: float = SENT) -> None:
    verify_response(SECRET, headers, exchange, status, body, now=now)


def check_request(headers: dict[str, str], method: str = "GET", target: str = "/bets/b-1",
                  body: bytes = b"", now: float = SENT) -> Exchange:
    return verify_request(SECRET, headers, method=method, target=target, body=body, now=now)


# --- what verifies -------------------------------------------------------------------


def test_a_signed_request_verifies_and_names_the_exchange_to_answer() -> None:
    headers = sign_request(SECRET, ASKED, b"", now=SENT)
    assert check_request(headers, now=SENT + 1) == ASKED


def test_a_signed_answer_verifies_against_the_request_it_answers() -> None:
    check_answer(answered(), now=SENT + 1)


def test_the_request_signature_covers_method_target_request_id_timestamp_and_body() -> None:
    message = b"v2-request\n1767225600\n" + RID.encode() + b"\nPOST\n/bets/b-1/cancel\n{}"
    expected = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    exchange = Exchange(RID, "POST", "/bets/b-1/cancel")
    assert sign_request(SECRET, exchange, b"{}", now=SENT + 0.9) == {
        TIMESTAMP_HEADER: "1767225600",
        REQUEST_ID_HEADER: RID,
        SIGNATURE_HEADER: expected,
    }


def test_the_answer_signature_covers_the_status_and_echoes_the_request_id() -> None:
    message = b"v2-response\n1767225600\n" + RID.encode() + b"\n404\nGET\n/bets/b-1\n" + NOT_FOUND
    expected = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    assert sign_response(SECRET, ASKED, 404, NOT_FOUND, now=SENT) == {
        TIMESTAMP_HEADER: "1767225600",
        REQUEST_ID_HEADER: RID,
        SIGNATURE_HEADER: expected,
    }


def test_request_ids_are_fresh_and_well_formed() -> None:
    ids = {new_request_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(request_id_of({REQUEST_ID_HEADER: rid}) == rid for rid in ids)


def test_headers_are_found_whatever_their_case() -> None:
    lowered = {name.lower(): value for name, value in answered().items()}
    check_answer(lowered)


# --- answers replayed or changed -----------------------------------------------------


def test_a_signed_404_for_one_bet_does_not_verify_as_the_answer_about_another_bet() -> None:
    captured = sign_response(SECRET, ASKED, 404, NOT_FOUND, now=SENT)
    other_bet = Exchange(RID, "GET", "/bets/b-2")
    with pytest.raises(SignatureError, match="does not match"):
        check_answer(captured, other_bet, 404, NOT_FOUND)


def test_a_signed_cancel_answer_does_not_verify_as_the_answer_to_a_status_query() -> None:
    cancel = Exchange(RID, "POST", "/bets/b-1/cancel")
    captured = sign_response(SECRET, cancel, 404, NOT_FOUND, now=SENT)
    with pytest.raises(SignatureError, match="does not match"):
        check_answer(captured, ASKED, 404, NOT_FOUND)


def test_a_signed_200_does_not_verify_once_its_status_is_changed_to_404() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        check_answer(answered(), status=404)


def test_a_signed_404_does_not_verify_once_its_status_is_changed_to_200() -> None:
    captured = sign_response(SECRET, ASKED, 404, NOT_FOUND, now=SENT)
    with pytest.raises(SignatureError, match="does not match"):
        check_answer(captured, status=200, body=NOT_FOUND)


def test_an_answer_to_another_request_is_refused_by_its_echoed_request_id() -> None:
    other_request = Exchange(new_request_id(), "GET", "/bets/b-1")
    captured = sign_response(SECRET, other_request, 200, BODY, now=SENT)
    with pytest.raises(SignatureError, match="an answer to another request"):
        check_answer(captured)


def test_an_answer_to_another_request_with_its_echo_rewritten_is_refused() -> None:
    other_request = Exchange(new_request_id(), "GET", "/bets/b-1")
    captured = sign_response(SECRET, other_request, 200, BODY, now=SENT)
    with pytest.raises(SignatureError, match="does not match"):
        check_answer({**captured, REQUEST_ID_HEADER: RID})


def test_a_request_signature_is_never_taken_for_an_answer() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        check_answer(sign_request(SECRET, ASKED, BODY, now=SENT))


def test_a_tampered_answer_body_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        check_answer(answered(), body=BODY.replace(b"120.50", b"999.50"))


def test_an_answer_signed_with_another_secret_is_refused() -> None:
    headers = sign_response("someone-elses-secret-000", ASKED, 200, BODY, now=SENT)
    with pytest.raises(SignatureError, match="does not match"):
        check_answer(headers)


def test_a_captured_signature_under_a_fresh_timestamp_is_refused() -> None:
    replayed = answered(**{TIMESTAMP_HEADER: str(int(SENT) + 3600)})
    with pytest.raises(SignatureError, match="does not match"):
        check_answer(replayed, now=SENT + 3600)


# --- requests replayed or changed ----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        ("POST", "/bets/b-1/cancel", b""),  # a signed status query sent as a cancel
        ("GET", "/bets/b-2", b""),  # about another bet
        ("GET", "/bets/b-1?x=1", b""),  # with a query added
        ("GET", "/bets/b-1", b"{}"),  # with a body added
    ],
    ids=["as a cancel", "about another bet", "with a query", "with a body"],
)
def test_a_signed_request_does_not_verify_once_sent_elsewhere_or_changed(
    method: str, target: str, body: bytes
) -> None:
    headers = sign_request(SECRET, ASKED, b"", now=SENT)
    with pytest.raises(SignatureError, match="does not match"):
        check_request(headers, method, target, body)


@pytest.mark.parametrize(
    "target",
    ["/bets/a%2Fb", "/bets/100%25", "/bets/two%20words", "/bets/%C3%A9t%C3%A9-%E2%82%AC"],
    ids=["slash", "percent", "space", "unicode"],
)
def test_a_percent_encoded_target_is_signed_as_sent_and_not_as_decoded(target: str) -> None:
    exchange = Exchange(RID, "GET", target)
    headers = sign_request(SECRET, exchange, b"", now=SENT)
    assert check_request(headers, target=target) == exchange
    with pytest.raises(SignatureError):
        check_request(headers, target=unquote(target))


# --- missing and malformed headers ---------------------------------------------------


@pytest.mark.parametrize("missing", [TIMESTAMP_HEADER, SIGNATURE_HEADER, REQUEST_ID_HEADER])
def test_an_answer_missing_a_signature_header_is_refused_naming_it(missing: str) -> None:
    headers = answered()
    del headers[missing]
    with pytest.raises(SignatureError, match=f"missing signature headers: {missing}"):
        check_answer(headers)


@pytest.mark.parametrize("emptied", [TIMESTAMP_HEADER, SIGNATURE_HEADER, REQUEST_ID_HEADER])
def test_an_empty_signature_header_is_refused(emptied: str) -> None:
    with pytest.raises(SignatureError, match="missing signature headers"):
        check_answer(answered(**{emptied: ""}))


def test_a_request_without_a_request_id_is_refused() -> None:
    headers = sign_request(SECRET, ASKED, b"", now=SENT)
    del headers[REQUEST_ID_HEADER]
    with pytest.raises(SignatureError, match="missing signature headers"):
        check_request(headers)
    assert request_id_of(headers) is None


def test_an_unsigned_message_is_refused() -> None:
    with pytest.raises(SignatureError):
        check_answer({})
    with pytest.raises(SignatureError):
        check_request({})


def test_a_truncated_signature_is_refused() -> None:
    headers = answered()
    headers[SIGNATURE_HEADER] = headers[SIGNATURE_HEADER][:-1]
    with pytest.raises(SignatureError, match="malformed signature"):
        check_answer(headers)


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_a_stale_or_future_timestamp_is_refused(skew: int) -> None:
    with pytest.raises(SignatureError, match="stale timestamp"):
        check_answer(answered(), now=SENT + skew)


@pytest.mark.parametrize("skew", [0, 300, -300])
def test_a_timestamp_within_five_minutes_either_way_is_accepted(skew: int) -> None:
    check_answer(answered(), now=SENT + skew)


def test_the_allowed_skew_can_be_tightened() -> None:
    with pytest.raises(SignatureError, match="stale timestamp"):
        verify_response(SECRET, answered(), ASKED, 200, BODY, now=SENT + 11, max_skew=10)


@pytest.mark.parametrize(
    "timestamp",
    ["yesterday", "1767225600.5", "0x69558e80", "-1767225600", "1767225600\n", "9" * 13],
)
def test_a_malformed_timestamp_is_refused(timestamp: str) -> None:
    with pytest.raises(SignatureError, match="malformed timestamp"):
        check_answer(answered(**{TIMESTAMP_HEADER: timestamp}))


@pytest.mark.parametrize("digits", [5_000, 100_000])
def test_a_timestamp_of_thousands_of_digits_is_a_signature_error_not_a_crash(
    digits: int,
) -> None:
    huge = "1" * digits  # int() of it would raise ValueError (max str digits), not this
    with pytest.raises(SignatureError, match="malformed timestamp"):
        check_answer(answered(**{TIMESTAMP_HEADER: huge}))
    with pytest.raises(SignatureError, match="malformed timestamp"):
        check_request({**sign_request(SECRET, ASKED, b"", now=SENT), TIMESTAMP_HEADER: huge})


@pytest.mark.parametrize(
    "headers",
    [
        {TIMESTAMP_HEADER: "\xa01767225600"},  # a latin-1 no-break space: int() strips it
        {TIMESTAMP_HEADER: "\uff11\uff17\uff16\uff17\uff12\uff12\uff15\uff16\uff10\uff10"},
        {TIMESTAMP_HEADER: "\u00b9\u00b2\u00b3"},  # superscripts: isdigit() yet not digits
        {SIGNATURE_HEADER: "\xe9" * 64},
        {REQUEST_ID_HEADER: "\xe9" * 32},
        {REQUEST_ID_HEADER: "\uff10" * 32},  # fullwidth zeros
    ],
    ids=["nbsp-timestamp", "fullwidth-digits", "superscript-digits", "latin1-signature",
         "latin1-request-id", "fullwidth-request-id"],
)
def test_non_ascii_signature_headers_are_refused_as_a_bad_signature(
    headers: dict[str, str],
) -> None:
    with pytest.raises(SignatureError, match="malformed"):
        check_answer(answered(**headers))


@pytest.mark.parametrize(
    "request_id",
    ["short", "x" * 129, "has space in it 0123", "new\nline-0123456789", "0" * 10_000],
    ids=["too short", "too long", "space", "newline", "ten thousand characters"],
)
def test_a_malformed_request_id_is_refused(request_id: str) -> None:
    headers = {**sign_request(SECRET, ASKED, b"", now=SENT), REQUEST_ID_HEADER: request_id}
    with pytest.raises(SignatureError, match="malformed request id"):
        check_request(headers)
    assert request_id_of(headers) is None


@pytest.mark.parametrize(
    ("method", "target"),
    [("get", "/bets/b-1"), ("GET", "bets/b-1"), ("GET", "/bets/b 1"), ("GET", "/bets/\u00e9"),
     ("GET", "/bets/b-1\nX: y"), ("G\nET", "/bets/b-1")],
    ids=["lowercase method", "relative target", "raw space", "raw unicode", "newline in target",
         "newline in method"],
)
def test_a_request_whose_method_or_target_cannot_be_on_a_request_line_is_refused(
    method: str, target: str
) -> None:
    headers = sign_request(SECRET, ASKED, b"", now=SENT)
    with pytest.raises(SignatureError, match="malformed"):
        check_request(headers, method, target)


def test_signing_for_a_malformed_exchange_is_refused() -> None:
    with pytest.raises(SignatureError, match="malformed request target"):
        sign_request(SECRET, Exchange(RID, "GET", "/bets/b 1"), b"")
    with pytest.raises(SignatureError, match="malformed status code"):
        sign_response(SECRET, ASKED, 1000, b"")
