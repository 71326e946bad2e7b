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


def test_health_alarms_cover_the_failure_modes(synth: Synth) -> None:
    alarms = alarms_by_metric(synth)
    assert {
        "ApproximateNumberOfMessagesVisible",
        "Errors",
        "Throttles",
        "ApproximateAgeOfOldestMessage",
        "Url4xxCount",
        "Url5xxCount",
    } <= set(alarms)
    assert alarms["ApproximateAgeOfOldestMessage"]["Threshold"] == 900
    dlq = synth.logical_id(synth.stack.bridge.intake.dead_letter_queue)
    depth = alarms["ApproximateNumberOfMessagesVisible"]
    assert depth["Dimensions"][0]["Value"] == {"Fn::GetAtt": [dlq, "QueueName"]}
    assert depth["Threshold"] == 1
    webhook = synth.logical_id(synth.stack.bridge.webhook.function)
    assert alarms["Url5xxCount"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": webhook}}]
    assert alarms["Url5xxCount"]["Namespace"] == "AWS/Lambda"


def test_the_bridges_own_metrics_alarm_on_failures_no_invocation_error_shows(synth: Synth) -> None:
    alarms = alarms_by_metric(synth)
    for name in ("Rejected", "OpeningKeyRetired", "Reconcile.Failed"):
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
    assert len(alarms) == 11
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
        "Ingest function",
        "Webhook URL",
        "Reconciler",
        "Url4xxCount",
    ):
        assert text in body


def test_example_alarms_are_wired_for_alarm_and_ok(synth: Synth) -> None:
    resources = synth.examples.to_json()["Resources"]
    kinds = {body["Type"] for body in resources.values()}
    assert kinds == {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"}
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
