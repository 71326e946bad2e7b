"""The webhook handler in-process against moto, with an EventBridge bus whose rule forwards alertbridge's
incident events to an SQS queue: each mirrored delivery arrives on the queue once, a replay adds nothing,
and a bus that does not exist answers 503 with the delivery id left unrecorded."""

# ruff: noqa: F811  (the `emulator` and `webhook` fixtures are imported, then named as test parameters)

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from alertbridge import wiring
from alertbridge.adapters.eventbridge import EventBridgeIncidentEvents
from alertbridge.models.incident_event import IncidentEvent
from alertbridge.sandbox.emulator import Fault, PagerDutyEmulator
from tests.integration.emulator_fixtures import emulator  # noqa: F401
from tests.integration.test_webhook_handler import Webhook, status_and_reason, webhook  # noqa: F401
from tests.webhook_events import INCIDENT_ID, KEY, delivery

BUS = "alertbridge-incidents-test"


@pytest.fixture
def queue_url(webhook: Webhook, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A bus, and a rule on it sending every alertbridge event to a queue; the handler puts on that bus."""
    events = boto3.client("events", region_name=webhook.aws.region)
    sqs = boto3.client("sqs", region_name=webhook.aws.region)
    events.create_event_bus(Name=BUS)
    url = sqs.create_queue(QueueName="incident-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["alertbridge"], "detail-type": [{"prefix": "Incident "}]}
    events.put_rule(Name="to-queue", EventBusName=BUS, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="to-queue", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])
    monkeypatch.setenv("ALERTBRIDGE_EVENT_BUS_NAME", BUS)
    wiring.reset()
    yield url
    wiring.reset()


def received(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_a_mirrored_delivery_arrives_on_the_queue_once(webhook: Webhook, queue_url: str) -> None:
    event = delivery("incident.acknowledged", webhook_id="wh-events-1")
    assert status_and_reason(webhook.invoke(event)) == (200, "mirrored")
    assert status_and_reason(webhook.invoke(event)) == (200, "replay")
    [message] = received(queue_url)
    assert (message["source"], message["detail-type"]) == ("alertbridge", "Incident Acknowledged")
    detail = message["detail"]
    assert (detail["version"], detail["delivery_id"], detail["dedup_key"]) == ("1", "wh-events-1", KEY)
    assert detail["incident"]["id"] == INCIDENT_ID and detail["incident"]["service"]["name"] == "API"
    assert detail["mapped"]["severity"] == "sev2"
    assert received(queue_url) == []


def test_a_bus_that_cannot_take_the_event_answers_503(
    webhook: Webhook, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTBRIDGE_EVENT_BUS_NAME", "no-such-bus")
    wiring.reset()
    event = delivery("incident.resolved", webhook_id="wh-events-2")
    assert status_and_reason(webhook.invoke(event)) == (503, "event-unpublished")
    monkeypatch.setenv("ALERTBRIDGE_EVENT_BUS_NAME", BUS)
    wiring.reset()
    assert status_and_reason(webhook.invoke(event)) == (200, "mirrored")  # PagerDuty's retry
    [message] = received(queue_url)
    assert (message["detail-type"], message["detail"]["delivery_id"]) == ("Incident Resolved", "wh-events-2")


def test_the_put_retries_end_at_the_deadline_the_rest_lookup_left(
    webhook: Webhook, queue_url: str, emulator: PagerDutyEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One deadline for the delivery: a REST lookup that answers slowly (the emulator, through the real REST
    adapter) leaves less time for the put, and no put try starts after the deadline; PagerDuty's retry
    (the link is kept now, so no lookup) puts the event on the real bus."""
    budget = 2.5
    monkeypatch.setattr("alertbridge.handlers.webhook.DELIVERY_BUDGET_SECONDS", budget)
    emulator.limit_faults_to("/incidents")
    emulator.inject(Fault.slow(0.9), times=1)
    put, tries, failing = EventBridgeIncidentEvents.put, [], [True]

    def unreachable_while_failing(self: EventBridgeIncidentEvents, event: IncidentEvent) -> None:
        tries.append(time.monotonic())
        if failing[0]:
            raise ConnectionError("endpoint unreachable")
        put(self, event)

    monkeypatch.setattr(EventBridgeIncidentEvents, "put", unreachable_while_failing)
    started = time.monotonic()
    event = delivery("incident.acknowledged", webhook_id="wh-deadline")
    status, reason = status_and_reason(webhook.invoke(event))
    # The publisher alone would try 3 times over 0.7 s of backoff; after the 0.9 s lookup the deadline
    # leaves room for at most two, each started while a whole try (1 s at most) still fit before it. On a
    # loaded machine the lookup's answer may come too late for any try: then it is out of time instead.
    assert (status, reason) == ((503, "event-unpublished") if tries else (503, "out-of-time"))
    assert len(tries) < 3 and all(at < started + budget - 1.0 for at in tries)
    failing[0] = False
    assert status_and_reason(webhook.invoke(event)) == (200, "mirrored")
    [message] = received(queue_url)
    assert (message["detail-type"], message["detail"]["delivery_id"]) == (
        "Incident Acknowledged",
        "wh-deadline",
    )
