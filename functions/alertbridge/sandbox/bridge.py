"""The bridge's AWS side stood up in moto: alarm topic -> ingest queue (+DLQ) -> [intake] -> FIFO delivery
queue (+FIFO DLQ) -> [delivery], state table, secrets.

Used by `alertbridge demo`, the integration tests and the soak. Call inside `moto.mock_aws()` (or with a
moto server as the AWS endpoint).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from alertbridge import wiring
from alertbridge.models.config import BridgeConfig
from alertbridge.operator.commands import queue_arn as arn_of_queue
from alertbridge.sandbox.emulator import DEFAULT_TOKEN, DEFAULT_USER
from alertbridge.sandbox.event_source import FakeLambdaContext, GroupWatch, Handler, SqsEventSource, TwoStages

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
LOCAL_WEBHOOK_SECRET = "local-webhook-secret"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


def local_routing_key(route: str) -> str:
    """A stable, well-formed (32 alphanumeric chars) stand-in key per route."""
    return hashlib.sha256(f"alertbridge-local:{route}".encode()).hexdigest()[:32]


@contextmanager
def temporary_environment(values: dict[str, str]) -> Iterator[None]:
    """`values` set in os.environ for the block, then each variable back as it was (or unset)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def use_fake_credentials() -> None:
    """moto needs credentials to exist; never let a local run reach a real account's."""
    os.environ.update(FAKE_CREDENTIALS)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)


