"""ports.DeliveryQueue on SQS FIFO: each message in its dedup key's message group."""

from __future__ import annotations

from typing import Any

from alertbridge.models.delivery import AlertNotice, Observation, deduplication_id, message_group_id


class SqsDeliveryQueue:
    def __init__(self, queue_url: str, client: Any = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from alertbridge.adapters import aws

            self._client = aws.client("sqs")
        return self._client

    def send(self, message: AlertNotice | Observation) -> None:
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=message.model_dump_json(),
            MessageGroupId=message_group_id(message.dedup_key),
            MessageDeduplicationId=deduplication_id(message),
        )
