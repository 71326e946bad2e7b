"""Least privilege: each function's role may touch only its own queue, table and secrets."""

from __future__ import annotations

import json
from typing import Any

from tests.infrastructure.conftest import Synth

LOGS_AND_TRACES = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}


def statements(synth: Synth, function: Any) -> list[dict[str, Any]]:
    role = synth.logical_id(function.handler.role)
    (policy,) = [
        body["Properties"]["PolicyDocument"]["Statement"]
        for body in synth.of_type("AWS::IAM::Policy").values()
        if body["Properties"]["Roles"] == [{"Ref": role}]
    ]
    return policy  # type: ignore[no-any-return]


def actions(statement: dict[str, Any]) -> set[str]:
    value = statement["Action"]
    return {value} if isinstance(value, str) else set(value)


def resources_by_service(synth: Synth, function: Any) -> dict[str, set[str]]:
    """service prefix -> the resources (as JSON) any of its actions is allowed on."""
    found: dict[str, set[str]] = {}
    for statement in statements(synth, function):
        assert statement["Effect"] == "Allow"
        raw = statement["Resource"]
        targets = {json.dumps(r) for r in (raw if isinstance(raw, list) else [raw])}
        for action in actions(statement):
            found.setdefault(action.split(":")[0], set()).update(targets)
    return found


def ids(synth: Synth) -> dict[str, str]:
    bridge = synth.stack.bridge
    return {
        "table": synth.logical_id(bridge.state.table),
        "queue": synth.logical_id(bridge.intake.queue),
        "delivery_queue": synth.logical_id(bridge.lane.queue),
        "routing": synth.logical_id(bridge.secrets.routing_keys),
        "webhook": synth.logical_id(bridge.secrets.webhook),
        "graph": synth.logical_id(bridge.graph.secret),
    }


def test_no_role_has_service_wide_actions_or_managed_policies(synth: Synth) -> None:
    for role in synth.of_type("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
    for policy in synth.of_type("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert not any(action.endswith(":*") or action == "*" for action in actions(statement))


def test_wildcard_resources_only_for_xray_and_describe_alarms(synth: Synth) -> None:
    for policy in synth.of_type("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Resource"] == "*":
                assert actions(statement) <= {
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:GetMetricWidgetImage",  # graph images: the rendering function only
                }


def sqs_actions_on(synth: Synth, function: Any, queue_id: str) -> set[str]:
    return {
        a
        for s in statements(synth, function)
        if queue_id in json.dumps(s["Resource"])
        for a in actions(s)
        if a.startswith("sqs:")
    }


def test_intake_consumes_the_ingest_queue_and_only_sends_to_the_delivery_queue(synth: Synth) -> None:
    i = ids(synth)
    intake = synth.stack.bridge.intake_function
    services = resources_by_service(synth, intake)
    assert set(services) == {"logs", "xray", "sqs"}  # no table, no secrets, no PagerDuty key
    assert services["sqs"] == {
        json.dumps({"Fn::GetAtt": [i["queue"], "Arn"]}),
        json.dumps({"Fn::GetAtt": [i["delivery_queue"], "Arn"]}),
    }
    assert "sqs:SendMessage" not in sqs_actions_on(synth, intake, i["queue"])
    assert sqs_actions_on(synth, intake, i["delivery_queue"]) == {
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }


def test_delivery_consumes_its_queue_uses_exact_table_actions_and_reads_its_two_secrets(synth: Synth) -> None:
    i = ids(synth)
    delivery = synth.stack.bridge.delivery
    services = resources_by_service(synth, delivery)
    assert set(services) == {"logs", "xray", "sqs", "dynamodb", "secretsmanager", "cloudwatch"}
    assert services["sqs"] == {json.dumps({"Fn::GetAtt": [i["delivery_queue"], "Arn"]})}
    assert services["secretsmanager"] == {
        json.dumps({"Ref": i["routing"]}),
        json.dumps({"Ref": i["webhook"]}),
        json.dumps({"Ref": i["graph"]}),  # signs graph image tokens
    }
    assert all(i["table"] in resource for resource in services["dynamodb"])
    table = {a for s in statements(synth, delivery) for a in actions(s) if a.startswith("dynamodb:")}
    assert table == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}
    # An alarm-level OK of a multi-time-series alarm queues one observation per open contributor key on
    # the lane itself (each decided in its own key's group); no other queue.
    assert "sqs:SendMessage" in sqs_actions_on(synth, delivery, i["delivery_queue"])


def test_with_tag_rules_delivery_may_read_only_the_tags_of_this_accounts_alarms_here(synth: Synth) -> None:
    assert synth.stack.bridge.config.matches_tags  # the example configuration routes on a tag
    (statement,) = [
        s
        for s in statements(synth, synth.stack.bridge.delivery)
        if any("cloudwatch" in a for a in actions(s))
    ]
    assert actions(statement) == {"cloudwatch:ListTagsForResource"}
    arn = json.dumps(statement["Resource"])
    assert all(part in arn for part in ('":cloudwatch:"', "AWS::Region", "AWS::AccountId", ':alarm:*"'))


def test_webhook_cannot_read_routing_keys_or_touch_the_queue(synth: Synth) -> None:
    i = ids(synth)
    services = resources_by_service(synth, synth.stack.bridge.webhook)
    # + graph images, and incident events (the example alarms' consumer made the bus)
    assert set(services) == {"logs", "xray", "dynamodb", "secretsmanager", "cloudwatch", "events"}
    assert services["secretsmanager"] == {json.dumps({"Ref": i["webhook"]}), json.dumps({"Ref": i["graph"]})}
    assert all(i["table"] in resource for resource in services["dynamodb"])
    webhook = synth.stack.bridge.webhook
    put = {a for s in statements(synth, webhook) for a in actions(s) if a.startswith("events:")}
    assert put == {"events:PutEvents"}
    (bus,) = synth.template.find_resources("AWS::Events::EventBus")
    assert services["events"] == {json.dumps({"Fn::GetAtt": [bus, "Arn"]})}


def test_reconciler_reads_the_table_sends_only_to_the_lane_and_may_describe_alarms(synth: Synth) -> None:
    i = ids(synth)
    reconciler = synth.stack.bridge.reconciler
    services = resources_by_service(synth, reconciler)
    assert set(services) == {"logs", "xray", "dynamodb", "secretsmanager", "sqs", "cloudwatch"}
    # Never the routing keys: it cannot send to PagerDuty's Events API, only hand observations over.
    assert services["secretsmanager"] == {json.dumps({"Ref": i["webhook"]})}
    assert services["sqs"] == {json.dumps({"Fn::GetAtt": [i["delivery_queue"], "Arn"]})}
    table = {a for s in statements(synth, reconciler) for a in actions(s) if a.startswith("dynamodb:")}
    assert table == {"dynamodb:GetItem", "dynamodb:Query"}
    cloudwatch = {
        a for s in statements(synth, synth.stack.bridge.reconciler) for a in actions(s) if "cloudwatch" in a
    }
    # DescribeAlarmContributors (on this account's alarms here) closes contributors whose OK was lost.
    assert cloudwatch == {"cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmContributors"}


def test_secret_reads_never_include_writes(synth: Synth) -> None:
    bridge = synth.stack.bridge
    for function in (bridge.delivery, bridge.webhook, bridge.reconciler):
        granted = {
            a for s in statements(synth, function) for a in actions(s) if a.startswith("secretsmanager:")
        }
        assert granted == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}


