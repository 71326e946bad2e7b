"""The demo's built-in scenario: notifications shaped exactly as CloudWatch and applications send them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alertbridge.logic.dedup import contributor_key

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
    """An application's AlertMessage, with an idempotency id."""
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


INSIGHTS_ALARM = "orders-table-write-capacity"  # a Metrics Insights alarm: one contributor per table
MUTED_ALARM = "search-cluster-cpu"  # muted by a CloudWatch mute rule that ended while it still fired
_INSIGHTS_QUERY = (
    'SELECT AVG(ConsumedWriteCapacityUnits) FROM "AWS/DynamoDB" GROUP BY TableName ORDER BY MAX() DESC'
)


def eventbridge_event(detail_type: str, name: str, at: datetime, detail: dict[str, Any]) -> str:
    """An EventBridge event from CloudWatch, shaped as AWS documents it."""
    return json.dumps(
        {
            "version": "0",
            "id": hashlib.sha256(f"{detail_type}|{name}|{at.isoformat()}".encode()).hexdigest()[:32],
            "detail-type": detail_type,
            "source": "aws.cloudwatch",
            "account": ACCOUNT,
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [alarm_arn(name)],
            "detail": {"alarmName": name, **detail},
        }
    )


def insights_configuration() -> dict[str, Any]:
    query = {"id": "m1", "expression": _INSIGHTS_QUERY, "returnData": True, "period": 60}
    return {"metrics": [query], "description": "Write capacity per table (Metrics Insights)"}


def insights_alarm_level(state: str, old: str, at: datetime, count: int) -> str:
    """The alarm-level change of a multi-time-series alarm ("2 out of 3 time series evaluated to ALARM")."""
    return eventbridge_event(
        "CloudWatch Alarm State Change",
        INSIGHTS_ALARM,
        at,
        {
            "state": {
                "value": state,
                "reason": f"{count} out of 3 time series evaluated to {state}",
                "timestamp": cloudwatch_time(at),
            },
            "previousState": {
                "value": old,
                "reason": "",
                "timestamp": cloudwatch_time(at - timedelta(minutes=5)),
            },
            "configuration": insights_configuration(),
        },
    )


def insights_contributor(contributor_id: str, table: str, state: str, at: datetime) -> str:
    """A contributor's own change (documented shape: no previousState, no reasonData)."""
    reason = (
        "Threshold Crossed: 1 datapoint was greater than the threshold (100.0)."
        if state == "ALARM"
        else "No data was returned for this contributor"
    )
    return eventbridge_event(
        "CloudWatch Alarm Contributor State Change",
        INSIGHTS_ALARM,
        at,
        {
            "alarmContributor": {"id": contributor_id, "attributes": {"TableName": table}},
            "state": {"value": state, "reason": reason, "timestamp": cloudwatch_time(at)},
            "configuration": insights_configuration(),
        },
    )


def muted_alarm(at: datetime, window_start: datetime, window_end: datetime, rule: str) -> str:
    """A single-metric ALARM a CloudWatch mute rule muted (EventBridge still sees it, with `muteDetail`)."""
    metric = {"dimensions": {"DomainName": "search"}, "name": "CPUUtilization", "namespace": "AWS/ES"}
    return eventbridge_event(
        "CloudWatch Alarm State Change",
        MUTED_ALARM,
        at,
        {
            "state": {
                "value": "ALARM",
                "reason": "Threshold Crossed: CPU above 90",
                "timestamp": cloudwatch_time(at),
            },
            "previousState": {
                "value": "OK",
                "reason": "",
                "timestamp": cloudwatch_time(at - timedelta(hours=1)),
            },
            "configuration": {
                "metrics": [{"id": "m1", "metricStat": {"metric": metric, "period": 300, "stat": "Average"}}]
            },
            "muteDetail": {
                "mutedByArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm-mute-rule:{rule}",
                "muteWindowStart": cloudwatch_time(window_start),
                "muteWindowEnd": cloudwatch_time(window_end),
            },
        },
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
    via: str = "sns"  # "eventbridge": the message is an EventBridge event, sent to the ingest queue as is
    closes: tuple[str, ...] = ()  # dedup keys (other than its own) this step must leave closed in PagerDuty
    reconcile_after: str | None = None  # run the reconciler once the step is handled; why, for the timeline


@dataclass(frozen=True)
class Phase:
    title: str
    steps: list[Step]


def builtin_scenario(start: datetime, *, burst: int = 20) -> list[Phase]:
    """ALARM, a duplicate, OK; an OK before its ALARM; a composite; a tag-routed alarm; an application alert;
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
                    "an application alert",
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
        *multi_time_series_phases(t + timedelta(minutes=20)),
        muted_phase(t + timedelta(minutes=25)),
        Phase(f"an alarm storm: {burst} alarms at once (PagerDuty answers 429)", _storm(t, burst, fire=True)),
        Phase("the storm clears", _storm(t, burst, fire=False)),
    ]


def multi_time_series_phases(at: datetime) -> list[Phase]:
    """A Metrics Insights alarm over three tables: two contributors fire and each opens its own incident
    (the alarm level is recorded, not paged); one clears alone; the alarm-level OK closes the other."""
    eb = "eventbridge"
    orders, carts = "6d442278dba546f6", "a1b2c3d4e5f60718"

    def step(label: str, message: str, **expect: Any) -> Step:
        return Step(label, message, via=eb, **expect)

    return [
        Phase(
            "a multi-time-series alarm: each contributor opens its own incident",
            [
                step("alarm level: 2 of 3 time series in ALARM", insights_alarm_level("ALARM", "OK", at, 2)),
                step(
                    "contributor TableName=orders fires", insights_contributor(orders, "orders", "ALARM", at)
                ),
                step("contributor TableName=carts fires", insights_contributor(carts, "carts", "ALARM", at)),
            ],
        ),
        Phase(
            "one contributor clears alone; then the alarm-level OK closes the other",
            [
                step(
                    "contributor TableName=orders clears",
                    insights_contributor(orders, "orders", "OK", at + timedelta(minutes=3)),
                    final_for=f"{INSIGHTS_ALARM} [TableName=orders]",
                    expect_open=False,
                ),
                step(
                    "alarm level: OK",
                    insights_alarm_level("OK", "ALARM", at + timedelta(minutes=6), 0),
                    final_for=INSIGHTS_ALARM,
                    expect_open=False,
                    closes=(contributor_key(alarm_arn(INSIGHTS_ALARM), carts),),
                ),
            ],
        ),
    ]


def muted_phase(at: datetime) -> Phase:
    """An alarm fires while a CloudWatch mute rule mutes it: recorded, not paged. The mute window has ended
    (the alarm is still in ALARM): on the EventBridge path no new event comes, so the reconciler pages it."""
    message = muted_alarm(at, at - timedelta(minutes=5), at + timedelta(minutes=15), "search-upgrade")
    return Phase(
        "a muted alarm fires (a CloudWatch mute rule): recorded, not paged",
        [
            Step(
                "muted ALARM (EventBridge, muteDetail)",
                message,
                via="eventbridge",
                final_for=MUTED_ALARM,
                expect_open=True,
                reconcile_after="the mute rule's window ended, the alarm still fires",
            )
        ],
    )


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
