"""The built-in recommendations catalogue and its configuration overrides."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alertbridge.logic.recommendations import builtin_catalogue, recommendations_for
from alertbridge.models.alert import AlarmState, Alert, AlertSource, MetricRef
from alertbridge.models.config import BridgeConfig

REQUIRED = [
    "AWS/ApplicationELB/HTTPCode_Target_5XX_Count",
    "AWS/ApplicationELB/HTTPCode_ELB_5XX_Count",
    "AWS/ApplicationELB/TargetResponseTime",
    "AWS/NetworkELB/UnHealthyHostCount",
    "AWS/Lambda/Errors",
    "AWS/Lambda/Throttles",
    "AWS/Lambda/Duration",
    "AWS/SQS/ApproximateAgeOfOldestMessage",
    "AWS/SQS/ApproximateNumberOfMessagesVisible",
    "AWS/DynamoDB/ReadThrottleEvents",
    "AWS/DynamoDB/WriteThrottleEvents",
    "AWS/RDS/CPUUtilization",
    "AWS/RDS/FreeStorageSpace",
    "AWS/RDS/DatabaseConnections",
    "AWS/ECS/CPUUtilization",
    "AWS/ECS/MemoryUtilization",
    "AWS/ApiGateway/5XXError",
    "AWS/ApiGateway/Latency",
    "AWS/EC2/StatusCheckFailed",
    "AWS/EC2/CPUUtilization",
]


def alert(*metrics: MetricRef, **fields: Any) -> Alert:
    return Alert(
        source=AlertSource.CLOUDWATCH_SNS,
        dedup_key="k",
        alarm_name="a",
        state=AlarmState.ALARM,
        state_changed_at=datetime(2025, 1, 1, tzinfo=UTC),
        metrics=metrics,
        **fields,
    )


def test_catalogue_covers_the_common_aws_metrics() -> None:
    catalogue = builtin_catalogue()
    assert len(catalogue) >= 20
    missing = [key for key in REQUIRED if not catalogue.get(key)]
    assert missing == []


def test_lookup_by_namespace_and_metric() -> None:
    tips = recommendations_for(alert(MetricRef(namespace="AWS/Lambda", name="Throttles")), BridgeConfig())
    assert tips == list(builtin_catalogue()["AWS/Lambda/Throttles"])


def test_metric_math_collects_tips_of_every_metric_once() -> None:
    errors = MetricRef(id="m1", namespace="AWS/ApiGateway", name="5XXError")
    count = MetricRef(id="m2", namespace="AWS/ApiGateway", name="Count")
    expression = MetricRef(id="e1", expression="m1/m2")
    tips = recommendations_for(alert(expression, errors, count, errors), BridgeConfig())
    assert tips == list(builtin_catalogue()["AWS/ApiGateway/5XXError"])


def test_config_replaces_and_extends_the_catalogue() -> None:
    config = BridgeConfig(
        recommendations={
            "AWS/Lambda/Errors": ["Ask the orders team"],
            "Custom/Checkout/FailedOrders": ["Check PSP"],
        }
    )
    assert recommendations_for(alert(MetricRef(namespace="AWS/Lambda", name="Errors")), config) == [
        "Ask the orders team"
    ]
    custom = alert(MetricRef(namespace="Custom/Checkout", name="FailedOrders"))
    assert recommendations_for(custom, config) == ["Check PSP"]


def test_alert_recommendations_come_first_and_duplicates_drop() -> None:
    own = (
        "Open the Lambda logs",
        "Open the function's CloudWatch Logs and search for ERROR / Task timed out around the alarm time",
    )
    tips = recommendations_for(
        alert(MetricRef(namespace="AWS/Lambda", name="Errors"), recommendations=own), BridgeConfig()
    )
    assert tips[:2] == list(own)
    assert len(tips) == len(set(tips)) == 4


def test_builtins_can_be_switched_off_and_generic_metrics_use_their_bare_name() -> None:
    config = BridgeConfig(
        builtin_recommendations=False, recommendations={"SupportModeSuccessRate": ["Check MCP"]}
    )
    assert recommendations_for(alert(MetricRef(namespace="AWS/Lambda", name="Errors")), config) == []
    assert recommendations_for(alert(MetricRef(name="SupportModeSuccessRate")), config) == ["Check MCP"]
