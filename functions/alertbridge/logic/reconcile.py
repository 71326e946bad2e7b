"""The reconciler: what the scheduled run does, planned purely, then carried out through the ports.

Planning (`plan`) is a pure function of (open keys, suppressed keys, unconfirmed resolves, alarm states,
maintenance windows, PagerDuty incidents, now) -> actions:

- An open CloudWatch key whose alarm no longer exists, or is OK in CloudWatch, is resolved: the OK
  notification was lost, or the alarm was deleted while in ALARM (incidents that never close).
  Only alarms of the reconciler's own account and region can be looked up; others are left alone, and so
  are generic and raw alerts (they have no alarm).
- An open key whose auto-resolve time (seed 002) has passed is resolved.
- A suppressed key no window covers any more is triggered if its alarm is still in ALARM (or cannot be
  looked up); if CloudWatch says it recovered or is gone, it is cleared without paging.
- An open key whose trigger is still pending (its intent was committed, its send never succeeded) and that
  no redelivery has touched for `PENDING_TRIGGER_GRACE` gets its trigger sent again unless CloudWatch says
  the alarm is OK or gone: its record may sit in the DLQ, and the page must not wait for a human to
  redrive it. (An alarm back in OK or deleted is resolved as above, which also covers a trigger PagerDuty
  applied after the client gave up.)
- An open key PagerDuty never showed an incident for (no webhook mirrored one, and `OPEN_CHECK_GRACE`
  has passed) is looked up through the REST API when a token is configured: an incident found is
  mirrored (and the key is not looked up again); none at all means PagerDuty dropped the trigger (during
  a PagerDuty maintenance window new triggers open nothing), so the trigger is sent again while the
  alarm still fires.
- A key the bridge resolved whose PagerDuty incident is still open (a resolve PagerDuty dropped, e.g.
  during a PagerDuty maintenance window) gets its resolve sent again; once PagerDuty shows it closed the
  key is marked confirmed and leaves the list.

`Reconciler.run` carries the plan out: each resolve goes out with the routing key of the route that opened
the incident, then the state is committed with a conditional write (a conflict means the ingest path got
there first: nothing is forced). One failing key never stops the others; the run stops starting new work
when its time budget is spent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from alertbridge.logic.dedup import account_from_arn, region_from_arn
from alertbridge.logic.events import MAX_FIELD_CHARS, truncate
from alertbridge.logic.lifecycle import (
    Decision,
    complete_pending_trigger,
    due_auto_resolves,
    open_after_maintenance,
    resolve_open_item,
    triggers_after_maintenance,
)
from alertbridge.logic.notes import ResolveNotes
from alertbridge.models.alert import AlarmState, AlertSource
from alertbridge.models.config import BridgeConfig
from alertbridge.models.maintenance import MaintenanceWindow
from alertbridge.models.pagerduty import MAX_SUMMARY_CHARS, EventAction, EventV2, Link, Payload
from alertbridge.models.state import KeyStatus, StateItem
from alertbridge.ports import (
    Alarms,
    Counter,
    EventsApi,
    Incident,
    IncidentsApi,
    MaintenanceStore,
    RoutingKeys,
    StateStore,
    SuppressedKeys,
    UnconfirmedResolves,
)

CLOUDWATCH_SOURCES = frozenset(
    {AlertSource.CLOUDWATCH_SNS, AlertSource.EVENTBRIDGE, AlertSource.LAMBDA_ACTION}
)
OPEN_INCIDENT_STATUSES = frozenset({"triggered", "acknowledged"})
# Longer than SQS takes to redeliver a failed record a few times (visibility timeout = 6 x the function
# timeout): a pending trigger older than this is not being retried by its own record any more.
PENDING_TRIGGER_GRACE = timedelta(minutes=10)
OPEN_CHECK_GRACE = timedelta(minutes=10)  # webhooks mirror an opened incident within seconds
UNOPENED_NOTE = (
    "Sent again by the reconciler: PagerDuty showed no incident for this alert (a trigger dropped during a "
    "PagerDuty maintenance window, for instance), and the alarm is still firing."
)
MAINTENANCE_NOTE = "Held back by a maintenance window; the alarm was still firing when the window ended."
PENDING_NOTE = (
    "Sent by the reconciler: the original trigger never reached PagerDuty (outage or rate limiting) and its "
    "notification was not redelivered; the alarm is still firing."
)
CONFIRMED = "resolved"  # pd_status once PagerDuty is seen without an open incident for the key


class ActionKind(StrEnum):
    """What the reconciler does to one key: stable values for metrics and logs."""

    RESOLVE_DELETED = "alarm-deleted"
    RESOLVE_OK = "alarm-ok"
    AUTO_RESOLVE = "auto-resolve-timeout"
    TRIGGER_AFTER_MAINTENANCE = "maintenance-ended"
    CLEAR_SUPPRESSED = "suppressed-alarm-recovered"
    RESEND_TRIGGER = "pending-trigger-resent"
    RETRIGGER_UNOPENED = "trigger-not-opened"
    CONFIRM_OPENED = "open-confirmed"
    RESEND_RESOLVE = "resolve-resent"
    CONFIRM_RESOLVED = "resolve-confirmed"


RESOLVING = frozenset({ActionKind.RESOLVE_DELETED, ActionKind.RESOLVE_OK, ActionKind.AUTO_RESOLVE})


class Action(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: ActionKind
    item: StateItem
    why: str  # for the incident note and the log line
    incident: Incident | None = None


@dataclass(frozen=True)
class AlarmHome:
    """The account and region whose alarms this reconciler can describe (None: unknown, accept any)."""

    region: str | None
    account: str | None = None

    def can_check(self, item: StateItem) -> bool:
        """A CloudWatch alarm of this account and region; anything else cannot be looked up here."""
        if item.source not in CLOUDWATCH_SOURCES or not item.alarm_name or not item.alarm_arn:
            return False
        account = account_from_arn(item.alarm_arn)
        same_region = self.region is None or region_from_arn(item.alarm_arn) == self.region
        return same_region and (self.account is None or account is None or account == self.account)


# --- Planning (pure) ------------------------------------------------------------------------------------


def alarms_to_look_up(items: Iterable[StateItem], home: AlarmHome) -> list[str]:
    return sorted({item.alarm_name for item in items if home.can_check(item)})


def plan(
    *,
    open_items: Iterable[StateItem],
    suppressed_items: Iterable[StateItem],
    unconfirmed: Iterable[tuple[StateItem, Incident | None]] = (),
    unopened: Iterable[tuple[StateItem, Incident | None]] = (),
    alarm_states: Mapping[str, AlarmState],
    windows: Iterable[MaintenanceWindow],
    now: datetime,
    home: AlarmHome,
) -> list[Action]:
    """Every action of one run, in the order they should be carried out (closing before opening)."""
    actions = plan_open(open_items, alarm_states, now, home)
    closing = {action.item.dedup_key for action in actions}
    for item, incident in unopened:
        if item.dedup_key not in closing and (action := plan_unopened(item, incident, alarm_states, home)):
            actions.append(action)
    actions += plan_suppressed(suppressed_items, windows, alarm_states, now, home)
    actions += [action for item, incident in unconfirmed if (action := plan_unconfirmed(item, incident))]
    return actions


def plan_open(
    items: Iterable[StateItem], alarm_states: Mapping[str, AlarmState], now: datetime, home: AlarmHome
) -> list[Action]:
    listed = list(items)
    due = {item.dedup_key for item in due_auto_resolves(listed, now)}
    actions = []
    for item in listed:
        if item.dedup_key in due:
            action: Action | None = _auto_resolve(item)
        else:
            action = _check_alarm(item, alarm_states, home) or _stuck_trigger(item, now)
        if action is not None:
            actions.append(action)
    return actions


def _stuck_trigger(item: StateItem, now: datetime) -> Action | None:
    if not (item.is_open and item.trigger_pending) or now - item.last_seen < PENDING_TRIGGER_GRACE:
        return None
    since = item.last_seen.isoformat(timespec="seconds")
    why = f"its trigger has been pending since {since} (never accepted by PagerDuty, no redelivery since)"
    return Action(kind=ActionKind.RESEND_TRIGGER, item=item, why=why)


def _auto_resolve(item: StateItem) -> Action:
    due = item.auto_resolve_at.isoformat(timespec="seconds") if item.auto_resolve_at else "?"
    return Action(kind=ActionKind.AUTO_RESOLVE, item=item, why=f"its auto-resolve time {due} passed")


def _check_alarm(item: StateItem, alarm_states: Mapping[str, AlarmState], home: AlarmHome) -> Action | None:
    if not item.is_open or not home.can_check(item):
        return None
    state = alarm_states.get(item.alarm_name)
    if state is None:
        why = "the alarm no longer exists in CloudWatch (deleted)"
        return Action(kind=ActionKind.RESOLVE_DELETED, item=item, why=why)
    if state == AlarmState.OK:
        why = "CloudWatch reports the alarm back in OK (its OK notification never reached the bridge)"
        return Action(kind=ActionKind.RESOLVE_OK, item=item, why=why)
    return None


def plan_suppressed(
    items: Iterable[StateItem],
    windows: Iterable[MaintenanceWindow],
    alarm_states: Mapping[str, AlarmState],
    now: datetime,
    home: AlarmHome,
) -> list[Action]:
    """Keys held back by a window that ended: trigger the ones still firing, clear the recovered ones."""
    return [
        _after_window(item, alarm_states, home) for item in triggers_after_maintenance(items, windows, now)
    ]


def _after_window(item: StateItem, alarm_states: Mapping[str, AlarmState], home: AlarmHome) -> Action:
    window = item.maintenance_window_id or "?"
    if home.can_check(item) and alarm_states.get(item.alarm_name) != AlarmState.ALARM:
        state = alarm_states.get(item.alarm_name, "deleted")
        why = f"maintenance window {window} ended and the alarm is {state}: nothing to page"
        return Action(kind=ActionKind.CLEAR_SUPPRESSED, item=item, why=why)
    why = f"maintenance window {window} ended with the alarm still in ALARM"
    return Action(kind=ActionKind.TRIGGER_AFTER_MAINTENANCE, item=item, why=why)


def needs_open_check(
    item: StateItem, now: datetime, alarm_states: Mapping[str, AlarmState], home: AlarmHome
) -> bool:
    """Open, sent, never seen in PagerDuty (no webhook mirrored it) for longer than the grace, and still
    firing as far as CloudWatch can tell (a recovered alarm is resolved instead)."""
    opened = item.opened_at or item.first_seen
    unseen = item.is_open and not item.trigger_pending and item.pd_status is None
    return unseen and _still_firing(item, alarm_states, home) and now - opened >= OPEN_CHECK_GRACE


def open_keys_to_look_up(
    open_items: Sequence[StateItem], alarm_states: Mapping[str, AlarmState], now: datetime, home: AlarmHome
) -> list[StateItem]:
    """The open keys worth a PagerDuty lookup this run: none that this run resolves anyway."""
    closing = {action.item.dedup_key for action in plan_open(open_items, alarm_states, now, home)}
    return [
        item
        for item in open_items
        if item.dedup_key not in closing and needs_open_check(item, now, alarm_states, home)
    ]


def _still_firing(item: StateItem, alarm_states: Mapping[str, AlarmState], home: AlarmHome) -> bool:
    """In ALARM in CloudWatch, or not an alarm CloudWatch can tell us about."""
    return not home.can_check(item) or alarm_states.get(item.alarm_name) == AlarmState.ALARM


def plan_unopened(
    item: StateItem, incident: Incident | None, alarm_states: Mapping[str, AlarmState], home: AlarmHome
) -> Action | None:
    """An open key PagerDuty never showed: mirror the incident it has, or send the trigger it dropped."""
    if incident is not None:
        why = f"PagerDuty incident {incident.id} is {incident.status}"
        return Action(kind=ActionKind.CONFIRM_OPENED, item=item, why=why, incident=incident)
    if not _still_firing(item, alarm_states, home):
        return None  # deleted or OK: plan_open resolves it; INSUFFICIENT_DATA: no page to insist on
    why = "PagerDuty has no incident for this key (the trigger was dropped) while the alarm still fires"
    return Action(kind=ActionKind.RETRIGGER_UNOPENED, item=item, why=why)


def plan_unconfirmed(item: StateItem, incident: Incident | None) -> Action | None:
    """After the bridge resolved a key: is PagerDuty's incident closed? If not, the resolve was dropped."""
    if item.status != KeyStatus.RESOLVED:
        return None
    if incident is not None and incident.status in OPEN_INCIDENT_STATUSES:
        why = f"PagerDuty incident {incident.id} is still {incident.status}: the resolve was dropped"
        return Action(kind=ActionKind.RESEND_RESOLVE, item=item, why=why, incident=incident)
    return Action(kind=ActionKind.CONFIRM_RESOLVED, item=item, why="PagerDuty shows no open incident")


