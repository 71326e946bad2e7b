"""Lambda's SQS event source, played locally: poll the queue, hand batches to the handler, delete what
succeeded, and make failures visible again after `retry_delay_seconds` (time compressed: SQS's real
visibility timeout is minutes; 0 makes a failure visible at once).

Redelivery counts and the dead-letter queue are SQS's own (moto honours the redrive policy)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

IDLE_POLL_SECONDS = 0.05


@dataclass
class FakeLambdaContext:
    """What Powertools and the handler read from the Lambda context."""

    timeout_seconds: float = 60.0
    function_name: str = "alertbridge-ingest"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:alertbridge-ingest"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


@dataclass
class BatchResult:
    received: int
    failed: int
    receive_counts: list[int]


class SqsEventSource:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        handler: Handler,
        *,
        batch_size: int = 10,
        timeout_seconds: float = 60.0,
        region: str = "us-east-1",
        retry_delay_seconds: int = 0,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.handler = handler
        self.batch_size = batch_size
        self.timeout_seconds = timeout_seconds
        self.region = region
        self.retry_delay_seconds = retry_delay_seconds

    def poll_once(self) -> BatchResult | None:
        """One batch: None when the queue had nothing visible."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return None
        event = {"Records": [self._record(message) for message in messages]}
        failed_ids = self._invoke(event)
        self._settle(messages, failed_ids)
        counts = [int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")) for m in messages]
        return BatchResult(received=len(messages), failed=len(failed_ids), receive_counts=counts)

    def drain(
        self, *, max_batches: int = 10_000, on_batch: Callable[[BatchResult], None] | None = None
    ) -> int:
        """Poll until the queue is empty, waiting out failed records' retry delay; returns the number of
        batches handled."""
        handled = 0
        while handled < max_batches:
            result = self.poll_once()
            if result is None:
                if not self._waiting_to_retry():
                    return handled
                time.sleep(IDLE_POLL_SECONDS)
                continue
            handled += 1
            if on_batch is not None:
                on_batch(result)
        return max_batches

    def _waiting_to_retry(self) -> bool:
        if self.retry_delay_seconds == 0:
            return False
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")) > 0

    def _invoke(self, event: dict[str, Any]) -> set[str]:
        """The failed message ids. An invocation that raises fails the whole batch, as in Lambda."""
        try:
            response = self.handler(event, FakeLambdaContext(timeout_seconds=self.timeout_seconds))
        except Exception:
            return {record["messageId"] for record in event["Records"]}
        return {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}

    def _settle(self, messages: list[dict[str, Any]], failed_ids: set[str]) -> None:
        for message in messages:
            if message["MessageId"] in failed_ids:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_delay_seconds,
                )
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = message.get("Attributes", {})
        now_ms = str(int(time.time() * 1000))
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {
                "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                "SentTimestamp": attributes.get("SentTimestamp", now_ms),
                "SenderId": attributes.get("SenderId", "AIDAEXAMPLE"),
                "ApproximateFirstReceiveTimestamp": attributes.get(
                    "ApproximateFirstReceiveTimestamp", now_ms
                ),
            },
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }
