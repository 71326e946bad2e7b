"""Fakes at the ports, for unit tests: small, honest implementations, not mocks of our own code."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from alertbridge.errors import RoutingKeyMissing
from alertbridge.models.state import KeyStatus, StateItem
from alertbridge.ports import EventsResponse


class FakeStateStore:
    def __init__(self) -> None:
        self.items: dict[str, StateItem] = {}
        self.writes = 0

    def get(self, dedup_key: str) -> StateItem | None:
        return self.items.get(dedup_key)

    def save(self, item: StateItem, *, expected_version: int | None) -> bool:
        current = self.items.get(item.dedup_key)
        if (current.version if current else None) != expected_version:
            return False
        self.items[item.dedup_key] = item
        self.writes += 1
        return True

    def list_open(self) -> Iterator[StateItem]:
        return iter([item for item in self.items.values() if item.is_open])

    def list_recorded(self) -> Iterator[StateItem]:
        return iter([item for item in self.items.values() if item.status == KeyStatus.RECORDED])

    def list_resolved_firing(self) -> Iterator[StateItem]:
        found = [item for item in self.items.values() if item.resolved_while_firing]
        return iter(sorted(found, key=lambda item: (item.last_seen, item.dedup_key)))


class FakeEvents:
    """Records every body; `failures` is a queue of exceptions to raise on the next sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.failures: list[Exception] = []
        self.attempts = 1

    def send(self, body: dict[str, Any], *, deadline: float | None = None) -> EventsResponse:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(body)
        return EventsResponse(status="success", dedup_key=body.get("dedup_key"), attempts=self.attempts)

    def send_change(self, body: dict[str, Any], *, deadline: float | None = None) -> EventsResponse:
        return self.send(body, deadline=deadline)


class FakeKeys:
    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys
        self.asked_for: list[tuple[str, str | None]] = []  # (route, opened_with) per lookup

    def routing_key(self, route: str, *, opened_with: str | None = None) -> str:
        if route not in self.keys:
            raise RoutingKeyMissing(f"route {route!r} has no routing key")
        self.asked_for.append((route, opened_with))
        return self.keys[route]


class FakeMaintenance:
    def __init__(self, windows: Sequence[Any] = ()) -> None:
        self.windows = list(windows)

    def list_active(self, now: datetime) -> list[Any]:
        return [w for w in self.windows if w.start <= now < w.end]


class ListCounter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, name: str, value: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + value


class FakeIncidentLinks:
    """ports.IncidentLinks in a dict."""

    def __init__(self, links: dict[str, str] | None = None) -> None:
        self.links = dict(links or {})
        self.writes = 0

    def dedup_key_for(self, incident_id: str) -> str | None:
        return self.links.get(incident_id)

    def link(self, incident_id: str, dedup_key: str) -> None:
        self.links[incident_id] = dedup_key
        self.writes += 1


class FakeAlertKeys:
    """The part of ports.IncidentsApi the webhook uses (`alert_keys`), as a RestIncidents source:
    `available=False` stands for no REST token, `failures` for REST errors raised on the next lookups."""

    def __init__(self, alert_keys: dict[str, list[str]], *, available: bool = True) -> None:
        self.keys = alert_keys
        self.available = available
        self.failures: list[Exception] = []
        self.lookups: list[str] = []
        self.deadlines: list[float | None] = []

    def incidents(self) -> Any:
        return self if self.available else None

    def alert_keys(self, incident_id: str, *, deadline: float | None = None) -> list[str]:
        self.lookups.append(incident_id)
        self.deadlines.append(deadline)
        if self.failures:
            raise self.failures.pop(0)
        return list(self.keys.get(incident_id, []))


class FakeDeliveryQueue:
    """ports.DeliveryQueue in a list (what a stage puts on the FIFO lane)."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, message: Any) -> None:
        self.sent.append(message)


class FakeAlarmTags:
    """ports.AlarmTags: counts ListTagsForResource calls."""

    def __init__(self, tags: dict[str, str] | None = None) -> None:
        self.tag_map = dict(tags or {})
        self.calls: list[str] = []

    def tags(self, alarm_arn: str) -> dict[str, str] | None:
        self.calls.append(alarm_arn)
        return dict(self.tag_map)


class FakeAlarmContributors:
    """ports.AlarmContributors: the contributors in ALARM per alarm; an alarm absent is unreadable (None)."""

    def __init__(self, in_alarm: dict[str, dict[str, Any]] | None = None) -> None:
        self.in_alarm_by_name = dict(in_alarm or {})
        self.asked: list[str] = []

    def in_alarm(self, alarm_name: str) -> dict[str, Any] | None:
        self.asked.append(alarm_name)
        return self.in_alarm_by_name.get(alarm_name)
