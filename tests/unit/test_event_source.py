"""The local Lambda event source's drain, against a scripted SQS client: the interleaving in which a failed
record's retry delay ends between an empty receive and the attribute check (seen on a loaded machine)."""

from __future__ import annotations

from typing import Any

from alertbridge.sandbox.event_source import SqsEventSource

MESSAGE = {
    "MessageId": "m1",
    "ReceiptHandle": "r1",
    "Body": "{}",
    "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1700000000000"},
}


class ScriptedSqs:
    """Receives answer in order from `receives`; the queue's counts are `(visible, not_visible)`, the
    same for every attribute call."""

    def __init__(self, receives: list[list[dict[str, Any]]], counts: tuple[int, int]) -> None:
        self.receives, self.counts = receives, counts
        self.deleted: list[str] = []

    def receive_message(self, **_: Any) -> dict[str, Any]:
        messages = self.receives.pop(0) if self.receives else []
        if not self.receives:
            self.counts = (0, 0)  # the script is played out: the queue is empty from now on
        return {"Messages": messages}

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        visible, not_visible = self.counts
        return {
            "Attributes": {
                "ApproximateNumberOfMessages": str(visible),
                "ApproximateNumberOfMessagesNotVisible": str(not_visible),
            }
        }

    def delete_message(self, *, ReceiptHandle: str, **_: Any) -> None:
        self.deleted.append(ReceiptHandle)


def source(sqs: ScriptedSqs) -> SqsEventSource:
    return SqsEventSource(
        sqs, "https://sqs.local/q", "arn:aws:sqs:us-east-1:1:q", lambda event, _: {}, retry_delay_seconds=1
    )


def test_a_record_visible_again_by_the_attribute_check_is_still_drained() -> None:
    # The receive came back empty (the delay was still running); by the attribute check it had ended: the
    # record is visible, not "not visible". Drain must poll again rather than report an empty queue.
    sqs = ScriptedSqs(receives=[[], [MESSAGE]], counts=(1, 0))
    assert source(sqs).drain(max_batches=5) == 1
    assert sqs.deleted == ["r1"]


def test_an_empty_queue_ends_the_drain() -> None:
    sqs = ScriptedSqs(receives=[], counts=(0, 0))
    assert source(sqs).drain(max_batches=5) == 0
