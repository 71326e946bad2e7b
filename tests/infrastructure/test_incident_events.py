"""The incident event bus: only the webhook function may put on it, its name reaches that function, and
`AlertBridge.on_incident` wires rules (source, detail types, routes) to a Lambda function or SQS queue."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from alertbridge.models.config import BridgeConfig
from infra.construct import AlertBridge
from infra.settings import load_deploy_settings


def bridge_in(stack: Stack, **options: Any) -> AlertBridge:
    settings = load_deploy_settings({"monitoring": {"health_email": "oncall@example.com"}})
    return AlertBridge(stack, "Bridge", config=BridgeConfig(), settings=settings, **options)


@pytest.fixture(scope="module")
def wired() -> tuple[Stack, AlertBridge, dict[str, Any]]:
    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = Stack(app, "Consumer")
    bridge = bridge_in(stack, incident_event_bus_name="platform-incidents")
    queue = sqs.Queue(stack, "Remediation")
    function = lambda_.Function(
        stack, "Responder", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )  # fmt: skip
    bridge.on_incident(
        queue, detail_types=["Incident Resolved", "Incident Acknowledged"], routes=["payments"]
    )
    bridge.on_incident(function)
    return stack, bridge, Template.from_stack(stack).to_json()["Resources"]


def logical_id(stack: Stack, construct: Any) -> str:
    return stack.get_logical_id(construct.node.default_child)


def test_the_bus_is_named_and_only_the_webhook_function_may_put_on_it(wired: Any) -> None:
    stack, bridge, resources = wired
    bus = logical_id(stack, bridge.incident_events.bus)
    assert resources[bus]["Type"] == "AWS::Events::EventBus"
    assert resources[bus]["Properties"]["Name"] == "platform-incidents"
    webhook_role = {"Ref": logical_id(stack, bridge.webhook.handler.role)}
    putters = []
    for body in resources.values():
        if body["Type"] != "AWS::IAM::Policy":
            continue
        for statement in body["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "events:PutEvents" in actions:
                putters.append((body["Properties"]["Roles"], actions, statement["Resource"]))
    assert putters == [([webhook_role], ["events:PutEvents"], {"Fn::GetAtt": [bus, "Arn"]})]
    env = resources[logical_id(stack, bridge.webhook.function)]["Properties"]["Environment"]["Variables"]
    assert env["ALERTBRIDGE_EVENT_BUS_NAME"] == {"Ref": bus}
    for other in (bridge.delivery, bridge.reconciler, bridge.intake_function):
        variables = resources[logical_id(stack, other.function)]["Properties"]["Environment"]["Variables"]
        assert "ALERTBRIDGE_EVENT_BUS_NAME" not in variables


def test_rules_match_source_detail_types_and_routes_and_target_a_queue_or_a_function(wired: Any) -> None:
    stack, bridge, resources = wired
    bus = logical_id(stack, bridge.incident_events.bus)
    rules = [body["Properties"] for body in resources.values() if body["Type"] == "AWS::Events::Rule"]
    on_bus = [rule for rule in rules if rule.get("EventBusName") == {"Ref": bus}]
    assert [rule["EventPattern"] for rule in on_bus] == [
        {
            "source": ["alertbridge"],
            "detail-type": ["Incident Resolved", "Incident Acknowledged"],
            "detail": {"route": ["payments"]},
        },
        {"source": ["alertbridge"]},
    ]
    queue_target, function_target = (rule["Targets"][0]["Arn"] for rule in on_bus)
    assert "Remediation" in json.dumps(queue_target) and "Responder" in json.dumps(function_target)


def test_an_unknown_detail_type_fails_synth() -> None:
    stack = Stack(App(context={"aws:cdk:bundling-stacks": []}), "Consumer")
    bridge = bridge_in(stack)
    with pytest.raises(ValueError, match="unknown incident detail types"):
        bridge.on_incident(sqs.Queue(stack, "Q"), detail_types=["Incident Closed"])


def test_without_a_bus_name_or_a_rule_there_is_no_bus() -> None:
    stack = Stack(App(context={"aws:cdk:bundling-stacks": []}), "Consumer")
    bridge_in(stack)
    resources = Template.from_stack(stack).to_json()["Resources"]
    assert not [body for body in resources.values() if body["Type"] == "AWS::Events::EventBus"]


def test_the_deploy_settings_can_name_the_bus() -> None:
    stack = Stack(App(context={"aws:cdk:bundling-stacks": []}), "Consumer")
    settings = load_deploy_settings(
        {
            "monitoring": {"health_email": "oncall@example.com"},
            "incident_event_bus_name": "platform-incidents",
        }
    )
    AlertBridge(stack, "Bridge", config=BridgeConfig(), settings=settings)
    resources = Template.from_stack(stack).to_json()["Resources"]
    (bus,) = [body for body in resources.values() if body["Type"] == "AWS::Events::EventBus"]
    assert bus["Properties"]["Name"] == "platform-incidents"


def stack_with(settings: dict[str, Any]) -> Any:
    from infra.stack import AlertBridgeStack

    app = App(context={"aws:cdk:bundling-stacks": []})
    deploy = load_deploy_settings({"monitoring": {"health_email": "oncall@example.com"}, **settings})
    return AlertBridgeStack(app, "Bridge", config=BridgeConfig(), settings=deploy)


def test_the_stack_outputs_the_bus_name_when_it_has_the_bus() -> None:
    named = stack_with({"incident_event_bus_name": "platform-incidents"})
    outputs = Template.from_stack(named).to_json()["Outputs"]
    bus = logical_id(named, named.bridge.incident_events.bus)
    assert outputs["IncidentEventBusName"]["Value"] == {"Ref": bus}


def test_a_consumer_wired_after_the_stack_adds_the_bus_and_its_output() -> None:
    stack = stack_with({})
    assert stack.node.try_find_child("IncidentEventBusName") is None
    stack.bridge.on_incident(sqs.Queue(stack, "Remediation"))
    outputs = Template.from_stack(stack).to_json()["Outputs"]
    bus = logical_id(stack, stack.bridge.incident_events.bus)
    assert outputs["IncidentEventBusName"]["Value"] == {"Ref": bus}


def test_the_example_stack_wires_a_small_consumer_in_its_own_stack(synth: Any) -> None:
    """The example alarms' consumer: every incident event into an encrypted queue, with the rule in the
    examples' stack (which depends on the bridge's, never the reverse)."""
    rules = synth.examples.find_resources("AWS::Events::Rule")
    (rule,) = rules.values()
    assert rule["Properties"]["EventPattern"] == {"source": ["alertbridge"]}
    (target,) = rule["Properties"]["Targets"]
    queues = synth.examples.find_resources("AWS::SQS::Queue")
    consumer = next(name for name, q in queues.items() if "RedrivePolicy" in q["Properties"])
    assert target["Arn"] == {"Fn::GetAtt": [consumer, "Arn"]}
    assert all(q["Properties"].get("SqsManagedSseEnabled") for q in queues.values())
    assert "IncidentEventsQueueUrl" in synth.examples.to_json()["Outputs"]
    bridge_rules = synth.template.find_resources("AWS::Events::Rule").values()
    assert not any(r["Properties"].get("EventPattern") == {"source": ["alertbridge"]} for r in bridge_rules)
