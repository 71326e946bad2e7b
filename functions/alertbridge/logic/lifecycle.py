"""The state machine: one pure decision per state change, from (stored item, alert, policy, now).

Rules (each a unit test in tests/unit/test_lifecycle.py):

- Ordering. SNS and SQS are unordered, so the newest applied `state_changed_at` wins: an older change is
  "stale" and changes nothing. The same timestamp with the same state is a "duplicate".
- Ties. The same timestamp with a different state is decided by a fixed rank, ALARM > INSUFFICIENT_DATA >
  OK, whatever the arrival order, so every replica of the decision converges. ALARM wins because a missed
  page is silent while an extra open incident is visible and the reconciler closes it once CloudWatch
  says the alarm is OK.
- Opening identity. The route and routing-key fingerprint that opened an incident are frozen until it
  closes: re-triggers and the resolve always go out with them, so PagerDuty never drops the resolve.
- A resolve goes out only for an open key. A resolve for a key that is not open sends nothing but records
  the newer state, so a late, older ALARM is then stale (an OK arriving before its ALARM ends closed).
- Maintenance. A trigger inside a window is recorded (SUPPRESSED, window id), not sent; resolves always go
  out; `triggers_after_maintenance` lists what to trigger once no window covers it any more.
- Humans. When a human resolved the incident in PagerDuty while the alarm is in ALARM, later ALARMs of the
  same episode send nothing; the episode ends with the next resolve-mapped state (OK), after which a new
  ALARM opens a new incident. INSUFFICIENT_DATA ignored in between does not end the episode.
- TTL. Closed items (RESOLVED, IGNORED) expire `ttl_days` after the write; open and suppressed ones never.
  An expired stored item is treated as absent (DynamoDB TTL is lazy).
- Versions. Every written item carries the stored version + 1; the adapter writes it conditionally on
  `Decision.expected_version`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, assert_never

from pydantic import BaseModel, ConfigDict

from alertbridge.logic.dedup import account_from_arn
from alertbridge.logic.maintenance import active_window_for
from alertbridge.models.alert import AlarmState, Alert, AlertSource, Contributor, MuteDetail
from alertbridge.models.delivery import Observation, ObservationKind
from alertbridge.models.maintenance import MaintenanceWindow
from alertbridge.models.pagerduty import EventAction, Severity
from alertbridge.models.state import MAX_TRIGGER_ALERT_CHARS, KeyStatus, StateItem

# Equal timestamps, different states: the higher rank wins (see the module docstring).
_TIE_RANK = {AlarmState.OK: 0, AlarmState.INSUFFICIENT_DATA: 1, AlarmState.ALARM: 2}
# PagerDuty webhook `agent.type` values that are people (the rest are services and integrations).
HUMAN_AGENT_TYPES = frozenset({"user_reference", "user"})
_CLOSED = frozenset({KeyStatus.RESOLVED, KeyStatus.IGNORED})


class DecisionReason(StrEnum):
    """Why the lifecycle decided what it did about a state change or an observation: stable values for logs
    and metric dimensions (`Outcome.reason`)."""

    OPENED = "opened"
    REOPENED = "reopened"
    RETRIGGERED = "retriggered"
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"
    DUPLICATE = "duplicate"
    STALE = "stale"
    RESOLVE_WITHOUT_OPEN = "resolve-without-open"
    ACK_WITHOUT_OPEN = "ack-without-open"
    SUPPRESSED = "suppressed-maintenance"
    MUTED = "suppressed-mute-rule"  # a CloudWatch alarm mute rule muted the change's actions
    MUTE_ENDED = "mute-ended"  # CloudWatch ran the muted ALARM action when the mute ended
    RECORDED = "recorded-not-paged"  # multi-time-series: the other level pages (multi_time_series_pages)
    IGNORED = "ignored"
    HUMAN_RESOLVED = "human-resolved-still-alarm"
    TRIGGER_AFTER_MAINTENANCE = "maintenance-ended"
    AUTO_RESOLVED = "auto-resolved"
    NOT_OPEN = "not-open"
    NOT_SUPPRESSED = "not-suppressed"
    RETRY_PENDING = "retry-pending-trigger"
    TRIGGER_APPLIED = "pending-trigger-applied"  # PagerDuty had applied the send that failed
    OVERTAKEN = "observation-overtaken"  # newer state than what the reconciler saw: nothing to do
    NOTHING_STORED = "observation-nothing-stored"


class Decision(BaseModel):
    """What to do for one state change. `new_item` None means write nothing.

    For a resolve or a re-trigger, `route_for_send`/`routing_key_id_for_send` are the identity stored when
    the incident opened, never the newly computed route.
    """

    model_config = ConfigDict(frozen=True)

    send: EventAction | None = None
    route_for_send: str | None = None
    routing_key_id_for_send: str | None = None
    new_item: StateItem | None = None
    expected_version: int | None = None  # pass to StateStore.save (None: the key must be absent or expired)
    reason: str


@dataclass(frozen=True)
class _Change:
    """One decision's inputs, bundled so the helpers stay short."""

    alert: Alert
    route: str
    routing_key_id: str
    severity: Severity
    summary: str
    suppressed_by: MaintenanceWindow | None
    now: datetime
    ttl_days: int
    expected_version: int | None
    pages: bool = True