def test_key_decrypt_is_only_through_secrets_manager_for_the_function_roles(synth: Synth) -> None:
    (key,) = synth.of_type("AWS::KMS::Key").values()
    bridge = synth.stack.bridge
    functions = (bridge.intake_function, bridge.delivery, bridge.webhook, bridge.reconciler)
    roles = {synth.logical_id(f.handler.role) for f in functions}
    for statement in key["Properties"]["KeyPolicy"]["Statement"]:
        principal = json.dumps(statement["Principal"])
        if any(role in principal for role in roles):
            assert actions(statement) == {"kms:Decrypt"}
            assert "secretsmanager." in json.dumps(statement["Condition"]["StringEquals"]["kms:ViaService"])


# --- measured least privilege ------------------------------------------------------------------------------


def table_actions(synth: Synth, function: Any) -> set[str]:
    return {a for s in statements(synth, function) for a in actions(s) if a.startswith("dynamodb:")}


def test_every_function_has_exactly_the_table_actions_its_adapters_call(synth: Synth) -> None:
    bridge = synth.stack.bridge
    assert table_actions(synth, bridge.delivery) == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}
    # DynamoStateStore, DynamoWebhookDeliveries and DynamoIncidentLinks: get, conditional put, query.
    assert table_actions(synth, bridge.webhook) == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}
    assert table_actions(synth, bridge.reconciler) == {"dynamodb:GetItem", "dynamodb:Query"}
    assert table_actions(synth, bridge.intake_function) == set()


def test_describe_alarms_is_scoped_to_this_accounts_alarms_in_this_region(synth: Synth) -> None:
    (statement,) = [
        s
        for s in statements(synth, synth.stack.bridge.reconciler)
        if "cloudwatch:DescribeAlarms" in actions(s)
    ]
    arn = json.dumps(statement["Resource"])
    assert all(part in arn for part in ('":cloudwatch:"', "AWS::Region", "AWS::AccountId", ':alarm:*"'))


def test_only_xray_and_the_graph_render_keep_a_wildcard_resource(synth: Synth) -> None:
    # cloudwatch:GetMetricWidgetImage takes no resource ARN; only the webhook function (the graph route) has it.
    allowed = {
        synth.stack.bridge.reconciler: {"xray:PutTraceSegments", "xray:PutTelemetryRecords"},
        synth.stack.bridge.webhook: {
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "cloudwatch:GetMetricWidgetImage",
        },
    }
    for function, wildcard_actions in allowed.items():
        for statement in statements(synth, function):
            if statement["Resource"] == "*":
                assert actions(statement) <= wildcard_actions


def test_cloudwatch_may_use_the_key_only_for_alarms_of_this_account_and_region(synth: Synth) -> None:
    (key,) = synth.of_type("AWS::KMS::Key").values()
    (statement,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid", "").startswith("AllowCloudWatch")
    ]
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source = json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert all(part in source for part in (":cloudwatch:", "AWS::Region", "AWS::AccountId", ":alarm:*"))


def test_webhook_runs_on_reserved_concurrency_by_default(synth: Synth) -> None:
    from infra.settings import WebhookSettings

    assert WebhookSettings().reserved_concurrency == 10
    webhook = synth.stack.bridge.webhook.function
    resource = synth.resources[synth.logical_id(webhook)]["Properties"]
    assert resource["ReservedConcurrentExecutions"] == 20  # the full settings ask for 20