@dataclass
class LocalBridge:
    config: BridgeConfig
    events_url: str
    topic_arn: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    delivery_queue_url: str
    delivery_queue_arn: str
    delivery_dlq_url: str
    table_name: str
    routing_keys_secret: str
    webhook_secret: str

    @classmethod
    def create(
        cls,
        config: BridgeConfig,
        events_url: str,
        *,
        max_receive_count: int = 5,
        raw_delivery: bool = False,
        name: str = "alertbridge",
        webhook_secrets: tuple[str, ...] = (LOCAL_WEBHOOK_SECRET,),
    ) -> LocalBridge:
        sqs, sns = _client("sqs"), _client("sns")
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = arn_of_queue(sqs, dlq_url)
        redrive = {"deadLetterTargetArn": dlq_arn, **_receives(max_receive_count)}
        queue_url = sqs.create_queue(
            QueueName=f"{name}-ingest",
            Attributes={"RedrivePolicy": json.dumps(redrive), "VisibilityTimeout": "30"},
        )["QueueUrl"]
        queue_arn = arn_of_queue(sqs, queue_url)
        delivery_dlq_url = sqs.create_queue(
            QueueName=f"{name}-delivery-dlq.fifo", Attributes={"FifoQueue": "true"}
        )["QueueUrl"]
        fifo_redrive = {
            "deadLetterTargetArn": arn_of_queue(sqs, delivery_dlq_url),
            **_receives(max_receive_count),
        }
        delivery_queue_url = sqs.create_queue(
            QueueName=f"{name}-delivery.fifo",
            Attributes={
                "FifoQueue": "true",
                "RedrivePolicy": json.dumps(fifo_redrive),
                "VisibilityTimeout": "30",
            },
        )["QueueUrl"]
        topic_arn = sns.create_topic(Name=f"{name}-alarms")["TopicArn"]
        attributes = {"RawMessageDelivery": "true"} if raw_delivery else {}
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
        table_name = f"{name}-state"
        _create_table(table_name)
        secrets = _client("secretsmanager")
        keys = {config.secret_field(route): local_routing_key(route) for route in config.routes}
        keys_secret = secrets.create_secret(Name=f"{name}/routing-keys", SecretString=json.dumps(keys))["ARN"]
        hook = {
            "webhook_secrets": list(webhook_secrets),
            "rest_token": DEFAULT_TOKEN,
            "from_email": DEFAULT_USER,
        }
        hook_secret = secrets.create_secret(Name=f"{name}/webhook", SecretString=json.dumps(hook))["ARN"]
        return cls(
            config=config,
            events_url=events_url,
            topic_arn=topic_arn,
            queue_url=queue_url,
            queue_arn=queue_arn,
            dlq_url=dlq_url,
            delivery_queue_url=delivery_queue_url,
            delivery_queue_arn=arn_of_queue(sqs, delivery_queue_url),
            delivery_dlq_url=delivery_dlq_url,
            table_name=table_name,
            routing_keys_secret=keys_secret,
            webhook_secret=hook_secret,
        )

    def environment(self, **overrides: str) -> dict[str, str]:
        env = {
            "ALERTBRIDGE_TABLE_NAME": self.table_name,
            "ALERTBRIDGE_ROUTING_KEYS_SECRET": self.routing_keys_secret,
            "ALERTBRIDGE_WEBHOOK_SECRET": self.webhook_secret,
            "ALERTBRIDGE_CONFIG": self.config.to_json_text(),
            "ALERTBRIDGE_EVENTS_URL": self.events_url,
            "ALERTBRIDGE_REST_URL": self.events_url,  # the emulator serves both APIs
            "ALERTBRIDGE_ALARM_TOPIC_ARN": self.topic_arn,
            "ALERTBRIDGE_QUEUE_URL": self.queue_url,
            "ALERTBRIDGE_DLQ_URL": self.dlq_url,
            "ALERTBRIDGE_DELIVERY_QUEUE_URL": self.delivery_queue_url,
            "ALERTBRIDGE_DELIVERY_DLQ_URL": self.delivery_dlq_url,
        }
        env.update(overrides)
        return env

    def activate(self, **overrides: str) -> None:
        """Make this bridge the 'deployed' one for in-process handlers: a fresh container."""
        os.environ.update(self.environment(**overrides))
        wiring.reset()

    def publish(self, message: str, subject: str | None = None) -> str:
        extra = {"Subject": subject} if subject else {}
        return str(_client("sns").publish(TopicArn=self.topic_arn, Message=message, **extra)["MessageId"])

    def put_alarm(self, name: str, *, tags: dict[str, str] | None = None) -> str:
        """A CloudWatch alarm in moto (the bridge reads tags and states from CloudWatch); its ARN."""
        cloudwatch = _client("cloudwatch")
        cloudwatch.put_metric_alarm(
            AlarmName=name, Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum", Period=60,
            EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[self.topic_arn], OKActions=[self.topic_arn],
            Tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()],
        )  # fmt: skip
        return str(cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"])

    def run_reconciler(self) -> dict[str, Any]:
        """One scheduled run of the real reconciler handler, in a fresh container; its run report."""
        from alertbridge.handlers import reconcile

        wiring.reset(only="reconcile")
        context = FakeLambdaContext(
            function_name="alertbridge-reconciler",
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:alertbridge-reconciler",
        )
        return dict(reconcile.lambda_handler({"source": "aws.events"}, context))

    def set_alarm_state(self, name: str, state: str, reason: str) -> None:
        """CloudWatch's own state; moto publishes nothing, as when the notification is lost."""
        _client("cloudwatch").set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)

    def send_to_queue(self, body: str) -> None:
        _client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=body)

    def stages(
        self,
        *,
        batch_size: int = 10,
        timeout_seconds: float = 60.0,
        retry_delay_seconds: int = 0,
        watch: GroupWatch | None = None,
    ) -> TwoStages:
        """Both event sources, as Lambda runs them: the ingest queue into the intake handler, the FIFO
        delivery queue into the delivery handler (one batch per message group at a time)."""
        from alertbridge.handlers import delivery, intake

        return TwoStages(
            intake=self.event_source(
                intake.lambda_handler,
                batch_size=batch_size,
                timeout_seconds=timeout_seconds,
                retry_delay_seconds=retry_delay_seconds,
            ),
            delivery=SqsEventSource(
                _client("sqs"),
                self.delivery_queue_url,
                self.delivery_queue_arn,
                delivery.lambda_handler,
                batch_size=batch_size,
                timeout_seconds=timeout_seconds,
                retry_delay_seconds=retry_delay_seconds,
                watch=watch,
            ),
        )

    def event_source(
        self,
        handler: Handler,
        *,
        batch_size: int = 10,
        timeout_seconds: float = 60.0,
        retry_delay_seconds: int = 0,
    ) -> SqsEventSource:
        """The ingest queue's event source into `handler`."""
        return SqsEventSource(
            _client("sqs"),
            self.queue_url,
            self.queue_arn,
            handler,
            batch_size=batch_size,
            timeout_seconds=timeout_seconds,
            retry_delay_seconds=retry_delay_seconds,
        )

    def dead_letter_count(self) -> int:
        """Messages in either dead-letter queue (the ingest DLQ and the FIFO delivery DLQ)."""
        return sum(_message_count(url) for url in (self.dlq_url, self.delivery_dlq_url))

    def state_items(self) -> list[dict[str, Any]]:
        """Every state item, for display (a local scan: the Lambdas never scan)."""
        from alertbridge.adapters.dynamo_state import DynamoStateStore

        store = DynamoStateStore(self.table_name, client=_client("dynamodb"))
        return [item.model_dump(mode="json") for item in store.all_items()]


def _message_count(queue_url: str) -> int:
    attributes = _client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _receives(max_receive_count: int) -> dict[str, str]:
    return {"maxReceiveCount": str(max_receive_count)}


def _client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]


def _create_table(table_name: str) -> None:
    from alertbridge.adapters.dynamo_state import create_state_table

    create_state_table(_client("dynamodb"), table_name)
