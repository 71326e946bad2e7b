"""The demo's remediation phase: incident events on the bridge's EventBridge bus (moto's, with a rule to a
local queue) drive a small remediation consumer written against `IncidentsClient`.

An alarm pages; PagerDuty's (the emulator's) signed webhooks reach the real webhook handler over HTTP; each
mirrored delivery becomes one event on the bus; the consumer reacts to `Incident Triggered` by
acknowledging and resolving the incident through the REST API; those changes come back as webhooks, are
mirrored (a person resolved it: the bridge will not re-page this episode) and put on the bus in turn.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

BUS = "alertbridge-demo-incidents"
ALARM = "payments-refund-failures"
WAIT_SECONDS = 30.0


def show_remediation(bridge: Any, emulator: Any, at: datetime, *, echo: bool) -> list[str]:
    """Run the phase; what went wrong, if anything (the demo fails on any)."""
    import boto3

    from alertbridge import wiring
    from alertbridge.incidents import IncidentsClient
    from alertbridge.sandbox.bridge import LOCAL_WEBHOOK_SECRET
    from alertbridge.sandbox.emulator import DEFAULT_TOKEN, DEFAULT_USER
    from alertbridge.sandbox.scenario import Metric, alarm_arn, metric_alarm_message
    from alertbridge.sandbox.webhook_server import WebhookServer

    queue = _bus_to_queue(boto3.client("events"), boto3.client("sqs"))
    os.environ["ALERTBRIDGE_EVENT_BUS_NAME"] = BUS
    wiring.reset(only="webhook")  # a new webhook container: it puts incident events on the bus
    client = IncidentsClient(DEFAULT_TOKEN, DEFAULT_USER, base_url=emulator.url)
    seen: list[dict[str, Any]] = []
    metric = Metric("AWS/Lambda", "Errors", {"FunctionName": "refunds"}, threshold=1)
    with WebhookServer() as server:
        hooks = emulator.subscribe(server.url, secrets=(LOCAL_WEBHOOK_SECRET,), time_scale=0.001)
        bridge.publish(metric_alarm_message(ALARM, "ALARM", "OK", at, metric, "Threshold Crossed: 3 errors"))
        bridge.stages().drain()
        triggered = _wait(lambda: _first(_drain(queue, seen), "Incident Triggered"))
        if triggered is None:
            emulator.unsubscribe(hooks)
            return ["remediation: no Incident Triggered event reached the consumer's queue"]
        incident = triggered["detail"]["incident"]["id"]
        client.acknowledge(incident)
        client.resolve(incident, resolution="remediation: restarted the refunds workers")
        hooks.wait_idle(WAIT_SECONDS)
        delivered = sum(1 for outcome in hooks.outcomes() if outcome[1] == 200)
        _wait(lambda: len(_drain(queue, seen)) >= delivered or None)
        emulator.unsubscribe(hooks)
    if echo:
        kinds = ", ".join(event["detail-type"] for event in seen)
        print(f"  incident events on the bus: {kinds}")
        print(f"  the consumer acknowledged and resolved {incident} through IncidentsClient")
    return _problems(bridge, emulator, alarm_arn(ALARM), seen, delivered)


def _problems(bridge: Any, emulator: Any, key: str, seen: list[dict[str, Any]], delivered: int) -> list[str]:
    problems = []
    if len(seen) != delivered:
        problems.append(f"remediation: {delivered} webhook deliveries but {len(seen)} incident events")
    if emulator.open_alert(key) is not None:
        problems.append("remediation: the incident is still open in PagerDuty")
    item = {str(i["dedup_key"]): i for i in bridge.state_items()}.get(key, {})
    if item.get("status") != "resolved" or not item.get("resolved_by_human"):
        problems.append("remediation: the table does not show the incident resolved by a person")
    return problems


def _bus_to_queue(events: Any, sqs: Any) -> str:
    events.create_event_bus(Name=BUS)
    url = str(sqs.create_queue(QueueName="demo-remediation")["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["alertbridge"], "detail-type": [{"prefix": "Incident "}]}
    events.put_rule(Name="demo-remediation", EventBusName=BUS, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="demo-remediation", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])
    return url


def _drain(queue: str, into: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import boto3

    sqs = boto3.client("sqs")
    for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        into.append(json.loads(message["Body"]))
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return into


def _first(events: list[dict[str, Any]], detail_type: str) -> dict[str, Any] | None:
    return next((event for event in events if event["detail-type"] == detail_type), None)


def _wait(condition: Callable[[], Any]) -> Any:
    """The condition's first true value, polled; None after WAIT_SECONDS."""
    deadline, pause = time.monotonic() + WAIT_SECONDS, threading.Event()
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        pause.wait(0.02)
    return None