def decide(
    stored: StateItem | None,
    alert: Alert,
    *,
    action: EventAction | None,
    route: str,
    routing_key_id: str,
    severity: Severity,
    summary: str,
    suppressed_by: MaintenanceWindow | None,
    now: datetime,
    ttl_days: int,
    pages: bool = True,
) -> Decision:
    """The lifecycle decision for `alert` against the stored item of its dedup key. `pages` False records
    a trigger without sending it (status RECORDED: a multi-time-series alarm whose other level pages)."""
    expected = stored.version if stored is not None else None
    change = _Change(
        alert, route, routing_key_id, severity, summary, suppressed_by, now, ttl_days, expected, pages
    )
    current = None if stored is None or stored.expired(now) else stored
    if current is not None and _is_duplicate(current, alert):
        if current.trigger_pending and current.is_open and action == EventAction.TRIGGER:
            return _resend_pending(current, change)
        if action == EventAction.TRIGGER and _mute_rerun(current, change):
            return _open(current, change, DecisionReason.MUTE_ENDED)
        return Decision(reason=DecisionReason.DUPLICATE)
    if current is not None and not _is_newer(current, alert):
        return Decision(reason=DecisionReason.STALE)
    if action == EventAction.TRIGGER:
        return _on_trigger(current, change)
    if action == EventAction.RESOLVE:
        return _on_resolve(current, change)
    if action == EventAction.ACKNOWLEDGE:
        return _on_acknowledge(current, change)
    return _on_ignore(current, change)


def needs_no_window(stored: StateItem | None, alert: Alert, now: datetime) -> bool:
    """The decision for `alert` will not look at maintenance windows: a duplicate or a stale change (the
    caller can skip reading them)."""
    current = None if stored is None or stored.expired(now) else stored
    return current is not None and (_is_duplicate(current, alert) or not _is_newer(current, alert))


def _resend_pending(current: StateItem, change: _Change) -> Decision:
    """The redelivery of a trigger whose send failed after its intent was committed: send it again. Once a
    webhook has shown PagerDuty's incident for the episode, the send that failed was applied (it timed out
    after PagerDuty accepted it): the intent is cleared and nothing is sent again, so a person who resolves
    that incident before its webhook arrives is not paged a second time."""
    if current.pd_status is not None:
        return _applied_pending_trigger(current, change.now)
    item = current.model_copy(update={"last_seen": change.now, "version": current.version + 1})
    return _sending(EventAction.TRIGGER, current, item, change, DecisionReason.RETRY_PENDING)


def _applied_pending_trigger(current: StateItem, now: datetime) -> Decision:
    """A pending trigger that PagerDuty had applied (a webhook showed its incident): clear the mark, send
    nothing."""
    return _written(current, {"trigger_pending": False, "last_seen": now}, DecisionReason.TRIGGER_APPLIED)


def _mute_rerun(current: StateItem, change: _Change) -> bool:
    """The same ALARM a mute rule held back, now without `muteDetail`: CloudWatch ran the muted action
    when the mute ended with the alarm still in ALARM (SNS and Lambda actions), so it pages now."""
    return (
        current.status == KeyStatus.SUPPRESSED
        and current.mute_rule_arn is not None
        and change.alert.mute is None
        and change.suppressed_by is None
        and change.pages
    )


def _mute_fields(mute: MuteDetail | None) -> dict[str, Any]:
    if mute is None:
        return dict(_NO_MUTE)
    return {
        "mute_rule_arn": mute.muted_by_arn,
        "mute_starts_at": mute.window_start,
        "mute_ends_at": mute.window_end,
    }


_NO_MUTE: dict[str, Any] = {"mute_rule_arn": None, "mute_starts_at": None, "mute_ends_at": None}


def _is_duplicate(current: StateItem, alert: Alert) -> bool:
    return alert.state_changed_at == current.state_changed_at and alert.state == current.alarm_state


def _is_newer(current: StateItem, alert: Alert) -> bool:
    if alert.state_changed_at != current.state_changed_at:
        return alert.state_changed_at > current.state_changed_at
    return _TIE_RANK[alert.state] > _TIE_RANK[current.alarm_state]


