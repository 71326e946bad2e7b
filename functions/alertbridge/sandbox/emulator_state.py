"""The emulator's data: what it received, the alerts (each one an incident) and the faults it will inject.

Incidents are in PagerDuty's shape for incidents opened through the Events API v2: the incident has a child
alert whose `alert_key` is the dedup key, and the incident's own `incident_key` is null (PagerDuty's REST
reference: "Incidents with child alerts do not have an incident key").

Not thread-safe by itself: PagerDutyEmulator holds one lock around every use.
"""

from __future__ import annotations

import itertools
import secrets
import string
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2, "critical": 3}

OPEN = "open"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"

# Outcomes recorded per request: what the emulator did with it.
OPENED = "opened"
UPDATED = "updated"
ACKNOWLEDGED_OUTCOME = "acknowledged"
RESOLVED_OUTCOME = "resolved"
DROPPED_NO_OPEN = "dropped-no-open"
DROPPED_OTHER_KEY = "dropped-other-key"
DROPPED_MAINTENANCE = "dropped-maintenance"
SUPPRESSED_MAINTENANCE = "suppressed-maintenance"
RATE_LIMITED = "rate-limited"
INVALID = "invalid"
UNKNOWN_KEY = "unknown-routing-key"
TOO_LARGE = "too-large"
CHANGE = "change-recorded"
FAULT = "fault"


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_seconds(moment: datetime) -> str:
    """PagerDuty's REST timestamps: UTC, whole seconds, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def urgency_for(severity: str) -> str:
    return "high" if severity in ("critical", "error") else "low"


@dataclass(frozen=True)
class Fault:
    """One injected failure. `slow` processes the request normally, then answers after `delay` seconds."""

    kind: Literal["status", "reset", "slow"]
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        if status < 500:
            raise ValueError("server errors are 5xx")
        return cls("status", status=status)

    @classmethod
    def rate_limited(cls, retry_after: float | str | None = None) -> Fault:
        header = None if retry_after is None else str(retry_after)
        return cls("status", status=429, retry_after=header)

    @classmethod
    def reset(cls) -> Fault:
        return cls("reset", status=0)

    @classmethod
    def slow(cls, delay: float) -> Fault:
        return cls("slow", status=0, delay=delay)

    @property
    def label(self) -> str:
        return f"{FAULT}:{self.kind}" + (f":{self.status}" if self.kind == "status" else "")


@dataclass(frozen=True)
class Incoming:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == lowered), None)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None
    outcome: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    reset: bool = False
    delay: float = 0.0


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any  # parsed JSON, or the text when it did not parse, or None
    size: int
    status: int  # 0 when the connection was reset without an answer
    outcome: str
    at: float  # the emulator clock's reading when the request was answered
    dedup_key: str | None = None

    @property
    def routing_key(self) -> str | None:
        value = self.body.get("routing_key") if isinstance(self.body, dict) else None
        return value if isinstance(value, str) else None

    @property
    def event_action(self) -> str | None:
        value = self.body.get("event_action") if isinstance(self.body, dict) else None
        return value if isinstance(value, str) else None


@dataclass
class EmulatedAlert:
    """An Events API alert and the incident it opened (PagerDuty: one incident per alert here)."""

    incident_id: str
    number: int
    routing_key: str
    dedup_key: str
    status: str
    summary: str
    severity: str
    source: str
    created_at: str
    html_url: str
    body: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    resolution: str | None = None
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    alert_id: str = ""
    urgency: str = "high"
    assigned_to: list[str] = field(default_factory=list)  # user ids of the last reassignment
    escalation_policy_id: str | None = None  # the escalation policy of the last reassignment

    @property
    def is_open(self) -> bool:
        return self.status != RESOLVED

    @property
    def incident_status(self) -> str:
        """The REST/webhook name of the status: PagerDuty calls an open incident "triggered"."""
        return "triggered" if self.status == OPEN else self.status

    def log(self, action: str, by: str = "events-api", **extra: Any) -> None:
        self.history.append({"action": action, "at": utc_now_iso(), "by": by, **extra})

    def incident(self, base_url: str) -> dict[str, Any]:
        """The REST API's incident object (the fields the bridge reads, in PagerDuty's shape)."""
        return {
            "id": self.incident_id,
            "type": "incident",
            "summary": f"[#{self.number}] {self.summary}",
            "self": f"{base_url}/incidents/{self.incident_id}",
            "html_url": self.html_url,
            "incident_number": self.number,
            "title": self.summary,
            "status": self.incident_status,
            "incident_key": None,  # an incident with child alerts has none: the key is the alert's
            "created_at": self.created_at,
            "urgency": self.urgency,
            "service": {"id": service_id(self.routing_key), "type": "service_reference"},
            "resolve_reason": None,
        }

    def alert(self, base_url: str) -> dict[str, Any]:
        """The incident's alert as `GET /incidents/{id}/alerts` lists it: `alert_key` is the dedup key."""
        return {
            "id": self.alert_id,
            "type": "alert",
            "summary": self.summary,
            "self": f"{base_url}/alerts/{self.alert_id}",
            "html_url": f"{self.html_url}/alerts/{self.alert_id}",
            "created_at": self.created_at,
            "status": "resolved" if self.status == RESOLVED else "triggered",
            "alert_key": self.dedup_key,
            "severity": self.severity,
            "suppressed": False,
            "service": {"id": service_id(self.routing_key), "type": "service_reference"},
            "incident": {"id": self.incident_id, "type": "incident_reference"},
            "body": {"type": "alert_body", "cef_details": {"dedup_key": self.dedup_key}},
        }


