"""PagerDuty Webhooks V3 deliveries, the pure part: every answer and its status code (`WebhookReason`,
`result_for`), the checks that cost nothing (method, size, encoding) and the signature decision, the
envelope parsed into an `IncidentUpdate`, and the state item after the update (`mirror`). The handling
that reads and writes through the ports is services/webhook.py.

Status codes follow PagerDuty's delivery rules: 2xx stops retries, 5xx and 429 are retried for 48 h, other
4xx are dropped.

PagerDuty waits 5 s for the answer (https://developer.pagerduty.com/docs/webhooks-overview). The handler
gives the whole delivery one deadline (`DELIVERY_BUDGET_SECONDS` from receipt, on `WebhookParts.clock`):
the REST lookup's requests and retries and the event put's tries all end by it, and a step that cannot
start before it answers 503 (reason `out-of-time`), so PagerDuty delivers again; the mirror is idempotent
and the delivery id is not recorded, so the retry does the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from alertbridge.logic.lifecycle import apply_incident_update
from alertbridge.logic.signature import signatures, verify
from alertbridge.models.state import StateItem
from alertbridge.models.webhook import (
    FunctionUrlRequest,
    FunctionUrlResponse,
    IncidentData,
    IncidentUpdate,
    WebhookEnvelope,
    WebhookEvent,
)

MAX_BODY_BYTES = 256 * 1024
# Of PagerDuty's 5 s: the REST lookup and the event put end by then, which leaves one DynamoDB write (the
# delivery id) and the answer under PagerDuty's limit.
DELIVERY_BUDGET_SECONDS = 4.0
WEBHOOK_ID_HEADER = "X-Webhook-Id"
DELIVERY_TTL_HOURS = 48  # PagerDuty retries a delivery for up to 48 h
MIRRORED_EVENT_TYPES = frozenset(
    f"incident.{name}"
    for name in (
        "triggered",
        "acknowledged",
        "unacknowledged",
        "resolved",
        "reopened",
        "escalated",
        "reassigned",
        "delegated",
        "annotated",
        "priority_updated",
    )
)


class WebhookReason(StrEnum):
    """Why a webhook delivery got its answer: stable values for logs and the WebhookRejected `reason`
    dimension."""

    MIRRORED = "mirrored"
    UNCHANGED = "unchanged"  # older than the newest update applied, or about another incident of the key
    NO_STATE = "no-state"  # no state item for this incident_key (not opened by this bridge, or expired)
    NOT_OURS = "not-ours"  # none of the incident's alert keys has a state item: not opened by this bridge
    NO_INCIDENT_KEY = "no-incident-key"  # neither an incident id nor an incident_key: nothing to map
    NO_REST_TOKEN = "no-rest-token"  # the dedup key must be read from PagerDuty, and no REST token is set
    LINK_UNAVAILABLE = "link-unavailable"  # the REST lookup of the incident's alerts failed
    UNKNOWN_TYPE = "unknown-type"
    REPLAY = "replay"
    METHOD = "method-not-allowed"
    TOO_LARGE = "too-large"
    BAD_ENCODING = "bad-encoding"
    NOT_CONFIGURED = "not-configured"
    SECRET_UNREADABLE = "secret-unreadable"
    MISSING_SIGNATURE = "missing-signature"
    BAD_SIGNATURE = "bad-signature"
    MALFORMED = "malformed"
    CONFLICT = "conflict"
    EVENT_UNPUBLISHED = "event-unpublished"  # mirrored, but the incident event was not put on the bus
    OUT_OF_TIME = "out-of-time"  # the delivery's deadline came before its REST lookup or event put finished
    ERROR = "error"


_STATUS = {
    WebhookReason.METHOD: 405,
    WebhookReason.TOO_LARGE: 413,
    WebhookReason.BAD_ENCODING: 400,
    WebhookReason.NOT_CONFIGURED: 500,
    WebhookReason.SECRET_UNREADABLE: 500,
    WebhookReason.MISSING_SIGNATURE: 401,
    WebhookReason.BAD_SIGNATURE: 401,
    WebhookReason.MALFORMED: 400,
    WebhookReason.CONFLICT: 500,
    WebhookReason.EVENT_UNPUBLISHED: 503,
    WebhookReason.ERROR: 500,
    WebhookReason.NO_REST_TOKEN: 503,
    WebhookReason.LINK_UNAVAILABLE: 503,
    WebhookReason.OUT_OF_TIME: 503,
}

EXPLANATIONS = {
    WebhookReason.NOT_CONFIGURED: "refusing webhooks: no signing secret is configured (put webhook_secrets in the "
    "webhook secret, or set ALERTBRIDGE_ALLOW_UNSIGNED_WEBHOOKS=true to accept unsigned deliveries)",
    WebhookReason.SECRET_UNREADABLE: "refusing webhooks: the webhook secret cannot be read",
    WebhookReason.MISSING_SIGNATURE: "webhook rejected: no v1 X-PagerDuty-Signature",
    WebhookReason.BAD_SIGNATURE: "webhook rejected: X-PagerDuty-Signature matches no configured secret",
    WebhookReason.TOO_LARGE: f"webhook rejected: body larger than {MAX_BODY_BYTES} bytes",
    WebhookReason.MALFORMED: "webhook rejected: signed body is not a Webhooks V3 envelope",
    WebhookReason.CONFLICT: "state item kept changing while mirroring; PagerDuty will retry",
    WebhookReason.NO_REST_TOKEN: "cannot mirror: the incident's dedup key must be read from PagerDuty's REST API and "
    "the webhook secret has no rest_token/from_email; PagerDuty will retry",
    WebhookReason.LINK_UNAVAILABLE: "cannot mirror yet: reading the incident's alerts from PagerDuty failed; "
    "PagerDuty will retry",
    WebhookReason.NOT_OURS: "webhook ignored: the incident was not opened by this bridge",
    WebhookReason.EVENT_UNPUBLISHED: "mirrored, but the incident event could not be put on the event bus; "
    "PagerDuty will retry",
    WebhookReason.OUT_OF_TIME: "the delivery's deadline (at most "
    f"{DELIVERY_BUDGET_SECONDS:g} s from receipt) left no time for the REST lookup or the incident event put; "
    "PagerDuty will retry",
}


class WebhookResult(BaseModel):
    """The answer and what to log about it. Never holds a secret or a signature."""

    model_config = ConfigDict(frozen=True)

    status_code: int
    reason: WebhookReason
    webhook_id: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    dedup_key: str | None = None

    @property
    def accepted(self) -> bool:
        return 200 <= self.status_code < 300

    def response(self) -> FunctionUrlResponse:
        status = "accepted" if self.accepted else "rejected" if self.status_code < 500 else "error"
        return FunctionUrlResponse(
            status_code=self.status_code, body={"status": status, "reason": self.reason}
        )


def result_for(reason: WebhookReason, **context: Any) -> WebhookResult:
    """The answer for `reason`, accepted or not: its status code (200 unless `_STATUS` says otherwise)."""
    return WebhookResult(status_code=_STATUS.get(reason, 200), reason=reason, **context)


# --- Transport and signature checks ---------------------------------------------------------------------


def transport_problem(request: FunctionUrlRequest) -> WebhookReason | None:
    """Checks that cost no HMAC: method, size (before decoding, and after), base64."""
    if request.method != "POST":
        return WebhookReason.METHOD
    if request.encoded_size() > MAX_BODY_BYTES * 4 // 3 + 4:
        return WebhookReason.TOO_LARGE
    try:
        size = len(request.raw_body())
    except ValueError:
        return WebhookReason.BAD_ENCODING
    return WebhookReason.TOO_LARGE if size > MAX_BODY_BYTES else None


def signature_problem(
    header: str | None, body: bytes, secrets: Sequence[str], *, allow_unsigned: bool
) -> WebhookReason | None:
    """The pure decision: None when the delivery may be processed."""
    if not any(secrets):
        return None if allow_unsigned else WebhookReason.NOT_CONFIGURED
    if not signatures(header):
        return WebhookReason.MISSING_SIGNATURE
    return None if verify(header, body, secrets) else WebhookReason.BAD_SIGNATURE


# --- Envelope ----------------------------------------------------------------------------------------------


def parse_envelope(raw: bytes) -> WebhookEnvelope:
    """Raises ValueError (pydantic's ValidationError) for anything but a Webhooks V3 envelope."""
    return WebhookEnvelope.model_validate_json(raw)


def incident_update(event: WebhookEvent) -> IncidentUpdate:
    incident = IncidentData.model_validate(_incident_part(event.data))
    assignees = None if incident.assignees is None else tuple(a.label for a in incident.assignees if a.label)
    agent = event.agent
    return IncidentUpdate(
        event_type=event.event_type,
        event_id=event.id,
        dedup_key=incident.incident_key or None,
        incident_id=incident.id,
        number=incident.number,
        url=incident.html_url,
        status=incident.status,
        assignees=assignees,
        actor=agent.label if agent is not None else None,
        actor_type=agent.type if agent is not None else None,
        occurred_at=event.occurred_at,
    )


def _incident_part(data: dict[str, Any]) -> dict[str, Any]:
    """incident.annotated carries a note whose incident sits under `data.incident`."""
    nested = data.get("incident")
    if data.get("type") != "incident" and isinstance(nested, dict):
        return nested
    return data


# --- Mirror -----------------------------------------------------------------------------------------------


def mirror(stored: StateItem, update: IncidentUpdate, *, now: datetime, ttl_days: int) -> StateItem:
    """The item after this update; `stored` itself when nothing should be written."""
    return apply_incident_update(
        stored,
        event_type=update.event_type,
        incident_id=update.incident_id,
        number=update.number,
        url=update.url,
        status=update.status,
        assignees=update.assignees,
        actor=update.actor,
        actor_type=update.actor_type,
        occurred_at=update.occurred_at,
        now=now,
        ttl_days=ttl_days,
        event_id=update.event_id,
    )