def _on_trigger(current: StateItem | None, change: _Change) -> Decision:
    if current is not None and current.is_open:
        return _retrigger(current, change)
    if _in_human_resolved_episode(current, change.alert):
        return _record(current, change, KeyStatus.RESOLVED, DecisionReason.HUMAN_RESOLVED)
    mute = change.alert.mute
    if change.suppressed_by is not None or mute is not None:
        window_id = change.suppressed_by.id if change.suppressed_by is not None else None
        reason = DecisionReason.SUPPRESSED if change.suppressed_by is not None else DecisionReason.MUTED
        return _record(
            current,
            change,
            KeyStatus.SUPPRESSED,
            reason,
            maintenance_window_id=window_id,
            **_mute_fields(mute),
        )
    if not change.pages:
        return _record(current, change, KeyStatus.RECORDED, DecisionReason.RECORDED, **_NO_MUTE)
    return _open(current, change)


def _in_human_resolved_episode(current: StateItem | None, alert: Alert) -> bool:
    """A person resolved the incident and the alarm has not been OK since. An ALARM whose previous state
    is OK starts a new episode even when the OK itself never reached the bridge (lost, or the alarm has
    no OK action), so a person's resolve never silences the next episode."""
    if current is None or current.status != KeyStatus.RESOLVED or not current.resolved_by_human:
        return False
    return alert.previous_state != AlarmState.OK


def _retrigger(current: StateItem, change: _Change) -> Decision:
    """A newer ALARM for an open key updates the open PagerDuty alert, with the opening identity."""
    if change.suppressed_by is not None:  # the incident stays open; only the update is held back
        window_id = change.suppressed_by.id
        return _record(
            current, change, KeyStatus.OPEN, DecisionReason.SUPPRESSED, maintenance_window_id=window_id
        )
    if change.alert.mute is not None:  # muted by CloudWatch: the open incident is not updated
        return _record(current, change, KeyStatus.OPEN, DecisionReason.MUTED)
    item = _next_item(current, change, KeyStatus.OPEN, auto_resolve_at=_auto_resolve_at(change.alert))
    return _sending(EventAction.TRIGGER, current, item, change, DecisionReason.RETRIGGERED)


def _open(current: StateItem | None, change: _Change, reason: DecisionReason | None = None) -> Decision:
    """A new incident: the newly computed route and key become its opening identity."""
    item = _next_item(
        current,
        change,
        KeyStatus.OPEN,
        route=change.route,
        routing_key_id=change.routing_key_id,
        opened_at=change.now,
        auto_resolve_at=_auto_resolve_at(change.alert),
        **_NEW_INCIDENT,
    )
    if reason is None:
        fresh = current is None or current.status in (KeyStatus.SUPPRESSED, KeyStatus.RECORDED)
        reason = DecisionReason.OPENED if fresh else DecisionReason.REOPENED
    return _sending(EventAction.TRIGGER, item, item, change, reason)


# Fields describing one PagerDuty incident: cleared when the bridge opens a new one.
_NEW_INCIDENT: dict[str, Any] = {
    "incident_id": None,
    "incident_number": None,
    "incident_url": None,
    "pd_status": None,
    "assignees": (),
    "last_actor": None,
    "resolved_by_human": False,
    "pd_updated_at": None,
    "resolve_note": None,
    "maintenance_window_id": None,
    "mute_rule_arn": None,
    "mute_starts_at": None,
    "mute_ends_at": None,
}


def _on_resolve(current: StateItem | None, change: _Change) -> Decision:
    ends_episode = {
        "resolved_by_human": False,
        "auto_resolve_at": None,
        "maintenance_window_id": None,
        **_NO_MUTE,
    }
    if current is not None and current.is_open:
        item = _next_item(current, change, KeyStatus.RESOLVED, **ends_episode)
        return _sending(EventAction.RESOLVE, current, item, change, DecisionReason.RESOLVED)
    return _record(current, change, KeyStatus.RESOLVED, DecisionReason.RESOLVE_WITHOUT_OPEN, **ends_episode)


def _on_acknowledge(current: StateItem | None, change: _Change) -> Decision:
    if current is not None and current.is_open:
        # An acknowledge names only the dedup key: the incident keeps the alarm name it opened with.
        item = _next_item(current, change, KeyStatus.OPEN, alarm_name=current.alarm_name)
        return _sending(EventAction.ACKNOWLEDGE, current, item, change, DecisionReason.ACKNOWLEDGED)
    return _record(current, change, _closed_status(current), DecisionReason.ACK_WITHOUT_OPEN)


def _on_ignore(current: StateItem | None, change: _Change) -> Decision:
    """Nothing to send (e.g. INSUFFICIENT_DATA under "ignore"), but the newer state is remembered."""
    if current is not None and current.is_open:
        return _record(current, change, KeyStatus.OPEN, DecisionReason.IGNORED)
    return _record(
        current,
        change,
        _closed_status(current),
        DecisionReason.IGNORED,
        maintenance_window_id=None,
        **_NO_MUTE,
    )


def _closed_status(current: StateItem | None) -> KeyStatus:
    """A resolved key stays resolved (keeping its human-resolved mark); anything else becomes IGNORED."""
    return (
        KeyStatus.RESOLVED
        if current is not None and current.status == KeyStatus.RESOLVED
        else KeyStatus.IGNORED
    )


