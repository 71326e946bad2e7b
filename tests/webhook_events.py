"""Real-shaped webhook deliveries: the Function URL event files under tests/events/webhook/, re-signed.

As PagerDuty sends them for incidents opened through the Events API: `incident_key` null (the dedup key KEY
is the alert's `alert_key`), the agent a person (`user_reference`), the Events API integration
(`inbound_integration_reference`) or null (PagerDuty itself)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alertbridge.logic.signature import signature_header
from alertbridge.models.alert import AlarmState
from alertbridge.models.state import KeyStatus, StateItem

EVENTS = Path(__file__).resolve().parent / "events" / "webhook"
SECRET = "whsec-current-0123456789"
OLD_SECRET = "whsec-previous-9876543210"
KEY = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:prod-api-5xx"
INCIDENT_ID = "Q2AEN3LD5KFJ9S"  # the incident every event file is about; its alert's alert_key is KEY


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text("utf-8"))  # type: ignore[no-any-return]


def envelope_of(event: dict[str, Any]) -> dict[str, Any]:
    body = event["body"]
    text = base64.b64decode(body).decode() if event["isBase64Encoded"] else body
    return json.loads(text)  # type: ignore[no-any-return]


def with_body(
    event: dict[str, Any],
    body: bytes,
    *,
    secrets: Sequence[str] = (SECRET,),
    b64: bool = False,
    webhook_id: str = "wh-1",
) -> dict[str, Any]:
    """The event carrying `body`, signed with `secrets` (no signature header when empty)."""
    headers = {k: v for k, v in event["headers"].items() if k != "x-pagerduty-signature"}
    headers["x-webhook-id"] = webhook_id
    if secrets:
        headers["x-pagerduty-signature"] = signature_header(secrets, body)
    encoded = base64.b64encode(body).decode() if b64 else body.decode()
    return {**event, "headers": headers, "body": encoded, "isBase64Encoded": b64}


def delivery(event_type: str = "incident.acknowledged", **changes: Any) -> dict[str, Any]:
    """The acknowledged event file's envelope, re-typed and re-signed."""
    template = load("function-url-incident-acknowledged.json")
    envelope = envelope_of(template)
    envelope["event"]["event_type"] = event_type
    envelope["event"]["data"].update(changes.pop("data", {}))
    envelope["event"].update(changes.pop("event", {}))
    return with_body(template, json.dumps(envelope).encode(), **changes)


def open_item() -> StateItem:
    """The state item of an incident the bridge opened for KEY, as the webhook tests start from."""
    opened = datetime(2025, 6, 1, 11, 55, tzinfo=UTC)
    return StateItem(
        dedup_key=KEY,
        status=KeyStatus.OPEN,
        alarm_state=AlarmState.ALARM,
        state_changed_at=opened,
        route="default",
        routing_key_id="0123456789ab",
        alarm_name="prod-api-5xx",
        first_seen=opened,
        last_seen=opened,
        opened_at=opened,
        version=1,
    )
