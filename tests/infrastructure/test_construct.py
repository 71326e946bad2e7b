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
from infra.settings import InfraConfigError, load_deploy_settings
from tests.infrastructure.conftest import make_app


def test_construct_in_another_app_wires_alarm_ok_and_insufficient_data() -> None:
    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = Stack(app, "Consumer")
    settings = load_deploy_settings({"monitoring": {"health_email": "oncall@example.com"}})
    bridge = AlertBridge(stack, "Bridge", config=BridgeConfig(), settings=settings)
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
    app = make_app({"alertbridge:settings": {"monitoring": {"health_email": "oncall@example.com"}}}, tmp_path)
    stack = build_app(app)
    sqs.Queue(stack, "PlainQueue", encryption=sqs.QueueEncryption.UNENCRYPTED)  # no TLS policy, no DLQ
    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        app.synth()
    findings = [
        line.strip() for line in str(failure.value).splitlines() if line.startswith("   AlertBridge/")
    ]
    assert findings and all(line.startswith("AlertBridge/PlainQueue/") for line in findings)
    assert "AwsSolutions-SQS4" in str(failure.value)


def test_the_construct_without_settings_says_which_health_destination_to_set() -> None:
    stack = Stack(App(context={"aws:cdk:bundling-stacks": []}), "Consumer")
    with pytest.raises(InfraConfigError, match="destination that does not depend on the bridge"):
        AlertBridge(stack, "Bridge", config=BridgeConfig())


def test_checked_in_cdk_json_waives_out_of_band_health_with_a_visible_warning(
    cdk_json_context: dict[str, Any], tmp_path: Path
) -> None:
    from aws_cdk.assertions import Annotations, Match

    app = make_app(cdk_json_context, tmp_path)
    stack = build_app(app)
    app.synth()
    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp("reach nobody outside the bridge")
    )


def test_grant_publish_includes_the_topic_key() -> None:
    from aws_cdk import aws_iam as iam

    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = Stack(app, "Consumer")
    settings = load_deploy_settings({"monitoring": {"health_email": "oncall@example.com"}})
    bridge = AlertBridge(stack, "Bridge", config=BridgeConfig(), settings=settings)
    role = iam.Role(stack, "Publisher", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    bridge.grant_publish(role)
    template = Template.from_stack(stack).to_json()["Resources"]
    (policy,) = [
        body["Properties"]["PolicyDocument"]["Statement"]
        for body in template.values()
        if body["Type"] == "AWS::IAM::Policy"
        and body["Properties"]["Roles"] == [{"Ref": stack.get_logical_id(role.node.default_child)}]  # type: ignore[arg-type]
    ]
    by_action = {json.dumps(statement["Action"]): statement["Resource"] for statement in policy}
    key = {"Fn::GetAtt": [stack.get_logical_id(bridge.key.node.default_child), "Arn"]}  # type: ignore[arg-type]
    assert by_action['"sns:Publish"'] == {"Ref": stack.get_logical_id(bridge.alarm_topic.node.default_child)}  # type: ignore[arg-type]
    assert by_action['["kms:Decrypt", "kms:GenerateDataKey*"]'] == key


def test_an_alarm_paging_through_the_bridge_without_ok_is_named_in_a_warning() -> None:
    from aws_cdk.assertions import Annotations, Match

    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = Stack(app, "Consumer")
    settings = load_deploy_settings({"monitoring": {"health_email": "oncall@example.com"}})
    bridge = AlertBridge(stack, "Bridge", config=BridgeConfig(), settings=settings)
    apps = Stack(app, "Apps")
    metric = cloudwatch.Metric(namespace="App", metric_name="Errors")
    from aws_cdk import aws_cloudwatch_actions as actions

    half = metric.create_alarm(apps, "HalfWired", threshold=1, evaluation_periods=1)
    half.add_alarm_action(actions.SnsAction(bridge.alarm_topic))
    bridge.wire_alarm(metric.create_alarm(apps, "Wired", threshold=1, evaluation_periods=1))
    bridge.check_ok_actions(apps)
    app.synth()
    warnings = Annotations.from_stack(apps).find_warning("*", Match.string_like_regexp("no OK action"))
    assert [w.id for w in warnings] == ["/Apps/HalfWired/Resource"]
    assert "Apps/HalfWired" in str(warnings[0].entry.data)