def _record(
    current: StateItem | None, change: _Change, status: KeyStatus, reason: DecisionReason, **fields: Any
) -> Decision:
    """Write the newer state without sending anything. An open key keeps its opening identity; any other
    records the newly computed route (that is the one a trigger after maintenance will use)."""
    if current is None or not current.is_open:
        fields.setdefault("route", change.route)
        fields.setdefault("routing_key_id", change.routing_key_id)
    item = _next_item(current, change, status, **fields)
    return Decision(new_item=item, expected_version=change.expected_version, reason=reason)


def _sending(
    action: EventAction, identity: StateItem, item: StateItem, change: _Change, reason: DecisionReason
) -> Decision:
    return _send_decision(action, identity, item, change.expected_version, reason)


def _send_decision(
    action: EventAction,
    identity: StateItem,
    item: StateItem | None,
    expected_version: int | None,
    reason: str,
) -> Decision:
    """Send `action` with the identity that opened the incident, then write `item` (None: nothing)."""
    return Decision(
        send=action,
        route_for_send=identity.route,
        routing_key_id_for_send=identity.routing_key_id,
        new_item=item,
        expected_version=expected_version,
        reason=reason,
    )


def _next_item(current: StateItem | None, change: _Change, status: KeyStatus, **fields: Any) -> StateItem:
    """The item after this change: the alert's facts, the stored incident facts, then `fields`."""
    alert = change.alert
    values: dict[str, Any] = current.model_dump() if current is not None else _fresh(change)
    values.update(
        status=status,
        alarm_state=alert.state,
        state_changed_at=alert.state_changed_at,
        alarm_name=alert.alarm_name,
        alarm_arn=alert.alarm_arn,
        account_id=alert.account_id or account_from_arn(alert.alarm_arn),
        source=alert.source.value,
        contributor_id=alert.contributor.id if alert.contributor is not None else None,
        summary=change.summary,
        severity=change.severity,
        last_seen=change.now,
        version=(change.expected_version or 0) + 1,
        expires_at=_expiry(status, change.now, change.ttl_days),
        trigger_pending=False,
        trigger_alert=_episode_alert(current, alert, status),
    )
    values.update(fields)
    return StateItem.model_validate(values)


_EPISODE_OPEN = frozenset({KeyStatus.OPEN, KeyStatus.SUPPRESSED, KeyStatus.RECORDED})


def _episode_alert(current: StateItem | None, alert: Alert, status: KeyStatus) -> str | None:
    """What a later trigger of the episode is built from: the newest ALARM notification (another state
    seen while the episode is open, such as INSUFFICIENT_DATA under `ignore`, keeps the one it has)."""
    if status not in _EPISODE_OPEN:
        return None
    kept = current.trigger_alert if current is not None and current.status in _EPISODE_OPEN else None
    if kept is not None and alert.state is not AlarmState.ALARM:
        return kept
    return _stored_alert(alert)


def _stored_alert(alert: Alert) -> str | None:
    """The notification as the item keeps it for a later trigger: JSON without the raw message."""
    text = alert.model_dump_json(exclude={"raw_message"}, exclude_defaults=True)
    return text if len(text) <= MAX_TRIGGER_ALERT_CHARS else None


def _fresh(change: _Change) -> dict[str, Any]:
    """A key seen for the first time (or whose stored item has expired)."""
    alert = change.alert
    return {
        "dedup_key": alert.dedup_key,
        "first_seen": change.now,
        "route": change.route,
        "routing_key_id": change.routing_key_id,
    }


def _expiry(status: KeyStatus, now: datetime, ttl_days: int) -> int | None:
    return int((now + timedelta(days=ttl_days)).timestamp()) if status in _CLOSED else None


def _auto_resolve_at(alert: Alert) -> datetime | None:
    seconds = alert.auto_resolve_after_seconds
    return alert.state_changed_at + timedelta(seconds=seconds) if seconds else None


# --- Reconciler helpers -------------------------------------------------------------------------------


def triggers_after_maintenance(
    items: Iterable[StateItem], windows: Iterable[MaintenanceWindow], now: datetime
) -> list[StateItem]:
    """Suppressed keys (still in ALARM) that no active window covers any more: trigger them now."""
    active = [window for window in windows if window.is_active(now)]
    return [item for item in items if _suppression_lifted(item, active, now)]


def _suppression_lifted(item: StateItem, active: list[MaintenanceWindow], now: datetime) -> bool:
    """No window covers the key any more and no mute rule's window is still running: on the EventBridge
    path no notification comes when a mute ends, so its end is handled like a window's."""
    if item.status != KeyStatus.SUPPRESSED or item.expired(now) or item.muted(now):
        return False
    account = item.account_id or account_from_arn(item.alarm_arn)
    covering = active_window_for(
        active, route=item.route, alarm_name=item.alarm_name, account=account, now=now
    )
    return covering is None


