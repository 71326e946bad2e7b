"""The reconciler's plan (pure) and its execution through fakes at the ports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alertbridge.errors import BadToken, RateLimited, ServerError
from alertbridge.logic.events import build_event, iso_timestamp, trigger_from_item
from alertbridge.logic.lifecycle import awaits_reconciler
from alertbridge.logic.notes import resolve_note
from alertbridge.logic.parsers import parse_sqs_body
from alertbridge.logic.policy import route_alert
from alertbridge.logic.reconcile import (
    OPEN_CHECK_GRACE,
    PENDING_TRIGGER_GRACE,
    ActionKind,
    AlarmHome,
    plan,
    plan_open,
    plan_recorded,
    plan_resolved_firing,
    plan_suppressed,
    plan_unconfirmed,
)
from alertbridge.models.alert import AlarmState, AlertSource
from alertbridge.models.config import BridgeConfig, Route
from alertbridge.models.delivery import AlertNotice, Observation
from alertbridge.models.maintenance import MaintenanceWindow
from alertbridge.models.pagerduty import EventAction, Incident, Severity
from alertbridge.models.state import KeyStatus, StateItem
from alertbridge.ports import ObservedAlarm
from alertbridge.sandbox.scenario import Metric, metric_alarm_message
from alertbridge.services.pipeline import REBUILT_TRIGGER_NOTES, Pipeline, StateConflict
from alertbridge.services.reconcile import ReconcileLimits, Reconciler
from tests.fakes import FakeEvents, FakeKeys, FakeMaintenance, FakeStateStore, ListCounter

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
MAINTENANCE_NOTE = REBUILT_TRIGGER_NOTES[ActionKind.TRIGGER_AFTER_MAINTENANCE]
HOME = AlarmHome(region="eu-west-1", account="111122223333")
CONFIG = BridgeConfig(routes={"default": Route(), "payments": Route()})
KEYS = {"default": "D" * 32, "payments": "P" * 32}


def item(name: str, **fields: Any) -> StateItem:
    values: dict[str, Any] = {
        "dedup_key": f"arn:aws:cloudwatch:eu-west-1:111122223333:alarm:{name}",
        "alarm_arn": f"arn:aws:cloudwatch:eu-west-1:111122223333:alarm:{name}",
        "alarm_name": name,
        "source": AlertSource.CLOUDWATCH_SNS.value,
        "status": KeyStatus.OPEN,
        "alarm_state": AlarmState.ALARM,
        "state_changed_at": NOW - timedelta(hours=1),
        "route": "default",
        "routing_key_id": "fp",
        "summary": f"[ALARM] {name}: threshold crossed",
        "severity": Severity.CRITICAL,
        "first_seen": NOW - timedelta(hours=1),
        "last_seen": NOW - timedelta(hours=1),
        "opened_at": NOW - timedelta(hours=1),
        "version": 3,
    }
    values.update(fields)
    return StateItem.model_validate(values)


def generic(name: str, **fields: Any) -> StateItem:
    return item(name, dedup_key=f"app:{name}", alarm_arn=None, source=AlertSource.GENERIC.value, **fields)


def kinds(actions: list[Any]) -> dict[str, ActionKind]:
    return {action.item.alarm_name: action.kind for action in actions}


# --- plan_open ------------------------------------------------------------------------------------------


def test_open_keys_of_deleted_and_ok_alarms_are_resolved_the_firing_ones_left_alone() -> None:
    items = [item("gone"), item("recovered"), item("firing"), item("no-data")]
    states = {"recovered": AlarmState.OK, "firing": AlarmState.ALARM, "no-data": AlarmState.INSUFFICIENT_DATA}
    assert kinds(plan_open(items, states, NOW, HOME)) == {
        "gone": ActionKind.RESOLVE_DELETED,
        "recovered": ActionKind.RESOLVE_OK,
    }


def test_only_cloudwatch_alarms_of_the_home_account_and_region_are_looked_up() -> None:
    other_region = item("x", alarm_arn="arn:aws:cloudwatch:us-east-1:111122223333:alarm:x")
    other_account = item("y", alarm_arn="arn:aws:cloudwatch:eu-west-1:999999999999:alarm:y")
    no_arn = item("z", alarm_arn=None)
    assert plan_open([other_region, other_account, no_arn, generic("app")], {}, NOW, HOME) == []


def test_generic_alerts_past_their_auto_resolve_time_are_resolved() -> None:
    due = generic("due", auto_resolve_at=NOW - timedelta(seconds=1))
    later = generic("later", auto_resolve_at=NOW + timedelta(minutes=5))
    assert kinds(plan_open([due, later], {}, NOW, HOME)) == {"due": ActionKind.AUTO_RESOLVE}


def test_auto_resolve_wins_over_the_alarm_check() -> None:
    firing = item("firing", auto_resolve_at=NOW)
    assert kinds(plan_open([firing], {"firing": AlarmState.ALARM}, NOW, HOME)) == {
        "firing": ActionKind.AUTO_RESOLVE
    }


def test_a_trigger_pending_past_the_grace_is_sent_again_while_its_alarm_fires() -> None:
    stuck = NOW - PENDING_TRIGGER_GRACE
    items = [
        item("stuck", trigger_pending=True, last_seen=stuck),
        item("stuck-elsewhere", trigger_pending=True, last_seen=stuck, alarm_arn=None),  # cannot be looked up
        item("recent", trigger_pending=True, last_seen=NOW - timedelta(minutes=1)),  # SQS still retries it
        item("stuck-recovered", trigger_pending=True, last_seen=stuck),
        item("sent", last_seen=stuck),
    ]
    states = dict.fromkeys(("stuck", "recent", "sent"), AlarmState.ALARM)
    assert kinds(plan_open(items, {**states, "stuck-recovered": AlarmState.OK}, NOW, HOME)) == {
        "stuck": ActionKind.RESEND_TRIGGER,
        "stuck-elsewhere": ActionKind.RESEND_TRIGGER,
        "stuck-recovered": ActionKind.RESOLVE_OK,  # PagerDuty may have applied it: resolve, never drop
    }


# --- plan_suppressed ----------------------------------------------------------------------------------------


def window(ends: datetime, **fields: Any) -> MaintenanceWindow:
    return MaintenanceWindow(id="mw-1", start=NOW - timedelta(hours=2), end=ends, reason="deploy", **fields)


def held(name: str, **fields: Any) -> StateItem:
    return item(name, status=KeyStatus.SUPPRESSED, maintenance_window_id="mw-1", opened_at=None, **fields)


def test_after_the_window_ends_firing_alarms_are_triggered_recovered_ones_cleared() -> None:
    items = [held("firing"), held("recovered"), held("gone"), generic("app", status=KeyStatus.SUPPRESSED)]
    states = {"firing": AlarmState.ALARM, "recovered": AlarmState.OK}
    actions = plan_suppressed(items, [window(NOW - timedelta(minutes=1))], states, NOW, HOME)
    assert kinds(actions) == {
        "firing": ActionKind.TRIGGER_AFTER_MAINTENANCE,
        "recovered": ActionKind.CLEAR_SUPPRESSED,
        "gone": ActionKind.CLEAR_SUPPRESSED,
        "app": ActionKind.TRIGGER_AFTER_MAINTENANCE,  # no alarm to ask: still paged
    }


def test_nothing_is_triggered_while_a_window_still_covers_the_key() -> None:
    states = {"firing": AlarmState.ALARM}
    assert plan_suppressed([held("firing")], [window(NOW + timedelta(hours=1))], states, NOW, HOME) == []
    other_route = window(NOW + timedelta(hours=1), route="payments")
    assert kinds(plan_suppressed([held("firing")], [other_route], states, NOW, HOME)) == {
        "firing": ActionKind.TRIGGER_AFTER_MAINTENANCE
    }


# --- plan_unconfirmed -----------------------------------------------------------------------------------------


def test_a_resolved_key_whose_incident_is_still_open_gets_its_resolve_again() -> None:
    resolved = item("r", status=KeyStatus.RESOLVED)
    still_open = Incident(id="P1", status="acknowledged")
    action = plan_unconfirmed(resolved, still_open)
    assert action is not None and action.kind == ActionKind.RESEND_RESOLVE and action.incident == still_open
    closed = plan_unconfirmed(resolved, Incident(id="P1", status="resolved"))
    assert closed is not None and closed.kind == ActionKind.CONFIRM_RESOLVED
    none = plan_unconfirmed(resolved, None)
    assert none is not None and none.kind == ActionKind.CONFIRM_RESOLVED
    assert plan_unconfirmed(item("reopened"), still_open) is None  # opened again meanwhile


def test_plan_puts_closing_before_opening() -> None:
    actions = plan(
        open_items=[item("gone")],
        suppressed_items=[held("firing")],
        unconfirmed=[(item("r", status=KeyStatus.RESOLVED), Incident(id="P", status="triggered"))],
        alarm_states={"firing": AlarmState.ALARM},
        windows=[],
        now=NOW,
        home=HOME,
    )
    assert [a.kind for a in actions] == [
        ActionKind.RESOLVE_DELETED,
        ActionKind.TRIGGER_AFTER_MAINTENANCE,
        ActionKind.RESEND_RESOLVE,
    ]


# --- trigger_from_item -------------------------------------------------------------------------------------------


def test_the_trigger_after_maintenance_is_rebuilt_from_the_item() -> None:
    event = trigger_from_item(held("cpu high", route="payments"), CONFIG, note=MAINTENANCE_NOTE)
    body = event.with_routing_key("P" * 32).to_body()
    assert body["event_action"] == "trigger"
    assert body["routing_key"] == "P" * 32
    assert body["dedup_key"] == "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:cpu high"
    assert body["payload"]["summary"] == "[ALARM] cpu high: threshold crossed"
    assert body["payload"]["severity"] == "critical"
    assert body["payload"]["source"] == "111122223333/eu-west-1"
    assert body["payload"]["custom_details"]["held_back_by_maintenance_window"] == "mw-1"
    assert body["links"][0]["href"].endswith("#alarmsV2:alarm/cpu%20high")


@pytest.mark.parametrize("kind", ["maintenance-ended", "trigger-not-opened"])
def test_a_trigger_observation_redelivered_after_a_failed_send_sends_the_pending_trigger(kind: str) -> None:
    # The first delivery commits the trigger's intent (key open, trigger pending) and its send fails; the
    # lane redelivers the observation, which must send that trigger, not call itself overtaken.
    if kind == "maintenance-ended":
        stored, incidents = held("cpu high"), None
    else:
        stored, incidents = item("cpu high", opened_at=NOW - timedelta(hours=1)), Incidents()
    run, store, events, _ = reconciler([stored], {"cpu high": AlarmState.ALARM}, incidents=incidents)
    events.failures = [ServerError(503)]
    assert run.run(now=NOW).done == {kind: 1}
    assert [what for what, _ in run.failed] == [kind]  # the message stays in the lane
    pending = store.items[stored.dedup_key]
    assert pending.is_open and pending.trigger_pending
    run.deliver(NOW + timedelta(minutes=1))
    assert [body["event_action"] for body in events.sent] == ["trigger"]
    sent = store.items[stored.dedup_key]
    assert sent.is_open and not sent.trigger_pending


def test_a_trigger_held_back_by_a_window_goes_out_whole_when_the_window_ends() -> None:
    metric = Metric("AWS/Lambda", "Errors", {"FunctionName": "orders"}, threshold=5)
    message = metric_alarm_message(
        "orders-errors", "ALARM", "OK", NOW - timedelta(minutes=30), metric, "5 > 5"
    )
    here = message.replace("123456789012", HOME.account or "").replace("us-east-1", HOME.region or "")
    alert = parse_sqs_body(here, received_at=NOW)
    window = MaintenanceWindow(id="mw-1", start=NOW - timedelta(hours=1), end=NOW, reason="deploy")
    run, store, events, _ = reconciler([], {"orders-errors": AlarmState.ALARM}, windows=[window])
    run.pipeline.deliver(
        AlertNotice(alert=alert, received_at=NOW), now=NOW - timedelta(minutes=1), deadline=None
    )
    assert store.items[alert.dedup_key].status == KeyStatus.SUPPRESSED and events.sent == []
    run.run(now=NOW + timedelta(minutes=1))
    (sent,) = events.sent
    whole = build_event(alert, route_alert(alert, CONFIG), EventAction.TRIGGER, CONFIG).to_body()
    assert sent["links"] == whole["links"] and len(sent["links"]) >= 3  # alarm, metric graph, logs
    details = sent["payload"]["custom_details"]
    assert details["recommendations"] == whole["payload"]["custom_details"]["recommendations"]
    assert details["metrics"] == whole["payload"]["custom_details"]["metrics"]
    assert details["note"] == MAINTENANCE_NOTE and details["held_back_by_maintenance_window"] == "mw-1"
    assert sent["payload"]["summary"] == whole["payload"]["summary"]


def test_a_sparse_item_still_makes_a_valid_trigger() -> None:
    bare = generic("app", summary="", severity=None, maintenance_window_id=None)
    body = trigger_from_item(bare, CONFIG, note=MAINTENANCE_NOTE).to_body()
    assert body["payload"] == {
        "summary": "[ALARM] app",
        "source": "alertbridge",
        "severity": "error",
        "timestamp": iso_timestamp(bare.state_changed_at),
        "custom_details": body["payload"]["custom_details"],
    }
    assert "links" not in body


# --- Reconciler.run -------------------------------------------------------------------------------------------


class Store(FakeStateStore):
    def list_suppressed(self) -> Iterator[StateItem]:
        return iter([i for i in self.items.values() if i.status == KeyStatus.SUPPRESSED])

    def list_unconfirmed_resolves(self, since: datetime) -> Iterator[StateItem]:
        return iter([i for i in self.items.values() if awaits_reconciler(i)])


class Alarms:
    def __init__(self, states: dict[str, AlarmState]) -> None:
        self.states_by_name = states
        self.asked: list[list[str]] = []

    def states(self, alarm_names: Any) -> dict[str, AlarmState]:
        return {name: alarm.state for name, alarm in self.observed(alarm_names).items()}

    def observed(self, alarm_names: Any) -> dict[str, ObservedAlarm]:
        self.asked.append(list(alarm_names))
        return {
            n: ObservedAlarm(state=s, updated_at=NOW - timedelta(minutes=30))
            for n, s in self.states_by_name.items()
            if n in alarm_names
        }


class Incidents:
    def __init__(self) -> None:
        self.incidents: dict[str, Incident] = {}
        self.notes: list[tuple[str, str]] = []
        self.note_error: Exception | None = None
        self.looked_up: list[str] = []

    def find_by_dedup_key(self, dedup_key: str, *, created_since: datetime | None = None) -> Incident | None:
        self.looked_up.append(dedup_key)
        return self.incidents.get(dedup_key)

    def alert_keys(self, incident_id: str) -> list[str]:
        return [key for key, incident in self.incidents.items() if incident.id == incident_id]

    def acknowledge(self, incident_id: str) -> Incident:
        raise NotImplementedError

    def resolve(self, incident_id: str, resolution: str | None = None) -> Incident:
        raise NotImplementedError

    def add_note(self, incident_id: str, content: str) -> None:
        if self.note_error is not None:
            raise self.note_error
        self.notes.append((incident_id, content))


class Windows(FakeMaintenance):
    def put(self, window: MaintenanceWindow) -> None: ...
    def get(self, window_id: str) -> MaintenanceWindow | None: ...
    def list_all(self) -> list[MaintenanceWindow]: ...
    def end(self, window_id: str, now: datetime) -> MaintenanceWindow | None: ...


class Lane:
    """ports.DeliveryQueue: the FIFO delivery lane, in order."""

    def __init__(self) -> None:
        self.messages: list[AlertNotice | Observation] = []

    def send(self, message: AlertNotice | Observation) -> None:
        self.messages.append(message)


class Bridge:
    """The reconciler and the delivery pipeline over the same fakes: a run plans and queues observations,
    then the lane delivers them in order (a message whose delivery fails stays in the lane)."""

    def __init__(self, reconciler: Reconciler, pipeline: Pipeline, lane: Lane) -> None:
        self.reconciler, self.pipeline, self.lane = reconciler, pipeline, lane
        self.failed: list[tuple[str, Exception]] = []

    @property
    def alarms(self) -> Any:
        return self.reconciler.alarms

    def run(self, *, now: datetime, deadline: float | None = None) -> Any:
        report = self.reconciler.run(now=now, deadline=deadline)
        self.deliver(now)
        return report

    def deliver(self, now: datetime) -> None:
        queued, self.lane.messages = self.lane.messages, []
        for message in queued:
            try:
                self.pipeline.deliver(message, now=now, deadline=None)
            except Exception as exc:
                self.failed.append((getattr(message, "what", "alert"), exc))
                self.lane.messages.append(message)


def reconciler(
    items: list[StateItem], states: dict[str, AlarmState], *, incidents: Incidents | None = None, **kw: Any
) -> tuple[Bridge, Store, FakeEvents, ListCounter]:
    store, events, counter, lane = Store(), FakeEvents(), ListCounter(), Lane()
    for stored in items:
        store.items[stored.dedup_key] = stored
    windows = Windows(kw.pop("windows", []))
    run = Reconciler(
        config=CONFIG, state=store, suppressed=store, unconfirmed=store, alarms=Alarms(states),
        maintenance=windows, delivery=lane, counter=counter, home=HOME, incidents=incidents, **kw,
    )  # fmt: skip
    pipeline = Pipeline(
        config=CONFIG, state=store, events=events, keys=FakeKeys(KEYS), maintenance=windows, counter=counter,
        notes=incidents,
    )  # fmt: skip
    return Bridge(run, pipeline, lane), store, events, counter


def test_a_resolve_goes_out_with_the_opening_routes_key_then_the_state_is_committed() -> None:
    gone = item("gone", route="payments")
    run, store, events, counter = reconciler([gone], {})
    report = run.run(now=NOW)
    assert events.sent == [{"routing_key": "P" * 32, "event_action": "resolve", "dedup_key": gone.dedup_key}]
    stored = store.items[gone.dedup_key]
    assert stored.status == KeyStatus.RESOLVED and stored.version == 4 and stored.expires_at is not None
    assert report.done == {"alarm-deleted": 1}
    assert counter.counts["Reconcile.alarm-deleted"] == 1 and counter.counts["Sent.resolve"] == 1


def test_one_key_failing_never_stops_the_others() -> None:
    run, store, events, _ = reconciler([item("a"), item("b"), item("c")], {})
    events.failures = [ServerError(503)]  # the first send fails
    report = run.run(now=NOW)
    assert report.done == {"alarm-deleted": 3}  # every observation reached the lane
    assert [what for what, _ in run.failed] == ["alarm-deleted"]  # one delivery failed: it stays queued
    statuses = sorted(i.status.value for i in store.items.values())
    assert statuses == ["open", "resolved", "resolved"]
    run.deliver(NOW)  # the lane delivers it again
    assert sorted(i.status.value for i in store.items.values()) == ["resolved"] * 3


def test_a_key_without_a_routing_key_fails_alone() -> None:
    run, _store, _events, _ = reconciler([item("a", route="gone-route"), item("b")], {})
    report = run.run(now=NOW)
    assert report.done == {"alarm-deleted": 2}
    assert [what for what, _ in run.failed] == ["alarm-deleted"]


def test_a_concurrent_write_wins_and_nothing_is_forced() -> None:
    run, store, _events, counter = reconciler([item("a")], {})

    def lose(stored: StateItem, *, expected_version: int | None) -> bool:
        return False

    store.save = lose  # type: ignore[method-assign]
    run.run(now=NOW)
    ((_, error),) = run.failed
    assert isinstance(error, StateConflict)  # decided again on fresh state each time, never forced
    assert counter.counts["StateConflict"] == 4 and "Sent.resolve" in counter.counts


def test_the_run_stops_starting_work_when_its_time_is_spent() -> None:
    ticks = iter([0.0, 5.0, 5.0])  # read once before each action
    run, _store, events, _ = reconciler([item("a"), item("b"), item("c")], {}, clock=lambda: next(ticks))
    report = run.run(now=NOW, deadline=4.0)
    assert len(events.sent) == 1 and report.skipped == 2


def test_at_most_max_actions_per_run() -> None:
    items = [item(f"a{i}") for i in range(5)]
    run, _, events, _ = reconciler(items, {}, limits=ReconcileLimits(max_actions=2))
    report = run.run(now=NOW)
    assert len(events.sent) == 2 and report.skipped == 3 and report.planned == 5


def test_the_resolve_note_waits_for_pagerdutys_confirmation_then_goes_out_once() -> None:
    incidents = Incidents()
    gone = item("gone")
    incidents.incidents[gone.dedup_key] = Incident(id="PINC1", status="triggered")
    run, store, events, counter = reconciler([gone], {}, incidents=incidents)
    run.run(now=NOW)
    assert [body["event_action"] for body in events.sent] == ["resolve"]
    assert incidents.notes == []  # not on the resolve's path: one PagerDuty call
    pending = store.items[gone.dedup_key].resolve_note
    assert pending is not None and pending.startswith("Resolved by alertbridge: alarm gone at 2025-06-01")
    assert "deleted" in pending

    incidents.incidents[gone.dedup_key] = Incident(id="PINC1", status="resolved")  # PagerDuty applied it
    report = run.run(now=NOW + timedelta(minutes=5))
    assert report.done == {"resolve-confirmed": 1}
    assert incidents.notes == [("PINC1", pending)] and counter.counts["NoteAdded"] == 1
    assert store.items[gone.dedup_key].resolve_note is None
    assert not awaits_reconciler(store.items[gone.dedup_key])  # leaves the reconciler's list
    run.run(now=NOW + timedelta(minutes=10))
    assert len(incidents.notes) == 1 and len(events.sent) == 1


def test_a_note_for_an_incident_seen_closed_needs_no_lookup() -> None:
    incidents = Incidents()
    closed = item("a", status=KeyStatus.RESOLVED, pd_status="resolved", incident_id="P7", resolve_note="why")
    run, store, _, _ = reconciler([closed], {}, incidents=incidents)
    run.run(now=NOW)
    assert incidents.looked_up == [] and incidents.notes == [("P7", "why")]
    assert store.items[closed.dedup_key].resolve_note is None


@pytest.mark.parametrize(
    ("error", "kept"), [(ServerError(500), True), (RateLimited(None), True), (BadToken("x"), False)]
)
def test_a_failed_note_is_kept_only_when_worth_retrying(error: Exception, kept: bool) -> None:
    incidents = Incidents()
    incidents.note_error = error
    closed = item("a", status=KeyStatus.RESOLVED, pd_status="resolved", incident_id="P7", resolve_note="why")
    run, store, events, counter = reconciler([closed], {}, incidents=incidents)
    run.run(now=NOW)
    assert counter.counts["NoteFailed"] == 1 and run.failed == [] and events.sent == []
    assert (store.items[closed.dedup_key].resolve_note is not None) is kept


def test_a_note_with_no_incident_to_add_it_to_is_dropped() -> None:
    never_opened = item("a", status=KeyStatus.RESOLVED, resolve_note="why")
    run, store, _, counter = reconciler([never_opened], {}, incidents=Incidents())
    run.run(now=NOW)
    assert counter.counts["NoteNoIncident"] == 1 and store.items[never_opened.dedup_key].resolve_note is None


def test_a_resent_resolve_keeps_the_first_resolves_note() -> None:
    dropped = item("dropped", status=KeyStatus.RESOLVED, resolve_note="the alarm returned to OK")
    incidents = Incidents()
    incidents.incidents[dropped.dedup_key] = Incident(id="P1", status="triggered")
    run, store, events, _ = reconciler([dropped], {}, incidents=incidents)
    run.run(now=NOW)
    assert [body["event_action"] for body in events.sent] == ["resolve"]
    assert store.items[dropped.dedup_key].resolve_note == "the alarm returned to OK"


def test_dropped_resolves_are_sent_again_and_confirmed_ones_leave_the_list() -> None:
    dropped = item("dropped", status=KeyStatus.RESOLVED, route="payments")
    closed = item("closed", status=KeyStatus.RESOLVED)
    incidents = Incidents()
    incidents.incidents[dropped.dedup_key] = Incident(id="P1", status="triggered")
    incidents.incidents[closed.dedup_key] = Incident(id="P2", status="resolved")
    run, store, events, _ = reconciler([dropped, closed], {}, incidents=incidents)
    report = run.run(now=NOW)
    assert events.sent == [
        {"routing_key": "P" * 32, "event_action": "resolve", "dedup_key": dropped.dedup_key}
    ]
    assert store.items[closed.dedup_key].pd_status == "resolved"
    assert store.items[dropped.dedup_key] == dropped  # checked again next run
    assert report.done == {"resolve-resent": 1, "resolve-confirmed": 1}


def test_an_open_key_pagerduty_never_showed_is_looked_up_once_then_mirrored() -> None:
    shown = item("shown", opened_at=NOW - OPEN_CHECK_GRACE)
    mirrored = item("mirrored", pd_status="acknowledged")  # a webhook told us already
    recent = item("recent", opened_at=NOW - timedelta(minutes=1))  # its webhook may still be on its way
    incidents = Incidents()
    incidents.incidents[shown.dedup_key] = Incident(id="PSHOWN", number=7, status="triggered")
    states = dict.fromkeys(("shown", "mirrored", "recent"), AlarmState.ALARM)
    run, store, events, _ = reconciler([shown, mirrored, recent], states, incidents=incidents)
    report = run.run(now=NOW)
    assert report.done == {"open-confirmed": 1} and events.sent == []
    stored = store.items[shown.dedup_key]
    assert (stored.pd_status, stored.incident_id, stored.incident_number) == ("triggered", "PSHOWN", 7)
    assert incidents.looked_up == [shown.dedup_key]
    assert run.run(now=NOW).planned == 0 and incidents.looked_up == [shown.dedup_key]  # never again


def test_a_trigger_pagerduty_dropped_is_sent_again_while_the_alarm_fires() -> None:
    dropped = item("dropped", route="payments")
    recovered = item("recovered")  # CloudWatch says OK: resolved instead, and not looked up
    quiet = item("quiet")  # INSUFFICIENT_DATA: nothing to insist on
    states = {"dropped": AlarmState.ALARM, "recovered": AlarmState.OK, "quiet": AlarmState.INSUFFICIENT_DATA}
    incidents = Incidents()
    run, store, events, _ = reconciler([dropped, recovered, quiet], states, incidents=incidents)
    report = run.run(now=NOW)
    assert report.done == {"alarm-ok": 1, "trigger-not-opened": 1}
    (trigger,) = [body for body in events.sent if body["event_action"] == "trigger"]
    assert trigger["routing_key"] == "P" * 32 and trigger["dedup_key"] == dropped.dedup_key
    assert "no incident" in trigger["payload"]["custom_details"]["note"]
    resent = store.items[dropped.dedup_key]
    # Its episode now counts from the re-send: looked up again after the grace, until PagerDuty shows it.
    assert (resent.opened_at, resent.trigger_pending, resent.status) == (NOW, False, KeyStatus.OPEN)
    # Looked up: only the dropped trigger's key (the recovered one's resolve note waits for a confirmation).
    assert incidents.looked_up == [dropped.dedup_key]


def test_open_key_lookups_have_a_budget_per_run() -> None:
    items = [item(f"a{i}") for i in range(5)]
    run, _, _, _ = reconciler(
        items,
        {i.alarm_name: AlarmState.ALARM for i in items},
        incidents=Incidents(),
        limits=ReconcileLimits(max_open_lookups=3),
    )
    report = run.run(now=NOW)
    assert report.lookups_skipped == 2 and report.done == {"trigger-not-opened": 3}


def test_unconfirmed_resolves_never_starve_the_lookup_of_a_dropped_trigger() -> None:
    resolved = [item(f"r{i}", status=KeyStatus.RESOLVED) for i in range(60)]
    dropped = item("dropped")
    run, _, events, _ = reconciler([*resolved, dropped], {"dropped": AlarmState.ALARM}, incidents=Incidents())
    report = run.run(now=NOW)
    assert report.done.get("trigger-not-opened") == 1
    assert [body["dedup_key"] for body in events.sent if body["event_action"] == "trigger"] == [
        dropped.dedup_key
    ]


def test_without_a_rest_token_resolved_keys_are_not_checked() -> None:
    run, _, events, _ = reconciler([item("r", status=KeyStatus.RESOLVED)], {})
    assert run.run(now=NOW).planned == 0 and events.sent == []


def test_maintenance_end_triggers_with_the_recorded_route_and_opens_the_key() -> None:
    firing = held("firing", route="payments")
    ended = window(NOW - timedelta(minutes=1))
    run, store, events, _ = reconciler([firing], {"firing": AlarmState.ALARM}, windows=[ended])
    run.run(now=NOW)
    (body,) = events.sent
    assert body["event_action"] == "trigger" and body["routing_key"] == "P" * 32
    stored = store.items[firing.dedup_key]
    assert (
        stored.status == KeyStatus.OPEN and stored.opened_at == NOW and stored.maintenance_window_id is None
    )


def test_a_stuck_trigger_is_sent_with_the_opening_key_and_its_intent_cleared() -> None:
    stuck = item("stuck", route="payments", trigger_pending=True, last_seen=NOW - timedelta(hours=2))
    run, store, events, counter = reconciler([stuck], {"stuck": AlarmState.ALARM})
    report = run.run(now=NOW)
    (body,) = events.sent
    assert body["event_action"] == "trigger" and body["routing_key"] == "P" * 32
    assert body["dedup_key"] == stuck.dedup_key and body["payload"]["summary"] == stuck.summary
    assert "never reached PagerDuty" in body["payload"]["custom_details"]["note"]
    stored = store.items[stuck.dedup_key]
    assert stored.status == KeyStatus.OPEN and not stored.trigger_pending and stored.version == 5
    assert report.done == {"pending-trigger-resent": 1} and counter.counts["Sent.trigger"] == 1


def test_a_stuck_trigger_whose_send_fails_stays_pending_for_the_next_run() -> None:
    stuck = item("stuck", trigger_pending=True, last_seen=NOW - timedelta(hours=2))
    run, store, events, _ = reconciler([stuck], {"stuck": AlarmState.ALARM})
    events.failures = [ServerError(503)]
    run.run(now=NOW)
    assert [what for what, _ in run.failed] == ["pending-trigger-resent"]
    assert store.items[stuck.dedup_key].trigger_pending  # still pending: its lane message comes back


def test_a_recovered_suppressed_key_is_cleared_without_a_page() -> None:
    run, store, events, _ = reconciler([held("ok")], {"ok": AlarmState.OK})
    run.run(now=NOW)
    assert events.sent == []
    stored = store.items[held("ok").dedup_key]
    assert stored.status == KeyStatus.IGNORED and stored.expires_at is not None


def test_alarms_are_looked_up_once_per_run_and_only_when_needed() -> None:
    run, _, _, _ = reconciler([item("a"), item("b"), generic("app")], {"a": AlarmState.ALARM})
    run.run(now=NOW)
    assert run.alarms.asked == [["a", "b"]]  # type: ignore[attr-defined]
    run, _, _, _ = reconciler([generic("app")], {})
    run.run(now=NOW)
    assert run.alarms.asked == []  # type: ignore[attr-defined]


# --- episodes a person resolved while the alarm still fired ------------------------------------------------


def resolved_firing(name: str, **fields: Any) -> StateItem:
    values: dict[str, Any] = {
        "status": KeyStatus.RESOLVED, "resolved_by_human": True, "pd_status": "resolved",
        "last_actor": "Ada", "expires_at": int((NOW + timedelta(days=30)).timestamp()),
    }  # fmt: skip
    return item(name, **{**values, **fields})


def test_a_resolved_while_firing_key_whose_alarm_is_ok_or_gone_is_planned_like_a_lost_ok() -> None:
    keys = [resolved_firing("recovered"), resolved_firing("gone"), resolved_firing("firing"),
            resolved_firing("elsewhere", alarm_arn=None), resolved_firing("bridge", resolved_by_human=False)]  # fmt: skip
    states = {"recovered": AlarmState.OK, "firing": AlarmState.ALARM, "bridge": AlarmState.OK}
    planned = [a for k in keys if (a := plan_resolved_firing(k, states, HOME))]
    assert kinds(planned) == {"recovered": ActionKind.RESOLVE_OK, "gone": ActionKind.RESOLVE_DELETED}
    assert "after Ada resolved the incident" in planned[0].why
    assert kinds(plan(open_items=[], suppressed_items=[], resolved_firing=keys, alarm_states=states,
                      windows=[], now=NOW, home=HOME)) == kinds(planned)  # fmt: skip


def test_the_reconciler_ends_an_episode_a_person_resolved_once_cloudwatch_says_ok() -> None:
    recovered, firing = resolved_firing("recovered"), resolved_firing("firing")
    states = {"recovered": AlarmState.OK, "firing": AlarmState.ALARM}
    run, store, events, _ = reconciler([recovered, firing], states)
    run.reconciler.resolved_firing = store
    report = run.run(now=NOW)
    assert run.alarms.asked == [["firing", "recovered"]]  # type: ignore[attr-defined]
    assert report.done == {"alarm-ok": 1} and events.sent == []  # the lane decided it: nothing to send
    ended = store.items[recovered.dedup_key]
    assert (ended.status, ended.alarm_state, ended.resolved_by_human) == (
        KeyStatus.RESOLVED, AlarmState.OK, False,
    )  # fmt: skip
    assert [i.alarm_name for i in store.list_resolved_firing()] == ["firing"]
    assert store.items[firing.dedup_key] == firing  # still firing: untouched


def test_resolved_while_firing_keys_are_read_within_the_action_budget() -> None:
    keys = [resolved_firing(f"r{i}", last_seen=NOW - timedelta(minutes=10 - i)) for i in range(5)]
    run, store, _, _ = reconciler(keys, {}, limits=ReconcileLimits(max_actions=2))
    run.reconciler.resolved_firing = store
    report = run.run(now=NOW)
    assert run.alarms.asked == [["r0", "r1"]]  # type: ignore[attr-defined]  # least recently written first
    assert report.done == {"alarm-deleted": 2}


# --- changes recorded without a page ----------------------------------------------------------------------


def recorded(name: str, **fields: Any) -> StateItem:
    return item(name, status=KeyStatus.RECORDED, opened_at=None, **fields)


def test_a_record_whose_alarm_is_ok_or_gone_closes_through_the_lane_and_nothing_is_sent() -> None:
    keys = [
        recorded("recovered"),
        recorded("gone"),
        recorded("firing"),
        recorded("elsewhere", alarm_arn=None),
    ]
    states = {"recovered": AlarmState.OK, "firing": AlarmState.ALARM}
    planned = [a for k in keys if (a := plan_recorded(k, states, HOME))]
    assert kinds(planned) == {"recovered": ActionKind.RESOLVE_OK, "gone": ActionKind.RESOLVE_DELETED}
    run, store, events, _ = reconciler(keys, states)
    run.reconciler.recorded = store
    report = run.run(now=NOW)
    assert report.done == {"alarm-ok": 1, "alarm-deleted": 1} and events.sent == []
    assert sorted(i.alarm_name for i in store.list_recorded()) == ["elsewhere", "firing"]
    assert store.items[keys[0].dedup_key].status == KeyStatus.RESOLVED


def test_without_the_recorded_port_records_are_left_alone() -> None:
    run, store, _, _ = reconciler([recorded("recovered")], {"recovered": AlarmState.OK})
    assert (
        run.run(now=NOW).done == {}
        and store.items[recorded("recovered").dedup_key].status == KeyStatus.RECORDED
    )


# --- resolve_note ---------------------------------------------------------------------------------------------


def test_the_note_text_names_the_alarm_the_time_and_the_reason() -> None:
    text = resolve_note(item("cpu"), "Threshold Crossed: 0 > 90", NOW)
    assert (
        text == "Resolved by alertbridge: alarm cpu at 2025-06-01T12:00:00+00:00: Threshold Crossed: 0 > 90"
    )
    assert resolve_note(item("", dedup_key="k"), "x", NOW).startswith("Resolved by alertbridge: alert k at")
