"""The delivery lane: the FIFO delivery queue (+ FIFO DLQ) and the delivery function, the only code that
sends Events API requests for alarms.

Lambda's FIFO event source processes one batch per message group at a time, in order, so the dedup key
(the message group) has one sender at any moment while different keys run in parallel. High-throughput
FIFO (deduplication and throughput per message group) keeps one busy alarm from slowing the others.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.function import BridgeFunction
from infra.settings import DeliverySettings, DeploySettings
from infra.state_table import STATE_ITEM_ACTIONS, StateTable

HANDLER = "alertbridge.handlers.delivery.lambda_handler"


class DeliveryLane(Construct):
    """The FIFO delivery queue and its FIFO dead-letter queue (a FIFO queue's DLQ must be FIFO too)."""

    def __init__(self, scope: Construct, id: str, *, options: DeliverySettings) -> None:
        super().__init__(scope, id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            fifo=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(options.dlq_retention_days),
        )
        self.queue = sqs.Queue(
            self,
            "DeliveryQueue",
            fifo=True,
            deduplication_scope=sqs.DeduplicationScope.MESSAGE_GROUP,
            fifo_throughput_limit=sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(options.visibility_timeout_seconds),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=options.max_receive_count
            ),
        )


class DeliveryFunction(Construct):
    """Consumes the delivery queue; may read and write state items, read the two secrets (the webhook
    secret holds the REST token for resolve notes) and, with `reads_alarm_tags`, read the tags of this
    account's alarms in this region (for tag-matching rules, when a notification carries none)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploySettings,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
        environment: dict[str, str],
        lane: DeliveryLane,
        table: StateTable,
        routing_keys: secretsmanager.ISecret,
        webhook_secret: secretsmanager.ISecret,
        reads_alarm_tags: bool = False,
    ) -> None:
        super().__init__(scope, id)
        options = settings.delivery
        self.handler = BridgeFunction(
            self,
            "Delivery",
            handler=HANDLER,
            code=code,
            layer=layer,
            environment={
                **environment,
                "ALERTBRIDGE_ROUTING_KEYS_SECRET": routing_keys.secret_arn,
                "ALERTBRIDGE_WEBHOOK_SECRET": webhook_secret.secret_arn,
                # issue-12: an alarm-level OK queues its contributors' resolves on the lane itself
                "ALERTBRIDGE_DELIVERY_QUEUE_URL": lane.queue.queue_url,
            },
            timeout_seconds=options.timeout_seconds,
            memory_mb=options.memory_mb,
            settings=settings,
        )
        self.function = self.handler.function
        self.function.add_event_source(
            sources.SqsEventSource(
                lane.queue,
                batch_size=options.batch_size,
                max_concurrency=options.max_concurrency,
                report_batch_item_failures=True,  # a failed record fails only its own message group
            )
        )
        table.grant_actions(self.function, self.handler.role, *STATE_ITEM_ACTIONS)
        routing_keys.grant_read(self.function)
        webhook_secret.grant_read(self.function)
        lane.queue.grant_send_messages(self.function)  # issue-12: contributor resolves, one per key
        if reads_alarm_tags:
            self._grant_alarm_tags()

    def _grant_alarm_tags(self) -> None:
        self.handler.grant_on_alarms(
            ["cloudwatch:ListTagsForResource"],
            "Tag-matching rules may name any alarm of this account and region; the action only reads tags.",
        )