def service_id(routing_key: str) -> str:
    """A stable fake service id per routing key that does not reveal the key."""
    return "PS" + str(abs(hash(("service", routing_key))) % 10**8).zfill(8)


class AlertBook:
    """Alerts in creation order, looked up per (routing_key, dedup_key) as PagerDuty does."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.alerts: list[EmulatedAlert] = []
        self._numbers = itertools.count(1)

    def open_alert(self, dedup_key: str, routing_key: str | None = None) -> EmulatedAlert | None:
        return next(self._matching(dedup_key, routing_key, open_only=True), None)

    def latest(self, dedup_key: str) -> EmulatedAlert | None:
        return next(reversed([a for a in self.alerts if a.dedup_key == dedup_key]), None)

    def by_incident_id(self, incident_id: str) -> EmulatedAlert | None:
        return next((a for a in self.alerts if a.incident_id == incident_id), None)

    def open_new(
        self,
        routing_key: str,
        dedup_key: str,
        body: dict[str, Any],
        *,
        created_at: datetime | None = None,
        incident_id: str | None = None,
    ) -> EmulatedAlert:
        incident_id = incident_id or _pd_id("Q", 13)
        payload = body.get("payload") or {}
        severity = str(payload.get("severity", ""))
        alert = EmulatedAlert(
            incident_id=incident_id,
            number=next(self._numbers),
            routing_key=routing_key,
            dedup_key=dedup_key,
            status=OPEN,
            summary=str(payload.get("summary", "")),
            severity=severity,
            source=str(payload.get("source", "")),
            created_at=iso_seconds(created_at or datetime.now(UTC)),
            html_url=f"{self.base_url}/incidents/{incident_id}",
            body=body,
            alert_id=_pd_id("Q", 13),
            urgency=urgency_for(severity),
        )
        alert.log("trigger")
        self.alerts.append(alert)
        return alert

    def _matching(
        self, dedup_key: str, routing_key: str | None, *, open_only: bool
    ) -> Iterator[EmulatedAlert]:
        for alert in self.alerts:
            if alert.dedup_key != dedup_key or (open_only and not alert.is_open):
                continue
            if routing_key is None or alert.routing_key == routing_key:
                yield alert


def _pd_id(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(length))


def update_from_trigger(alert: EmulatedAlert, body: dict[str, Any]) -> None:
    """A trigger deduplicated into the open alert: severity and urgency only rise."""
    payload = body.get("payload") or {}
    alert.summary = str(payload.get("summary", alert.summary))
    severity = str(payload.get("severity", alert.severity))
    if SEVERITY_RANK.get(severity, -1) > SEVERITY_RANK.get(alert.severity, -1):
        alert.severity = severity
    if urgency_for(alert.severity) == "high":
        alert.urgency = "high"
    alert.body = body
    alert.log("trigger")


def unacknowledge(alert: EmulatedAlert) -> None:
    """The acknowledgement timed out: PagerDuty puts the incident back to triggered."""
    alert.status = OPEN
    alert.acknowledged_by = None
    alert.log("unacknowledge", "pagerduty")


def acknowledge(alert: EmulatedAlert, by: str = "events-api") -> None:
    alert.status = ACKNOWLEDGED
    alert.acknowledged_by = by
    alert.log("acknowledge", by)


def resolve(alert: EmulatedAlert, by: str = "events-api", resolution: str | None = None) -> None:
    alert.status = RESOLVED
    alert.resolved_by = by
    alert.resolution = resolution
    alert.log("resolve", by, resolution=resolution)


class SlidingWindowLimiter:
    """At most `limit` accepted events per routing key in any `window` seconds; refused ones do not count."""

    def __init__(self, limit: int, window: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("rate limit must be >= 1 event per window > 0 s")
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[float]] = {}

    def admit(self, key: str, now: float) -> bool:
        times = self._seen.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True

    def age(self, key: str, now: float) -> float:
        """Seconds since the oldest admission still in the window (0 when there is none)."""
        times = self._seen.get(key)
        return now - times[0] if times else 0.0


@dataclass
class FaultPlan:
    """Queued faults (consumed in order, one per request) and an optional seeded random fault rate."""

    queued: deque[Fault] = field(default_factory=deque)
    rate: float = 0.0
    kinds: tuple[Fault, ...] = ()
    rng: Any = None  # random.Random when a rate is set
    path_prefixes: tuple[str, ...] = ("/",)

    def next_fault(self, path: str) -> Fault | None:
        if not path.startswith(self.path_prefixes):
            return None
        if self.queued:
            return self.queued.popleft()
        if self.rate > 0 and self.kinds and self.rng.random() < self.rate:
            return self.kinds[self.rng.randrange(len(self.kinds))]  # type: ignore[no-any-return]
        return None
