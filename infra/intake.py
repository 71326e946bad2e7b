"""The intake function: SQS records of the ingest queue (SNS alarms, EventBridge events) are parsed and
forwarded to the FIFO delivery queue, in the message group of their dedup key."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.function import BridgeFunction
from infra.settings import DeploySettings

HANDLER = "alertbridge.handlers.intake.lambda_handler"


class IntakeFunction(Construct):
    """Consumes the ingest queue and may send to the delivery queue, nothing else: it never talks to
    PagerDuty, the table or the secrets."""

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
        delivery_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, id)
        options = settings.ingest
        self.handler = BridgeFunction(
            self,
            "Intake",
            handler=HANDLER,
            code=code,
            layer=layer,
            environment={**environment, "ALERTBRIDGE_DELIVERY_QUEUE_URL": delivery_queue.queue_url},
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
        delivery_queue.grant_send_messages(self.function)


def _window(seconds: int) -> Duration | None:
    return Duration.seconds(seconds) if seconds else None
