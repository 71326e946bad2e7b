"""The ports: every Protocol the logic, the orchestrators and the wiring depend on, with the small value
types they exchange. Adapters implement them with AWS and PagerDuty; unit tests implement them with fakes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

if TYPE_CHECKING:
    from alertbridge.models.delivery import AlertNotice, Observation
    from alertbridge.models.incident_event import IncidentEvent

from alertbridge.models.alert import AlarmState
from alertbridge.models.maintenance import MaintenanceWindow
from alertbridge.models.pagerduty import Incident
from alertbridge.models.state import StateItem


@dataclass(frozen=True, slots=True)
class EventsResponse:
    """PagerDuty's answer to an accepted event (its fields are read off the JSON by the adapter), and how
    many attempts it took."""

    status: str
    message: str = ""
    dedup_key: str | None = None
    attempts: int = 1


class StateStore(Protocol):
    def get(self, dedup_key: str) -> StateItem | None: ...

    def save(self, item: StateItem, *, expected_version: int | None) -> bool:
        """Conditional write: succeeds only if the stored version is `expected_version` (None: absent).
        Returns False when another writer got there first; the caller re-reads and re-decides."""
        ...

    def list_open(self) -> Iterator[StateItem]:
        """Open keys without scanning the table."""
        ...


class EventsApi(Protocol):
    def send(self, body: dict[str, Any], *, deadline: float | None = None) -> EventsResponse:
        """POST /v2/enqueue with retries bounded by attempts and `deadline` (time.monotonic() value).
        Raises alertbridge.errors.PagerDutyError subclasses."""
        ...

    def send_change(self, body: dict[str, Any], *, deadline: float | None = None) -> EventsResponse: ...


class RoutingKeys(Protocol):
    def routing_key(self, route: str, *, opened_with: str | None = None) -> str:
        """The route's current 32-char key; given `opened_with`, the fingerprint of the key that opened an
        incident, that key instead while the secret still lists it (rotation), so PagerDuty does not drop
        the resolve. Raises RoutingKeyMissing. Never logged."""
        ...


class AlarmTags(Protocol):
    def tags(self, alarm_arn: str) -> dict[str, str] | None:
        """The alarm's tags (for tag-matching rules; CloudWatch notifications carry none). None when they
        cannot be read: another account's alarm, no permission, throttling."""
        ...


class ObservedAlarm(BaseModel):
    """An alarm as CloudWatch describes it now: its state and when it entered that state."""

    state: AlarmState
    updated_at: datetime | None = None


class Alarms(Protocol):
    def states(self, alarm_names: Sequence[str]) -> dict[str, AlarmState]:
        """Current state per existing alarm; deleted alarms are absent from the result."""
        ...

    def observed(self, alarm_names: Sequence[str]) -> dict[str, ObservedAlarm]:
        """Like `states`, with the time of each alarm's last state update."""
        ...


class ObservedContributor(BaseModel):
    """A contributor (time series) of a multi-time-series alarm that CloudWatch lists in ALARM."""

    id: str
    attributes: dict[str, str] = {}
    reason: str | None = None
    since: datetime | None = None


class AlarmContributors(Protocol):
    def in_alarm(self, alarm_name: str) -> dict[str, ObservedContributor] | None:
        """The alarm's contributors currently in ALARM, by id (DescribeAlarmContributors); None when they
        cannot be read (an alarm that is not multi-time-series, no permission, throttling)."""
        ...


class MuteRule(BaseModel):
    """A CloudWatch alarm mute rule: it mutes the actions of up to 100 alarms on a schedule."""

    arn: str
    name: str
    status: str | None = None
    schedule: str | None = None  # `cron(...)` or `at(...)`
    duration: str | None = None  # ISO 8601, PT1M..P15D
    alarm_names: tuple[str, ...] = ()
    description: str | None = None
    starts_at: datetime | None = None
    expires_at: datetime | None = None


class MuteRules(Protocol):
    def list_rules(self, alarm_name: str | None = None) -> list[MuteRule]:
        """Mute rules (ListAlarmMuteRules, then GetAlarmMuteRule for their targets), optionally only those
        muting `alarm_name`."""
        ...

    def put_rule(self, rule: MuteRule) -> MuteRule:
        """Create or replace a rule (PutAlarmMuteRule); returns it as stored."""
        ...


class IncidentsApi(Protocol):
    def find_by_dedup_key(self, dedup_key: str, *, created_since: datetime | None = None) -> Incident | None:
        """Among incidents whose alerts carry `dedup_key` (PagerDuty leaves `incident_key` null on incidents
        opened through the Events API) and created at or after `created_since`: an open one if any, else
        the newest; None when there is none."""
        ...

    def alert_keys(self, incident_id: str, *, deadline: float | None = None) -> list[str]:
        """The `alert_key` (Events API dedup_key) of each of the incident's alerts, retries and each
        request's timeout bounded by `deadline` (a time.monotonic() value; None: the adapter's own bounds)."""
        ...

    def acknowledge(self, incident_id: str) -> Incident: ...

    def resolve(self, incident_id: str, resolution: str | None = None) -> Incident: ...

    def add_note(self, incident_id: str, content: str) -> None: ...