def open_after_maintenance(item: StateItem, *, now: datetime) -> Decision:
    """Carry out `triggers_after_maintenance`: send the held trigger and open the key."""
    if item.status != KeyStatus.SUPPRESSED:
        return Decision(reason=DecisionReason.NOT_SUPPRESSED)
    opened = item.model_copy(
        update={**_NEW_INCIDENT, "status": KeyStatus.OPEN, "opened_at": now, "last_seen": now}
    )
    return _carried_out(EventAction.TRIGGER, item, opened, DecisionReason.TRIGGER_AFTER_MAINTENANCE)


def due_auto_resolves(items: Iterable[StateItem], now: datetime) -> list[StateItem]:
    """Open keys whose alert asked to be resolved after a timeout (`autoResolveAfterSeconds`) that has passed."""
    return [
        item
        for item in items
        if item.is_open and item.auto_resolve_at is not None and item.auto_resolve_at <= now
    ]


def resolve_open_item(
    item: StateItem, *, now: datetime, ttl_days: int, reason: str = DecisionReason.AUTO_RESOLVED
) -> Decision:
    """Close an open key on the bridge's own initiative (auto-resolve timeout, alarm deleted or already OK),
    with the opening identity. The alarm state is left as recorded: a newer ALARM still opens a new incident."""
    if not item.is_open:
        return Decision(reason=DecisionReason.NOT_OPEN)
    closed = item.model_copy(
        update={
            "status": KeyStatus.RESOLVED,
            "last_seen": now,
            "auto_resolve_at": None,
            "expires_at": _expiry(KeyStatus.RESOLVED, now, ttl_days),
        }
    )
    return _carried_out(EventAction.RESOLVE, item, closed, reason)


def complete_pending_trigger(item: StateItem, *, now: datetime, reason: str) -> Decision:
    """Send again a trigger whose intent was committed but whose send never succeeded (its record was not
    redelivered, e.g. it sits in the DLQ), with the opening identity; the commit clears the intent."""
    if not (item.is_open and item.trigger_pending):
        return Decision(reason=DecisionReason.NOT_OPEN)
    sent = item.model_copy(update={"trigger_pending": False, "last_seen": now})
    return _carried_out(EventAction.TRIGGER, item, sent, reason)


def _carried_out(action: EventAction, item: StateItem, updated: StateItem, reason: str) -> Decision:
    bumped = updated.model_copy(update={"version": item.version + 1})
    return _send_decision(action, item, bumped, item.version, reason)


# --- The reconciler's observations, decided on fresh state ------------------------------------------------
#
# The reconciler plans from a snapshot; by the time its observation is decided (in the key's delivery lane,
# after anything queued before it), newer notifications may have moved the key on. Each function below
# acts only while the stored item still describes what the reconciler saw (the same alarm transition, the
# same incident); otherwise the observation is OVERTAKEN and changes nothing.

PAGERDUTY_CONFIRMED_CLOSED = "resolved"  # pd_status once PagerDuty is seen without an open incident
_ALARM_STATE_OBSERVATIONS = frozenset(
    {
        ObservationKind.RESOLVE_OK,
        ObservationKind.RESOLVE_DELETED,
        ObservationKind.RESOLVE_CONTRIBUTOR_ALARM_OK,
        ObservationKind.RESOLVE_CONTRIBUTOR_OK,
    }
)


def live_item(stored: StateItem | None, now: datetime) -> StateItem | None:
    """The stored item unless it has expired (DynamoDB's TTL is lazy)."""
    return None if stored is None or stored.expired(now) else stored


def observed_alarm_change(current: StateItem, observation: Observation) -> Alert | None:
    """An observation of CloudWatch's own state ("OK since T", "deleted") as the state change it stands
    for, to be decided by `decide` like any notification: an OK older than the stored state is stale, so
    a stale observation never closes a newer episode. None for observations of another kind."""
    if observation.what not in _ALARM_STATE_OBSERVATIONS:
        return None
    return Alert(
        source=AlertSource(current.source) if current.source in _SOURCES else AlertSource.RAW,
        dedup_key=current.dedup_key,
        alarm_name=current.alarm_name or current.dedup_key,
        alarm_arn=current.alarm_arn,
        account_id=current.account_id,
        state=AlarmState.OK,
        state_changed_at=observation.as_of or observation.observed_at,
        reason=observation.why,
        contributor=Contributor(id=current.contributor_id) if current.contributor_id else None,
    )


def decide_observation(
    stored: StateItem | None,
    observation: Observation,
    *,
    now: datetime,
    ttl_days: int,
    covering: MaintenanceWindow | None,
) -> Decision:
    """The decision for an observation that is not an alarm state change (see `observed_alarm_change`).
    `covering` is a maintenance window active now for the key (only maintenance-ended looks at it)."""
    current = live_item(stored, now)
    if current is None:
        return Decision(reason=DecisionReason.NOTHING_STORED)
    decided = _observation_rule(observation.what)(current, observation, now, ttl_days, covering)
    return decided if decided is not None else Decision(reason=DecisionReason.OVERTAKEN)


