"""`AlertBridge`: the whole bridge as one construct other CDK apps can import.

bridge = AlertBridge(stack, "Bridge", config=BridgeConfig.from_file("alertbridge.json"))
bridge.wire_alarm(my_alarm)  # ALARM and OK actions in one call
"""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from alertbridge.models.config import BridgeConfig
from infra.alarm_intake import AlarmIntake, bridge_key
from infra.bundling import lambda_code
from infra.delivery import DeliveryFunction, DeliveryLane
from infra.graph import GraphImages
from infra.intake import IntakeFunction
from infra.monitoring import BridgeMonitoring, WatchedFunctions, WatchedQueues
from infra.reconciler import ReconcilerFunction
from infra.secrets import BridgeSecrets
from infra.settings import DeploySettings, pinned_version, runtime_requirements
from infra.state_table import StateTable
from infra.webhook import WebhookFunction

POWERTOOLS_LAYER_PARAMETER = "/aws/service/powertools/python/arm64/python3.13/{version}"


def powertools_layer_parameter(version: str | None = None) -> str:
    """Public SSM parameter holding the regional layer ARN of exactly the pinned Powertools version."""
    pinned = version or pinned_version("aws-lambda-powertools", runtime_requirements())
    return POWERTOOLS_LAYER_PARAMETER.format(version=pinned)


class AlertBridge(Construct):
    """CloudWatch alarms -> SNS/EventBridge -> SQS -> intake Lambda -> SQS FIFO (one group per dedup key) ->
    delivery Lambda -> PagerDuty, plus webhook and reconciler (which hands its observations to the lane)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: BridgeConfig,
        settings: DeploySettings | None = None,
        code: lambda_.Code | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.config = config
        self.settings = settings or DeploySettings()
        self.key = bridge_key(self, "Key")
        self.intake = AlarmIntake(self, "Intake", settings=self.settings, key=self.key)
        self.lane = DeliveryLane(self, "Lane", options=self.settings.delivery)
        self.state = StateTable(self, "State")
        self.secrets = BridgeSecrets(self, "Secrets", key=self.key)
        self.code = code or lambda_code()
        self.layer = self._powertools_layer()
        self._build_functions()
        # --- graph images (issue 13): key secret, signer = delivery, renderer = webhook function ---
        self.graph = None if not config.graph.enabled else GraphImages(
            self, "Graph", key=self.key, renderer=self.webhook.handler, signer=self.delivery.handler,
            base_url=self.webhook.url.url,
        )  # fmt: skip
        # --- end graph images ---
        self.monitoring = self._build_monitoring()

    @property
    def alarm_topic(self) -> sns.Topic:
        return self.intake.topic

    @property
    def health_topic(self) -> sns.Topic:
        return self.monitoring.health_topic

    def wire_alarm(self, alarm: cloudwatch.AlarmBase, *, insufficient_data: bool = False) -> None:
        """Send the alarm's ALARM **and** OK (optionally INSUFFICIENT_DATA) transitions to the bridge.

        A missing OK action is the classic cause of incidents that never close.
        """
        action = actions.SnsAction(self.alarm_topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        if insufficient_data:
            alarm.add_insufficient_data_action(action)

    def _powertools_layer(self) -> lambda_.ILayerVersion:
        arn = self.settings.powertools_layer_arn or ssm.StringParameter.value_for_string_parameter(
            self, powertools_layer_parameter()
        )
        return lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", arn)

    def _common_environment(self) -> dict[str, str]:
        return {
            "ALERTBRIDGE_TABLE_NAME": self.state.table.table_name,
            "ALERTBRIDGE_CONFIG": self.config.to_json_text(),
            "ALERTBRIDGE_EVENTS_URL": self.settings.events_url,
            "ALERTBRIDGE_REST_URL": self.settings.rest_url,
        }

    def _build_functions(self) -> None:
        settings, code, layer, env = self.settings, self.code, self.layer, self._common_environment()
        self.intake_function = IntakeFunction(
            self, "IntakeFn", settings=settings, code=code, layer=layer, environment=env,
            queue=self.intake.queue, delivery_queue=self.lane.queue,
        )  # fmt: skip
        self.delivery = DeliveryFunction(
            self, "DeliveryFn", settings=settings, code=code, layer=layer, environment=env,
            lane=self.lane, table=self.state, routing_keys=self.secrets.routing_keys,
            webhook_secret=self.secrets.webhook, reads_alarm_tags=self.config.matches_tags,
        )  # fmt: skip
        self.webhook = WebhookFunction(
            self, "WebhookFn", settings=settings, code=code, layer=layer, environment=env,
            table=self.state, webhook_secret=self.secrets.webhook,
        )  # fmt: skip
        self.reconciler = ReconcilerFunction(
            self, "ReconcilerFn", settings=settings, code=code, layer=layer, environment=env,
            table=self.state, delivery_queue=self.lane.queue, webhook_secret=self.secrets.webhook,
        )  # fmt: skip

    def _build_monitoring(self) -> BridgeMonitoring:
        options = self.settings.monitoring
        return BridgeMonitoring(
            self, "Monitoring", options=options, webhook_options=self.settings.webhook, key=self.key,
            queues=WatchedQueues(
                ingest=self.intake.queue, ingest_dead_letters=self.intake.dead_letter_queue,
                delivery=self.lane.queue, delivery_dead_letters=self.lane.dead_letter_queue,
            ),
            functions=WatchedFunctions(
                intake=self.intake_function.function, delivery=self.delivery.function,
                webhook=self.webhook.function, reconciler=self.reconciler.function,
            ),
            reconcile_minutes=self.settings.reconciler.schedule_minutes,
            page=self.wire_alarm if options.page_through_bridge else None,
        )  # fmt: skip
