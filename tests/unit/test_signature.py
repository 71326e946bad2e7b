"""Webhooks V3 signatures: sign, header with rotation, verify in every way PagerDuty can send them."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from alertbridge.logic.signature import sign, signature_header, signatures, verify

BODY = b'{"event":{"id":"01ABC","event_type":"incident.resolved"}}'


def test_sign_is_lowercase_hex_hmac_sha256() -> None:
    expected = hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", BODY) == expected
    assert expected == expected.lower() and len(expected) == 64


def test_header_lists_one_entry_per_secret() -> None:
    header = signature_header(["old", "new"], BODY)
    assert header == f"v1={sign('old', BODY)},v1={sign('new', BODY)}"


def test_header_needs_a_secret() -> None:
    with pytest.raises(ValueError):
        signature_header([], BODY)


def test_verify_accepts_the_right_secret() -> None:
    assert verify(signature_header(["s3cret"], BODY), BODY, ["s3cret"])


def test_verify_accepts_any_entry_during_rotation() -> None:
    header = signature_header(["old", "new"], BODY)
    assert verify(header, BODY, ["new"])
    assert verify(header, BODY, ["old"])
    assert verify(signature_header(["new"], BODY), BODY, ["old", "new"])


def test_verify_tolerates_spaces_and_upper_case_hex() -> None:
    digest = sign("s3cret", BODY)
    assert verify(f"  v1 = {digest.upper()} , v1=deadbeef ", BODY, ["s3cret"])


@pytest.mark.parametrize("header", [None, "", "v1=", "v2=abc", "garbage", ",,,"])
def test_verify_rejects_missing_or_empty_headers(header: str | None) -> None:
    assert not verify(header, BODY, ["s3cret"])


def test_verify_rejects_a_wrong_secret_or_a_changed_body() -> None:
    header = signature_header(["s3cret"], BODY)
    assert not verify(header, BODY, ["other"])
    assert not verify(header, BODY + b" ", ["s3cret"])


def test_verify_rejects_when_no_usable_secret() -> None:
    assert not verify(signature_header(["s3cret"], BODY), BODY, [])
    assert not verify(f"v1={sign('', BODY)}", BODY, [""])


def test_signatures_ignores_other_versions() -> None:
    assert signatures("v0=aa, v1=bb,v1=cc") == ["bb", "cc"]
