"""The incident event the webhook function puts on EventBridge after it mirrored a PagerDuty delivery.

`detail` is versioned (`version`); its JSON Schema ships next to this module as
`incident_event.schema.json` (`python -m alertbridge.models.incident_event` writes it). EventBridge gives
every event its own id and offers no caller-set one, so consumers deduplicate on `detail.delivery_id`:
PagerDuty's `X-Webhook-Id`, the same for every retry of one delivery
(https://developer.pagerduty.com/docs/webhooks-overview).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SOURCE = "alertbridge"
SCHEMA_FILE = Path(__file__).with_name("incident_event.schema.json")

# Webhooks V3 event type -> EventBridge detail-type. `incident.delegated` (moved to another escalation
# policy) is a reassignment.
DETAIL_TYPES = {
    "incident.triggered": "Incident Triggered",
    "incident.acknowledged": "Incident Acknowledged",
    "incident.unacknowledged": "Incident Unacknowledged",
    "incident.resolved": "Incident Resolved",
    "incident.reopened": "Incident Reopened",
    "incident.escalated": "Incident Escalated",
    "incident.reassigned": "Incident Reassigned",
    "incident.delegated": "Incident Reassigned",
    "incident.annotated": "Incident Annotated",
    "incident.priority_updated": "Incident Priority Updated",
}

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Named(BaseModel):
    """A PagerDuty object by id and display name (PagerDuty's `summary`)."""

    model_config = _FROZEN
    id: str | None = None
    name: str | None = None


class Actor(Named):
    type: str | None = None  # user_reference, inbound_integration_reference, ... (null: PagerDuty itself)


class Alarm(BaseModel):
    model_config = _FROZEN
    name: str | None = None
    arn: str | None = None
    account: str | None = None
    region: str | None = None


class Incident(BaseModel):
    model_config = _FROZEN
    id: str | None = None
    number: int | None = None
    status: str | None = None
    title: str | None = None
    html_url: str | None = None
    service: Named | None = None
    urgency: str | None = None
    priority: Named | None = None
    assignees: list[Named] = Field(default_factory=list)


class Mapped(BaseModel):
    """The configured mappings (`incident_events` in the configuration)."""

    model_config = _FROZEN
    service: str | None = None  # the internal service name of the PagerDuty service
    severity: str | None = None  # from the priority name when mapped, else from the urgency


class IncidentEventDetail(BaseModel):
    """`detail` of every alertbridge incident event, version 1."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="AlertBridgeIncidentEventDetail")

    version: Literal["1"] = "1"
    delivery_id: str | None = Field(
        description="PagerDuty's X-Webhook-Id: the same for every retry of a delivery; deduplicate on it"
    )
    pagerduty_event_id: str | None = None
    pagerduty_event_type: str
    occurred_at: datetime
    dedup_key: str
    route: str | None = None
    contributor_id: str | None = None
    bridge_status: str | None = None
    alarm: Alarm
    incident: Incident
    actor: Actor | None = None
    mapped: Mapped


class IncidentEvent(BaseModel):
    """One EventBridge entry (without the bus, which the adapter names)."""

    model_config = ConfigDict(frozen=True)

    source: str = SOURCE
    detail_type: str
    resources: tuple[str, ...] = ()
    time: datetime
    detail: IncidentEventDetail


def detail_schema() -> dict[str, Any]:
    return IncidentEventDetail.model_json_schema()


def schema_text() -> str:
    return json.dumps(detail_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
