"""Incident events out to EventBridge: what one mirrored PagerDuty delivery becomes, and its bounded put.

PagerDuty waits 5 s for a delivery's answer (https://developer.pagerduty.com/docs/webhooks-overview), so a
failed put is tried again at most `attempts` times within `budget` seconds, and never after the delivery's
deadline (logic/webhook.py: the REST lookup before it shares that deadline); when it still fails the
delivery is answered 5xx, PagerDuty delivers it again, and since the delivery id is recorded only after
success the retry mirrors idempotently and puts the event again. Consumers deduplicate on
`detail.delivery_id`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
from alertbridge.observability import logger
from alertbridge.ports import IncidentEvents

PUT_ATTEMPTS = 3
PUT_BUDGET_SECONDS = 2.0
_BACKOFF_SECONDS = (0.2, 0.5)


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


@dataclass(frozen=True)
class IncidentEventPublisher:
    """Puts incident events on the bus, retried within PagerDuty's answer window."""

    port: IncidentEvents
    config: IncidentEventsConfig = field(default_factory=IncidentEventsConfig)
    attempts: int = PUT_ATTEMPTS
    budget: float = PUT_BUDGET_SECONDS
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    # The longest one try can take (the client's connect plus read timeouts): a try starts only when it
    # can end before the deadline.
    try_seconds: float = 0.0

    def time_for_a_try(self, deadline: float | None) -> bool:
        """Whether a try started now would end before `deadline` (on `clock`; None: no deadline)."""
        return deadline is None or self.clock() + self.try_seconds < deadline

    def publish(
        self, event: WebhookEvent, item: StateItem, *, delivery_id: str | None, deadline: float | None = None
    ) -> bool:
        """True once the bus accepted the event; False when every try failed (logged, no secrets) or no
        try could start: a try starts only when it can end (`try_seconds`) before the sooner of `budget`
        from now and `deadline` (the delivery's, on `clock`)."""
        built = build_event(event, item, delivery_id=delivery_id, config=self.config)
        until = self.clock() + self.budget
        if deadline is not None:
            until = min(until, deadline)
        for attempt in range(1, self.attempts + 1):
            if not self.time_for_a_try(until):
                logger.warning(
                    "no time left to put the incident event",
                    extra={"attempt": attempt, "delivery_id": delivery_id},
                )
                break
            try:
                self.port.put(built)
                return True
            except Exception as exc:  # any failure: retried, then the delivery is answered 5xx
                logger.warning(
                    "putting the incident event failed",
                    extra={"attempt": attempt, "error": type(exc).__name__, "delivery_id": delivery_id},
                )
            wait = _BACKOFF_SECONDS[min(attempt - 1, len(_BACKOFF_SECONDS) - 1)]
            if attempt == self.attempts or self.clock() + wait + self.try_seconds >= until:
                break
            self.sleep(wait)
        return False
