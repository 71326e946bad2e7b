"""Every resource and property the bridge promises, asserted on the synthesized template."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from alertbridge.models import table as layout
from alertbridge.models.config import BridgeConfig
from alertbridge.models.settings import DEPLOYED_CONFIG_FILE, ENV_FIELDS, config_digest
from infra.stack import OPTIONAL_OUTPUT_KEYS, OUTPUT_KEYS
from tests.infrastructure.conftest import CROSS_ACCOUNT_TOPIC, SAME_ACCOUNT_TOPIC, Synth

HANDLERS = {
    "alertbridge.handlers.intake.lambda_handler",
    "alertbridge.handlers.delivery.lambda_handler",
    "alertbridge.handlers.webhook.lambda_handler",
    "alertbridge.handlers.reconcile.lambda_handler",
}


def function(synth: Synth, handler_suffix: str) -> dict[str, Any]:
    (body,) = [
        body["Properties"]
        for body in synth.of_type("AWS::Lambda::Function").values()
        if body["Properties"]["Handler"].endswith(f"{handler_suffix}.lambda_handler")
    ]
    return body  # type: ignore[no-any-return]


def test_kms_key_rotates_and_lets_cloudwatch_use_it(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                                "Effect": "Allow",
                            }
                        )
                    ]
                )
            },
        },
    )


def test_both_topics_are_encrypted_with_the_bridge_key(synth: Synth) -> None:
    key = synth.logical_id(synth.stack.bridge.key)
    topics = synth.of_type("AWS::SNS::Topic")
    assert len(topics) == 2
    for topic in topics.values():
        assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}


def test_topic_policies_let_cloudwatch_publish_and_require_tls(synth: Synth) -> None:
    policies = synth.of_type("AWS::SNS::TopicPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        tls = [s for s in statements if s["Effect"] == "Deny"]
        assert tls and tls[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        (publish,) = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
        assert publish["Action"] == "sns:Publish"
        assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        assert "alarm:*" in json.dumps(publish["Condition"]["ArnLike"])


def test_ingest_queue_encrypted_tls_only_with_bounded_redrive_and_matched_visibility(synth: Synth) -> None:
    queue = synth.resources[synth.logical_id(synth.stack.bridge.intake.queue)]["Properties"]
    dlq = synth.logical_id(synth.stack.bridge.intake.dead_letter_queue)
    assert queue["SqsManagedSseEnabled"] is True
    # 6 x the 45 s function timeout + the 5 s batching window.
    assert queue["VisibilityTimeout"] == 6 * 45 + 5
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
        "maxReceiveCount": 4,
    }
    assert synth.resources[dlq]["Properties"]["SqsManagedSseEnabled"] is True
    for policy in synth.of_type("AWS::SQS::QueuePolicy").values():
        (deny,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_alarm_topic_and_configured_topics_subscribe_the_queue(synth: Synth) -> None:
    queue = synth.logical_id(synth.stack.bridge.intake.queue)
    topic = synth.logical_id(synth.stack.bridge.alarm_topic)
    subscriptions = {
        json.dumps(body["Properties"]["TopicArn"]): body["Properties"]
        for body in synth.of_type("AWS::SNS::Subscription").values()
        if body["Properties"]["Protocol"] == "sqs"
    }
    assert set(subscriptions) == {
        json.dumps({"Ref": topic}),
        f'"{CROSS_ACCOUNT_TOPIC}"',
        f'"{SAME_ACCOUNT_TOPIC}"',
    }
    for subscription in subscriptions.values():
        assert subscription["Protocol"] == "sqs"
        assert subscription["Endpoint"] == {"Fn::GetAtt": [queue, "Arn"]}
        assert subscription.get("RawMessageDelivery") in (None, False)
    # The cross-region topic's subscription is created in the topic's region.
    assert subscriptions[f'"{CROSS_ACCOUNT_TOPIC}"']["Region"] == "eu-west-1"
    senders = [
        s
        for policy in synth.of_type("AWS::SQS::QueuePolicy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "sns.amazonaws.com"}
    ]
    assert {json.dumps(s["Condition"]["ArnEquals"]["aws:SourceArn"]) for s in senders} == set(subscriptions)


def test_eventbridge_rules_feed_the_queue_with_name_filters(synth: Synth) -> None:
    rules = {
        body["Properties"]["EventPattern"]["detail-type"][0]: body["Properties"]
        for body in synth.of_type("AWS::Events::Rule").values()
        if "EventPattern" in body["Properties"]
    }
    assert set(rules) == {"CloudWatch Alarm State Change", "CloudWatch Alarm Configuration Change"}
    queue = synth.logical_id(synth.stack.bridge.intake.queue)
    prefixes = [{"prefix": "prod-"}, {"prefix": "payments-"}]
    for rule in rules.values():
        assert rule["EventPattern"]["source"] == ["aws.cloudwatch"]
        assert rule["EventPattern"]["detail"]["alarmName"] == prefixes
        assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert rules["CloudWatch Alarm Configuration Change"]["EventPattern"]["detail"]["operation"] == ["delete"]


def test_state_table_layout_comes_from_the_shared_module(synth: Synth) -> None:
    synth.template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": [{"AttributeName": layout.PARTITION_KEY, "KeyType": "HASH"}],
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "TimeToLiveSpecification": {"AttributeName": layout.TTL_ATTRIBUTE, "Enabled": True},
                "GlobalSecondaryIndexes": [
                    Match.object_like(
                        {
                            "IndexName": layout.INDEX_NAME,
                            "KeySchema": [
                                {"AttributeName": layout.INDEX_PARTITION_KEY, "KeyType": "HASH"},
                                {"AttributeName": layout.INDEX_SORT_KEY, "KeyType": "RANGE"},
                            ],
                        }
                    )
                ],
            },
        },
    )


def test_secrets_have_no_value_in_the_template_and_generated_names(synth: Synth) -> None:
    secrets = synth.of_type("AWS::SecretsManager::Secret")
    assert len(secrets) == 3  # routing keys, webhook, graph key
    # A fixed name would collide with the secret a deleted stack retained: the next deploy would fail.
    assert all("Name" not in body["Properties"] for body in secrets.values())
    key = synth.logical_id(synth.stack.bridge.key)
    graph_key = synth.logical_id(synth.stack.bridge.graph.secret)
    for logical_id, body in secrets.items():
        assert "SecretString" not in body["Properties"]
        # Only the graph key is generated by Secrets Manager (no value in the template either way).
        assert ("GenerateSecretString" in body["Properties"]) == (logical_id == graph_key)
        assert body["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
        assert body["DeletionPolicy"] == "Retain"


def test_functions_share_runtime_architecture_tracing_layer_and_one_asset(synth: Synth) -> None:
    functions = [body["Properties"] for body in synth.of_type("AWS::Lambda::Function").values()]
    assert {f["Handler"] for f in functions} == HANDLERS
    layer_parameter = next(iter(synth.template.to_json()["Parameters"]))
    assert synth.template.to_json()["Parameters"][layer_parameter]["Default"] == (
        "/aws/service/powertools/python/arm64/python3.13/3.37.0"
    )
    for f in functions:
        assert f["Runtime"] == "python3.13"
        assert f["Architectures"] == ["arm64"]
        assert f["TracingConfig"] == {"Mode": "Active"}
        assert f["Layers"] == [{"Ref": layer_parameter}]
        assert f["LoggingConfig"]["LogGroup"]["Ref"] in synth.of_type("AWS::Logs::LogGroup")
    assert len({json.dumps(f["Code"]) for f in functions}) == 1


def test_log_groups_have_the_configured_retention(synth: Synth) -> None:
    groups = synth.of_type("AWS::Logs::LogGroup")
    assert len(groups) == 4
    assert {body["Properties"]["RetentionInDays"] for body in groups.values()} == {90}


def test_environment_matches_the_settings_contract(synth: Synth) -> None:
    for f in (function(synth, name) for name in ("intake", "delivery", "webhook", "reconcile")):
        variables = f["Environment"]["Variables"]
        assert set(variables) - {
            "POWERTOOLS_SERVICE_NAME",
            "POWERTOOLS_METRICS_NAMESPACE",
            "POWERTOOLS_LOG_LEVEL",
        } <= set(ENV_FIELDS)
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "AlertBridge"
        assert variables["POWERTOOLS_SERVICE_NAME"] == "alertbridge"
        assert variables["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
        assert variables["ALERTBRIDGE_EVENTS_URL"] == "https://events.eu.pagerduty.com"
        assert variables["ALERTBRIDGE_TABLE_NAME"] == {
            "Ref": synth.logical_id(synth.stack.bridge.state.table)
        }
        # The configuration travels in the asset; the environment names the file and its digest.
        assert "ALERTBRIDGE_CONFIG" not in variables
        assert variables["ALERTBRIDGE_CONFIG_FILE"] == DEPLOYED_CONFIG_FILE
        example = BridgeConfig.model_validate(BridgeConfig.example())
        assert variables["ALERTBRIDGE_CONFIG_SHA256"] == config_digest(example.to_json_text())


def test_each_function_is_told_only_its_own_secrets(synth: Synth) -> None:
    routing = {"Ref": synth.logical_id(synth.stack.bridge.secrets.routing_keys)}
    webhook = {"Ref": synth.logical_id(synth.stack.bridge.secrets.webhook)}
    lane = {"Ref": synth.logical_id(synth.stack.bridge.lane.queue)}
    intake = function(synth, "intake")["Environment"]["Variables"]
    delivery = function(synth, "delivery")["Environment"]["Variables"]
    hook = function(synth, "webhook")["Environment"]["Variables"]
    reconcile = function(synth, "reconcile")["Environment"]["Variables"]
    assert intake["ALERTBRIDGE_DELIVERY_QUEUE_URL"] == lane
    assert not {"ALERTBRIDGE_ROUTING_KEYS_SECRET", "ALERTBRIDGE_WEBHOOK_SECRET"} & set(intake)
    assert delivery["ALERTBRIDGE_ROUTING_KEYS_SECRET"] == routing
    assert delivery["ALERTBRIDGE_WEBHOOK_SECRET"] == webhook  # its REST token writes resolve notes
    assert hook["ALERTBRIDGE_WEBHOOK_SECRET"] == webhook and "ALERTBRIDGE_ROUTING_KEYS_SECRET" not in hook
    assert hook["ALERTBRIDGE_ALLOW_UNSIGNED_WEBHOOKS"] == "false"
    assert "ALERTBRIDGE_ROUTING_KEYS_SECRET" not in reconcile  # it never sends to PagerDuty itself
    assert reconcile["ALERTBRIDGE_WEBHOOK_SECRET"] == webhook
    assert reconcile["ALERTBRIDGE_DELIVERY_QUEUE_URL"] == lane


def test_ingest_event_source_uses_partial_batches_and_configured_sizes(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [synth.logical_id(synth.stack.bridge.intake.queue), "Arn"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 25,
            "MaximumBatchingWindowInSeconds": 5,
            "ScalingConfig": {"MaximumConcurrency": 7},
        },
    )
    intake = function(synth, "intake")
    assert (intake["Timeout"], intake["MemorySize"]) == (45, 512)


def test_the_delivery_lane_is_fifo_per_key_with_a_fifo_dlq_and_partial_batches(synth: Synth) -> None:
    lane = synth.stack.bridge.lane
    queue = synth.resources[synth.logical_id(lane.queue)]["Properties"]
    dlq = synth.logical_id(lane.dead_letter_queue)
    assert queue["FifoQueue"] is True and synth.resources[dlq]["Properties"]["FifoQueue"] is True
    assert (queue["DeduplicationScope"], queue["FifoThroughputLimit"]) == (
        "messageGroup",
        "perMessageGroupId",
    )
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["VisibilityTimeout"] == 6 * 60
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
        "maxReceiveCount": 10,
    }
    synth.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [synth.logical_id(lane.queue), "Arn"]},
            "FunctionName": {"Ref": synth.logical_id(synth.stack.bridge.delivery.function)},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 10,
        },
    )


def test_webhook_has_a_public_function_url_and_reserved_concurrency(synth: Synth) -> None:
    webhook = synth.logical_id(synth.stack.bridge.webhook.function)
    synth.template.has_resource_properties(
        "AWS::Lambda::Url", {"AuthType": "NONE", "TargetFunctionArn": {"Fn::GetAtt": [webhook, "Arn"]}}
    )
    assert function(synth, "webhook")["ReservedConcurrentExecutions"] == 20
    assert function(synth, "webhook")["Timeout"] == 8


def test_reconciler_runs_on_the_configured_schedule(synth: Synth) -> None:
    reconciler = synth.logical_id(synth.stack.bridge.reconciler.function)
    synth.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(7 minutes)",
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [reconciler, "Arn"]}})],
        },
    )
    synth.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Principal": "events.amazonaws.com", "FunctionName": {"Fn::GetAtt": [reconciler, "Arn"]}},
    )


def test_outputs_name_everything_the_operator_cli_needs(synth: Synth) -> None:
    outputs = synth.template.to_json()["Outputs"]
    assert set(OUTPUT_KEYS) - OPTIONAL_OUTPUT_KEYS <= set(outputs)
    assert "IncidentEventBusName" in outputs  # the example alarms' incident consumer made the bus
    assert outputs["WebhookUrl"]["Value"]["Fn::GetAtt"][1] == "FunctionUrl"
    assert outputs["QueueUrl"]["Value"] == {"Ref": synth.logical_id(synth.stack.bridge.intake.queue)}


def test_what_a_deleted_stack_leaves_behind_is_retained_on_purpose(synth: Synth) -> None:
    (key,) = synth.of_type("AWS::KMS::Key").values()
    (table,) = synth.of_type("AWS::DynamoDB::Table").values()
    assert key["DeletionPolicy"] == "Retain"  # the retained secrets are encrypted with it
    assert table["DeletionPolicy"] == "Retain" and "TableName" not in table["Properties"]
