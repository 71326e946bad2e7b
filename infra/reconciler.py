"""The scheduled reconciler: plans corrections (alarms gone or already OK, timeouts, maintenance ends, stuck
or dropped triggers, dropped resolves) and hands each to the delivery lane; it never sends to PagerDuty."""

from __future__ import annotations

from aws_cdk import CfnResource, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.function import BridgeFunction
from infra.settings import DeploySettings
from infra.state_table import STATE_READ_ACTIONS, StateTable

HANDLER = "alertbridge.handlers.reconcile.lambda_handler"


class ReconcilerFunction(Construct):
    """Reads the table, sends to the delivery queue, reads the webhook secret (its REST token looks
    incidents up) and may describe alarms; runs every N minutes."""

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
        delivery_queue: sqs.IQueue,
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
                "ALERTBRIDGE_DELIVERY_QUEUE_URL": delivery_queue.queue_url,
                "ALERTBRIDGE_WEBHOOK_SECRET": webhook_secret.secret_arn,
            },
            timeout_seconds=options.timeout_seconds,
            memory_mb=options.memory_mb,
            settings=settings,
        )
        self.function = self.handler.function
        table.grant_actions(self.function, self.handler.role, *STATE_READ_ACTIONS)
        delivery_queue.grant_send_messages(self.function)
        webhook_secret.grant_read(self.function)
        # DescribeAlarms and DescribeAlarmContributors take the alarm resource type (Service Authorization
        # Reference, "Actions, resources, and condition keys for Amazon CloudWatch"): only this account's
        # alarms in this region. DescribeAlarmContributors closes contributor incidents whose OK was lost.
        self.handler.grant_on_alarms(
            ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmContributors"],
            "The reconciler checks the alarms (and contributors) behind open keys, which may be any alarm of "
            "this account here; both actions only read.",
        )
        # cfn-lint's IAM action list predates DescribeAlarmContributors (API of 2025)
        policy = self.handler.role.node.try_find_child("DefaultPolicy")
        if policy is not None and isinstance(policy.node.default_child, CfnResource):
            policy.node.default_child.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3037"]}})
        self.schedule = events.Rule(
            self,
            "Schedule",
            description=f"alertbridge: reconcile open keys every {options.schedule_minutes} min",
            schedule=events.Schedule.rate(Duration.minutes(options.schedule_minutes)),
        )
        self.schedule.add_target(targets.LambdaFunction(self.function, retry_attempts=0))