class DeliveryQueue(Protocol):
    def send(self, message: AlertNotice | Observation) -> None:
        """Put `message` on the FIFO delivery queue in its dedup key's message group. Raises on failure
        (the caller's record then returns to its own queue)."""
        ...


class IncidentLinks(Protocol):
    """Which dedup key a PagerDuty incident belongs to, kept in the state table (read without a Scan).

    PagerDuty's webhooks name the incident, not the dedup key: `incident_key` is null on incidents opened
    through the Events API, whose dedup key is their alert's `alert_key`."""

    def dedup_key_for(self, incident_id: str) -> str | None: ...

    def link(self, incident_id: str, dedup_key: str) -> None: ...


class Counter(Protocol):
    """Where the pipeline counts what it did (Powertools Metrics in Lambda, a list in tests)."""

    def add(self, name: str, value: int = 1) -> None: ...


class SuppressedKeys(Protocol):
    def list_suppressed(self) -> Iterator[StateItem]:
        """Keys whose trigger a maintenance window held back (status SUPPRESSED), without scanning."""
        ...


class ResolvedFiringKeys(Protocol):
    def list_resolved_firing(self) -> Iterator[StateItem]:
        """Keys a person resolved while the alarm's last known state is not OK (`StateItem.
        resolved_while_firing`), least recently written first, without scanning."""
        ...


class RecordedKeys(Protocol):
    def list_recorded(self) -> Iterator[StateItem]:
        """Keys in ALARM recorded without a page (status RECORDED: a multi-time-series alarm whose other
        level pages), without scanning."""
        ...


class UnconfirmedResolves(Protocol):
    def list_unconfirmed_resolves(self, since: datetime) -> Iterator[StateItem]:
        """Keys the bridge resolved since `since` whose PagerDuty incident was not yet seen closed
        (the reconciler re-sends resolves PagerDuty dropped) or whose resolve note is still to be added,
        without scanning."""
        ...


class MaintenanceStore(Protocol):
    def put(self, window: MaintenanceWindow) -> None:
        """Create or replace a window."""
        ...

    def get(self, window_id: str) -> MaintenanceWindow | None: ...

    def list_all(self) -> list[MaintenanceWindow]:
        """Every window kept (past ones until their retention ends), ordered by start, without scanning."""
        ...

    def list_active(self, now: datetime) -> list[MaintenanceWindow]:
        """Windows covering `now` (start <= now < end)."""
        ...

    def end(self, window_id: str, now: datetime) -> MaintenanceWindow | None:
        """End a window now (a future one is cancelled); None when there is no such window."""
        ...


class WebhookDeliveries(Protocol):
    """The `X-Webhook-Id`s of the webhook deliveries already applied (replay detection)."""

    def seen(self, webhook_id: str, now: datetime) -> bool:
        """True when `webhook_id` is recorded and not expired."""
        ...

    def first_delivery(self, webhook_id: str, now: datetime, ttl_hours: int = 48) -> bool:
        """Record an `X-Webhook-Id`; False when it was already recorded (a redelivery) and not expired."""
        ...


class SigningSecrets(Protocol):
    """The webhook signing secrets."""

    def current(self) -> Sequence[str]:
        """The configured secrets (cached). Raises ConfigError when they cannot be read."""
        ...

    def refreshed(self) -> Sequence[str]:
        """Read again (a rotation may be newer than the cache); rate-limited by the implementation."""
        ...


class RestIncidents(Protocol):
    """Where the webhook function gets its REST adapter."""

    def incidents(self) -> IncidentsApi | None:
        """The REST adapter (built once, lazily), or None when no REST token is configured."""
        ...


class Notes(Protocol):
    """Adds the bridge's resolve note to a PagerDuty incident (REST API). Raises on failure: a
    `PagerDutyError` that is `retryable` is worth trying again later."""

    def add_note(self, incident_id: str, content: str) -> None: ...


class GraphKeys(Protocol):
    """The graph tokens' HMAC keys (a secret separate from the webhook secret)."""

    def signing_key(self) -> bytes | None:
        """The current key; None when it cannot be read (the trigger then goes out without an image)."""
        ...

    def verifying_keys(self) -> Sequence[bytes]:
        """Every key a valid token may be signed with (current first, then any retired during a
        rotation); empty when the secret cannot be read."""
        ...


class MetricImages(Protocol):
    def render(self, region: str, widget: dict[str, Any]) -> bytes:
        """A PNG of the metric widget drawn in `region` (CloudWatch GetMetricWidgetImage). Raises when it
        cannot be drawn."""
        ...


class IncidentEvents(Protocol):
    """Where incident events go (an EventBridge bus). Raises when the event was not accepted."""

    def put(self, event: IncidentEvent) -> None: ...
