"""The pipeline with fakes at every port: what it sends, with which key, and what it commits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from alertbridge.errors import Rejected, RequestTimeout, RoutingKeyMissing, ServerError
from alertbridge.logic.dedup import routing_key_fingerprint
from alertbridge.logic.lifecycle import apply_incident_update
from alertbridge.logic.parsers import parse_sqs_body
from alertbridge.models.alert import Alert
from alertbridge.models.config import BridgeConfig
from alertbridge.models.maintenance import MaintenanceWindow
from alertbridge.models.state import KeyStatus
from alertbridge.sandbox.scenario import Metric, metric_alarm_message
from alertbridge.services.pipeline import Pipeline, StateConflict
from tests.fakes import FakeEvents, FakeKeys, FakeMaintenance, FakeStateStore, ListCounter

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KEYS = {"default": "D" * 32, "payments": "P" * 32}
LAMBDA_ERRORS = Metric("AWS/Lambda", "Errors", {"FunctionName": "checkout"}, threshold=5)
ROUTED = BridgeConfig.model_validate(
    {
        "routes": {"default": {}, "payments": {}},
        "rules": [{"match": {"alarm_name": "payments-*"}, "route": "payments"}],
    }
)


def alert(name: str, state: str, at: datetime) -> Alert:
    old = "OK" if state == "ALARM" else "ALARM"
    message = metric_alarm_message(name, state, old, at, LAMBDA_ERRORS, f"went {state}")
    envelope = {
        "Type": "Notification",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:alarms",
        "Message": message,
    }
    return parse_sqs_body(json.dumps(envelope), received_at=at)


def pipeline(config: BridgeConfig = ROUTED, **ports: object) -> Pipeline:
    parts: dict[str, object] = {
        "config": config,
        "state": FakeStateStore(),
        "events": FakeEvents(),
        "keys": FakeKeys(KEYS),
        "maintenance": FakeMaintenance(),
        "counter": ListCounter(),
    }
    parts.update(ports)
    return Pipeline(**parts)  # type: ignore[arg-type]


def test_trigger_goes_out_with_the_routes_real_key_and_opens_the_key() -> None:
    bridge = pipeline()
    outcome = bridge.process(alert("payments-api", "ALARM", T0), now=T0, deadline=None)
    sent = bridge.events.sent  # type: ignore[attr-defined]
    assert [body["event_action"] for body in sent] == ["trigger"]
    assert sent[0]["routing_key"] == KEYS["payments"]
    assert outcome.sent == "trigger" and outcome.route == "payments"
    item = bridge.state.get(outcome.dedup_key)
    assert item is not None and item.status == KeyStatus.OPEN and item.route == "payments"


def test_a_duplicate_delivery_sends_nothing_and_writes_nothing() -> None:
    bridge = pipeline()
    fired = alert("payments-api", "ALARM", T0)
    bridge.process(fired, now=T0, deadline=None)
    writes = bridge.state.writes  # type: ignore[attr-defined]
    outcome = bridge.process(fired, now=T0 + timedelta(seconds=5), deadline=None)
    assert outcome.sent is None and outcome.reason == "duplicate"
    assert len(bridge.events.sent) == 1  # type: ignore[attr-defined]
    assert bridge.state.writes == writes  # type: ignore[attr-defined]


def test_resolve_uses_the_key_that_opened_the_incident_even_after_the_rules_change() -> None:
    store, events = FakeStateStore(), FakeEvents()
    pipeline(state=store, events=events).process(alert("payments-api", "ALARM", T0), now=T0, deadline=None)
    everything_to_default = BridgeConfig.model_validate({"routes": {"default": {}, "payments": {}}})
    later = T0 + timedelta(minutes=5)
    bridge = pipeline(everything_to_default, state=store, events=events)
    outcome = bridge.process(alert("payments-api", "OK", later), now=later, deadline=None)
    assert outcome.sent == "resolve"
    assert events.sent[-1] == {
        "routing_key": KEYS["payments"],
        "event_action": "resolve",
        "dedup_key": outcome.dedup_key,
    }


def test_resolve_asks_for_the_key_that_opened_the_incident_by_its_fingerprint() -> None:
    store, keys = FakeStateStore(), FakeKeys(KEYS)
    bridge = pipeline(state=store, keys=keys)
    opened = bridge.process(alert("payments-api", "ALARM", T0), now=T0, deadline=None)
    item = store.get(opened.dedup_key)
    assert item is not None and item.routing_key_id == routing_key_fingerprint(KEYS["payments"])
    keys.asked_for.clear()
    later = T0 + timedelta(minutes=5)
    bridge.process(alert("payments-api", "OK", later), now=later, deadline=None)
    assert keys.asked_for == [("payments", item.routing_key_id)]
    assert "OpeningKeyRetired" not in bridge.counter.counts  # type: ignore[attr-defined]


def test_a_resolve_whose_opening_key_left_the_secret_goes_out_with_the_current_key_and_is_counted() -> None:
    store, events = FakeStateStore(), FakeEvents()
    pipeline(state=store, events=events).process(alert("payments-api", "ALARM", T0), now=T0, deadline=None)
    rotated = {**KEYS, "payments": "Q" * 32}  # the old key removed at once, not listed as retired
    later = T0 + timedelta(minutes=5)
    bridge = pipeline(state=store, events=events, keys=FakeKeys(rotated))
    bridge.process(alert("payments-api", "OK", later), now=later, deadline=None)
    assert events.sent[-1]["routing_key"] == "Q" * 32
    assert bridge.counter.counts["OpeningKeyRetired"] == 1  # type: ignore[attr-defined]


def test_ok_before_its_alarm_leaves_the_key_closed_and_the_late_alarm_is_stale() -> None:
    bridge = pipeline()
    assert bridge.process(alert("web", "OK", T0 + timedelta(minutes=3)), now=T0, deadline=None).sent is None
    late = bridge.process(alert("web", "ALARM", T0 + timedelta(minutes=1)), now=T0, deadline=None)
    assert late.sent is None and late.reason == "stale"
    assert bridge.events.sent == []  # type: ignore[attr-defined]


def test_a_rejected_trigger_is_sent_once_more_as_the_minimal_body() -> None:
    events = FakeEvents()
    events.failures = [Rejected(["payload.custom_details is invalid"])]
    counter = ListCounter()
    bridge = pipeline(events=events, counter=counter)
    outcome = bridge.process(alert("payments-api", "ALARM", T0), now=T0, deadline=None)
    assert outcome.fallback and outcome.sent == "trigger"
    assert outcome.rejected == ["payload.custom_details is invalid"]  # logged by the handler
    minimal = events.sent[0]
    assert set(minimal) <= {"routing_key", "event_action", "dedup_key", "payload", "client", "client_url"}
    assert set(minimal["payload"]) >= {"summary", "source", "severity"}
    assert "custom_details" not in minimal["payload"]
    assert counter.counts["Rejected"] == 1


def test_a_second_rejection_fails_the_record_so_it_reaches_the_dead_letter_queue() -> None:
    events = FakeEvents()
    events.failures = [Rejected(["bad"]), Rejected(["still bad"])]
    bridge = pipeline(events=events)
    with pytest.raises(Rejected):
        bridge.process(alert("payments-api", "ALARM", T0), now=T0, deadline=None)
    intent = bridge.state.get(alert("payments-api", "ALARM", T0).dedup_key)
    assert intent is not None and intent.trigger_pending  # the DLQ redrive sends it again


def test_a_failed_trigger_leaves_its_intent_so_the_redelivery_sends_again() -> None:
    events = FakeEvents()
    events.failures = [ServerError(503)]
    bridge = pipeline(events=events)
    fired = alert("payments-api", "ALARM", T0)
    with pytest.raises(ServerError):
        bridge.process(fired, now=T0, deadline=None)
    intent = bridge.state.get(fired.dedup_key)
    assert intent is not None and intent.is_open and intent.trigger_pending
    retried = bridge.process(fired, now=T0, deadline=None)
    assert (retried.sent, retried.reason) == ("trigger", "retry-pending-trigger")
    item = bridge.state.get(fired.dedup_key)
    assert item is not None and item.is_open and not item.trigger_pending
    assert bridge.process(fired, now=T0, deadline=None).reason == "duplicate"


def test_a_redelivered_trigger_is_not_sent_again_once_a_webhook_showed_its_incident() -> None:
    """The send timed out after PagerDuty applied it; the incident's webhook landed; a person resolved it
    and that webhook is still on its way when SQS redelivers the record: nothing is sent again."""
    events = FakeEvents()
    events.failures = [RequestTimeout("PagerDuty did not answer in time")]
    bridge = pipeline(events=events)
    fired = alert("payments-api", "ALARM", T0)
    with pytest.raises(RequestTimeout):
        bridge.process(fired, now=T0, deadline=None)
    intent = bridge.state.get(fired.dedup_key)
    assert intent is not None and intent.trigger_pending
    seen = apply_incident_update(
        intent,
        event_type="incident.triggered",
        incident_id="PINC1",
        number=1,
        url=None,
        status="triggered",
        assignees=(),
        actor=None,
        occurred_at=T0 + timedelta(seconds=1),
        now=T0 + timedelta(seconds=2),
        ttl_days=30,
    )
    assert bridge.state.save(seen, expected_version=intent.version)
    redelivered = bridge.process(fired, now=T0 + timedelta(seconds=30), deadline=None)
    assert (redelivered.sent, redelivered.reason) == (None, "pending-trigger-applied")
    assert events.sent == []  # the timed-out send is the only one PagerDuty saw
    item = bridge.state.get(fired.dedup_key)
    assert item is not None and item.is_open and not item.trigger_pending
    assert (item.incident_id, item.pd_status) == ("PINC1", "triggered")
    assert bridge.process(fired, now=T0 + timedelta(seconds=40), deadline=None).reason == "duplicate"


def test_an_ok_after_a_timed_out_trigger_still_resolves_what_pagerduty_may_have_opened() -> None:
    events = FakeEvents()
    events.failures = [RequestTimeout("PagerDuty did not answer in time")]  # it may have applied it
    bridge = pipeline(events=events)
    with pytest.raises(RequestTimeout):
        bridge.process(alert("payments-api", "ALARM", T0), now=T0, deadline=None)
    later = T0 + timedelta(minutes=5)
    outcome = bridge.process(alert("payments-api", "OK", later), now=later, deadline=None)
    assert outcome.sent == "resolve"
    assert events.sent[-1]["routing_key"] == KEYS["payments"]
    # the ALARM's redelivery is now stale: nothing more goes out
    assert bridge.process(alert("payments-api", "ALARM", T0), now=later, deadline=None).reason == "stale"


def test_a_missing_routing_key_fails_the_record_without_sending() -> None:
    bridge = pipeline(keys=FakeKeys({"default": "D" * 32}))
    with pytest.raises(RoutingKeyMissing):
        bridge.process(alert("payments-api", "ALARM", T0), now=T0, deadline=None)
    assert bridge.events.sent == []  # type: ignore[attr-defined]


def test_a_trigger_during_a_maintenance_window_is_recorded_not_sent() -> None:
    window = MaintenanceWindow(
        id="w1", start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1), route="payments"
    )
    bridge = pipeline(maintenance=FakeMaintenance([window]))
    outcome = bridge.process(alert("payments-api", "ALARM", T0), now=T0, deadline=None)
    assert outcome.sent is None
    item = bridge.state.get(outcome.dedup_key)
    assert item is not None and item.status == KeyStatus.SUPPRESSED


class LosingStore(FakeStateStore):
    """Another writer wins the first `losses` conditional writes."""

    def __init__(self, losses: int) -> None:
        super().__init__()
        self.losses = losses

    def save(self, item, *, expected_version):  # type: ignore[no-untyped-def]
        if self.losses:
            self.losses -= 1
            return False
        return super().save(item, expected_version=expected_version)


def test_a_lost_conditional_write_is_decided_again_on_fresh_state() -> None:
    counter = ListCounter()
    bridge = pipeline(state=LosingStore(losses=1), counter=counter)
    outcome = bridge.process(alert("payments-api", "ALARM", T0), now=T0, deadline=None)
    assert outcome.sent == "trigger" and counter.counts["StateConflict"] == 1


def test_endless_conflicts_give_up_so_the_queue_redelivers() -> None:
    bridge = pipeline(state=LosingStore(losses=100))
    with pytest.raises(StateConflict):
        bridge.process(alert("payments-api", "ALARM", T0), now=T0, deadline=None)


class AlarmTagsByArn:
    def __init__(self, tags: dict[str, dict[str, str] | None]) -> None:
        self.by_arn: dict[str, dict[str, str] | None] = tags
        self.asked: list[str] = []

    def tags(self, alarm_arn: str) -> dict[str, str] | None:
        self.asked.append(alarm_arn)
        return self.by_arn.get(alarm_arn, {})


TAG_ROUTED = BridgeConfig.model_validate(
    {
        "routes": {"default": {}, "payments": {}},
        "rules": [{"match": {"tags": {"team": "payments"}}, "route": "payments", "severity": "critical"}],
    }
)


def test_a_tag_rule_routes_a_cloudwatch_alarm_by_the_tags_read_from_cloudwatch() -> None:
    fired = alert("checkout-errors", "ALARM", T0)
    assert fired.alarm_arn is not None and fired.tags == {}
    tags = AlarmTagsByArn({fired.alarm_arn: {"team": "payments"}})
    bridge = pipeline(TAG_ROUTED, alarm_tags=tags)
    outcome = bridge.process(fired, now=T0, deadline=None)
    (sent,) = bridge.events.sent  # type: ignore[attr-defined]
    assert outcome.route == "payments" and sent["routing_key"] == KEYS["payments"]
    assert sent["payload"]["severity"] == "critical"
    assert sent["payload"]["custom_details"]["tags"] == {"team": "payments"}


def test_only_triggers_ask_for_tags_and_the_resolve_keeps_the_opening_route() -> None:
    fired = alert("checkout-errors", "ALARM", T0)
    assert fired.alarm_arn is not None
    tags = AlarmTagsByArn({fired.alarm_arn: {"team": "payments"}})
    bridge = pipeline(TAG_ROUTED, alarm_tags=tags)
    bridge.process(fired, now=T0, deadline=None)
    later = T0 + timedelta(minutes=3)
    outcome = bridge.process(alert("checkout-errors", "OK", later), now=later, deadline=None)
    assert tags.asked == [fired.alarm_arn]
    assert outcome.sent == "resolve" and bridge.events.sent[-1]["routing_key"] == KEYS["payments"]  # type: ignore[attr-defined]


def test_tags_that_cannot_be_read_route_by_the_other_rules_and_are_counted() -> None:
    fired = alert("checkout-errors", "ALARM", T0)
    assert fired.alarm_arn is not None
    bridge = pipeline(TAG_ROUTED, alarm_tags=AlarmTagsByArn({fired.alarm_arn: None}))
    outcome = bridge.process(fired, now=T0, deadline=None)
    assert outcome.sent == "trigger" and outcome.route == "default"
    assert bridge.counter.counts["AlarmTagsUnavailable"] == 1  # type: ignore[attr-defined]
