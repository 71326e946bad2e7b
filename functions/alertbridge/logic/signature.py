"""PagerDuty Webhooks V3 signatures: `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]`.

v1 is the lowercase hex HMAC-SHA256 of the raw body bytes with the subscription's secret. During a secret
rotation PagerDuty sends one entry per secret: a request is valid when any entry matches any of our secrets.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

SIGNATURE_HEADER = "X-PagerDuty-Signature"
_VERSION = "v1"


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], body: bytes) -> str:
    """The header value PagerDuty would send for these secrets (several during rotation)."""
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    return ",".join(f"{_VERSION}={sign(secret, body)}" for secret in secrets)


def signatures(header: str | None) -> list[str]:
    """The v1 hex digests in a header value, spaces and unknown versions ignored."""
    if not header:
        return []
    entries = (entry.strip() for entry in header.split(","))
    pairs = (entry.partition("=") for entry in entries)
    return [
        value.strip()
        for version, sep, value in pairs
        if sep and version.strip() == _VERSION and value.strip()
    ]


def verify(header: str | None, body: bytes, secrets: Sequence[str]) -> bool:
    """True when any v1 entry matches any non-empty secret. Every comparison runs in constant time."""
    usable = [secret for secret in secrets if secret]
    candidates = signatures(header)
    if not usable or not candidates:
        return False
    expected = [sign(secret, body) for secret in usable]
    matched = False
    for candidate in candidates:
        for digest in expected:
            # no early exit: the time taken does not tell which entry matched
            matched |= hmac.compare_digest(candidate.lower().encode(), digest.encode())
    return matched