def _same_transition(current: StateItem, observation: Observation) -> bool:
    return (
        current.state_changed_at == observation.state_changed_at
        and current.opened_at == observation.opened_at
    )


def _auto_resolve_due(
    current: StateItem, observation: Observation, now: datetime, ttl_days: int, _: MaintenanceWindow | None
) -> Decision | None:
    if not current.is_open or current.auto_resolve_at is None or current.auto_resolve_at > now:
        return None
    return resolve_open_item(current, now=now, ttl_days=ttl_days, reason=observation.what)


def _interrupted_trigger(current: StateItem, observation: Observation, now: datetime) -> Decision | None:
    """The redelivery of an observation whose trigger was interrupted: its first delivery committed the
    trigger's intent (the key open, the trigger pending, the episode counted from that delivery) and the
    send failed. Only that intent is completed, the one of the same alarm transition, opened after the
    observation was made and not at the opening it saw; any other pending trigger is left to its own
    redelivery or to the reconciler's stuck-trigger pass. Once a webhook has shown PagerDuty's incident for
    the episode, the send that failed was applied (it timed out after PagerDuty accepted it): the intent is
    cleared and nothing is sent again, so a person who resolved that incident is not paged a second time."""
    if not (current.is_open and current.trigger_pending) or current.opened_at is None:
        return None
    own = (
        current.state_changed_at == observation.state_changed_at
        and current.opened_at != observation.opened_at
        and current.opened_at >= observation.observed_at
    )
    if not own:
        return None
    if current.pd_status is not None:
        return _applied_pending_trigger(current, now)
    return complete_pending_trigger(current, now=now, reason=observation.what)


def _maintenance_ended(
    current: StateItem, observation: Observation, now: datetime, _: int, covering: MaintenanceWindow | None
) -> Decision | None:
    if (interrupted := _interrupted_trigger(current, observation, now)) is not None:
        return interrupted
    if current.status != KeyStatus.SUPPRESSED or covering is not None or current.muted(now):
        return None
    if not _same_transition(current, observation):
        return None
    return open_after_maintenance(current, now=now)


def _suppressed_recovered(
    current: StateItem, observation: Observation, now: datetime, ttl_days: int, _: MaintenanceWindow | None
) -> Decision | None:
    if current.status != KeyStatus.SUPPRESSED or not _same_transition(current, observation):
        return None
    update: dict[str, Any] = {"status": KeyStatus.IGNORED, "maintenance_window_id": None, "last_seen": now}
    update.update(_NO_MUTE)
    update["expires_at"] = _expiry(KeyStatus.IGNORED, now, ttl_days)
    return _written(current, update, observation.what)


def _trigger_pending(
    current: StateItem, observation: Observation, now: datetime, _: int, __: MaintenanceWindow | None
) -> Decision | None:
    if not (current.is_open and current.trigger_pending) or current.opened_at != observation.opened_at:
        return None
    return complete_pending_trigger(current, now=now, reason=observation.what)


def _trigger_not_opened(
    current: StateItem, observation: Observation, now: datetime, _: int, __: MaintenanceWindow | None
) -> Decision | None:
    """PagerDuty has no incident for this episode (a trigger dropped during a PagerDuty maintenance
    window): send it again, and count the episode from now, so the next check waits for its own grace."""
    if (interrupted := _interrupted_trigger(current, observation, now)) is not None:
        return interrupted
    unseen = current.is_open and not current.trigger_pending and current.pd_status is None
    if not unseen or not _same_transition(current, observation):
        return None
    resent = current.model_copy(update={"opened_at": now, "last_seen": now})
    return _carried_out(EventAction.TRIGGER, current, resent, observation.what)


def _incident_open(
    current: StateItem, observation: Observation, now: datetime, _: int, __: MaintenanceWindow | None
) -> Decision | None:
    """Mirror what the lookup found (as a webhook would have), so the key is not looked up again."""
    incident = observation.incident
    if incident is None or not current.is_open or current.opened_at != observation.opened_at:
        return None
    update = {
        "pd_status": incident.status,
        "incident_id": current.incident_id or incident.id,
        "incident_number": current.incident_number or incident.number,
        "incident_url": current.incident_url or incident.html_url,
    }
    return _written(current, update, observation.what)


def _resolve_not_applied(
    current: StateItem, observation: Observation, now: datetime, _: int, __: MaintenanceWindow | None
) -> Decision | None:
    """The bridge resolved the key but PagerDuty's incident is still open (a resolve dropped during a
    PagerDuty maintenance window): send the resolve again, with the opening identity."""
    if current.status != KeyStatus.RESOLVED or current.resolved_by_human:
        return None
    if not _same_transition(current, observation) or current.pd_status == PAGERDUTY_CONFIRMED_CLOSED:
        return None
    return _send_decision(EventAction.RESOLVE, current, None, None, observation.what)


