"""The reusable construct, the checked-in cdk.json, and cdk-nag actually guarding synth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from alertbridge.models.config import BridgeConfig
from infra.app import build_app
from infra.construct import AlertBridge
from tests.infrastructure.conftest import make_app


def test_construct_in_another_app_wires_alarm_ok_and_insufficient_data() -> None:
    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = Stack(app, "Consumer")
    bridge = AlertBridge(stack, "Bridge", config=BridgeConfig())
    metric = cloudwatch.Metric(namespace="App", metric_name="Errors")
    alarm = metric.create_alarm(stack, "Alarm", threshold=1, evaluation_periods=1)
    bridge.wire_alarm(alarm, insufficient_data=True)
    plain = metric.create_alarm(stack, "Plain", threshold=1, evaluation_periods=1)
    bridge.wire_alarm(plain)
    template = Template.from_stack(stack).to_json()["Resources"]

    def logical_id(construct: Any) -> str:
        return stack.get_logical_id(construct.node.default_child)

    topic = {"Ref": logical_id(bridge.alarm_topic)}
    wired = template[logical_id(alarm)]["Properties"]
    assert wired["AlarmActions"] == wired["OKActions"] == wired["InsufficientDataActions"] == [topic]
    assert "InsufficientDataActions" not in template[logical_id(plain)]["Properties"]
    # No tag-matching rule in this configuration: the delivery role is not allowed to read alarm tags.
    ingest_role = logical_id(bridge.delivery.handler.role)
    (policy,) = [
        body["Properties"]["PolicyDocument"]
        for body in template.values()
        if body["Type"] == "AWS::IAM::Policy" and body["Properties"]["Roles"] == [{"Ref": ingest_role}]
    ]
    assert "cloudwatch:" not in json.dumps(policy)


def test_checked_in_cdk_json_synthesizes_clean(cdk_json_context: dict[str, Any], tmp_path: Path) -> None:
    app = make_app(cdk_json_context, tmp_path)
    stack = build_app(app)
    assembly = app.synth()
    assert [s.stack_name for s in assembly.stacks] == [stack.stack_name]  # example alarms are off by default
    resources = assembly.get_stack_by_name(stack.stack_name).template["Resources"]
    rules = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule" and "EventPattern" in r["Properties"]
    ]
    assert [r["Properties"]["EventPattern"]["detail-type"] for r in rules] == [
        ["CloudWatch Alarm Configuration Change"]
    ]


def test_cdk_nag_fails_synth_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    app = make_app({}, tmp_path)
    stack = build_app(app)
    sqs.Queue(stack, "PlainQueue", encryption=sqs.QueueEncryption.UNENCRYPTED)  # no TLS policy, no DLQ
    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        app.synth()
    findings = [
        line.strip() for line in str(failure.value).splitlines() if line.startswith("   AlertBridge/")
    ]
    assert findings and all(line.startswith("AlertBridge/PlainQueue/") for line in findings)
    assert "AwsSolutions-SQS4" in str(failure.value)