# --- Bodies and items (pure) ------------------------------------------------------------------------------


def trigger_from_item(item: StateItem, config: BridgeConfig, *, note: str = MAINTENANCE_NOTE) -> EventV2:
    """A trigger rebuilt from what the state item kept (the original notification is gone), with `note`
    saying why it comes from the reconciler. `routing_key` holds the route name, as
    `events.build_event` does; the caller substitutes the key."""
    name = item.alarm_name or item.dedup_key
    payload = Payload(
        summary=truncate(item.summary or f"[ALARM] {name}", MAX_SUMMARY_CHARS),
        source=truncate(_source(item, config), MAX_FIELD_CHARS),
        severity=item.severity or config.default_severity,
        timestamp=item.state_changed_at.isoformat(),
        custom_details=_trigger_details(item, note),
    )
    console = console_url(item)
    return EventV2(
        routing_key=item.route,
        event_action=EventAction.TRIGGER,
        dedup_key=item.dedup_key,
        payload=payload,
        links=[Link(href=console, text="CloudWatch alarm")] if console else [],
        client=config.client,
        client_url=console or config.client_url,
    )


def _source(item: StateItem, config: BridgeConfig) -> str:
    parts = [account_from_arn(item.alarm_arn) or item.account_id, region_from_arn(item.alarm_arn)]
    return "/".join(part for part in parts if part) or config.client or "alertbridge"


