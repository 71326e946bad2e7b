"""The scheduled reconciler: open keys whose alarm is gone or already OK get resolved."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.function import BridgeFunction
from infra.settings import DeploySettings
from infra.state_table import StateTable

HANDLER = "alertbridge.handlers.reconcile.lambda_handler"


class ReconcilerFunction(Construct):
    """Reads/writes the table, reads both secrets and may describe alarms; runs every N minutes."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploySettings,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
        environment: dict[str, str],
        table: StateTable,
        routing_keys: secretsmanager.ISecret,
        webhook_secret: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, id)
        options = settings.reconciler
        self.handler = BridgeFunction(
            self,
            "Reconciler",
            handler=HANDLER,
            code=code,
            layer=layer,
            environment={
                **environment,
                "ALERTBRIDGE_ROUTING_KEYS_SECRET": routing_keys.secret_arn,
                "ALERTBRIDGE_WEBHOOK_SECRET": webhook_secret.secret_arn,
            },
            timeout_seconds=options.timeout_seconds,
            memory_mb=options.memory_mb,
            settings=settings,
            wildcard_reason="cloudwatch:DescribeAlarms lists alarms by name and takes no resource ARN.",
        )
        self.function = self.handler.function
        table.grant_read_write(self.function, self.handler.role)
        routing_keys.grant_read(self.function)
        webhook_secret.grant_read(self.function)
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"], resources=["*"])
        )
        self.schedule = events.Rule(
            self,
            "Schedule",
            description=f"alertbridge: reconcile open keys every {options.schedule_minutes} min",
            schedule=events.Schedule.rate(Duration.minutes(options.schedule_minutes)),
        )
        self.schedule.add_target(targets.LambdaFunction(self.function, retry_attempts=0))
