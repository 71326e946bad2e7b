"""Example alarms (off by default): one of each kind, wired through the bridge, to prove the path.

Fire them with `aws cloudwatch set-alarm-state` (README); the metrics never get data, so each alarm
returns to OK at its next evaluation and the PagerDuty incident resolves by itself. A small consumer of the
bridge's incident events comes with them: a queue receiving every event (read it with
`aws sqs receive-message`), the shape a work-item or remediation consumer starts from.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.construct import AlertBridge

NAMESPACE = "AlertBridge/Examples"
PREFIX = "alertbridge-example"


def _metric(name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=NAMESPACE, metric_name=name, statistic="Sum", period=Duration.minutes(1)
    )


class ExampleAlarmsStack(Stack):
    def __init__(self, scope: Construct, id: str, *, bridge: AlertBridge, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.metric_alarm = _metric("Errors").create_alarm(
            self, "MetricAlarm", alarm_name=f"{PREFIX}-metric", threshold=1, evaluation_periods=1,
            alarm_description="alertbridge example: a plain metric alarm",
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )  # fmt: skip
        error_rate = cloudwatch.MathExpression(
            expression="IF(requests > 0, 100 * errors / requests, 0)",
            using_metrics={"errors": _metric("Errors"), "requests": _metric("Requests")},
            label="Error rate (%)", period=Duration.minutes(1),
        )  # fmt: skip
        self.math_alarm = error_rate.create_alarm(
            self, "MetricMathAlarm", alarm_name=f"{PREFIX}-metric-math", threshold=5, evaluation_periods=1,
            alarm_description="alertbridge example: a metric math alarm (error rate above 5 %)",
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )  # fmt: skip
        self.composite_alarm = cloudwatch.CompositeAlarm(
            self, "CompositeAlarm", composite_alarm_name=f"{PREFIX}-composite",
            alarm_description="alertbridge example: a composite alarm (either example alarm)",
            alarm_rule=cloudwatch.AlarmRule.any_of(self.metric_alarm, self.math_alarm),
        )  # fmt: skip
        for alarm in (self.metric_alarm, self.math_alarm, self.composite_alarm):
            bridge.wire_alarm(alarm)
        self.incident_consumer = self._incident_consumer(bridge)
        bridge.check_ok_actions(self)  # on for the examples: copy it into the stacks that hold your alarms

    def _incident_consumer(self, bridge: AlertBridge) -> sqs.Queue:
        """Every incident event of the bridge into a queue (encrypted, TLS only, with a dead-letter queue
        for messages a consumer keeps failing on)."""
        failed = sqs.Queue(
            self, "IncidentEventsFailed", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            retention_period=Duration.days(14),
        )  # fmt: skip
        queue = sqs.Queue(
            self, "IncidentEvents", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=failed, max_receive_count=5),
        )  # fmt: skip
        bridge.on_incident(queue, scope=self)
        CfnOutput(self, "IncidentEventsQueueUrl", value=queue.queue_url)
        return queue