def _resolve_confirmed(
    current: StateItem, observation: Observation, now: datetime, _: int, __: MaintenanceWindow | None
) -> Decision | None:
    if current.status != KeyStatus.RESOLVED or not _same_transition(current, observation):
        return None
    return _written(current, {"pd_status": PAGERDUTY_CONFIRMED_CLOSED}, observation.what)


def awaits_reconciler(item: StateItem) -> bool:
    """Resolved by the bridge and not done with PagerDuty: the incident not yet seen closed (an incident
    was opened and no person closed it: the reconciler re-sends resolves PagerDuty dropped), or the
    resolve note not yet added. The reconciler lists these keys (`list_unconfirmed_resolves`)."""
    if item.status != KeyStatus.RESOLVED:
        return False
    unconfirmed = (
        item.opened_at is not None
        and not item.resolved_by_human
        and item.pd_status != PAGERDUTY_CONFIRMED_CLOSED
    )
    return unconfirmed or item.resolve_note is not None


def with_resolve_note(item: StateItem, text: str) -> StateItem:
    """The item a resolve commits, holding the note that says why (added to the incident later, see
    `note_due`)."""
    return item.model_copy(update={"resolve_note": text})


def note_due(current: StateItem | None, observation: Observation) -> bool:
    """Whether the resolve note of the episode the reconciler confirmed closed is still to be added."""
    return (
        current is not None
        and observation.what == ObservationKind.CONFIRM_RESOLVED
        and current.status == KeyStatus.RESOLVED
        and current.resolve_note is not None
        and current.opened_at == observation.opened_at
    )


def note_settled(fresh: StateItem | None, opened_at: datetime | None) -> StateItem | None:
    """The fresh item without the resolve note of the episode opened at `opened_at` (added, or given up);
    None when there is nothing to clear (another writer did, or a new episode began)."""
    if fresh is None or fresh.resolve_note is None or fresh.opened_at != opened_at:
        return None
    return fresh.model_copy(update={"resolve_note": None, "version": fresh.version + 1})


def _written(current: StateItem, update: dict[str, Any], reason: str) -> Decision:
    item = current.model_copy(update={**update, "version": current.version + 1})
    return Decision(new_item=item, expected_version=current.version, reason=reason)


def resolved_by_person(item: StateItem, *, actor: str, now: datetime, ttl_days: int) -> StateItem | None:
    """A person resolved the key's incident through the operator commands: the key closes, and later
    ALARMs of this episode do not re-page (as when PagerDuty's webhook mirrors a person's resolve). None
    when the key is not open."""
    if not item.is_open:
        return None
    update = {
        "status": KeyStatus.RESOLVED,
        "resolved_by_human": True,
        "pd_status": "resolved",
        "last_actor": actor,
        "auto_resolve_at": None,
        "last_seen": now,
        "expires_at": _expiry(KeyStatus.RESOLVED, now, ttl_days),
        "version": item.version + 1,
    }
    return item.model_copy(update=update)


def trigger_accepted(fresh: StateItem | None, intent: StateItem) -> StateItem | None:
    """After PagerDuty accepted the trigger whose intent was `intent`: the fresh item with the intent
    cleared, or None when there is nothing to clear (another writer already did, or the key moved on)."""
    if fresh is None or not fresh.trigger_pending or fresh.opened_at != intent.opened_at:
        return None
    return fresh.model_copy(update={"trigger_pending": False, "version": fresh.version + 1})


_ObservationRule = Callable[
    [StateItem, Observation, datetime, int, MaintenanceWindow | None], Decision | None
]


def _observation_rule(kind: ObservationKind) -> _ObservationRule:
    """The rule deciding an observation of `kind`; every kind is named, so mypy fails on a new one."""
    match kind:
        case ObservationKind.AUTO_RESOLVE:
            return _auto_resolve_due
        case ObservationKind.TRIGGER_AFTER_MAINTENANCE:
            return _maintenance_ended
        case ObservationKind.CLEAR_SUPPRESSED:
            return _suppressed_recovered
        case ObservationKind.RESEND_TRIGGER:
            return _trigger_pending
        case ObservationKind.RETRIGGER_UNOPENED:
            return _trigger_not_opened
        case ObservationKind.CONFIRM_OPENED:
            return _incident_open
        case ObservationKind.RESEND_RESOLVE:
            return _resolve_not_applied
        case ObservationKind.CONFIRM_RESOLVED:
            return _resolve_confirmed
        case (
            ObservationKind.RESOLVE_OK
            | ObservationKind.RESOLVE_DELETED
            | ObservationKind.RESOLVE_CONTRIBUTOR_ALARM_OK
            | ObservationKind.RESOLVE_CONTRIBUTOR_OK
        ):
            raise KeyError(f"{kind}: an alarm state observation is decided by decide (observed_alarm_change)")
        case _:
            assert_never(kind)


_SOURCES = frozenset(source.value for source in AlertSource)