def _trigger_details(item: StateItem, note: str) -> dict[str, Any]:
    details = {
        "alarm_name": item.alarm_name or None,
        "alarm_arn": item.alarm_arn,
        "alarm_state": item.alarm_state.value,
        "state_changed_at": item.state_changed_at.isoformat(),
        "held_back_by_maintenance_window": item.maintenance_window_id,
        "note": note,
    }
    return {key: value for key, value in details.items() if value is not None}


def console_url(item: StateItem) -> str | None:
    region = region_from_arn(item.alarm_arn)
    if region is None or item.source not in CLOUDWATCH_SOURCES or not item.alarm_name:
        return None
    host = f"https://{region}.console.aws.amazon.com"
    return f"{host}/cloudwatch/deeplink.js?region={region}#alarmsV2:alarm/{quote(item.alarm_name, safe='')}"


def resolve_body(item: StateItem) -> EventV2:
    return EventV2(routing_key=item.route, event_action=EventAction.RESOLVE, dedup_key=item.dedup_key)


def cleared(item: StateItem, *, now: datetime, ttl_days: int) -> Decision:
    """A suppressed key whose alarm recovered or vanished while held back: closed without a page."""
    expires = int((now + timedelta(days=ttl_days)).timestamp())
    update = {
        "status": KeyStatus.IGNORED,
        "maintenance_window_id": None,
        "last_seen": now,
        "expires_at": expires,
        "version": item.version + 1,
    }
    return Decision(
        new_item=item.model_copy(update=update),
        expected_version=item.version,
        reason=ActionKind.CLEAR_SUPPRESSED,
    )


