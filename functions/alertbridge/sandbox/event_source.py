"""Lambda's SQS event source, played locally: poll the queue, hand batches to the handler, delete what
succeeded, and make failures visible again after `retry_delay_seconds` (time compressed: SQS's real
visibility timeout is minutes; 0 makes a failure visible at once).

Redelivery counts and the dead-letter queue are SQS's own (moto honours the redrive policy). On a FIFO
queue, SQS (and moto) never hands out a message of a group while another of that group is in flight, so
several event sources polling one FIFO queue get one batch per group at a time, as Lambda does; a
`GroupWatch` shared by them checks that promise instead of trusting it. moto deduplicates FIFO messages
only against messages still in the queue, where SQS also remembers deleted ones for five minutes: moto
delivers more duplicates, never fewer."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

IDLE_POLL_SECONDS = 0.05
_FIFO_ATTRIBUTES = ("MessageGroupId", "MessageDeduplicationId", "SequenceNumber")


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


class GroupWatch:
    """Checks, across the event sources sharing it, that no message group is handed out while a message of
    that group is still in flight elsewhere (which Lambda's FIFO event source never does). A message
    leaves the watch just before it is deleted or made visible again, so a group handed out only after
    that is never mistaken for an overlap."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: dict[str, set[str]] = {}  # group -> ids of its messages in flight
        self.batches = 0
        self.overlaps: list[str] = []

    def acquire(self, messages: list[tuple[str, str]]) -> None:
        """A batch of (group, message id) was received."""
        with self._lock:
            self.batches += 1
            groups = {group for group, _ in messages}
            self.overlaps += [group for group in groups if self._in_flight.get(group)]
            for group, message_id in messages:
                self._in_flight.setdefault(group, set()).add(message_id)

    def settle(self, group: str, message_id: str) -> None:
        with self._lock:
            self._in_flight.get(group, set()).discard(message_id)


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
        watch: GroupWatch | None = None,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.handler = handler
        self.batch_size = batch_size
        self.timeout_seconds = timeout_seconds
        self.region = region
        self.retry_delay_seconds = retry_delay_seconds
        self.watch = watch
        self.fifo = queue_url.endswith(".fifo")

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
        if self.watch is not None:
            self.watch.acquire([(_group(m), m["MessageId"]) for m in messages])
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
        """Whether a failed record is still to come back after an empty receive: not visible yet (its retry
        delay runs), or visible already (the delay ended between the receive and this call)."""
        if self.retry_delay_seconds == 0:
            return False
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=names)[
            "Attributes"
        ]
        return any(int(attributes.get(name, "0")) > 0 for name in names)

    def _invoke(self, event: dict[str, Any]) -> set[str]:
        """The failed message ids. An invocation that raises fails the whole batch, as in Lambda."""
        try:
            response = self.handler(event, FakeLambdaContext(timeout_seconds=self.timeout_seconds))
        except Exception:
            return {record["messageId"] for record in event["Records"]}
        return {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}

    def _settle(self, messages: list[dict[str, Any]], failed_ids: set[str]) -> None:
        for message in messages:
            if self.watch is not None:
                self.watch.settle(_group(message), message["MessageId"])
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
        record_attributes = {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", now_ms),
            "SenderId": attributes.get("SenderId", "AIDAEXAMPLE"),
            "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", now_ms),
        }
        for name in _FIFO_ATTRIBUTES:
            if name in attributes:
                record_attributes[name] = attributes[name]
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": record_attributes,
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }


def _group(message: dict[str, Any]) -> str:
    return str(message.get("Attributes", {}).get("MessageGroupId", ""))


@dataclass
class TwoStages:
    """The intake and delivery event sources of one bridge, drained together."""

    intake: SqsEventSource
    delivery: SqsEventSource

    def poll_once(self) -> BatchResult | None:
        """One batch of either stage (the intake first); None when both were empty."""
        return self.intake.poll_once() or self.delivery.poll_once()

    def drain(
        self, *, max_batches: int = 10_000, on_batch: Callable[[BatchResult], None] | None = None
    ) -> int:
        """Until both queues are empty (and no failed record waits for its retry); the batches handled."""
        handled = 0
        while handled < max_batches:
            forwarded = self.intake.drain(max_batches=max_batches - handled, on_batch=on_batch)
            delivered = self.delivery.drain(max_batches=max_batches - handled - forwarded, on_batch=on_batch)
            handled += forwarded + delivered
            if forwarded == 0 and delivered == 0:
                return handled
        return max_batches
