"""A remediation path that keeps the table true, end to end: an alarm pages through both stages, PagerDuty's
(the emulator's) signed webhooks reach the real webhook handler over HTTP, each mirrored delivery becomes
exactly one event on the bridge's EventBridge bus (moto, a rule to a queue), and a small remediation
consumer written against `IncidentsClient` reacts to `Incident Triggered` by acknowledging and resolving.
PagerDuty, the table and the events agree at the end, and the same alarm episode does not page again."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from alertbridge import wiring, wiring_webhook
from alertbridge.incidents import IncidentsClient
from alertbridge.local.bridge import LOCAL_WEBHOOK_SECRET, LocalBridge
from alertbridge.local.emulator import DEFAULT_TOKEN, DEFAULT_USER, PagerDutyEmulator
from alertbridge.local.scenario import Metric, alarm_arn, metric_alarm_message
from alertbridge.local.webhook_server import WebhookServer
from alertbridge.models.config import BridgeConfig
from alertbridge.models.state import KeyStatus
from tests.integration.aws_fixtures import AwsContext

BUS = "alertbridge-incidents"
NAME = "checkout-errors"
METRIC = Metric("AWS/Lambda", "Errors", {"FunctionName": "checkout"}, threshold=5)
WAIT_SECONDS = 20.0


@pytest.fixture
def bridge(
    aws: AwsContext, emulator: PagerDutyEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalBridge]:
    local = LocalBridge.create(BridgeConfig(), emulator.url, name="remediation")
    for name, value in local.environment(ALERTBRIDGE_EVENT_BUS_NAME=BUS).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    wiring.reset()
    wiring_webhook.reset()
    yield local
    wiring.reset()
    wiring_webhook.reset()


@pytest.fixture
def events_queue(bridge: LocalBridge) -> str:
    """The bus and a rule sending every alertbridge incident event to a queue (a consumer's)."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name=BUS)
    url = sqs.create_queue(QueueName="remediation-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["alertbridge"], "detail-type": [{"prefix": "Incident "}]}
    events.put_rule(Name="remediation", EventBusName=BUS, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="remediation", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])
    return str(url)


def wait_for(condition: Any, what: str) -> None:
    """A condition, polled: never a fixed sleep."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def drain_events(url: str, into: list[dict[str, Any]]) -> None:
    sqs = boto3.client("sqs")
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        into.append(json.loads(message["Body"]))
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def remediate(event: dict[str, Any], client: IncidentsClient) -> None:
    """The remediation consumer: on a triggered incident, acknowledge, fix, resolve with a note."""
    if event["detail-type"] != "Incident Triggered":
        return
    incident = event["detail"]["incident"]["id"]
    client.acknowledge(incident)
    client.resolve(incident, resolution="restarted the checkout workers")


def test_remediation_code_resolves_through_pagerduty_and_the_table_follows(
    bridge: LocalBridge, emulator: PagerDutyEmulator, events_queue: str
) -> None:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    client = IncidentsClient(DEFAULT_TOKEN, DEFAULT_USER, base_url=emulator.url)
    seen: list[dict[str, Any]] = []
    with WebhookServer() as server:
        subscription = emulator.subscribe(server.url, secrets=(LOCAL_WEBHOOK_SECRET,), time_scale=0.001)
        bridge.publish(metric_alarm_message(NAME, "ALARM", "OK", at, METRIC, "5 errors"))
        bridge.stages().drain()
        assert emulator.open_alert(alarm_arn(NAME)) is not None  # paged
        wait_for(
            lambda: (
                drain_events(events_queue, seen)
                or any(e["detail-type"] == "Incident Triggered" for e in seen)
            ),
            "the Incident Triggered event",
        )
        for event in list(seen):
            remediate(event, client)
        assert subscription.wait_idle(WAIT_SECONDS)
        wait_for(lambda: drain_events(events_queue, seen) or len(seen) >= len(subscription.outcomes()),
                 "one event per delivery")  # fmt: skip
        delivered = [outcome for outcome in subscription.outcomes() if outcome[1] == 200]
        emulator.unsubscribe(subscription)
    kinds = [event["detail-type"] for event in seen]
    assert len(kinds) == len(delivered)  # each webhook delivery became exactly one bus event
    assert {"Incident Triggered", "Incident Acknowledged", "Incident Resolved"} <= set(kinds)
    assert len({event["detail"]["delivery_id"] for event in seen}) == len(seen)
    assert emulator.open_alert(alarm_arn(NAME)) is None  # PagerDuty: resolved
    item = {str(i["dedup_key"]): i for i in bridge.state_items()}[alarm_arn(NAME)]
    assert (item["status"], item["resolved_by_human"]) == (KeyStatus.RESOLVED.value, True)
    # The alarm still fires: the same episode's ALARM, delivered again, does not page again.
    bridge.publish(metric_alarm_message(NAME, "ALARM", "OK", at, METRIC, "5 errors"))
    bridge.stages().drain()
    assert emulator.open_alert(alarm_arn(NAME)) is None
