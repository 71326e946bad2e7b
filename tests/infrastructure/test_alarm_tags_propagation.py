"""The alarm helper turns on AlarmTagsPropagation, so notifications carry the alarm's tags; the delivery
function may queue contributor resolves on its own lane; the reconciler may list contributors."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import App, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk.assertions import Template

from alertbridge.models.config import BridgeConfig
from infra.construct import AlertBridge
from infra.settings import load_deploy_settings


def test_wire_alarm_propagates_tags_and_the_roles_allow_the_2025_calls() -> None:
    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = Stack(app, "Consumer")
    settings = load_deploy_settings({"monitoring": {"health_email": "oncall@example.com"}})
    bridge = AlertBridge(stack, "Bridge", config=BridgeConfig(), settings=settings)
    alarm = cloudwatch.Metric(namespace="App", metric_name="Errors").create_alarm(
        stack, "Alarm", threshold=1, evaluation_periods=1
    )
    bridge.wire_alarm(alarm)
    resources: dict[str, Any] = Template.from_stack(stack).to_json()["Resources"]
    properties = resources[stack.get_logical_id(alarm.node.default_child)]["Properties"]  # type: ignore[arg-type]
    assert properties["ActionConfiguration"] == {"AlarmTagsPropagation": {"Enabled": True}}
    policies = json.dumps([body for body in resources.values() if body["Type"] == "AWS::IAM::Policy"])
    assert "cloudwatch:DescribeAlarmContributors" in policies
    delivery = bridge.delivery.function.node.default_child
    variables = resources[stack.get_logical_id(delivery)]["Properties"]["Environment"]["Variables"]  # type: ignore[arg-type]
    assert "ALERTBRIDGE_DELIVERY_QUEUE_URL" in variables
