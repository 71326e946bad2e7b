"""Self-monitoring alarms, health topic, dashboard, the wire_alarm helper and the example alarms."""

from __future__ import annotations

import json
from typing import Any

from tests.infrastructure.conftest import Synth


def alarms_by_metric(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        body["Properties"]["MetricName"]: body["Properties"]
        for body in synth.of_type("AWS::CloudWatch::Alarm").values()
        if "MetricName" in body["Properties"]
    }


def alarm(synth: Synth, construct_id: str) -> dict[str, Any]:
    (found,) = [
        body["Properties"]
        for logical_id, body in synth.of_type("AWS::CloudWatch::Alarm").items()
        if logical_id.startswith(f"BridgeMonitoring{construct_id}")
    ]
    return found


def test_health_alarms_cover_the_failure_modes(synth: Synth) -> None:
    bridge = synth.stack.bridge
    expected = {
        "DeadLetterQueueNotEmpty": ("ApproximateNumberOfMessagesVisible", bridge.intake.dead_letter_queue),
        "DeliveryDeadLetterQueueNotEmpty": (
            "ApproximateNumberOfMessagesVisible",
            bridge.lane.dead_letter_queue,
        ),
        "OldestMessageAge": ("ApproximateAgeOfOldestMessage", bridge.intake.queue),
        "DeliveryOldestMessageAge": ("ApproximateAgeOfOldestMessage", bridge.lane.queue),
        "IntakeErrors": ("Errors", bridge.intake_function.function),
        "DeliveryErrors": ("Errors", bridge.delivery.function),
        "IntakeThrottles": ("Throttles", bridge.intake_function.function),
        "DeliveryThrottles": ("Throttles", bridge.delivery.function),
        "Webhook5xx": ("Url5xxCount", bridge.webhook.function),
    }
    for construct_id, (metric, resource) in expected.items():
        found = alarm(synth, construct_id)
        assert found["MetricName"] == metric
        (dimension,) = found["Dimensions"]
        reference = synth.logical_id(resource)
        assert reference in json.dumps(dimension["Value"]), construct_id
    assert alarm(synth, "OldestMessageAge")["Threshold"] == 900
    assert alarm(synth, "DeliveryDeadLetterQueueNotEmpty")["Threshold"] == 1
    assert alarm(synth, "Webhook5xx")["Namespace"] == "AWS/Lambda"


def test_the_bridges_own_metrics_alarm_on_failures_no_invocation_error_shows(synth: Synth) -> None:
    alarms = alarms_by_metric(synth)
    for name in ("Rejected", "OpeningKeyRetired", "Reconcile.Failed", "GraphKeyUnavailable"):
        alarm = alarms[name]
        assert alarm["Namespace"] == "AlertBridge"
        assert alarm["Dimensions"] == [{"Name": "service", "Value": "alertbridge"}]
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    heartbeat = alarms["Reconcile.Run"]
    assert heartbeat["ComparisonOperator"] == "LessThanThreshold" and heartbeat["Threshold"] == 1
    assert heartbeat["TreatMissingData"] == "breaching"  # a reconciler that never runs publishes nothing
    assert heartbeat["Period"] == 3 * 7 * 60  # three of the configured 7-minute schedule periods


def test_health_alarms_notify_the_health_topic_and_page_through_the_bridge(synth: Synth) -> None:
    health = {"Ref": synth.logical_id(synth.stack.bridge.health_topic)}
    bridge = {"Ref": synth.logical_id(synth.stack.bridge.alarm_topic)}
    alarms = synth.of_type("AWS::CloudWatch::Alarm").values()
    assert len(alarms) == 16
    for alarm in alarms:
        for key in ("AlarmActions", "OKActions"):
            assert health in alarm["Properties"][key]
            assert bridge in alarm["Properties"][key]


def test_health_topic_has_the_email_subscription(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "email",
            "Endpoint": "oncall@example.com",
            "TopicArn": {"Ref": synth.logical_id(synth.stack.bridge.health_topic)},
        },
    )


def test_dashboard_shows_queue_functions_and_health(synth: Synth) -> None:
    (dashboard,) = synth.of_type("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for text in (
        "Bridge health",
        "Ingest queue",
        "Delivery queue (FIFO)",
        "Intake function",
        "Delivery function",
        "Webhook URL",
        "Reconciler",
        "Url4xxCount",
    ):
        assert text in body


def test_example_alarms_are_wired_for_alarm_and_ok(synth: Synth) -> None:
    every = synth.examples.to_json()["Resources"]
    alarm_kinds = {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"}
    consumer_kinds = {"AWS::Events::Rule", "AWS::SQS::Queue", "AWS::SQS::QueuePolicy"}  # incident events
    assert {body["Type"] for body in every.values()} == alarm_kinds | consumer_kinds
    resources = {name: body for name, body in every.items() if body["Type"] in alarm_kinds}
    names = set()
    for body in resources.values():
        properties = body["Properties"]
        names.add(properties["AlarmName"])
        assert properties["AlarmActions"] == properties["OKActions"]
        assert len(properties["AlarmActions"]) == 1
        assert "AlarmTopic" in json.dumps(properties["AlarmActions"])
    assert names == {
        "alertbridge-example-metric",
        "alertbridge-example-metric-math",
        "alertbridge-example-composite",
    }
    math = [b for b in resources.values() if "Metrics" in b["Properties"]]
    assert len(math) == 1 and "IF(requests > 0" in json.dumps(math[0]["Properties"]["Metrics"])
