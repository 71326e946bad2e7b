"""The deployable stack: one `AlertBridge` plus the outputs the operator CLI reads."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from alertbridge.models.config import BridgeConfig
from alertbridge.operator.stack import INCIDENT_EVENT_BUS_OUTPUT, OPTIONAL_OUTPUT_KEYS, OUTPUT_KEYS
from infra.construct import AlertBridge
from infra.incident_events import IncidentEvents
from infra.settings import DeploySettings


class AlertBridgeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: BridgeConfig,
        settings: DeploySettings,
        code: lambda_.Code | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, description="alertbridge: CloudWatch alarms to PagerDuty", **kwargs)
        self.bridge = AlertBridge(self, "Bridge", config=config, settings=settings, code=code)
        self._outputs()

    def _outputs(self) -> None:
        bridge = self.bridge
        values = {
            "AlarmTopicArn": bridge.alarm_topic.topic_arn,
            "HealthTopicArn": bridge.health_topic.topic_arn,
            "QueueUrl": bridge.intake.queue.queue_url,
            "DeadLetterQueueUrl": bridge.intake.dead_letter_queue.queue_url,
            "DeliveryQueueUrl": bridge.lane.queue.queue_url,
            "DeliveryDeadLetterQueueUrl": bridge.lane.dead_letter_queue.queue_url,
            "TableName": bridge.state.table.table_name,
            "RoutingKeysSecretArn": bridge.secrets.routing_keys.secret_arn,
            "WebhookSecretArn": bridge.secrets.webhook.secret_arn,
            "WebhookUrl": bridge.webhook.url.url,
            "IntakeFunctionName": bridge.intake_function.function.function_name,
            "DeliveryFunctionName": bridge.delivery.function.function_name,
            "WebhookFunctionName": bridge.webhook.function.function_name,
            "ReconcilerFunctionName": bridge.reconciler.function.function_name,
            "DashboardName": bridge.monitoring.dashboard.dashboard_name,
        }
        for key in OUTPUT_KEYS:
            if key not in OPTIONAL_OUTPUT_KEYS:
                CfnOutput(self, key, value=values[key])
        bridge.when_incident_events(self._bus_output)

    def _bus_output(self, incident_events: IncidentEvents) -> None:
        CfnOutput(self, INCIDENT_EVENT_BUS_OUTPUT, value=incident_events.bus.event_bus_name)
