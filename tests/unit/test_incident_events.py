"""Incident events on the bus after a mirrored delivery, with fakes at the ports: the shipped JSON Schema,
one event per delivery, none for a replay, and a failing put answered 5xx so PagerDuty's retry puts it."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import jsonschema
import pytest

from alertbridge.adapters.eventbridge import EventBridgeIncidentEvents, EventNotAccepted
from alertbridge.logic.webhook import MIRRORED_EVENT_TYPES, WebhookReason
from alertbridge.models.config import IncidentEventsConfig
from alertbridge.models.incident_event import DETAIL_TYPES, SCHEMA_FILE, IncidentEvent, detail_schema
from alertbridge.services.incident_events import IncidentEventPublisher
from alertbridge.services.webhook import WebhookParts, handle_function_url_event
from tests.fakes import FakeAlertKeys
from tests.unit.test_webhook_logic import NOW, parts_with
from tests.webhook_events import INCIDENT_ID, KEY, delivery


class FakeBus:
    """ports.IncidentEvents in a list; `failures` makes the next puts raise."""

    def __init__(self, failures: int = 0) -> None:
        self.events: list[IncidentEvent] = []
        self.failures = failures
        self.calls = 0

    def put(self, event: IncidentEvent) -> None:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("endpoint unreachable")
        self.events.append(event)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def parts_on(bus: FakeBus, config: IncidentEventsConfig | None = None) -> tuple[WebhookParts, FakeClock]:
    clock = FakeClock()
    publisher = IncidentEventPublisher(bus, config or IncidentEventsConfig(), sleep=clock.sleep, clock=clock)
    return dataclasses.replace(parts_with(), incident_events=publisher), clock


def test_the_shipped_schema_file_is_the_models_schema() -> None:
    assert json.loads(SCHEMA_FILE.read_text("utf-8")) == detail_schema()


@pytest.mark.parametrize("event_type", sorted(MIRRORED_EVENT_TYPES))
def test_each_mirrored_delivery_puts_exactly_one_event(event_type: str) -> None:
    bus = FakeBus()
    parts, _ = parts_on(bus)
    result = handle_function_url_event(delivery(event_type), parts, now=NOW)
    assert (result.status_code, result.reason) == (200, WebhookReason.MIRRORED)
    [event] = bus.events
    assert (event.source, event.detail_type) == ("alertbridge", DETAIL_TYPES[event_type])
    detail = event.detail
    assert (detail.version, detail.delivery_id, detail.dedup_key) == ("1", "wh-1", KEY)
    assert detail.pagerduty_event_type == event_type
    assert detail.alarm.arn == KEY and detail.alarm.account == "123456789012"
    assert detail.alarm.region == "us-east-1"
    assert detail.route == "default"
    assert detail.incident.id == INCIDENT_ID and detail.incident.number == 4211
    assert detail.incident.service is not None and detail.incident.service.name == "API"
    assert detail.incident.urgency == "high" and detail.mapped.severity == "sev2"
    assert [a.name for a in detail.incident.assignees] == ["Ada Lovelace"]
    assert detail.actor is not None and detail.actor.type == "user_reference"
    assert event.resources == (KEY,)
    jsonschema.validate(json.loads(detail.model_dump_json()), detail_schema())


def test_detail_types_are_one_per_lifecycle_step() -> None:
    assert set(DETAIL_TYPES) == set(MIRRORED_EVENT_TYPES)
    assert set(DETAIL_TYPES.values()) == {
        f"Incident {step}"
        for step in (
            "Triggered", "Acknowledged", "Unacknowledged", "Resolved", "Reopened", "Escalated",
            "Reassigned", "Annotated", "Priority Updated",
        )
    }  # fmt: skip


def test_a_replayed_delivery_puts_no_second_event() -> None:
    bus = FakeBus()
    parts, _ = parts_on(bus)
    event = delivery("incident.acknowledged")
    assert handle_function_url_event(event, parts, now=NOW).reason == WebhookReason.MIRRORED
    assert handle_function_url_event(event, parts, now=NOW).reason == WebhookReason.REPLAY
    assert len(bus.events) == 1


def test_a_put_failing_a_moment_is_retried_inside_the_answer_window() -> None:
    bus = FakeBus(failures=2)
    parts, clock = parts_on(bus)
    result = handle_function_url_event(delivery(), parts, now=NOW)
    assert (result.status_code, result.reason) == (200, WebhookReason.MIRRORED)
    assert (bus.calls, len(bus.events)) == (3, 1)
    assert sum(clock.waits) < 2.0


def test_a_failing_put_answers_5xx_and_pagerdutys_retry_puts_exactly_one_event() -> None:
    bus = FakeBus(failures=3)
    parts, _ = parts_on(bus)
    event = delivery("incident.acknowledged")
    first = handle_function_url_event(event, parts, now=NOW)
    assert (first.status_code, first.reason) == (503, WebhookReason.EVENT_UNPUBLISHED)
    assert bus.calls == 3 and bus.events == []
    assert not parts.deliveries.seen("wh-1", NOW)  # so PagerDuty's retry is processed, not a replay
    retry = handle_function_url_event(event, parts, now=NOW)
    assert (retry.status_code, retry.reason) == (200, WebhookReason.MIRRORED)
    [put] = bus.events
    assert put.detail.delivery_id == "wh-1"
    assert handle_function_url_event(event, parts, now=NOW).reason == WebhookReason.REPLAY
    assert len(bus.events) == 1


def test_an_annotation_retried_after_a_failing_put_counts_its_note_once() -> None:
    """PagerDuty's retry of a delivery the mirror already applied must put its event, but applying it again
    would count the note twice: the item remembers the event it applied last."""
    from tests.unit.test_webhook_logic import load, stored, with_body

    bus = FakeBus(failures=3)
    parts, _ = parts_on(bus)
    note = load("function-url-incident-annotated.json")
    event = with_body(note, note["body"].encode())
    assert handle_function_url_event(event, parts, now=NOW).status_code == 503
    retry = handle_function_url_event(event, parts, now=NOW)
    assert (retry.status_code, retry.reason) == (200, WebhookReason.MIRRORED)
    item = stored(parts)
    assert item is not None and item.pd_note_count == 1
    assert len(bus.events) == 1


def test_configured_mappings_name_the_service_and_the_priority_wins_over_the_urgency() -> None:
    bus = FakeBus()
    config = IncidentEventsConfig(services={"PF9KMXH": "checkout-api"}, priority_severity={"P1": "sev1"})
    parts, _ = parts_on(bus, config)
    priority = {"id": "PRIO1", "summary": "P1", "type": "priority"}
    handle_function_url_event(
        delivery("incident.priority_updated", data={"priority": priority}), parts, now=NOW
    )
    [event] = bus.events
    assert (event.detail.mapped.service, event.detail.mapped.severity) == ("checkout-api", "sev1")
    assert event.detail.incident.priority is not None and event.detail.incident.priority.name == "P1"


def test_a_delivery_that_is_not_ours_puts_no_event() -> None:
    bus = FakeBus()
    parts, _ = parts_on(bus)
    other = delivery(data={"id": "PUNKNOWN"})
    assert handle_function_url_event(other, parts, now=NOW).reason == WebhookReason.NOT_OURS
    assert bus.events == []


class FakeEventsClient:
    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.entries: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries.extend(Entries)
        return self.answer


def test_the_adapter_raises_when_eventbridge_refuses_the_entry() -> None:
    bus = FakeBus()
    parts, _ = parts_on(bus)
    handle_function_url_event(delivery(), parts, now=NOW)
    failed = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"}]}
    client = FakeEventsClient(failed)
    with pytest.raises(EventNotAccepted, match="InternalFailure"):
        EventBridgeIncidentEvents("incidents", client).put(bus.events[0])
    [entry] = client.entries
    assert (entry["EventBusName"], entry["Source"], entry["DetailType"]) == (
        "incidents", "alertbridge", "Incident Acknowledged",
    )  # fmt: skip
    assert json.loads(entry["Detail"])["delivery_id"] == "wh-1"


def test_without_a_bus_name_the_webhook_function_puts_no_events() -> None:
    from alertbridge.models.settings import Settings
    from alertbridge.wiring.webhook import incident_event_publisher

    assert incident_event_publisher(Settings()) is None
    config = '{"incident_events": {"services": {"API": "api-gateway"}}}'
    current = Settings(event_bus_name="incidents", config_json=config)
    publisher = incident_event_publisher(current, events_client=FakeEventsClient({"FailedEntryCount": 0}))
    assert publisher is not None and publisher.config.services == {"API": "api-gateway"}
    assert Settings.from_env({"ALERTBRIDGE_EVENT_BUS_NAME": "incidents"}).event_bus_name == "incidents"


# --- one deadline for the whole delivery (PagerDuty waits 5 s) ----------------------------------------------


class SlowAlertKeys(FakeAlertKeys):
    """The REST port taking `seconds` of the fake clock (then answering, or raising `error`)."""

    def __init__(self, clock: FakeClock, seconds: float, error: Exception | None = None) -> None:
        super().__init__({INCIDENT_ID: [KEY]})
        self.clock, self.seconds, self.error = clock, seconds, error

    def alert_keys(self, incident_id: str, *, deadline: float | None = None) -> list[str]:
        keys = super().alert_keys(incident_id, deadline=deadline)
        self.clock.now += self.seconds if deadline is None else min(self.seconds, deadline - self.clock.now)
        if self.error is not None:
            raise self.error
        return keys


def deadline_parts(bus: FakeBus, rest_seconds: float, error: Exception | None = None) -> Any:
    parts, clock = parts_on(bus)
    rest = SlowAlertKeys(clock, rest_seconds, error)
    return dataclasses.replace(parts, rest=rest, clock=clock), clock, rest


def test_a_rest_lookup_cut_by_the_deadline_answers_5xx_and_the_retry_is_mirrored() -> None:
    from alertbridge.errors import RequestTimeout

    bus = FakeBus()
    # PagerDuty would answer after 5 s: the adapter, handed the deadline, gives up at it
    parts, clock, rest = deadline_parts(bus, 5.0, RequestTimeout("no answer", timeout_seconds=2.0))
    event = delivery(webhook_id="wh-slow")
    result = handle_function_url_event(event, parts, now=NOW, deadline=clock.now + 4.0)
    assert (result.status_code, result.reason) == (503, WebhookReason.OUT_OF_TIME)
    assert rest.deadlines == [104.0]  # the lookup was handed the delivery's deadline
    assert bus.calls == 0 and not parts.deliveries.seen("wh-slow", NOW)
    rest.seconds, rest.error = 0.1, None  # PagerDuty's retry, with PagerDuty answering again
    retry = handle_function_url_event(event, parts, now=NOW, deadline=clock.now + 4.0)
    assert (retry.status_code, retry.reason) == (200, WebhookReason.MIRRORED)
    assert [e.detail.delivery_id for e in bus.events] == ["wh-slow"]


def test_the_put_retries_end_at_the_deadline_the_lookup_left() -> None:
    bus = FakeBus(failures=5)
    parts, clock, _ = deadline_parts(bus, 3.5)  # of 4 s, the lookup took 3.5
    received = clock.now
    result = handle_function_url_event(delivery(), parts, now=NOW, deadline=received + 4.0)
    assert (result.status_code, result.reason) == (503, WebhookReason.EVENT_UNPUBLISHED)
    assert (bus.calls, clock.waits) == (2, [0.2])  # the third try (after 0.5 s more) would end after it
    assert clock.now < received + 4.0
    stored_item = parts.state.get(KEY)
    assert stored_item is not None and stored_item.pd_status == "acknowledged"  # mirrored, idempotently


def test_a_lookup_that_used_the_whole_deadline_leaves_no_put_and_answers_5xx() -> None:
    bus = FakeBus()
    parts, clock, _ = deadline_parts(bus, 4.0)
    result = handle_function_url_event(
        delivery(webhook_id="wh-late"), parts, now=NOW, deadline=clock.now + 4.0
    )
    assert (result.status_code, result.reason) == (503, WebhookReason.OUT_OF_TIME)
    assert bus.calls == 0 and not parts.deliveries.seen("wh-late", NOW)


def test_without_a_deadline_the_publisher_keeps_its_own_budget() -> None:
    bus = FakeBus(failures=5)
    parts, clock, _ = deadline_parts(bus, 3.5)
    assert handle_function_url_event(delivery(), parts, now=NOW).reason == WebhookReason.EVENT_UNPUBLISHED
    assert (bus.calls, clock.waits) == (3, [0.2, 0.5])


def test_a_put_try_starts_only_when_it_can_end_before_the_deadline() -> None:
    bus = FakeBus()
    parts, clock, _ = deadline_parts(bus, 3.2)  # 0.8 s left, and one try may take 1 s
    publisher = dataclasses.replace(parts.incident_events, try_seconds=1.0)
    parts = dataclasses.replace(parts, incident_events=publisher)
    result = handle_function_url_event(delivery(), parts, now=NOW, deadline=clock.now + 4.0)
    assert (result.status_code, result.reason, bus.calls) == (503, WebhookReason.OUT_OF_TIME, 0)