def opened_in_pagerduty(item: StateItem, incident: Incident) -> Decision:
    """Mirror what the lookup found (as a webhook would have), so the key is not looked up again."""
    update = {
        "pd_status": incident.status,
        "incident_id": item.incident_id or incident.id,
        "incident_number": item.incident_number or incident.number,
        "version": item.version + 1,
    }
    return Decision(
        new_item=item.model_copy(update=update),
        expected_version=item.version,
        reason=ActionKind.CONFIRM_OPENED,
    )


def confirmed(item: StateItem, *, now: datetime) -> Decision:
    """PagerDuty has no open incident for a key the bridge resolved: stop checking it."""
    update = {"pd_status": CONFIRMED, "version": item.version + 1}
    return Decision(
        new_item=item.model_copy(update=update),
        expected_version=item.version,
        reason=ActionKind.CONFIRM_RESOLVED,
    )


# --- Carrying the plan out (ports only) --------------------------------------------------------------------


class RunReport(BaseModel):
    planned: int = 0
    done: dict[str, int] = {}
    failed: dict[str, int] = {}
    conflicts: int = 0
    skipped: int = 0  # left for the next run: the time budget ran out
    lookups_skipped: int = 0  # keys not looked up in PagerDuty this run (lookup budget)

    def count(self, bucket: dict[str, int], kind: str) -> None:
        bucket[kind] = bucket.get(kind, 0) + 1


