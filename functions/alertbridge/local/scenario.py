"""The demo's built-in scenario: notifications shaped exactly as CloudWatch and applications send them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

ACCOUNT = "123456789012"
REGION = "us-east-1"
REGION_DISPLAY = "US East (N. Virginia)"
STATE_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def cloudwatch_time(at: datetime) -> str:
    """CloudWatch's own format: `2024-01-01T00:00:00.000+0000`."""
    return at.strftime(STATE_TIME_FORMAT)[:-3] + "+0000"


def alarm_arn(name: str, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: dict[str, str] = field(default_factory=dict)
    threshold: float = 1.0
    statistic: str = "SUM"
    comparison: str = "GreaterThanThreshold"


def metric_alarm_message(name: str, state: str, old: str, at: datetime, metric: Metric, reason: str) -> str:
    return json.dumps(
        {
            "AlarmName": name,
            "AlarmDescription": None,
            "AWSAccountId": ACCOUNT,
            "AlarmConfigurationUpdatedTimestamp": cloudwatch_time(at - timedelta(days=3)),
            "NewStateValue": state,
            "NewStateReason": reason,
            "StateChangeTime": cloudwatch_time(at),
            "Region": REGION_DISPLAY,
            "AlarmArn": alarm_arn(name),
            "OldStateValue": old,
            "OKActions": [],
            "AlarmActions": [],
            "InsufficientDataActions": [],
            "Trigger": {
                "MetricName": metric.name,
                "Namespace": metric.namespace,
                "StatisticType": "Statistic",
                "Statistic": metric.statistic,
                "Unit": None,
                "Dimensions": [{"value": v, "name": k} for k, v in metric.dimensions.items()],
                "Period": 60,
                "EvaluationPeriods": 1,
                "DatapointsToAlarm": 1,
                "ComparisonOperator": metric.comparison,
                "Threshold": metric.threshold,
                "TreatMissingData": "missing",
                "EvaluateLowSampleCountPercentile": "",
            },
        }
    )


def composite_alarm_message(
    name: str, state: str, old: str, at: datetime, children: list[str], rule: str
) -> str:
    return json.dumps(
        {
            "AlarmName": name,
            "AlarmDescription": "Checkout is degraded: errors and latency together",
            "AWSAccountId": ACCOUNT,
            "NewStateValue": state,
            "NewStateReason": f"{alarm_arn(children[0])} transitioned to {state} at {cloudwatch_time(at)}",
            "StateChangeTime": cloudwatch_time(at),
            "Region": REGION_DISPLAY,
            "AlarmArn": alarm_arn(name),
            "OldStateValue": old,
            "AlarmRule": rule,
            "TriggeringChildren": [
                {"Arn": alarm_arn(child), "State": {"Value": state, "Timestamp": cloudwatch_time(at)}}
                for child in children
            ],
        }
    )


def generic_alert_message(dedup_id: str, at: datetime, *, resolved: bool = False) -> str:
    """Seed 002's AlertMessage, with seed 003's idempotency id."""
    return json.dumps(
        {
            "severity": "CRITICAL",
            "alarmName": "production-hybrid-routing-high-failure-rate",
            "metricName": "SupportModeSuccessRate",
            "threshold": 95,
            "currentValue": 85,
            "timestamp": at.isoformat(),
            "environment": "production",
            "description": "Success rate has fallen below 95%",
            "recommendations": ["Check system health", "Review logs"],
            "dedupId": dedup_id,
            "state": "OK" if resolved else "ALARM",
        }
    )


@dataclass(frozen=True)
class Step:
    label: str
    message: str
    subject: str | None = None
    final_for: str | None = None  # alarm id this step decides the final state of (the newest transition)
    expect_open: bool | None = None
    expect_route: str | None = None  # the route whose service must hold the incident
    alarm_tags: dict[str, str] | None = None  # created as a CloudWatch alarm with these tags first


@dataclass(frozen=True)
class Phase:
    title: str
    steps: list[Step]


def builtin_scenario(start: datetime, *, burst: int = 20) -> list[Phase]:
    """ALARM, a duplicate, OK; an OK before its ALARM; a composite; a tag-routed alarm; a seed-002 alert;
    plain text; a storm.

    The queue is drained between phases, so "the OK arrives first" really arrives first.
    """
    t = start
    lam = Metric("AWS/Lambda", "Errors", {"FunctionName": "checkout"}, threshold=5)
    alb = Metric(
        "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", {"LoadBalancer": "app/web/50dc6c495c0c9188"}
    )
    sqs = Metric(
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        {"QueueName": "orders"},
        threshold=300,
        statistic="MAXIMUM",
    )
    errors = "Threshold Crossed: 1 out of the last 1 datapoints [12.0] was greater than the threshold (5.0)."
    ok = "Threshold Crossed: 1 out of the last 1 datapoints [0.0] was not greater than the threshold (5.0)."
    alarm = metric_alarm_message("payments-checkout-errors", "ALARM", "OK", t, lam, errors)
    cleared = metric_alarm_message(
        "payments-checkout-errors", "OK", "ALARM", t + timedelta(minutes=5), lam, ok
    )
    web_ok = metric_alarm_message("web-5xx", "OK", "ALARM", t + timedelta(minutes=3), alb, ok)
    web_alarm = metric_alarm_message("web-5xx", "ALARM", "OK", t + timedelta(minutes=1), alb, errors)
    queue = metric_alarm_message("prod-orders-queue-age", "ALARM", "OK", t, sqs, errors)
    composite = composite_alarm_message(
        "checkout-degraded",
        "ALARM",
        "OK",
        t + timedelta(minutes=2),
        ["payments-checkout-errors", "web-5xx"],
        'ALARM("payments-checkout-errors") AND ALARM("web-5xx")',
    )
    text = "Disk almost full on build-agent-3\nOnly 2% left on /var."
    ledger = Metric("AWS/DMS", "CDCLatencySource", {"ReplicationTaskIdentifier": "ledger"}, threshold=60)
    tagged = metric_alarm_message("ledger-replication-lag", "ALARM", "OK", t, ledger, errors)
    return [
        Phase(
            "an alarm fires, and SNS delivers it twice at once (the delivery queue keeps one copy)",
            [Step("metric alarm fires", alarm), Step("the same notification at once", alarm)],
        ),
        Phase(
            "SNS delivers it a third time, after the first was handled",
            [Step("the same notification again", alarm)],
        ),
        Phase(
            "it clears; another alarm's OK arrives before its ALARM",
            [
                Step("it clears", cleared, final_for="payments-checkout-errors", expect_open=False),
                Step("an OK arrives first", web_ok, final_for="web-5xx", expect_open=False),
            ],
        ),
        Phase(
            "the late ALARM, a queue alarm, a composite, an app alert, plain text",
            [
                Step("...then its older ALARM", web_alarm),
                Step("a queue is backing up", queue, final_for="prod-orders-queue-age", expect_open=True),
                Step("a composite alarm", composite, final_for="checkout-degraded", expect_open=True),
                Step(
                    "an alarm tagged team=payments (a tag rule routes it)",
                    tagged,
                    final_for="ledger-replication-lag",
                    expect_open=True,
                    expect_route="payments",
                    alarm_tags={"team": "payments"},
                ),
                Step(
                    "an application alert (seed 002)",
                    generic_alert_message("hybrid-routing-failure-rate", t),
                    final_for="hybrid-routing-failure-rate",
                    expect_open=True,
                ),
                Step(
                    "a plain-text message",
                    text,
                    subject="Build agent disk space",
                    final_for="plain",
                    expect_open=True,
                ),
            ],
        ),
        Phase(f"an alarm storm: {burst} alarms at once (PagerDuty answers 429)", _storm(t, burst, fire=True)),
        Phase("the storm clears", _storm(t, burst, fire=False)),
    ]


def _storm(at: datetime, count: int, *, fire: bool) -> list[Step]:
    cpu = Metric("AWS/ECS", "CPUUtilization", {"ClusterName": "prod", "ServiceName": "api"}, threshold=90)
    above = "Threshold Crossed: 3 out of the last 3 datapoints were greater than the threshold (90.0)."
    state, old, when = (
        ("ALARM", "OK", at + timedelta(minutes=10)) if fire else ("OK", "ALARM", at + timedelta(minutes=14))
    )
    reason = above if fire else above.replace("greater", "not greater")
    return [
        Step(
            f"storm {i:02d} {'fires' if fire else 'clears'}",
            metric_alarm_message(f"storm-api-cpu-{i:02d}", state, old, when, cpu, reason),
            final_for=None if fire else f"storm-api-cpu-{i:02d}",
            expect_open=None if fire else False,
        )
        for i in range(count)
    ]
