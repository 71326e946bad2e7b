"""The state table's item: what the bridge remembers about one dedup key."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alertbridge.models.alert import AlarmState
from alertbridge.models.pagerduty import MAX_SUMMARY_CHARS, Severity

# Every text an item keeps is bounded, so no producer can push an item past DynamoDB's 400 KB limit (the
# write of a trigger's intent would fail, and with it the page).
MAX_ITEM_TEXT_CHARS = MAX_SUMMARY_CHARS  # PagerDuty shows no more of a summary
MAX_TRIGGER_ALERT_CHARS = 32_000  # the stored notification of an episode (`StateItem.trigger_alert`)


class KeyStatus(StrEnum):
    OPEN = "open"  # a trigger went out and no resolve yet
    RESOLVED = "resolved"  # closed: by the alarm's OK, by a human, or by the reconciler
    SUPPRESSED = "suppressed"  # in ALARM during a maintenance window: recorded, not sent
    IGNORED = "ignored"  # a state change that sends nothing (e.g. INSUFFICIENT_DATA under "ignore")
    # In ALARM, recorded and deliberately not paged: the alarm-level change of a multi-time-series alarm
    # whose contributors page (or a contributor, when the alarm level pages); see `multi_time_series_pages`
    RECORDED = "recorded"


class StateItem(BaseModel):
    """One item per dedup key. Written only with conditional writes on `version`."""

    model_config = ConfigDict(frozen=True)

    dedup_key: str
    status: KeyStatus
    alarm_state: AlarmState
    state_changed_at: datetime  # of the newest transition applied; older ones never overwrite it
    route: str
    routing_key_id: str = ""  # fingerprint of the routing key that opened the incident, never the key
    alarm_name: str = ""
    alarm_arn: str | None = None
    source: str = ""
    summary: str = ""
    severity: Severity | None = None
    first_seen: datetime
    last_seen: datetime
    version: int = 0
    # Set (committed) before a trigger is sent and cleared after PagerDuty accepted it: a trigger that
    # timed out may still have been applied, so a later OK must find the key open and send its resolve.
    trigger_pending: bool = False
    auto_resolve_at: datetime | None = None
    opened_at: datetime | None = None  # when the bridge opened the current incident (sent its first trigger)
    account_id: str | None = None  # the alarm's account, for maintenance windows matched by account
    maintenance_window_id: str | None = None  # the window that suppressed the trigger (status SUPPRESSED)
    # The CloudWatch alarm mute rule that muted the trigger (status SUPPRESSED), and its window
    mute_rule_arn: str | None = None
    mute_starts_at: datetime | None = None
    mute_ends_at: datetime | None = None
    contributor_id: str | None = None  # a contributor's key: the time series of a multi-time-series alarm
    expires_at: int | None = None  # epoch seconds, DynamoDB TTL; only set on closed items
    # Mirrored from PagerDuty webhooks
    incident_id: str | None = None
    incident_number: int | None = None
    incident_url: str | None = None
    pd_status: str | None = None  # triggered | acknowledged | resolved
    assignees: tuple[str, ...] = ()
    last_actor: str | None = None
    resolved_by_human: bool = False
    pd_last_event: str | None = None  # the newest webhook event applied (`lifecycle.webhook_event_mark`)
    pd_updated_at: datetime | None = None  # occurred_at of the newest webhook applied; older ones are ignored
    pd_note_count: int = 0  # notes added in PagerDuty (incident.annotated deliveries mirrored)
    notes: tuple[str, ...] = Field(default=())
    # Why the bridge resolved the incident: added to it as a PagerDuty note after PagerDuty confirms the
    # resolve (the reconciler's confirmation, decided by the delivery function), never on the resolve's path
    resolve_note: str | None = None
    # The notification the open episode's trigger is built from (JSON, raw message left out), so a trigger
    # the reconciler asks for later (after a maintenance window, or one PagerDuty dropped) is built whole by
    # the one body builder; None on closed items, and when it would not fit MAX_TRIGGER_ALERT_CHARS
    trigger_alert: str | None = None

    @field_validator("summary", "alarm_name", "last_actor", "incident_url", mode="after")
    @classmethod
    def _bounded(cls, value: str | None) -> str | None:
        if value is None or len(value) <= MAX_ITEM_TEXT_CHARS:
            return value
        return value[: MAX_ITEM_TEXT_CHARS - 1] + "…"

    def muted(self, now: datetime) -> bool:
        """Held back by a mute rule whose window has not ended (a window without an end never ends here:
        CloudWatch runs the muted actions when it does, and that notification opens the key)."""
        return self.mute_rule_arn is not None and (self.mute_ends_at is None or self.mute_ends_at > now)

    @property
    def is_open(self) -> bool:
        return self.status == KeyStatus.OPEN

    @property
    def resolved_while_firing(self) -> bool:
        """Closed by a person (remediation code acting through the REST API included) while the alarm's
        last known state is not OK: later ALARMs of this episode send nothing, until an OK (a notification,
        or the reconciler reading CloudWatch) or a new episode ends it."""
        return (
            self.status == KeyStatus.RESOLVED and self.resolved_by_human and self.alarm_state != AlarmState.OK
        )

    def expired(self, now: datetime) -> bool:
        """DynamoDB TTL is lazy (and moto never expires), so readers check expiry themselves."""
        return self.expires_at is not None and self.expires_at <= int(now.timestamp())