@dataclass
class ReconcileLimits:
    max_actions: int = 200  # per run; the rest waits for the next run
    max_lookups: int = 50  # PagerDuty REST lookups per run (its limit is ~960/min for the account)
    unconfirmed_lookback: timedelta = timedelta(hours=24)


@dataclass
class Reconciler:
    config: BridgeConfig
    state: StateStore
    suppressed: SuppressedKeys
    unconfirmed: UnconfirmedResolves
    alarms: Alarms
    maintenance: MaintenanceStore
    events: EventsApi
    keys: RoutingKeys
    counter: Counter
    home: AlarmHome
    incidents: IncidentsApi | None = None
    limits: ReconcileLimits = field(default_factory=ReconcileLimits)
    clock: Callable[[], float] = time.monotonic
    _lookups: int = field(default=0, init=False)  # REST lookups made this run (limits.max_lookups)
    log: Callable[[str, dict[str, Any]], None] = lambda message, fields: None

    def run(self, *, now: datetime, deadline: float | None = None) -> RunReport:
        report = RunReport()
        actions = self.plan(now, deadline, report)
        report.planned = len(actions)
        for index, action in enumerate(actions[: self.limits.max_actions]):
            if self._out_of_time(deadline):
                report.skipped = len(actions) - index
                break
            self._carry_out_safely(action, now, deadline, report)
        report.skipped += max(0, len(actions) - self.limits.max_actions)
        return report

    def plan(self, now: datetime, deadline: float | None, report: RunReport) -> list[Action]:
        self._lookups = 0
        open_items = list(self.state.list_open())
        suppressed = list(self.suppressed.list_suppressed())
        names = alarms_to_look_up([*open_items, *suppressed], self.home)
        states = self.alarms.states(names) if names else {}
        windows = self.maintenance.list_active(now) if suppressed else []
        unconfirmed = self._unconfirmed(now, deadline, report)
        to_check = open_keys_to_look_up(open_items, states, now, self.home)
        unopened = self._looked_up(to_check, deadline, report)
        return plan(
            open_items=open_items,
            suppressed_items=suppressed,
            unconfirmed=unconfirmed,
            unopened=unopened,
            alarm_states=states,
            windows=windows,
            now=now,
            home=self.home,
        )

    def _unconfirmed(
        self, now: datetime, deadline: float | None, report: RunReport
    ) -> list[tuple[StateItem, Incident | None]]:
        """Each recently resolved key with PagerDuty's incident for it (only with a REST token)."""
        if self.incidents is None:
            return []
        since = now - self.limits.unconfirmed_lookback
        return self._looked_up(self.unconfirmed.list_unconfirmed_resolves(since), deadline, report)

    def _looked_up(
        self, items: Iterable[StateItem], deadline: float | None, report: RunReport
    ) -> list[tuple[StateItem, Incident | None]]:
        """Each item with PagerDuty's incident for its key, within the run's lookup budget."""
        if self.incidents is None:
            return []
        found: list[tuple[StateItem, Incident | None]] = []
        for item in items:
            if self._lookups >= self.limits.max_lookups or self._out_of_time(deadline):
                report.lookups_skipped += 1
                continue
            self._lookups += 1
            try:
                found.append(
                    (item, self.incidents.find_by_dedup_key(item.dedup_key, created_since=item.opened_at))
                )
            except Exception as exc:
                self._failed("lookup", item, exc, report)
        return found

    def _out_of_time(self, deadline: float | None) -> bool:
        return deadline is not None and self.clock() >= deadline

    def _carry_out_safely(
        self, action: Action, now: datetime, deadline: float | None, report: RunReport
    ) -> None:
        try:
            committed = self._carry_out(action, now, deadline)
        except Exception as exc:
            self._failed(action.kind, action.item, exc, report)
            return
        if not committed:
            report.conflicts += 1
            self.counter.add("Reconcile.Conflict")
            return
        report.count(report.done, action.kind)
        self.counter.add(f"Reconcile.{action.kind}")
        self.log(
            "reconciled",
            {"action": action.kind.value, "alarm_name": action.item.alarm_name, "why": action.why},
        )

    def _failed(self, kind: str, item: StateItem, exc: Exception, report: RunReport) -> None:
        report.count(report.failed, kind)
        self.counter.add("Reconcile.Failed")
        error = f"{type(exc).__name__}: {exc}"
        self.log("reconcile failed", {"action": kind, "alarm_name": item.alarm_name, "error": error})

    def _carry_out(self, action: Action, now: datetime, deadline: float | None) -> bool:
        """True when the state was committed (or nothing needed committing)."""
        item, ttl = action.item, self.config.closed_item_ttl_days
        if action.kind in RESOLVING:
            decision = resolve_open_item(item, now=now, ttl_days=ttl, reason=action.kind)
            return self._resolve(decision, action, now, deadline)
        if action.kind == ActionKind.TRIGGER_AFTER_MAINTENANCE:
            decision = open_after_maintenance(item, now=now)
            return self._send_then_commit(decision, trigger_from_item(item, self.config), deadline)
        if action.kind == ActionKind.CONFIRM_OPENED and action.incident is not None:
            return self._commit(opened_in_pagerduty(item, action.incident))
        if action.kind == ActionKind.RETRIGGER_UNOPENED:
            event = trigger_from_item(item, self.config, note=UNOPENED_NOTE)
            self._send(event, item.route, item.routing_key_id, deadline)
            return True  # nothing to commit: the next run looks it up again
        if action.kind == ActionKind.RESEND_TRIGGER:
            decision = complete_pending_trigger(item, now=now, reason=action.kind)
            event = trigger_from_item(item, self.config, note=PENDING_NOTE)
            return self._send_then_commit(decision, event, deadline)
        if action.kind == ActionKind.CLEAR_SUPPRESSED:
            return self._commit(cleared(item, now=now, ttl_days=ttl))
        if action.kind == ActionKind.RESEND_RESOLVE:
            self._send(resolve_body(item), item.route, item.routing_key_id, deadline)
            return True
        return self._commit(confirmed(item, now=now))

    def _resolve(self, decision: Decision, action: Action, now: datetime, deadline: float | None) -> bool:
        if not self._send_then_commit(decision, resolve_body(action.item), deadline):
            return False
        notes = ResolveNotes(self.incidents, self.counter)
        if not notes.after_resolve(action.item, action.why, at=now) and notes.last_error:
            self.log("note failed", {"alarm_name": action.item.alarm_name, "error": notes.last_error})
        return True

    def _send_then_commit(self, decision: Decision, event: EventV2, deadline: float | None) -> bool:
        """Send first (a failed send leaves the state as it was, so the next run tries again), then commit."""
        if decision.send is None or decision.new_item is None:
            return True
        self._send(
            event, decision.route_for_send or event.routing_key, decision.routing_key_id_for_send, deadline
        )
        return self._commit(decision)

    def _send(self, event: EventV2, route: str, opened_with: str | None, deadline: float | None) -> None:
        """With the key that opened the incident while the routing-keys secret still lists it."""
        key = self.keys.routing_key(route, opened_with=opened_with or None)
        body = event.with_routing_key(key).to_body()
        self.events.send(body, deadline=deadline)
        self.counter.add(f"Sent.{event.event_action.value}")

    def _commit(self, decision: Decision) -> bool:
        if decision.new_item is None:
            return True
        return self.state.save(decision.new_item, expected_version=decision.expected_version)
