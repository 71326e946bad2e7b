"""Webhooks V3 deliveries as PagerDuty sends them: the envelope, `X-PagerDuty-Signature` and `X-Webhook-Id`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from alertbridge.local.emulator_state import EmulatedAlert, utc_now_iso
from alertbridge.logic.signature import SIGNATURE_HEADER, signature_header

USER_AGENT = "PagerDuty-Webhook/V3.0"


def webhook_envelope(event_type: str, alert: EmulatedAlert, agent_email: str | None) -> dict[str, Any]:
    """`{"event": {...}}` with the incident's data in the shape Webhooks V3 documents."""
    base = alert.html_url.rsplit("/incidents/", 1)[0]
    return {
        "event": {
            "id": uuid.uuid4().hex[:26].upper(),
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": utc_now_iso(),
            "agent": _agent(agent_email, base),
            "client": None,
            "data": _incident_data(alert, base),
        }
    }


def _agent(email: str | None, base: str) -> dict[str, Any] | None:
    if email is None:
        return None
    user_id = "PU" + uuid.uuid5(uuid.NAMESPACE_DNS, email).hex[:6].upper()
    return {
        "html_url": f"{base}/users/{user_id}",
        "id": user_id,
        "self": f"{base}/api/users/{user_id}",
        "summary": email,
        "type": "user_reference",
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
        "incident_key": alert.dedup_key,
        "created_at": alert.created_at,
        "title": alert.summary,
        "service": {**service, "html_url": f"{base}/services/{service['id']}", "summary": "emulated service"},
        "assignees": [_agent("oncall@example.com", base)],
        "escalation_policy": {"id": "PEP0001", "type": "escalation_policy_reference", "summary": "Default"},
        "teams": [],
        "priority": None,
        "urgency": incident["urgency"],
        "conference_bridge": None,
        "resolve_reason": None,
    }


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
    """POST one delivery; returns the receiver's HTTP status. `body` overrides the envelope (forgery tests);
    without secrets the delivery is unsigned."""
    import httpx  # only the webhook tests pay for it

    raw = body if body is not None else json.dumps(webhook_envelope(event_type, alert, agent_email)).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Webhook-Subscription": "PSUB0001",
    }
    if secrets:
        headers[SIGNATURE_HEADER] = signature_header(secrets, raw)
    response = httpx.post(url, content=raw, headers=headers, timeout=timeout)
    return response.status_code