# --- Webhook mirror ---------------------------------------------------------------------------------


def apply_incident_update(
    stored: StateItem,
    *,
    event_type: str,
    incident_id: str | None,
    number: int | None,
    url: str | None,
    status: str | None,
    assignees: Iterable[str] | None,
    actor: str | None,
    occurred_at: datetime,
    now: datetime,
    ttl_days: int,
    actor_type: str | None = None,
    event_id: str | None = None,
) -> StateItem:
    """Mirror one PagerDuty incident webhook into the key's item; the event is remembered
    (`webhook_event_mark`), so a retry of the same delivery is recognised.

    Returns `stored` itself (write nothing) for an update that is older than the newest one applied, that
    belongs to another incident of the same key, or whose type is not mirrored. `actor_type` is the
    webhook's `agent.type`: only a `user_reference` is a person. PagerDuty names the service's
    `inbound_integration_reference` ("Events API V2") for anything sent through the Events API, the
    bridge's own resolves included, and sends a null agent for its own actions (acknowledgement timeout,
    auto-resolve): neither is a person.
    """
    event = event_type.removeprefix("incident.")
    if event not in _MIRRORED or _is_outdated(stored, incident_id, occurred_at, event):
        return stored
    human = actor_type in HUMAN_AGENT_TYPES
    update = _incident_facts(stored, incident_id, number, url, status, assignees, actor, occurred_at)
    update.update(_MIRRORED[event](stored, human=human, now=now, ttl_days=ttl_days))
    update["version"] = stored.version + 1
    update["pd_last_event"] = webhook_event_mark(event_type, event_id, occurred_at)
    return StateItem.model_validate({**stored.model_dump(), **update})


def webhook_event_mark(event_type: str, event_id: str | None, occurred_at: datetime) -> str | None:
    """What identifies one webhook event: PagerDuty's event id with its type and time."""
    return None if event_id is None else f"{event_type}|{event_id}|{occurred_at.isoformat()}"


def _is_outdated(stored: StateItem, incident_id: str | None, occurred_at: datetime, event: str) -> bool:
    if stored.pd_updated_at is not None and occurred_at < stored.pd_updated_at:
        return True
    if stored.opened_at is not None and occurred_at < stored.opened_at and incident_id != stored.incident_id:
        return True  # a late update of an earlier incident of this key
    foreign = stored.incident_id is not None and incident_id is not None and incident_id != stored.incident_id
    return foreign and event != "triggered"


def _incident_facts(
    stored: StateItem,
    incident_id: str | None,
    number: int | None,
    url: str | None,
    status: str | None,
    assignees: Iterable[str] | None,
    actor: str | None,
    occurred_at: datetime,
) -> dict[str, Any]:
    return {
        "incident_id": incident_id or stored.incident_id,
        "incident_number": number if number is not None else stored.incident_number,
        "incident_url": url or stored.incident_url,
        "pd_status": status or stored.pd_status,
        "assignees": tuple(assignees) if assignees is not None else stored.assignees,
        "last_actor": actor or stored.last_actor,
        "pd_updated_at": occurred_at,
    }


def _mirror_only(stored: StateItem, *, human: bool, now: datetime, ttl_days: int) -> dict[str, Any]:
    return {}


def _mirror_resolved(stored: StateItem, *, human: bool, now: datetime, ttl_days: int) -> dict[str, Any]:
    """Resolved in PagerDuty: the key closes; if a person did it, the bridge will not fight them."""
    update: dict[str, Any] = {"pd_status": "resolved"}
    if stored.is_open:
        update.update(
            status=KeyStatus.RESOLVED,
            resolved_by_human=human,
            auto_resolve_at=None,
            expires_at=_expiry(KeyStatus.RESOLVED, now, ttl_days),
        )
    return update


def _mirror_annotated(stored: StateItem, *, human: bool, now: datetime, ttl_days: int) -> dict[str, Any]:
    """A note was added (`incident_note`): counted; the status is not part of a note's delivery."""
    return {"pd_note_count": stored.pd_note_count + 1}


def _mirror_reopened(stored: StateItem, *, human: bool, now: datetime, ttl_days: int) -> dict[str, Any]:
    """Reopened in PagerDuty while the alarm still fires: open again, so the alarm's OK resolves it."""
    update: dict[str, Any] = {"pd_status": "triggered"}
    if stored.status == KeyStatus.RESOLVED and stored.alarm_state != AlarmState.OK:
        update.update(status=KeyStatus.OPEN, resolved_by_human=False, expires_at=None)
    return update


_MIRRORED = {
    "triggered": _mirror_only,
    "acknowledged": _mirror_only,
    "unacknowledged": _mirror_only,
    "resolved": _mirror_resolved,
    "reopened": _mirror_reopened,
    "escalated": _mirror_only,
    "reassigned": _mirror_only,
    "delegated": _mirror_only,
    "annotated": _mirror_annotated,
    "priority_updated": _mirror_only,
}
