"""The reconciler's observations decided on fresh state (lifecycle), and the defects of the design where
several paths could send for one key: each test fails on the code before the delivery lane."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alertbridge.logic.dedup import bounded_key
from alertbridge.logic.intake import prepare_for_delivery
from alertbridge.logic.lifecycle import (
    DecisionReason,
    decide,
    decide_observation,
    observed_alarm_change,
    trigger_accepted,
)
from alertbridge.logic.parsers import parse_sqs_body
from alertbridge.models.alert import AlarmState, Alert, AlertSource
from alertbridge.models.config import BridgeConfig, Route
from alertbridge.models.delivery import AlertNotice, Observation, ObservationKind, parse_delivery_message
from alertbridge.models.maintenance import MaintenanceWindow
from alertbridge.models.pagerduty import EventAction, Severity
from alertbridge.models.state import KeyStatus, StateItem
from alertbridge.services.pipeline import Pipeline
from tests.fakes import FakeEvents, FakeKeys, FakeMaintenance, FakeStateStore, ListCounter

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
ARN = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api-5xx"
TTL = 30


def item(**fields: Any) -> StateItem:
    values: dict[str, Any] = {
        "dedup_key": ARN, "alarm_arn": ARN, "alarm_name": "api-5xx", "source": "cloudwatch-sns",
        "status": KeyStatus.OPEN, "alarm_state": AlarmState.ALARM, "state_changed_at": T0,
        "route": "default", "routing_key_id": "fp", "summary": "[ALARM] api-5xx", "severity": Severity.ERROR,
        "first_seen": T0, "last_seen": T0, "opened_at": T0, "version": 3,
    }  # fmt: skip
    values.update(fields)
    return StateItem.model_validate(values)


def seen(what: ObservationKind, of: StateItem, **fields: Any) -> Observation:
    values: dict[str, Any] = {
        "what": what, "dedup_key": of.dedup_key, "observed_at": NOW, "why": "test",
        "state_changed_at": of.state_changed_at, "opened_at": of.opened_at,
    }  # fmt: skip
    values.update(fields)
    return Observation.model_validate(values)


def alarm(state: AlarmState, at: datetime, **fields: Any) -> Alert:
    values: dict[str, Any] = {
        "source": AlertSource.CLOUDWATCH_SNS, "dedup_key": ARN, "alarm_name": "api-5xx", "alarm_arn": ARN,
        "state": state, "state_changed_at": at,
    }  # fmt: skip
    values.update(fields)
    return Alert.model_validate(values)


def decide_change(stored: StateItem, change: Alert, action: EventAction | None) -> Any:
    return decide(
        stored, change, action=action, route="default", routing_key_id="fp", severity=Severity.ERROR,
        summary="s", suppressed_by=None, now=NOW, ttl_days=TTL,
    )  # fmt: skip


# --- alarm state observations go through `decide` ---------------------------------------------------------


def test_cloudwatch_ok_older_than_the_stored_alarm_is_stale() -> None:
    refired = item(state_changed_at=T0 + timedelta(minutes=20))  # a newer ALARM arrived after the plan
    observation = seen(ObservationKind.RESOLVE_OK, item(), as_of=T0 + timedelta(minutes=10))
    change = observed_alarm_change(refired, observation)
    assert change is not None and change.state == AlarmState.OK
    assert decide_change(refired, change, EventAction.RESOLVE).reason == DecisionReason.STALE


def test_cloudwatch_ok_newer_than_the_stored_alarm_resolves_with_the_opening_identity() -> None:
    stored = item(route="payments", routing_key_id="fp-payments")
    change = observed_alarm_change(
        stored, seen(ObservationKind.RESOLVE_OK, stored, as_of=T0 + timedelta(minutes=5))
    )
    assert change is not None
    decision = decide_change(stored, change, EventAction.RESOLVE)
    assert (decision.send, decision.route_for_send, decision.routing_key_id_for_send) == (
        EventAction.RESOLVE, "payments", "fp-payments",
    )  # fmt: skip
    assert decision.new_item is not None and decision.new_item.alarm_state == AlarmState.OK


def test_an_ok_read_from_cloudwatch_ends_a_human_resolved_episode() -> None:
    human = item(status=KeyStatus.RESOLVED, resolved_by_human=True)
    change = observed_alarm_change(
        human, seen(ObservationKind.RESOLVE_OK, human, as_of=T0 + timedelta(minutes=5))
    )
    assert change is not None
    recorded = decide_change(human, change, EventAction.RESOLVE)
    assert recorded.send is None and recorded.new_item is not None
    assert not recorded.new_item.resolved_by_human
    again = decide_change(
        recorded.new_item, alarm(AlarmState.ALARM, T0 + timedelta(minutes=9)), EventAction.TRIGGER
    )
    assert again.send == EventAction.TRIGGER


def test_a_new_alarm_from_ok_ends_a_human_resolved_episode_even_when_the_ok_was_lost() -> None:
    human = item(status=KeyStatus.RESOLVED, resolved_by_human=True)
    next_episode = alarm(AlarmState.ALARM, T0 + timedelta(days=2), previous_state=AlarmState.OK)
    decision = decide_change(human, next_episode, EventAction.TRIGGER)
    assert (decision.send, decision.reason) == (EventAction.TRIGGER, DecisionReason.REOPENED)
    same_episode = alarm(
        AlarmState.ALARM, T0 + timedelta(days=2), previous_state=AlarmState.INSUFFICIENT_DATA
    )
    assert decide_change(human, same_episode, EventAction.TRIGGER).reason == DecisionReason.HUMAN_RESOLVED


# --- the other observations: only while the item still describes what was seen -------------------------


def observe(
    stored: StateItem | None, observation: Observation, covering: MaintenanceWindow | None = None
) -> Any:
    return decide_observation(stored, observation, now=NOW, ttl_days=TTL, covering=covering)


def test_a_dropped_trigger_is_resent_only_for_the_same_episode_and_its_episode_restarts() -> None:
    stored = item()
    decision = observe(stored, seen(ObservationKind.RETRIGGER_UNOPENED, stored))
    assert decision.send == EventAction.TRIGGER and decision.new_item.opened_at == NOW
    reopened = item(opened_at=T0 + timedelta(minutes=30))
    assert (
        observe(reopened, seen(ObservationKind.RETRIGGER_UNOPENED, stored)).reason == DecisionReason.OVERTAKEN
    )
    mirrored = item(pd_status="triggered")
    assert (
        observe(mirrored, seen(ObservationKind.RETRIGGER_UNOPENED, stored)).reason == DecisionReason.OVERTAKEN
    )


def test_maintenance_end_opens_only_a_still_suppressed_uncovered_key() -> None:
    held = item(status=KeyStatus.SUPPRESSED, opened_at=None, maintenance_window_id="mw")
    observation = seen(ObservationKind.TRIGGER_AFTER_MAINTENANCE, held)
    opened = observe(held, observation)
    assert opened.send == EventAction.TRIGGER and opened.new_item.opened_at == NOW
    resolved = item(status=KeyStatus.RESOLVED, opened_at=None, state_changed_at=T0 + timedelta(minutes=3))
    assert observe(resolved, observation).reason == DecisionReason.OVERTAKEN  # the OK came first
    window = MaintenanceWindow(id="mw-2", start=T0, end=NOW + timedelta(hours=1), reason="another")
    assert observe(held, observation, covering=window).reason == DecisionReason.OVERTAKEN


TRIGGER_KINDS = [ObservationKind.TRIGGER_AFTER_MAINTENANCE, ObservationKind.RETRIGGER_UNOPENED]


def first_delivery(kind: ObservationKind) -> tuple[Observation, StateItem]:
    """An observation of `kind` and the intent its first delivery committed (the key open, the trigger
    pending, the episode counted from that delivery), whose send then failed."""
    if kind == ObservationKind.TRIGGER_AFTER_MAINTENANCE:
        seen_item = item(status=KeyStatus.SUPPRESSED, opened_at=None, maintenance_window_id="mw")
    else:
        seen_item = item()
    observation = seen(kind, seen_item, observed_at=NOW)
    decided = decide_observation(seen_item, observation, now=NOW + timedelta(seconds=1), ttl_days=TTL,
                                 covering=None)  # fmt: skip
    assert decided.send == EventAction.TRIGGER and decided.new_item is not None
    return observation, decided.new_item.model_copy(update={"trigger_pending": True})


def redeliver(stored: StateItem, observation: Observation) -> Any:
    return decide_observation(
        stored, observation, now=NOW + timedelta(minutes=6), ttl_days=TTL, covering=None
    )


@pytest.mark.parametrize("kind", TRIGGER_KINDS)
def test_the_redelivery_of_a_trigger_observation_sends_its_own_pending_trigger(kind: ObservationKind) -> None:
    observation, intent = first_delivery(kind)
    decision = redeliver(intent, observation)
    assert decision.send == EventAction.TRIGGER and decision.expected_version == intent.version
    assert decision.new_item is not None and not decision.new_item.trigger_pending
    assert decision.new_item.opened_at == intent.opened_at  # the episode it opened, not a new one


@pytest.mark.parametrize("kind", TRIGGER_KINDS)
def test_a_failed_send_that_pagerduty_applied_is_not_sent_again_on_redelivery(kind: ObservationKind) -> None:
    # The send timed out after PagerDuty opened the incident, the retries failed, and the webhook mirrored
    # the incident before the redelivery: the intent is cleared without a second trigger (a person may
    # have resolved that incident in between; PagerDuty would open another one for the same episode).
    observation, intent = first_delivery(kind)
    mirrored = intent.model_copy(
        update={"pd_status": "triggered", "incident_id": "Q1", "version": intent.version + 1}
    )
    decision = redeliver(mirrored, observation)
    assert decision.send is None and decision.reason == "pending-trigger-applied"
    assert decision.new_item is not None and not decision.new_item.trigger_pending
    assert decision.new_item.incident_id == "Q1" and decision.expected_version == mirrored.version
    by_person = mirrored.model_copy(
        update={"status": KeyStatus.RESOLVED, "pd_status": "resolved", "resolved_by_human": True}
    )
    assert redeliver(by_person, observation).send is None  # the person's resolve was mirrored too


@pytest.mark.parametrize("kind", TRIGGER_KINDS)
def test_a_redelivered_trigger_observation_leaves_other_pending_triggers_alone(kind: ObservationKind) -> None:
    observation, intent = first_delivery(kind)
    newer_alarm = intent.model_copy(update={"state_changed_at": T0 + timedelta(minutes=50)})
    older_intent = intent.model_copy(update={"opened_at": NOW - timedelta(seconds=1)})  # before it was seen
    seen_opening = intent.model_copy(update={"opened_at": observation.opened_at})
    for other in (newer_alarm, older_intent, seen_opening):
        assert redeliver(other, observation).send is None, other


def test_a_resolve_is_resent_only_while_the_key_is_still_closed_by_the_bridge() -> None:
    closed = item(status=KeyStatus.RESOLVED, alarm_state=AlarmState.OK)
    observation = seen(ObservationKind.RESEND_RESOLVE, closed)
    assert observe(closed, observation).send == EventAction.RESOLVE
    reopened = item(state_changed_at=T0 + timedelta(minutes=5))
    assert observe(reopened, observation).reason == DecisionReason.OVERTAKEN
    by_person = item(status=KeyStatus.RESOLVED, resolved_by_human=True)
    assert (
        observe(by_person, seen(ObservationKind.RESEND_RESOLVE, by_person)).reason == DecisionReason.OVERTAKEN
    )


def test_a_pending_trigger_is_resent_once_and_an_absent_key_is_nothing_to_do() -> None:
    stuck = item(trigger_pending=True)
    observation = seen(ObservationKind.RESEND_TRIGGER, stuck)
    assert observe(stuck, observation).send == EventAction.TRIGGER
    assert observe(item(), observation).reason == DecisionReason.OVERTAKEN  # the redelivery got there first
    assert observe(None, observation).reason == DecisionReason.NOTHING_STORED


def test_clearing_the_intent_after_a_webhook_mirrored_the_incident_in_between() -> None:
    intent = item(trigger_pending=True, version=4)
    mirrored = intent.model_copy(update={"pd_status": "triggered", "incident_id": "P1", "version": 5})
    cleared = trigger_accepted(mirrored, intent)
    assert cleared is not None and not cleared.trigger_pending and cleared.incident_id == "P1"
    assert cleared.version == 6
    assert trigger_accepted(mirrored.model_copy(update={"opened_at": NOW}), intent) is None  # another episode


def test_the_pipeline_clears_the_intent_when_a_webhook_wins_the_commit() -> None:
    """A webhook mirrors the new incident between PagerDuty's 202 and the commit: the pending flag must not
    be left behind (the reconciler would send the trigger again, with a wrong note)."""
    store, events = FakeStateStore(), FakeEvents()
    pipeline = Pipeline(
        config=BridgeConfig(routes={"default": Route()}), state=store, events=events,
        keys=FakeKeys({"default": "D" * 32}), maintenance=FakeMaintenance(), counter=ListCounter(),
    )  # fmt: skip
    original_send = events.send

    def send_then_mirror(body: dict[str, Any], *, deadline: float | None = None) -> Any:
        answer = original_send(body, deadline=deadline)
        stored = store.items[ARN]
        store.items[ARN] = stored.model_copy(update={"pd_status": "triggered", "version": stored.version + 1})
        return answer

    events.send = send_then_mirror  # type: ignore[method-assign]
    pipeline.process(alarm(AlarmState.ALARM, T0), now=NOW, deadline=None)
    stored = store.items[ARN]
    assert stored.pd_status == "triggered" and not stored.trigger_pending


# --- intake: identity, time and size -------------------------------------------------------------------


def generic(doc: dict[str, Any], *, sent: datetime = NOW) -> Alert:
    return prepare_for_delivery(parse_sqs_body(json.dumps(doc), received_at=sent), transport_time=sent)


@pytest.mark.parametrize(
    "odd",
    [{"currentValue": ""}, {"severity": 3}, {"timestamp": ""}, {"tags": {"team": 7}}, {"state": "recovered"}],
)
def test_an_application_ok_with_an_odd_field_still_resolves(odd: dict[str, Any]) -> None:
    alert = generic({"alarmName": "checkout", "dedupId": "checkout-1", "state": "OK", **odd})
    assert (alert.source, alert.state, alert.dedup_key) == (AlertSource.GENERIC, AlarmState.OK, "checkout-1")


def test_dropped_fields_are_named_in_the_alert() -> None:
    alert = generic({"alarmName": "checkout", "state": "OK", "currentValue": "", "timestamp": ""})
    assert set(alert.ignored_fields) == {"currentValue", "timestamp"}


def test_huge_texts_are_bounded_so_no_item_can_outgrow_dynamodb() -> None:
    name = "n" * 210_000
    alert = generic({"alarmName": name, "state": "ALARM", "description": "d" * 300_000})
    assert len(alert.alarm_name) <= 1024 and len(alert.description or "") <= 8192
    assert alert.dedup_key == bounded_key(name)  # the identity still comes from the whole name
    summary = "s" * 230_000
    passthrough = generic(
        {
            "event_action": "trigger",
            "dedup_key": "big",
            "payload": {"summary": summary, "source": "x", "severity": "error"},
        }
    )
    notice = AlertNotice(alert=passthrough, received_at=NOW).model_dump_json()
    assert len(notice.encode()) < 64 * 1024


def test_a_lone_surrogate_in_an_identity_is_hashed_and_the_text_cleaned() -> None:
    alert = generic({"alarmName": "disk \udcff full", "dedupId": "id-\ud800", "state": "ALARM"})
    alert.dedup_key.encode("utf-8")  # storable and loggable
    alert.alarm_name.encode("utf-8")
    other = generic({"alarmName": "disk", "dedupId": "id-\udc80", "state": "ALARM"})
    assert alert.dedup_key != other.dedup_key  # collision-free: hashed from the original identity


def test_a_message_without_its_own_time_gets_the_transports_and_keeps_it_on_redelivery() -> None:
    sent = T0 + timedelta(minutes=7)
    first = generic({"alarmName": "job", "state": "ALARM"}, sent=sent)
    assert first.state_changed_at == sent
    # The redelivered notice carries the same alert, whenever it is delivered again.
    notice = AlertNotice(alert=first, received_at=NOW + timedelta(hours=1))
    again = parse_delivery_message(notice.model_dump_json())
    assert isinstance(again, AlertNotice) and again.alert.state_changed_at == sent


def test_a_producer_clock_ahead_of_the_transport_is_clamped() -> None:
    sent = T0 + timedelta(minutes=7)
    ahead = generic(
        {"alarmName": "job", "state": "ALARM", "timestamp": (sent + timedelta(hours=2)).isoformat()},
        sent=sent,
    )
    assert ahead.state_changed_at == sent


# --- calls per record ---------------------------------------------------------------------------------------


class CountingWindows(FakeMaintenance):
    def __init__(self) -> None:
        super().__init__()
        self.queries = 0

    def list_active(self, now: datetime) -> list[Any]:
        self.queries += 1
        return super().list_active(now)


def test_maintenance_windows_are_read_once_per_batch_and_never_for_a_duplicate() -> None:
    windows, store = CountingWindows(), FakeStateStore()
    pipeline = Pipeline(
        config=BridgeConfig(routes={"default": Route()}), state=store, events=FakeEvents(),
        keys=FakeKeys({"default": "D" * 32}), maintenance=windows, counter=ListCounter(),
    )  # fmt: skip
    pipeline.begin_batch()
    pipeline.process(alarm(AlarmState.ALARM, T0), now=NOW, deadline=None)
    pipeline.process(
        alarm(AlarmState.ALARM, T0, dedup_key="other", alarm_arn=ARN + "-2"), now=NOW, deadline=None
    )
    assert windows.queries == 1  # two triggers, one batch
    pipeline.begin_batch()
    assert (
        pipeline.process(alarm(AlarmState.ALARM, T0), now=NOW, deadline=None).reason
        == DecisionReason.DUPLICATE
    )
    assert windows.queries == 1  # a duplicate needs no window
