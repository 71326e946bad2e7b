"""What one mirrored PagerDuty delivery becomes on the incident event bus (the put is
services/incident_events.py)."""

from __future__ import annotations

from typing import Any

from alertbridge.models.config import IncidentEventsConfig
from alertbridge.models.incident_event import (
    DETAIL_TYPES,
    Actor,
    Alarm,
    Incident,
    IncidentEvent,
    IncidentEventDetail,
    Mapped,
    Named,
)
from alertbridge.models.state import StateItem
from alertbridge.models.webhook import WebhookEvent


def _named(value: Any) -> Named | None:
    if not isinstance(value, dict):
        return None
    ident, name = value.get("id"), value.get("summary") or value.get("name")
    if ident is None and name is None:
        return None
    return Named(id=_text(ident), name=_text(name))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _incident_part(data: dict[str, Any]) -> dict[str, Any]:
    nested = data.get("incident")
    if data.get("type") != "incident" and isinstance(nested, dict):
        return nested  # incident.annotated: the note's incident sits under `data.incident`
    return data


def _alarm(item: StateItem) -> Alarm:
    arn = item.alarm_arn or (item.dedup_key if item.dedup_key.startswith("arn:") else None)
    parts = arn.split(":") if arn else []
    region = parts[3] if len(parts) > 4 and parts[3] else None
    account = item.account_id or (parts[4] if len(parts) > 4 and parts[4] else None)
    return Alarm(name=item.alarm_name or None, arn=arn, account=account, region=region)


def mapped(incident: Incident, config: IncidentEventsConfig) -> Mapped:
    service = incident.service
    internal = None
    if service is not None:
        internal = config.services.get(service.id or "") or config.services.get(service.name or "")
    severity = None
    if incident.priority is not None and incident.priority.name:
        severity = config.priority_severity.get(incident.priority.name)
    if severity is None and incident.urgency:
        severity = config.urgency_severity.get(incident.urgency)
    return Mapped(service=internal, severity=severity)


def build_event(
    event: WebhookEvent, item: StateItem, *, delivery_id: str | None, config: IncidentEventsConfig
) -> IncidentEvent:
    """The event for one mirrored delivery, `item` the state item after the mirror."""
    data = _incident_part(event.data)
    assignees = [n for n in (_named(a) for a in data.get("assignees") or []) if n is not None]
    number = data.get("number")
    incident = Incident(
        id=_text(data.get("id")) or item.incident_id,
        number=number if isinstance(number, int) else item.incident_number,
        status=_text(data.get("status")) or item.pd_status,
        title=_text(data.get("title")),
        html_url=_text(data.get("html_url")) or item.incident_url,
        service=_named(data.get("service")),
        urgency=_text(data.get("urgency")),
        priority=_named(data.get("priority")),
        assignees=assignees,
    )
    agent = event.agent
    actor = None if agent is None else Actor(id=agent.id, name=agent.summary, type=agent.type)
    alarm = _alarm(item)
    detail = IncidentEventDetail(
        delivery_id=delivery_id,
        pagerduty_event_id=event.id,
        pagerduty_event_type=event.event_type,
        occurred_at=event.occurred_at,
        dedup_key=item.dedup_key,
        route=item.route or None,
        contributor_id=item.contributor_id,
        bridge_status=str(item.status),
        alarm=alarm,
        incident=incident,
        actor=actor,
        mapped=mapped(incident, config),
    )
    return IncidentEvent(
        detail_type=DETAIL_TYPES.get(event.event_type, "Incident Updated"),
        resources=(alarm.arn,) if alarm.arn else (),
        time=event.occurred_at,
        detail=detail,
    )
