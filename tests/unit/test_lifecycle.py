"""Every reliability rule of the state machine, one test each (logic/lifecycle.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alertbridge.logic.dedup import routing_key_fingerprint
from alertbridge.logic.lifecycle import (
    Decision,
    DecisionReason,
    apply_incident_update,
    complete_pending_trigger,
    decide,
    due_auto_resolves,
    open_after_maintenance,
    resolve_open_item,
    triggers_after_maintenance,
)
from alertbridge.models.alert import AlarmState, Alert, AlertSource
from alertbridge.models.maintenance import MaintenanceWindow
from alertbridge.models.pagerduty import EventAction, Severity
from alertbridge.models.state import KeyStatus, StateItem

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(seconds=30)
TTL_DAYS = 30
ARN = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api-5xx"
ACTION_OF = {
    AlarmState.ALARM: EventAction.TRIGGER,
    AlarmState.OK: EventAction.RESOLVE,
    AlarmState.INSUFFICIENT_DATA: None,
}


def alert(state: AlarmState = AlarmState.ALARM, at: datetime = T0, **fields: Any) -> Alert:
    values: dict[str, Any] = {
        "source": AlertSource.CLOUDWATCH_SNS,
        "dedup_key": ARN,
        "alarm_name": "api-5xx",
        "alarm_arn": ARN,
        "state": state,
        "state_changed_at": at,
    }
    return Alert.model_validate({**values, **fields})


def run(
    stored: StateItem | None,
    new: Alert,
    *,
    action: EventAction | str | None = "auto",
    route: str = "payments",
    key_id: str = "key-payments",
    window: MaintenanceWindow | None = None,
    now: datetime = NOW,
) -> Decision:
    chosen = ACTION_OF[new.state] if action == "auto" else action
    assert chosen is None or isinstance(chosen, EventAction)
    return decide(
        stored,
        new,
        action=chosen,
        route=route,
        routing_key_id=key_id,
        severity=Severity.ERROR,
        summary=f"{new.alarm_name} is {new.state.value}",
        suppressed_by=window,
        now=now,
        ttl_days=TTL_DAYS,
    )


def item_after(*alerts: Alert, **kwargs: Any) -> StateItem:
    """Apply alerts in order, feeding each written item back; the final item."""
    stored: StateItem | None = None
    for new in alerts:
        decision = run(stored, new, **kwargs)
        stored = decision.new_item or stored
    assert stored is not None
    return stored


def window(**fields: Any) -> MaintenanceWindow:
    values: dict[str, Any] = {"id": "mw-1", "start": T0 - timedelta(hours=1), "end": T0 + timedelta(hours=1)}
    return MaintenanceWindow.model_validate({**values, **fields})


# --- Opening -------------------------------------------------------------------------------------------


def test_first_alarm_opens_with_the_computed_route_and_key() -> None:
    decision = run(None, alert())
    assert decision.send == EventAction.TRIGGER
    assert (decision.route_for_send, decision.routing_key_id_for_send) == ("payments", "key-payments")
    assert decision.reason == DecisionReason.OPENED
    item = decision.new_item
    assert item is not None
    assert (item.status, item.alarm_state, item.route, item.routing_key_id) == (
        KeyStatus.OPEN,
        AlarmState.ALARM,
        "payments",
        "key-payments",
    )
    assert item.first_seen == item.last_seen == item.opened_at == NOW
    assert (item.version, decision.expected_version, item.expires_at) == (1, None, None)
    assert item.account_id == "123456789012"


def test_alarm_after_resolve_reopens_keeping_first_seen_and_clearing_old_incident() -> None:
    resolved = item_after(alert(), alert(AlarmState.OK, T0 + timedelta(minutes=5)))
    resolved = resolved.model_copy(update={"incident_id": "PABC", "pd_status": "resolved", "first_seen": T0})
    later = NOW + timedelta(hours=1)
    decision = run(
        resolved, alert(at=T0 + timedelta(hours=1)), route="platform", key_id="key-platform", now=later
    )
    assert decision.send == EventAction.TRIGGER
    assert decision.reason == DecisionReason.REOPENED
    assert decision.route_for_send == "platform"
    item = decision.new_item
    assert item is not None
    assert item.first_seen == T0
    assert (item.opened_at, item.incident_id, item.pd_status, item.expires_at) == (later, None, None, None)
    assert item.route == "platform"


# --- Ordering and duplicates ----------------------------------------------------------------------------


def test_older_state_change_is_stale_and_changes_nothing() -> None:
    stored = item_after(alert(), alert(AlarmState.OK, T0 + timedelta(minutes=5)))
    decision = run(stored, alert(at=T0 + timedelta(minutes=1)))
    assert decision == Decision(reason=DecisionReason.STALE)


def test_duplicate_delivery_sends_and_writes_nothing() -> None:
    stored = item_after(alert())
    assert run(stored, alert()) == Decision(reason=DecisionReason.DUPLICATE)


def test_duplicate_of_a_resolve_sends_nothing() -> None:
    stored = item_after(alert(), alert(AlarmState.OK, T0 + timedelta(minutes=5)))
    assert run(stored, alert(AlarmState.OK, T0 + timedelta(minutes=5))) == Decision(
        reason=DecisionReason.DUPLICATE
    )


def test_ok_before_its_alarm_ends_closed() -> None:
    ok = run(None, alert(AlarmState.OK, T0 + timedelta(minutes=5)))
    assert ok.send is None
    assert ok.reason == DecisionReason.RESOLVE_WITHOUT_OPEN
    assert ok.new_item is not None
    assert (ok.new_item.status, ok.new_item.alarm_state) == (KeyStatus.RESOLVED, AlarmState.OK)
    late_alarm = run(ok.new_item, alert())
    assert late_alarm == Decision(reason=DecisionReason.STALE)


@pytest.mark.parametrize("first", [AlarmState.OK, AlarmState.ALARM])
def test_equal_timestamps_with_different_states_alarm_wins_whatever_the_order(first: AlarmState) -> None:
    """Ties go to ALARM: a missed page is silent, an extra open incident is visible and reconciled."""
    second = AlarmState.OK if first == AlarmState.ALARM else AlarmState.ALARM
    final = item_after(alert(first), alert(second))
    assert (final.status, final.alarm_state) == (KeyStatus.OPEN, AlarmState.ALARM)


def test_equal_timestamp_ok_after_alarm_is_stale() -> None:
    stored = item_after(alert())
    assert run(stored, alert(AlarmState.OK)).reason == DecisionReason.STALE


def test_equal_timestamp_insufficient_data_loses_to_alarm_and_beats_ok() -> None:
    assert run(item_after(alert()), alert(AlarmState.INSUFFICIENT_DATA)).reason == DecisionReason.STALE
    after_ok = run(item_after(alert(AlarmState.OK)), alert(AlarmState.INSUFFICIENT_DATA))
    assert after_ok.reason == DecisionReason.IGNORED
    assert after_ok.new_item is not None


# --- Re-triggers and routing identity -------------------------------------------------------------------


def test_newer_alarm_for_open_key_retriggers_with_the_opening_identity() -> None:
    stored = item_after(alert())
    decision = run(
        stored, alert(at=T0 + timedelta(minutes=3), reason="worse"), route="platform", key_id="key-p"
    )
    assert decision.send == EventAction.TRIGGER
    assert decision.reason == DecisionReason.RETRIGGERED
    assert (decision.route_for_send, decision.routing_key_id_for_send) == ("payments", "key-payments")
    assert decision.new_item is not None
    assert (decision.new_item.route, decision.new_item.routing_key_id) == ("payments", "key-payments")
    assert decision.new_item.opened_at == stored.opened_at


def test_resolve_goes_out_with_the_opening_key_even_when_the_route_changed() -> None:
    stored = item_after(alert())
    decision = run(stored, alert(AlarmState.OK, T0 + timedelta(minutes=5)), route="platform", key_id="")
    assert decision.send == EventAction.RESOLVE
    assert (decision.route_for_send, decision.routing_key_id_for_send) == ("payments", "key-payments")
    item = decision.new_item
    assert item is not None
    assert (item.status, item.route, item.routing_key_id) == (KeyStatus.RESOLVED, "payments", "key-payments")
    assert decision.reason == DecisionReason.RESOLVED


def test_resolve_of_an_already_resolved_key_sends_nothing_but_records_the_newer_state() -> None:
    stored = item_after(alert(), alert(AlarmState.OK, T0 + timedelta(minutes=5)))
    flap = run(stored, alert(AlarmState.OK, T0 + timedelta(minutes=9)))
    assert flap.send is None
    assert flap.reason == DecisionReason.RESOLVE_WITHOUT_OPEN
    assert flap.new_item is not None
    assert flap.new_item.state_changed_at == T0 + timedelta(minutes=9)


def test_acknowledge_goes_out_only_for_an_open_key_with_the_opening_identity() -> None:
    stored = item_after(alert())
    ack = run(stored, alert(at=T0 + timedelta(minutes=1)), action=EventAction.ACKNOWLEDGE, route="other")
    assert (ack.send, ack.route_for_send) == (EventAction.ACKNOWLEDGE, "payments")
    closed = item_after(alert(AlarmState.OK))
    assert run(closed, alert(at=T0 + timedelta(minutes=1)), action=EventAction.ACKNOWLEDGE).send is None


# --- Ignored states -------------------------------------------------------------------------------------


def test_ignored_insufficient_data_keeps_an_open_key_open_and_its_resolve_still_works() -> None:
    stored = item_after(alert(), alert(AlarmState.INSUFFICIENT_DATA, T0 + timedelta(minutes=1)))
    assert (stored.status, stored.alarm_state) == (KeyStatus.OPEN, AlarmState.INSUFFICIENT_DATA)
    assert stored.expires_at is None
    resolve = run(stored, alert(AlarmState.OK, T0 + timedelta(minutes=2)), key_id="")
    assert (resolve.send, resolve.routing_key_id_for_send) == (EventAction.RESOLVE, "key-payments")


def test_ignored_state_on_an_unknown_key_is_recorded_closed_with_a_ttl() -> None:
    decision = run(None, alert(AlarmState.INSUFFICIENT_DATA))
    assert decision.send is None
    assert decision.new_item is not None
    assert decision.new_item.status == KeyStatus.IGNORED
    assert decision.new_item.expires_at == int((NOW + timedelta(days=TTL_DAYS)).timestamp())


def test_alarm_after_ignored_insufficient_data_is_a_real_transition() -> None:
    stored = item_after(alert(AlarmState.INSUFFICIENT_DATA))
    assert run(stored, alert(at=T0 + timedelta(minutes=1))).send == EventAction.TRIGGER


# --- TTL and versions -----------------------------------------------------------------------------------


def test_closed_items_expire_and_open_items_never_do() -> None:
    opened = item_after(alert())
    closed = run(opened, alert(AlarmState.OK, T0 + timedelta(minutes=1))).new_item
    assert opened.expires_at is None
    assert closed is not None
    assert closed.expires_at == int((NOW + timedelta(days=TTL_DAYS)).timestamp())


def test_expired_item_is_treated_as_absent_but_the_write_continues_its_version() -> None:
    stored = item_after(alert(), alert(AlarmState.OK, T0 + timedelta(minutes=5)))
    much_later = NOW + timedelta(days=TTL_DAYS + 1)
    # An older alarm than the stored OK: stale if the item were alive; it expired, so it opens.
    decision = run(stored, alert(at=T0 + timedelta(minutes=1)), now=much_later)
    assert decision.send == EventAction.TRIGGER
    assert decision.reason == DecisionReason.OPENED
    assert decision.new_item is not None
    assert decision.new_item.first_seen == much_later
    assert (decision.expected_version, decision.new_item.version) == (stored.version, stored.version + 1)


def test_version_increments_on_each_write() -> None:
    first = run(None, alert())
    assert first.new_item is not None
    second = run(first.new_item, alert(AlarmState.OK, T0 + timedelta(minutes=1)))
    assert second.new_item is not None
    assert (second.expected_version, second.new_item.version) == (1, 2)


# --- Maintenance ------------------------------------------------------------------------------------------


def test_trigger_during_a_window_is_recorded_suppressed_not_sent() -> None:
    decision = run(None, alert(), window=window())
    assert decision.send is None
    assert decision.reason == DecisionReason.SUPPRESSED
    item = decision.new_item
    assert item is not None
    assert (item.status, item.maintenance_window_id, item.expires_at) == (KeyStatus.SUPPRESSED, "mw-1", None)


def test_resolve_during_a_window_still_goes_out() -> None:
    stored = item_after(alert())
    decision = run(stored, alert(AlarmState.OK, T0 + timedelta(minutes=1)), window=window())
    assert decision.send == EventAction.RESOLVE


def test_ok_for_a_suppressed_key_closes_it_without_sending() -> None:
    suppressed = item_after(alert(), window=window())
    decision = run(suppressed, alert(AlarmState.OK, T0 + timedelta(minutes=1)))
    assert decision.send is None
    assert decision.new_item is not None
    assert (decision.new_item.status, decision.new_item.maintenance_window_id) == (KeyStatus.RESOLVED, None)


def test_newer_alarm_for_an_open_key_during_a_window_keeps_it_open_without_sending() -> None:
    stored = item_after(alert())
    decision = run(stored, alert(at=T0 + timedelta(minutes=1)), window=window())
    assert decision.send is None
    assert decision.new_item is not None
    assert decision.new_item.status == KeyStatus.OPEN
    resolve = run(decision.new_item, alert(AlarmState.OK, T0 + timedelta(minutes=2)))
    assert (resolve.send, resolve.routing_key_id_for_send) == (EventAction.RESOLVE, "key-payments")


def test_alarm_for_a_suppressed_key_after_the_window_opens_it() -> None:
    suppressed = item_after(alert(), window=window())
    decision = run(suppressed, alert(at=T0 + timedelta(hours=2)), now=T0 + timedelta(hours=2))
    assert (decision.send, decision.reason) == (EventAction.TRIGGER, DecisionReason.OPENED)


def test_alarms_still_suppressed_are_triggered_when_their_window_ends() -> None:
    mw = window()
    suppressed = item_after(alert(), window=mw)
    other = item_after(alert(dedup_key="other", alarm_name="db-cpu"), window=mw)
    still_covered = window(id="mw-db", alarm_name_prefix="db-", end=T0 + timedelta(hours=5))
    after = mw.end + timedelta(seconds=1)
    due = triggers_after_maintenance([suppressed, other], [mw, still_covered], after)
    assert due == [suppressed]
    assert triggers_after_maintenance([suppressed], [mw], mw.end - timedelta(seconds=1)) == []


def test_open_after_maintenance_triggers_with_the_recorded_route() -> None:
    suppressed = item_after(alert(), window=window())
    decision = open_after_maintenance(suppressed, now=T0 + timedelta(hours=2))
    assert (decision.send, decision.route_for_send, decision.routing_key_id_for_send) == (
        EventAction.TRIGGER,
        "payments",
        "key-payments",
    )
    assert decision.new_item is not None
    assert (decision.new_item.status, decision.new_item.maintenance_window_id) == (KeyStatus.OPEN, None)
    assert (decision.expected_version, decision.new_item.version) == (1, 2)
    assert open_after_maintenance(decision.new_item, now=NOW).send is None


# --- Humans in PagerDuty ----------------------------------------------------------------------------------


def human_resolved(stored: StateItem, at: datetime = T0 + timedelta(minutes=2)) -> StateItem:
    return mirror(
        stored, "incident.resolved", status="resolved", actor="Ana", actor_type="user_reference", at=at
    )


def mirror(stored: StateItem, event_type: str, *, at: datetime, **fields: Any) -> StateItem:
    values: dict[str, Any] = {
        "incident_id": "PINC1",
        "number": 42,
        "url": "https://example.pagerduty.com/incidents/PINC1",
        "status": None,
        "assignees": None,
        "actor": None,
    }
    values.update(fields)
    return apply_incident_update(
        stored, event_type=event_type, occurred_at=at, now=at, ttl_days=TTL_DAYS, **values
    )


def test_human_resolve_closes_the_key_and_a_repeated_alarm_does_not_fight_it() -> None:
    closed = human_resolved(item_after(alert()))
    assert (closed.status, closed.resolved_by_human, closed.pd_status) == (
        KeyStatus.RESOLVED,
        True,
        "resolved",
    )
    assert closed.expires_at is not None
    assert run(closed, alert()).reason == DecisionReason.DUPLICATE
    newer_alarm = run(closed, alert(at=T0 + timedelta(minutes=3)))
    assert (newer_alarm.send, newer_alarm.reason) == (None, DecisionReason.HUMAN_RESOLVED)
    assert newer_alarm.new_item is not None
    assert newer_alarm.new_item.resolved_by_human


def test_after_a_human_resolve_a_new_alarm_following_an_ok_opens_a_new_incident() -> None:
    closed = human_resolved(item_after(alert()))
    ok = run(closed, alert(AlarmState.OK, T0 + timedelta(minutes=5)))
    assert ok.send is None
    assert ok.new_item is not None
    assert not ok.new_item.resolved_by_human
    again = run(ok.new_item, alert(at=T0 + timedelta(minutes=9)))
    assert (again.send, again.reason) == (EventAction.TRIGGER, DecisionReason.REOPENED)


def test_insufficient_data_does_not_end_the_human_resolved_episode() -> None:
    closed = human_resolved(item_after(alert()))
    flap = item_after(alert(AlarmState.INSUFFICIENT_DATA, T0 + timedelta(minutes=3)))
    flap_item = run(closed, alert(AlarmState.INSUFFICIENT_DATA, T0 + timedelta(minutes=3))).new_item
    assert flap.status == KeyStatus.IGNORED
    assert flap_item is not None
    assert (flap_item.status, flap_item.resolved_by_human) == (KeyStatus.RESOLVED, True)
    assert run(flap_item, alert(at=T0 + timedelta(minutes=4))).reason == DecisionReason.HUMAN_RESOLVED


def test_resolve_by_a_service_is_not_a_human_resolve() -> None:
    stored = item_after(alert())
    closed = mirror(
        stored, "incident.resolved", at=T0 + timedelta(minutes=2), actor="svc", actor_type="service_reference"
    )
    assert (closed.status, closed.resolved_by_human) == (KeyStatus.RESOLVED, False)
    assert run(closed, alert(at=T0 + timedelta(minutes=3))).send == EventAction.TRIGGER


def test_webhook_mirror_records_incident_details_and_acks() -> None:
    stored = item_after(alert())
    triggered = mirror(stored, "incident.triggered", at=T0 + timedelta(seconds=40), status="triggered")
    acked = mirror(
        triggered,
        "incident.acknowledged",
        at=T0 + timedelta(minutes=1),
        status="acknowledged",
        assignees=["Ana"],
        actor="Ana",
    )
    assert (acked.incident_id, acked.incident_number, acked.pd_status) == ("PINC1", 42, "acknowledged")
    assert (acked.assignees, acked.last_actor, acked.status) == (("Ana",), "Ana", KeyStatus.OPEN)
    assert acked.version == stored.version + 2


def test_webhook_older_than_the_newest_applied_changes_nothing() -> None:
    stored = item_after(alert())
    acked = mirror(stored, "incident.acknowledged", at=T0 + timedelta(minutes=2), status="acknowledged")
    late = mirror(acked, "incident.triggered", at=T0 + timedelta(minutes=1), status="triggered")
    assert late is acked


def test_webhook_of_another_incident_of_the_key_changes_nothing() -> None:
    stored = mirror(
        item_after(alert()), "incident.triggered", at=T0 + timedelta(minutes=1), status="triggered"
    )
    foreign = mirror(
        stored, "incident.resolved", at=T0 + timedelta(minutes=2), incident_id="POLD", actor="Bo"
    )
    assert foreign is stored


def test_late_webhook_of_an_earlier_incident_does_not_close_the_new_one() -> None:
    reopened = item_after(alert(), alert(AlarmState.OK, T0 + timedelta(minutes=5)))
    reopened = run(reopened, alert(at=T0 + timedelta(hours=1)), now=T0 + timedelta(hours=1)).new_item
    assert reopened is not None
    late = mirror(reopened, "incident.resolved", at=T0 + timedelta(minutes=6), incident_id="POLD", actor="Bo")
    assert late is reopened


def test_unknown_webhook_type_changes_nothing() -> None:
    stored = item_after(alert())
    assert mirror(stored, "incident.workflow.started", at=NOW) is stored


def test_human_reopen_while_alarm_fires_opens_the_key_again() -> None:
    closed = human_resolved(item_after(alert()))
    reopened = mirror(closed, "incident.reopened", at=T0 + timedelta(minutes=4), actor="Ana")
    assert (reopened.status, reopened.resolved_by_human, reopened.expires_at) == (KeyStatus.OPEN, False, None)
    resolve = run(reopened, alert(AlarmState.OK, T0 + timedelta(minutes=5)))
    assert (resolve.send, resolve.routing_key_id_for_send) == (EventAction.RESOLVE, "key-payments")


# --- Auto-resolve and reconciler helpers ----------------------------------------------------------------


def test_generic_alert_with_auto_resolve_timeout_records_when_it_is_due() -> None:
    opened = item_after(alert(source=AlertSource.GENERIC, auto_resolve_after_seconds=600))
    assert opened.auto_resolve_at == T0 + timedelta(seconds=600)
    plain = item_after(alert(dedup_key="plain"))
    assert due_auto_resolves([opened, plain], T0 + timedelta(seconds=599)) == []
    assert due_auto_resolves([opened, plain], T0 + timedelta(seconds=600)) == [opened]


def test_auto_resolve_is_not_due_for_a_closed_key() -> None:
    opened = item_after(alert(auto_resolve_after_seconds=60))
    closed = run(opened, alert(AlarmState.OK, T0 + timedelta(seconds=10))).new_item
    assert closed is not None
    assert due_auto_resolves([closed], T0 + timedelta(hours=1)) == []


def test_complete_pending_trigger_sends_with_the_opening_identity_and_clears_the_intent() -> None:
    pending = item_after(alert()).model_copy(update={"trigger_pending": True})
    later = T0 + timedelta(hours=1)
    decision = complete_pending_trigger(pending, now=later, reason="pending-trigger-resent")
    assert (decision.send, decision.route_for_send, decision.routing_key_id_for_send) == (
        EventAction.TRIGGER,
        "payments",
        "key-payments",
    )
    assert decision.new_item is not None and decision.expected_version == pending.version
    assert (decision.new_item.trigger_pending, decision.new_item.last_seen) == (False, later)
    assert decision.new_item.version == pending.version + 1
    assert complete_pending_trigger(decision.new_item, now=later, reason="x").send is None  # nothing pending


def test_resolve_open_item_uses_the_opening_identity_and_closes_with_ttl() -> None:
    opened = item_after(alert(auto_resolve_after_seconds=60))
    decision = resolve_open_item(opened, now=T0 + timedelta(minutes=2), ttl_days=TTL_DAYS)
    assert (decision.send, decision.route_for_send, decision.routing_key_id_for_send) == (
        EventAction.RESOLVE,
        "payments",
        "key-payments",
    )
    assert decision.new_item is not None
    assert (decision.new_item.status, decision.new_item.auto_resolve_at) == (KeyStatus.RESOLVED, None)
    assert decision.new_item.expires_at is not None
    assert resolve_open_item(decision.new_item, now=NOW, ttl_days=TTL_DAYS).send is None
    # The alarm's own duplicate ALARM stays a duplicate; its OK later sends nothing.
    assert run(decision.new_item, alert(auto_resolve_after_seconds=60)).reason == DecisionReason.DUPLICATE


def test_routing_key_fingerprint_identifies_without_revealing() -> None:
    key = "R0UT1NGKEY0123456789abcdefABCDEF"
    fingerprint = routing_key_fingerprint(key)
    assert len(fingerprint) == 12
    assert fingerprint == routing_key_fingerprint(key)
    assert fingerprint != routing_key_fingerprint(key[:-1] + "x")
    assert fingerprint not in key


def test_a_redelivered_alarm_whose_trigger_intent_is_pending_is_sent_again() -> None:
    fired = alert()
    opened = run(None, fired)
    assert opened.new_item is not None
    pending = opened.new_item.model_copy(update={"trigger_pending": True})
    retried = run(pending, fired, route="default", key_id="key-default")
    assert (retried.send, retried.reason) == (EventAction.TRIGGER, "retry-pending-trigger")
    assert (retried.route_for_send, retried.routing_key_id_for_send) == ("payments", "key-payments")
    assert retried.expected_version == pending.version
    assert run(opened.new_item, fired).send is None  # once the trigger went out: a plain duplicate


def test_a_redelivered_alarm_whose_pending_trigger_pagerduty_applied_is_not_sent_again() -> None:
    fired = alert()
    opened = run(None, fired)
    assert opened.new_item is not None
    applied = opened.new_item.model_copy(update={"trigger_pending": True, "pd_status": "acknowledged"})
    redelivered = run(applied, fired, now=T0 + timedelta(minutes=6))
    assert (redelivered.send, redelivered.reason) == (None, "pending-trigger-applied")
    assert redelivered.new_item is not None and redelivered.expected_version == applied.version
    assert not redelivered.new_item.trigger_pending and redelivered.new_item.is_open
    assert redelivered.new_item.pd_status == "acknowledged"


def test_a_newer_transition_clears_a_pending_trigger() -> None:
    opened = run(None, alert())
    assert opened.new_item is not None
    pending = opened.new_item.model_copy(update={"trigger_pending": True})
    resolved = run(pending, alert(AlarmState.OK, T0 + timedelta(minutes=1)))
    assert resolved.send == EventAction.RESOLVE and resolved.new_item is not None
    assert not resolved.new_item.trigger_pending
