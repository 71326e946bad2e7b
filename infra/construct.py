"""`AlertBridge`: the whole bridge as one construct other CDK apps can import.

bridge = AlertBridge(stack, "Bridge", config=BridgeConfig.from_file("alertbridge.json"))
bridge.wire_alarm(my_alarm)  # ALARM and OK actions in one call
"""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from alertbridge.models.config import BridgeConfig
from alertbridge.models.settings import DEPLOYED_CONFIG_FILE, config_digest
from infra.alarm_intake import AlarmIntake, bridge_key
from infra.bundling import BYTECODE_CONTEXT_KEY, lambda_code
from infra.delivery import DeliveryFunction, DeliveryLane
from infra.environment import check_environments
from infra.graph import GraphImages
from infra.incident_events import IncidentEventsMixin  # incident events
from infra.intake import IntakeFunction
from infra.monitoring import BridgeMonitoring, WatchedFunctions, WatchedQueues
from infra.nag import acknowledge
from infra.reconciler import ReconcilerFunction
from infra.secrets import BridgeSecrets
from infra.settings import DeploySettings, load_deploy_settings, pinned_version, runtime_requirements
from infra.state_table import StateTable
from infra.webhook import WebhookFunction

POWERTOOLS_LAYER_PARAMETER = "/aws/service/powertools/python/arm64/python3.13/{version}"


def powertools_layer_parameter(version: str | None = None) -> str:
    """Public SSM parameter holding the regional layer ARN of exactly the pinned Powertools version."""
    pinned = version or pinned_version("aws-lambda-powertools", runtime_requirements())
    return POWERTOOLS_LAYER_PARAMETER.format(version=pinned)


class AlertBridge(IncidentEventsMixin, Construct):  # incident events: on_incident, incident_events
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
        incident_event_bus_name: str | None = None,  # incident events: the bus now (else at on_incident)
    ) -> None:
        """`code`, when given, must carry the configuration at `alertbridge/deployed-config.json` with the
        digest of `config.to_json_text()`: the functions refuse to start otherwise."""
        super().__init__(scope, id)
        self.config = config
        self.config_text = config.to_json_text()
        self.settings = settings or _default_settings()
        self.key = bridge_key(self, "Key")
        self.intake = AlarmIntake(self, "Intake", settings=self.settings, key=self.key)
        self.lane = DeliveryLane(self, "Lane", options=self.settings.delivery)
        self.state = StateTable(self, "State")
        self.secrets = BridgeSecrets(self, "Secrets", key=self.key)
        self.code = code or lambda_code(self.config_text, bytecode=_bytecode(self))
        self.layer = self._powertools_layer()
        self._build_functions()
        # --- graph images (issue 13): key secret, signer = delivery, renderer = webhook function ---
        self.graph = None if not config.graph.enabled else GraphImages(
            self, "Graph", key=self.key, renderer=self.webhook.handler, signer=self.delivery.handler,
            base_url=self.webhook.url.url,
        )  # fmt: skip
        # --- end graph images ---
        self.monitoring = self._build_monitoring()
        self._init_incident_events(incident_event_bus_name or self.settings.incident_event_bus_name)

    @property
    def alarm_topic(self) -> sns.Topic:
        return self.intake.topic

    @property
    def health_topic(self) -> sns.Topic:
        return self.monitoring.health_topic

    def check_ok_actions(self, scope: Construct) -> None:
        """Opt in, per stack (or app): warn about every alarm in `scope` that pages through the bridge's
        topic without an OK action to it."""
        from aws_cdk import Aspects

        from infra.aspects import AlarmsResolveThroughTheBridge

        Aspects.of(scope).add(AlarmsResolveThroughTheBridge(self.alarm_topic))

    def grant_publish(self, grantable: iam.IGrantable) -> iam.Grant:
        """Let an application publish alerts to the alarm topic: sns:Publish on the topic plus the KMS
        permissions publishing to an encrypted topic needs (kms:GenerateDataKey* and kms:Decrypt on its key;
        Amazon SNS Developer Guide, "Encryption at rest")."""
        grant = self.alarm_topic.grant_publish(grantable)
        self.key.grant(grantable, "kms:Decrypt", "kms:GenerateDataKey*")
        return grant

    def wire_alarm(self, alarm: cloudwatch.AlarmBase, *, insufficient_data: bool = False) -> None:
        """Send the alarm's ALARM **and** OK (optionally INSUFFICIENT_DATA) transitions to the bridge.

        A missing OK action is the classic cause of incidents that never close.
        """
        action = actions.SnsAction(self.alarm_topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        if insufficient_data:
            alarm.add_insufficient_data_action(action)
        # issue-12: the notifications carry the alarm's tags (AlarmTagsPropagation, CfnAlarm since 2.275.0),
        # so tag rules and tag links need no ListTagsForResource call per trigger.
        cfn = alarm.node.default_child
        if isinstance(cfn, cloudwatch.CfnAlarm):
            cfn.action_configuration = cloudwatch.CfnAlarm.ActionConfigurationProperty(
                alarm_tags_propagation=cloudwatch.CfnAlarm.AlarmTagsPropagationProperty(enabled=True)
            )
            acknowledge(cfn, "CloudFormation-Validate::F3002", "ActionConfiguration is newer than the "
                        "CloudFormation schema this CDK version validates against; CfnAlarm has it.")  # fmt: skip

    def _powertools_layer(self) -> lambda_.ILayerVersion:
        arn = self.settings.powertools_layer_arn or ssm.StringParameter.value_for_string_parameter(
            self, powertools_layer_parameter()
        )
        return lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", arn)

    def _common_environment(self) -> dict[str, str]:
        return {
            "ALERTBRIDGE_TABLE_NAME": self.state.table.table_name,
            # The configuration itself travels in the code asset: Lambda caps the environment at 4 KB.
            "ALERTBRIDGE_CONFIG_FILE": DEPLOYED_CONFIG_FILE,
            "ALERTBRIDGE_CONFIG_SHA256": config_digest(self.config_text),
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
        check_environments(self, {
            "intake": self.intake_function.function, "delivery": self.delivery.function,
            "webhook": self.webhook.function, "reconciler": self.reconciler.function,
        })  # fmt: skip

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


def _bytecode(scope: Construct) -> bool:
    value = scope.node.try_get_context(BYTECODE_CONTEXT_KEY)
    return value is None or str(value).lower() not in {"false", "0", "no"}


def _default_settings() -> DeploySettings:
    # Defaults alone have no out-of-band health destination: say what to set instead of a bare traceback.
    return load_deploy_settings({})
