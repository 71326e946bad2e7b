"""The ingest function: SQS records (SNS alarms, EventBridge events) become PagerDuty events."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.function import BridgeFunction
from infra.nag import acknowledge
from infra.settings import DeploySettings
from infra.state_table import StateTable

HANDLER = "alertbridge.handlers.ingest.lambda_handler"


class IngestFunction(Construct):
    """Consumes the ingest queue; may read/write the table and read the two secrets, nothing else.

    The webhook secret holds the REST token: with it, an auto-resolved incident gets a note saying why.
    With `reads_alarm_tags` (the configuration has tag-matching rules) it may also read the tags of this
    account's alarms in this region: CloudWatch notifications carry none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploySettings,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
        environment: dict[str, str],
        queue: sqs.IQueue,
        table: StateTable,
        routing_keys: secretsmanager.ISecret,
        webhook_secret: secretsmanager.ISecret,
        reads_alarm_tags: bool = False,
    ) -> None:
        super().__init__(scope, id)
        options = settings.ingest
        self.handler = BridgeFunction(
            self,
            "Ingest",
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
        )
        self.function = self.handler.function
        self.function.add_event_source(
            sources.SqsEventSource(
                queue,
                batch_size=options.batch_size,
                max_batching_window=_window(options.max_batching_window_seconds),
                max_concurrency=options.max_concurrency,
                report_batch_item_failures=True,  # one bad record never sends its batch back
            )
        )
        table.grant_read_write(self.function, self.handler.role)
        routing_keys.grant_read(self.function)
        webhook_secret.grant_read(self.function)
        if reads_alarm_tags:
            self._grant_alarm_tags()

    def _grant_alarm_tags(self) -> None:
        alarms = Stack.of(self).format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name="*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["cloudwatch:ListTagsForResource"], resources=[alarms])
        )
        acknowledge(
            self.handler.role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:*]",
            "Tag-matching rules may name any alarm of this account and region; the action only reads tags.",
        )


def _window(seconds: int) -> Duration | None:
    return Duration.seconds(seconds) if seconds else None
