"""Webhooks V3 deliveries as PagerDuty sends them: the envelope, `X-PagerDuty-Signature` and `X-Webhook-Id`.

Shapes as PagerDuty's Webhooks V3 documentation describes them:
- `data.incident_key` is null for incidents opened through the Events API v2 (the dedup key is the alert's
  `alert_key`, read with `GET /incidents/{id}/alerts`);
- `agent` is an `inbound_integration_reference` (summary "Events API V2") for what came through the Events
  API, a `user_reference` for a person (web app or REST API with `From:`), null for PagerDuty itself
  (acknowledgement timeout, auto-resolve);
- `incident.annotated` carries `data.type: incident_note`, the note's `content` and only a reference to the
  incident (`data.incident`).
Assumed (not documented): `client` is `{"name", "url"}` from the Events API event's `client`/`client_url`
when it gave one, else null.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from alertbridge.logic.signature import SIGNATURE_HEADER, signature_header
from alertbridge.sandbox.emulator_state import EmulatedAlert, service_id, utc_now_iso

USER_AGENT = "PagerDuty-Webhook/V3.0"
EVENTS_API_SUMMARY = "Events API V2"


def base_of(alert: EmulatedAlert) -> str:
    return alert.html_url.rsplit("/incidents/", 1)[0]


def user_agent(email: str, base: str) -> dict[str, Any]:
    user_id = "PU" + uuid.uuid5(uuid.NAMESPACE_DNS, email).hex[:6].upper()
    return {
        "html_url": f"{base}/users/{user_id}",
        "id": user_id,
        "self": f"{base}/api/users/{user_id}",
        "summary": email,
        "type": "user_reference",
    }


def integration_agent(alert: EmulatedAlert) -> dict[str, Any]:
    """The service's Events API v2 integration, as PagerDuty names the agent of an Events API action."""
    base = base_of(alert)
    integration_id = "PI" + service_id(alert.routing_key)[2:]
    return {
        "html_url": f"{base}/services/{service_id(alert.routing_key)}/integrations/{integration_id}",
        "id": integration_id,
        "self": f"{base}/api/services/{service_id(alert.routing_key)}/integrations/{integration_id}",
        "summary": EVENTS_API_SUMMARY,
        "type": "inbound_integration_reference",
    }


def events_client(alert: EmulatedAlert) -> dict[str, Any] | None:
    """The sender the Events API event named (`client`, `client_url`), if any (shape assumed)."""
    name = alert.body.get("client")
    if not isinstance(name, str) or not name:
        return None
    url = alert.body.get("client_url")
    return {"name": name, **({"url": url} if isinstance(url, str) else {})}


def webhook_envelope(
    event_type: str,
    alert: EmulatedAlert,
    agent_email: str | None = None,
    *,
    agent: dict[str, Any] | None = None,
    client: dict[str, Any] | None = None,
    note: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`{"event": {...}}`. The agent is `agent` when given, else the user `agent_email` (None: PagerDuty)."""
    base = base_of(alert)
    if agent is None and agent_email is not None:
        agent = user_agent(agent_email, base)
    data = _note_data(alert, note, base) if note is not None else _incident_data(alert, base)
    return {
        "event": {
            "id": uuid.uuid4().hex[:26].upper(),
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": utc_now_iso(),
            "agent": agent,
            "client": client,
            "data": data,
        }
    }


def _incident_data(alert: EmulatedAlert, base: str) -> dict[str, Any]:
    incident = alert.incident(base)
    service = incident["service"]
    return {
        "id": alert.incident_id,
        "type": "incident",
        "self": incident["self"],
        "html_url": alert.html_url,
        "number": alert.number,
        "status": alert.incident_status,
        "incident_key": None,  # PagerDuty leaves it null on incidents opened through the Events API
        "created_at": alert.created_at,
        "title": alert.summary,
        "service": {**service, "html_url": f"{base}/services/{service['id']}", "summary": "emulated service"},
        "assignees": [user_agent("oncall@example.com", base)],
        "escalation_policy": {"id": "PEP0001", "type": "escalation_policy_reference", "summary": "Default"},
        "teams": [],
        "priority": None,
        "urgency": incident["urgency"],
        "conference_bridge": None,
        "resolve_reason": None,
    }


def _note_data(alert: EmulatedAlert, note: dict[str, Any], base: str) -> dict[str, Any]:
    return {
        "incident": {
            "html_url": alert.html_url,
            "id": alert.incident_id,
            "self": f"{base}/incidents/{alert.incident_id}",
            "summary": alert.summary,
            "type": "incident_reference",
        },
        "content": note.get("content", ""),
        "trimmed": False,
        "type": "incident_note",
    }


def signed_delivery(
    envelope: dict[str, Any] | None,
    *,
    secrets: Sequence[str] = (),
    webhook_id: str | None = None,
    body: bytes | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers of one delivery; `body` overrides the envelope (forgery tests)."""
    raw = body if body is not None else json.dumps(envelope).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Webhook-Subscription": "PSUB0001",
    }
    if secrets:
        headers[SIGNATURE_HEADER] = signature_header(secrets, raw)
    return raw, headers


def send_webhook(
    url: str,
    event_type: str,
    alert: EmulatedAlert,
    *,
    secrets: Sequence[str] = (),
    webhook_id: str | None = None,
    agent_email: str | None = None,
    body: bytes | None = None,
    timeout: float = 5.0,
) -> int:
    """POST one delivery (once, no retry); returns the receiver's HTTP status. Without secrets the delivery
    is unsigned."""
    import httpx  # only the webhook tests pay for it

    envelope = webhook_envelope(event_type, alert, agent_email) if body is None else None
    raw, headers = signed_delivery(envelope, secrets=secrets, webhook_id=webhook_id, body=body)
    response = httpx.post(url, content=raw, headers=headers, timeout=timeout)
    return response.status_code
