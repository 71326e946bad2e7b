"""The reconciler's plan: what the scheduled run should do, as pure functions of a snapshot.

Planning (`plan`) is a pure function of (open keys, suppressed keys, unconfirmed resolves, alarm states,
maintenance windows, PagerDuty incidents, now) -> actions:

- An open CloudWatch key whose alarm no longer exists, or is OK in CloudWatch, is resolved: the OK
  notification was lost, or the alarm was deleted while in ALARM (incidents that never close).
  Only alarms of the reconciler's own account and region can be looked up; others are left alone, and so
  are generic and raw alerts (they have no alarm).
- An open contributor key (one time series of a multi-time-series alarm) whose contributor CloudWatch no
  longer lists in ALARM (`DescribeAlarmContributors`) while the alarm itself still is, is resolved: a lost
  contributor OK cannot orphan its incident. (An alarm that is OK or gone resolves its contributors as
  above.)
- An open key whose auto-resolve time (`autoResolveAfterSeconds` of an application alert) has passed is
  resolved.
- A suppressed key no window covers any more, and whose CloudWatch mute rule window (if a mute rule muted
  it) has ended, is triggered if its alarm is still in ALARM (or cannot be
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
- A key a person resolved while its alarm still fired (`StateItem.resolved_while_firing`) whose alarm
  CloudWatch now reports OK, or no longer has, gets the same alarm-OK (or deleted) observation as an open
  key: decided like the lost OK notification, it ends the episode (nothing is sent: the key is closed),
  so the next ALARM pages again and `alertbridge active` stops listing it. At most `max_actions` such
  keys are read per run, least recently written first.
- A change recorded without a page (status RECORDED: a multi-time-series alarm's level that does not page)
  whose alarm CloudWatch reports OK, or no longer has, gets the same observation: the record closes,
  nothing is sent. At most `max_actions` such keys are read per run.

`Reconciler.run` (services/reconcile.py) reads the snapshot and hands each action to the delivery lane
as an `Observation` (`observation_for`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from alertbridge.logic.dedup import account_from_arn, region_from_arn
from alertbridge.logic.lifecycle import (
    PAGERDUTY_CONFIRMED_CLOSED,
    due_auto_resolves,
    triggers_after_maintenance,
)
from alertbridge.models.alert import AlarmState, AlertSource
from alertbridge.models.delivery import Observation, ObservationKind
from alertbridge.models.maintenance import MaintenanceWindow
from alertbridge.models.pagerduty import Incident
from alertbridge.models.state import KeyStatus, StateItem
from alertbridge.ports import (
    ObservedContributor,
)

CLOUDWATCH_SOURCES = frozenset(
    {AlertSource.CLOUDWATCH_SNS, AlertSource.EVENTBRIDGE, AlertSource.LAMBDA_ACTION}
)
OPEN_INCIDENT_STATUSES = frozenset({"triggered", "acknowledged"})
# Longer than SQS takes to redeliver a failed record a few times (visibility timeout = 6 x the function
# timeout): a pending trigger older than this is not being retried by its own record any more.
PENDING_TRIGGER_GRACE = timedelta(minutes=10)
OPEN_CHECK_GRACE = timedelta(minutes=10)  # webhooks mirror an opened incident within seconds


@dataclass(frozen=True)
class Graces:
    """How long the plan leaves a key to its own retries and webhooks before acting on it (local runs
    compress time with shorter ones)."""

    pending_trigger: timedelta = PENDING_TRIGGER_GRACE
    open_check: timedelta = OPEN_CHECK_GRACE


DEFAULT_GRACES = Graces()
ActionKind = ObservationKind  # what the reconciler asks the delivery lane to decide


RESOLVING = frozenset(
    {
        ActionKind.RESOLVE_DELETED,
        ActionKind.RESOLVE_OK,
        ActionKind.AUTO_RESOLVE,
        ActionKind.RESOLVE_CONTRIBUTOR_OK,
    }
)
# Contributors CloudWatch lists in ALARM, per alarm name (absent: not looked up, or could not be read).
ContributorStates = Mapping[str, Mapping[str, ObservedContributor]]


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
    graces: Graces = DEFAULT_GRACES,
    contributors: ContributorStates | None = None,
    resolved_firing: Iterable[StateItem] = (),
    recorded: Iterable[StateItem] = (),
) -> list[Action]:
    """Every action of one run, in the order they should be carried out (closing before opening)."""
    actions = plan_open(open_items, alarm_states, now, home, graces, contributors or {})
    closing = {action.item.dedup_key for action in actions}
    for item in resolved_firing:
        if item.dedup_key not in closing and (action := plan_resolved_firing(item, alarm_states, home)):
            actions.append(action)
            closing.add(item.dedup_key)
    for item in recorded:
        if item.dedup_key not in closing and (action := plan_recorded(item, alarm_states, home)):
            actions.append(action)
            closing.add(item.dedup_key)
    for item, incident in unopened:
        if item.dedup_key not in closing and (action := plan_unopened(item, incident, alarm_states, home)):
            actions.append(action)
    actions += plan_suppressed(suppressed_items, windows, alarm_states, now, home, contributors or {})
    actions += [action for item, incident in unconfirmed if (action := plan_unconfirmed(item, incident))]
    return actions


def plan_open(
    items: Iterable[StateItem],
    alarm_states: Mapping[str, AlarmState],
    now: datetime,
    home: AlarmHome,
    graces: Graces = DEFAULT_GRACES,
    contributors: ContributorStates | None = None,
) -> list[Action]:
    listed = list(items)
    due = {item.dedup_key for item in due_auto_resolves(listed, now)}
    actions = []
    for item in listed:
        if item.dedup_key in due:
            action: Action | None = _auto_resolve(item)
        else:
            action = (
                _check_alarm(item, alarm_states, home)
                or _check_contributor(item, alarm_states, contributors or {}, home)
                or _stuck_trigger(item, now, graces)
            )
        if action is not None:
            actions.append(action)
    return actions


def _stuck_trigger(item: StateItem, now: datetime, graces: Graces) -> Action | None:
    if not (item.is_open and item.trigger_pending) or now - item.last_seen < graces.pending_trigger:
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
    return _lost_ok(item, alarm_states)


def plan_resolved_firing(
    item: StateItem, alarm_states: Mapping[str, AlarmState], home: AlarmHome
) -> Action | None:
    """A person resolved the key while its alarm still fired: once CloudWatch says the alarm is OK (or
    gone), its OK notification was lost and the episode is over."""
    if not item.resolved_while_firing or not home.can_check(item):
        return None
    return _lost_ok(item, alarm_states, f" after {item.last_actor or 'a person'} resolved the incident")


def plan_recorded(item: StateItem, alarm_states: Mapping[str, AlarmState], home: AlarmHome) -> Action | None:
    """A change recorded without a page (a multi-time-series alarm's level that does not page): once
    CloudWatch says the alarm is OK (or gone), its OK notification was lost and the record is over (nothing
    is sent: nothing was paged), so `alertbridge active` stops listing it."""
    if item.status != KeyStatus.RECORDED or not home.can_check(item):
        return None
    return _lost_ok(item, alarm_states, "; it was recorded without a page")


def _lost_ok(item: StateItem, alarm_states: Mapping[str, AlarmState], context: str = "") -> Action | None:
    """CloudWatch's state of the item's alarm taken as the OK notification that never reached the bridge:
    the alarm deleted, or back in OK; None while it still fires (or has no data). `context` is added to
    the reason after what CloudWatch says."""
    state = alarm_states.get(item.alarm_name)
    if state is None:
        why = f"the alarm no longer exists in CloudWatch (deleted){context}"
        return Action(kind=ActionKind.RESOLVE_DELETED, item=item, why=why)
    if state == AlarmState.OK:
        why = (
            f"CloudWatch reports the alarm back in OK{context} (its OK notification never reached the bridge)"
        )
        return Action(kind=ActionKind.RESOLVE_OK, item=item, why=why)
    return None


def _check_contributor(
    item: StateItem,
    alarm_states: Mapping[str, AlarmState],
    contributors: ContributorStates,
    home: AlarmHome,
) -> Action | None:
    """A contributor incident whose alarm still fires but whose own time series CloudWatch no longer lists
    in ALARM: its OK was lost (contributors are only ALARM or OK)."""
    if not _contributor_recovered(item, alarm_states, contributors, home) or not item.is_open:
        return None
    why = (
        f"CloudWatch no longer lists contributor {item.contributor_id} of {item.alarm_name} in ALARM "
        "(its OK notification never reached the bridge)"
    )
    return Action(kind=ActionKind.RESOLVE_CONTRIBUTOR_OK, item=item, why=why)


def _contributor_recovered(
    item: StateItem,
    alarm_states: Mapping[str, AlarmState],
    contributors: ContributorStates,
    home: AlarmHome,
) -> bool:
    if not item.contributor_id or not home.can_check(item):
        return False
    listed = contributors.get(item.alarm_name)
    in_alarm = alarm_states.get(item.alarm_name) == AlarmState.ALARM
    return in_alarm and listed is not None and item.contributor_id not in listed


def contributor_alarms_to_look_up(
    items: Iterable[StateItem], alarm_states: Mapping[str, AlarmState], home: AlarmHome
) -> list[str]:
    """Alarms in ALARM with an open or held-back contributor key: their contributors are listed."""
    return sorted(
        {
            item.alarm_name
            for item in items
            if item.contributor_id
            and home.can_check(item)
            and alarm_states.get(item.alarm_name) == AlarmState.ALARM
        }
    )


def plan_suppressed(
    items: Iterable[StateItem],
    windows: Iterable[MaintenanceWindow],
    alarm_states: Mapping[str, AlarmState],
    now: datetime,
    home: AlarmHome,
    contributors: ContributorStates | None = None,
) -> list[Action]:
    """Keys held back by a window (or a mute rule's window) that ended: trigger the ones still firing,
    clear the recovered ones."""
    return [
        _after_window(item, alarm_states, home, contributors or {})
        for item in triggers_after_maintenance(items, windows, now)
    ]


def _after_window(
    item: StateItem,
    alarm_states: Mapping[str, AlarmState],
    home: AlarmHome,
    contributors: ContributorStates,
) -> Action:
    if item.mute_rule_arn:
        held = f"the mute rule {item.mute_rule_arn}'s window"
    else:
        held = f"maintenance window {item.maintenance_window_id or '?'}"
    if home.can_check(item) and alarm_states.get(item.alarm_name) != AlarmState.ALARM:
        state = alarm_states.get(item.alarm_name, "deleted")
        why = f"{held} ended and the alarm is {state}: nothing to page"
        return Action(kind=ActionKind.CLEAR_SUPPRESSED, item=item, why=why)
    if _contributor_recovered(item, alarm_states, contributors, home):
        why = f"{held} ended and contributor {item.contributor_id} is no longer in ALARM: nothing to page"
        return Action(kind=ActionKind.CLEAR_SUPPRESSED, item=item, why=why)
    why = f"{held} ended with the alarm still in ALARM"
    return Action(kind=ActionKind.TRIGGER_AFTER_MAINTENANCE, item=item, why=why)


def needs_open_check(
    item: StateItem,
    now: datetime,
    alarm_states: Mapping[str, AlarmState],
    home: AlarmHome,
    graces: Graces = DEFAULT_GRACES,
) -> bool:
    """Open, sent, never seen in PagerDuty (no webhook mirrored it) for longer than the grace, and still
    firing as far as CloudWatch can tell (a recovered alarm is resolved instead)."""
    opened = item.opened_at or item.first_seen
    unseen = item.is_open and not item.trigger_pending and item.pd_status is None
    return unseen and _still_firing(item, alarm_states, home) and now - opened >= graces.open_check


def open_keys_to_look_up(
    open_items: Sequence[StateItem],
    alarm_states: Mapping[str, AlarmState],
    now: datetime,
    home: AlarmHome,
    graces: Graces = DEFAULT_GRACES,
) -> list[StateItem]:
    """The open keys worth a PagerDuty lookup this run: none that this run resolves anyway."""
    closing = {action.item.dedup_key for action in plan_open(open_items, alarm_states, now, home, graces)}
    return [
        item
        for item in open_items
        if item.dedup_key not in closing and needs_open_check(item, now, alarm_states, home, graces)
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
    if item.pd_status == PAGERDUTY_CONFIRMED_CLOSED:
        why = "PagerDuty confirmed the incident closed: the resolve note is due"
        return Action(kind=ActionKind.CONFIRM_RESOLVED, item=item, why=why, incident=incident)
    why = "PagerDuty shows no open incident"
    return Action(kind=ActionKind.CONFIRM_RESOLVED, item=item, why=why, incident=incident)


# --- What the delivery lane is handed --------------------------------------------------------------------


def observation_for(action: Action, *, now: datetime, as_of: datetime | None = None) -> Observation:
    """The intent the delivery function decides on fresh state: what was seen, when, about which state."""
    item = action.item
    return Observation(
        what=action.kind,
        dedup_key=item.dedup_key,
        observed_at=now,
        why=action.why,
        state_changed_at=item.state_changed_at,
        opened_at=item.opened_at,
        as_of=as_of,
        incident=action.incident,
    )
