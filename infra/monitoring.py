"""Self-monitoring: health alarms to a separate health topic (and through the bridge), and a dashboard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_cdk import Annotations, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.alarm_intake import alarm_topic
from infra.function import METRICS_NAMESPACE, SERVICE_NAME
from infra.graph import webhook_refusals  # graph images (issue 13)
from infra.settings import MonitoringSettings, WebhookSettings

PERIOD = Duration.minutes(5)
MISSING_IS_OK = cloudwatch.TreatMissingData.NOT_BREACHING


def url_metric(function: lambda_.IFunction, name: str) -> cloudwatch.Metric:
    """Function URL metrics (Url4xxCount, Url5xxCount, UrlRequestCount) by FunctionName."""
    return cloudwatch.Metric(
        namespace="AWS/Lambda",
        metric_name=name,
        dimensions_map={"FunctionName": function.function_name},
        statistic="Sum",
        period=PERIOD,
    )


def bridge_metric(name: str, *, period: Duration = PERIOD, label: str | None = None) -> cloudwatch.Metric:
    """One of the bridge's own metrics (Powertools EMF: namespace AlertBridge, dimension service)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE_NAME},
        statistic="Sum",
        period=period,
        label=label,
    )


@dataclass(frozen=True)
class WatchedQueues:
    ingest: sqs.IQueue
    ingest_dead_letters: sqs.IQueue
    delivery: sqs.IQueue
    delivery_dead_letters: sqs.IQueue


@dataclass(frozen=True)
class WatchedFunctions:
    intake: lambda_.IFunction
    delivery: lambda_.IFunction
    webhook: lambda_.IFunction
    reconciler: lambda_.IFunction


class BridgeMonitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: MonitoringSettings,
        webhook_options: WebhookSettings,
        key: kms.IKey,
        queues: WatchedQueues,
        functions: WatchedFunctions,
        reconcile_minutes: int,
        page: Callable[[cloudwatch.AlarmBase], None] | None,
    ) -> None:
        super().__init__(scope, id)
        self.health_topic = alarm_topic(self, "HealthTopic", key, "alertbridge health")
        # Out of band: none of these goes through the bridge, so a broken bridge still tells someone.
        for email in (options.health_email, options.pagerduty_email):
            if email:
                self.health_topic.add_subscription(subscriptions.EmailSubscription(email))
        self.out_of_band_topic = (
            sns.Topic.from_topic_arn(self, "OutOfBandTopic", options.health_topic_arn)
            if options.health_topic_arn
            else None
        )
        if not options.out_of_band_destinations:
            Annotations.of(self).add_warning_v2(
                "alertbridge:no-out-of-band-health",
                "health alarms reach nobody outside the bridge (waived: "
                f"{options.out_of_band_waiver}); a broken bridge cannot report itself",
            )
        self._page = page
        queue, dead_letter_queue = queues.ingest, queues.ingest_dead_letters
        intake, delivery = functions.intake, functions.delivery
        webhook, reconciler = functions.webhook, functions.reconciler
        self.alarms = [
            self._alarm("DeadLetterQueueNotEmpty", "Alarm notifications failed and wait in the dead-letter queue; "
                        "fix the cause, then `alertbridge redrive`.",
                        dead_letter_queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"), 1),
            self._alarm("DeliveryDeadLetterQueueNotEmpty", "Pages or resolves failed and wait in the delivery "
                        "dead-letter queue; fix the cause, then `alertbridge redrive --queue DeliveryQueueUrl`.",
                        queues.delivery_dead_letters.metric_approximate_number_of_messages_visible(
                            period=PERIOD, statistic="Maximum"), 1),
            self._alarm("IntakeErrors", "The intake function failed whole invocations.",
                        intake.metric_errors(period=PERIOD, statistic="Sum"), 1),
            self._alarm("DeliveryErrors", "The delivery function failed whole invocations.",
                        delivery.metric_errors(period=PERIOD, statistic="Sum"), 1),
            self._alarm("IntakeThrottles", "The intake function was throttled.",
                        intake.metric_throttles(period=PERIOD, statistic="Sum"), 1),
            self._alarm("DeliveryThrottles", "The delivery function was throttled.",
                        delivery.metric_throttles(period=PERIOD, statistic="Sum"), 1),
            self._alarm("OldestMessageAge", "Alarm notifications wait too long in the ingest queue.",
                        queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
                        options.oldest_message_age_seconds),
            self._alarm("DeliveryOldestMessageAge", "Pages wait too long in the delivery queue (PagerDuty "
                        "outage or rate limiting?).",
                        queues.delivery.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
                        options.oldest_message_age_seconds),
            self._alarm("Webhook4xx", "PagerDuty webhooks are refused (wrong or rotated signing secret?).",
                        webhook_refusals(url_metric(webhook, "Url4xxCount")),  # graph images (issue 13)
                        webhook_options.url_4xx_threshold),
            self._alarm("Webhook5xx", "The webhook function fails; PagerDuty retries, then disables the subscription.",
                        url_metric(webhook, "Url5xxCount"), 1),
            self._alarm("ReconcilerErrors", "The scheduled reconciler failed.",
                        reconciler.metric_errors(period=PERIOD, statistic="Sum"), 1),
            # The bridge's own metrics: failures that never fail a whole invocation.
            self._alarm("PagerDutyRejectedBodies", "PagerDuty refused an event body with 400; the minimal "
                        "fallback paged instead, without details (see the delivery logs for PagerDuty's errors).",
                        bridge_metric("Rejected"), 1),
            self._alarm("ResolveWithRetiredKey", "A resolve went out with another routing key than the one "
                        "that opened its incident (the key left the routing-keys secret): close it by hand.",
                        bridge_metric("OpeningKeyRetired"), 1),
            self._alarm("ReconcilerKeyFailures", "The reconciler could not handle some keys; it retries them "
                        "next run (see its logs).", bridge_metric("Reconcile.Failed"), 1),
            self._alarm("GraphKeyUnavailable", "The graph key secret cannot be read: incidents show a "
                        "placeholder instead of their metric graph (check the secret and the webhook role).",
                        bridge_metric("GraphKeyUnavailable"), 1),
            self._heartbeat_alarm(reconcile_minutes),
        ]  # fmt: skip
        self.dashboard = self._dashboard(queues, functions)

    def _heartbeat_alarm(self, reconcile_minutes: int) -> cloudwatch.Alarm:
        """No reconciler run for three schedule periods: lost OKs and stuck triggers would go unnoticed."""
        window = Duration.minutes(max(5, 3 * reconcile_minutes))
        return self._alarm(
            "ReconcilerNotRunning",
            "The scheduled reconciler has not run for three of its periods.",
            bridge_metric("Reconcile.Run", period=window),
            1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )

    def _alarm(
        self,
        id: str,
        description: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        *,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        missing: cloudwatch.TreatMissingData = MISSING_IS_OK,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            id,
            alarm_description=f"alertbridge health: {description}",
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=comparison,
            treat_missing_data=missing,
        )
        for topic in (self.health_topic, self.out_of_band_topic):
            if topic is not None:
                alarm.add_alarm_action(actions.SnsAction(topic))
                alarm.add_ok_action(actions.SnsAction(topic))
        if self._page is not None:
            self._page(alarm)
        return alarm

    def _dashboard(self, queues: WatchedQueues, functions: WatchedFunctions) -> cloudwatch.Dashboard:
        queue, dead_letter_queue = queues.ingest, queues.ingest_dead_letters
        webhook, reconciler = functions.webhook, functions.reconciler
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(6))
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Bridge health", alarms=self.alarms, width=24, height=4),
            cloudwatch.GraphWidget(title="Ingest queue", width=12, left=[
                queue.metric_approximate_number_of_messages_visible(period=PERIOD),
                dead_letter_queue.metric_approximate_number_of_messages_visible(period=PERIOD, label="Dead letters"),
            ], right=[queue.metric_approximate_age_of_oldest_message(period=PERIOD)]),
            cloudwatch.GraphWidget(title="Delivery queue (FIFO)", width=12, left=[
                queues.delivery.metric_approximate_number_of_messages_visible(period=PERIOD),
                queues.delivery_dead_letters.metric_approximate_number_of_messages_visible(
                    period=PERIOD, label="Dead letters"),
            ], right=[queues.delivery.metric_approximate_age_of_oldest_message(period=PERIOD)]),
            *[cloudwatch.GraphWidget(title=f"{name} function", width=12, left=[
                function.metric_invocations(period=PERIOD), function.metric_errors(period=PERIOD),
                function.metric_throttles(period=PERIOD),
            ], right=[function.metric_duration(period=PERIOD, statistic="p99")])
              for name, function in (("Intake", functions.intake), ("Delivery", functions.delivery))],
            cloudwatch.GraphWidget(title="Webhook URL", width=12, left=[
                url_metric(webhook, "UrlRequestCount"), url_metric(webhook, "Url4xxCount"),
                url_metric(webhook, "Url5xxCount"),
            ], right=[webhook.metric_duration(period=PERIOD, statistic="p99")]),
            cloudwatch.GraphWidget(title="Reconciler", width=12, left=[
                reconciler.metric_invocations(period=PERIOD), reconciler.metric_errors(period=PERIOD),
            ], right=[reconciler.metric_duration(period=PERIOD, statistic="Maximum")]),
            cloudwatch.GraphWidget(title="PagerDuty deliveries (bridge metrics)", width=12, left=[
                bridge_metric("Sent.trigger", label="triggers sent"), bridge_metric("Sent.resolve", label="resolves sent"),
            ], right=[
                bridge_metric("Retried", label="retries"), bridge_metric("Failed", label="records failed (retried by SQS)"),
                bridge_metric("Rejected", label="bodies rejected (fallback sent)"),
            ]),
            cloudwatch.GraphWidget(title="Lifecycle and sync (bridge metrics)", width=12, left=[
                bridge_metric("Outcome.duplicate", label="duplicates"), bridge_metric("Outcome.stale", label="stale"),
                bridge_metric("Outcome.retry-pending-trigger", label="pending triggers re-sent"),
                bridge_metric("Outcome.pending-trigger-applied", label="pending triggers PagerDuty had applied"),
            ], right=[
                bridge_metric("Reconcile.Failed", label="reconcile failures"), bridge_metric("NoteFailed", label="notes failed"),
                bridge_metric("AlarmTagsUnavailable", label="alarm tags unreadable"),
            ]),
        )  # fmt: skip
        return dashboard
