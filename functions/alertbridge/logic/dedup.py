"""Dedup keys: bounded (<= 255 chars), collision-free, readable, and the same for one alarm whichever way
its notification arrives."""

from __future__ import annotations

import hashlib

from alertbridge.models.pagerduty import MAX_DEDUP_KEY_CHARS

_HASH_CHARS = 32  # 128 bits of sha256: collisions are out of reach, the key stays readable
_SEPARATOR = "~"


def bounded_key(identity: str, *, limit: int = MAX_DEDUP_KEY_CHARS) -> str:
    """The identity itself when it fits; otherwise a readable prefix plus a hash of the whole identity.

    Counting code points matches how PagerDuty counts the limit. The hash covers the full identity, so two
    long identities that share the prefix still get different keys. An identity with lone surrogates is
    hashed whatever its length (see `_encodable`).
    """
    clean = _encodable(identity)
    if len(identity) <= limit and clean == identity:
        return identity
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    keep = limit - _HASH_CHARS - len(_SEPARATOR)
    return f"{clean[:keep]}{_SEPARATOR}{digest}"


def _encodable(identity: str) -> str:
    """`identity` with lone surrogates (which no UTF-8 store or log line accepts) replaced. An identity
    that had any is keyed by the hash of the original, so two such identities never collide."""
    try:
        identity.encode("utf-8")
    except UnicodeEncodeError:
        return identity.encode("utf-8", "replace").decode("utf-8")
    return identity


def alarm_key(alarm_arn: str) -> str:
    """A CloudWatch alarm's key: its ARN (which carries partition, region, account and name)."""
    return bounded_key(alarm_arn)


CONTRIBUTOR_MARK = "#contributor="
_MAX_CONTRIBUTOR_ID_CHARS = 64  # CloudWatch's ids are short hex; anything longer is hashed into the key


def contributor_key(alarm_arn: str, contributor_id: str) -> str:
    """A contributor's key: the alarm ARN plus the contributor id, so each time series of a multi-time-series
    alarm opens and closes its own incident. Over 255 characters the ARN part is shortened and hashed (the
    hash covers the whole identity) while the contributor id stays readable at the end."""
    identity = f"{alarm_arn}{CONTRIBUTOR_MARK}{contributor_id}"
    if len(identity) <= MAX_DEDUP_KEY_CHARS and _encodable(identity) == identity:
        return identity
    shown = _encodable(contributor_id)
    if len(shown) > _MAX_CONTRIBUTOR_ID_CHARS:
        shown = hashlib.sha256(contributor_id.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    suffix = f"{CONTRIBUTOR_MARK}{shown}"
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    keep = MAX_DEDUP_KEY_CHARS - len(suffix) - _HASH_CHARS - len(_SEPARATOR)
    return f"{_encodable(alarm_arn)[:keep]}{_SEPARATOR}{digest}{suffix}"


def generic_key(dedup_id: str) -> str:
    """An application alert's key from its dedup/idempotency id (`idempotencyId` is the key)."""
    return bounded_key(dedup_id)


def content_key(*parts: str) -> str:
    """A key for input with no identity of its own (plain text): identical content dedupes."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    return f"alertbridge:raw:{digest}"


def alarm_arn(partition: str, region: str, account: str, name: str) -> str:
    return f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}"


def partition_from_arn(arn: str | None) -> str:
    """`aws`, `aws-cn` or `aws-us-gov` from an ARN; `aws` when there is none."""
    parts = (arn or "").split(":")
    return parts[1] if len(parts) > 5 and parts[0] == "arn" and parts[1] else "aws"


def region_from_arn(arn: str | None) -> str | None:
    """Region code from an ARN (`arn:aws:cloudwatch:eu-west-1:...`), never from a display name."""
    if not arn:
        return None
    parts = arn.split(":")
    return parts[3] or None if len(parts) > 5 else None


def account_from_arn(arn: str | None) -> str | None:
    if not arn:
        return None
    parts = arn.split(":")
    return parts[4] or None if len(parts) > 5 else None


_FINGERPRINT_HEX_CHARS = 12


def routing_key_fingerprint(routing_key: str) -> str:
    """Identifies a routing key in state and logs without revealing it."""
    return hashlib.sha256(routing_key.encode("utf-8")).hexdigest()[:_FINGERPRINT_HEX_CHARS]
