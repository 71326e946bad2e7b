"""One sender per key: the interleavings that lost pages or left incidents open while several code paths
could send for one dedup key, replayed with a PagerDuty send held in flight while another consumer (or the
reconciler) runs. Real handlers, both event sources, a serial moto server (each AWS call atomic, as in
AWS) and the emulator.

Each interleaving also runs on a single-stage standard queue (the design before the FIFO lane: any
consumer may take any record). There the bad interleaving happens and the same assertions fail, which the
test requires (strict xfail): it shows the test can catch the defect, and that the lane removes it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from alertbridge.logic.intake import prepare_for_delivery
from alertbridge.logic.parsers import parse_sqs_body
from alertbridge.models.config import BridgeConfig
from alertbridge.models.delivery import AlertNotice
from alertbridge.models.maintenance import MaintenanceWindow
from alertbridge.models.state import KeyStatus
from alertbridge.sandbox.event_source import GroupWatch, SqsEventSource
from alertbridge.sandbox.scenario import Metric, alarm_arn, metric_alarm_message
from tests.integration.lane import ServedBridge, served_bridge

NOW = datetime.now(UTC).replace(microsecond=0)
T1, T2, T3 = NOW - timedelta(minutes=30), NOW - timedelta(minutes=20), NOW - timedelta(minutes=10)
METRIC = Metric("AWS/Lambda", "Errors", {"FunctionName": "checkout"}, threshold=5)
NAME = "checkout-errors"
KEY = alarm_arn(NAME)
CONFIG = BridgeConfig.model_validate({"routes": {"default": {}}})
LANES = ["fifo", pytest.param("standard", marks=pytest.mark.xfail(strict=True, reason="two senders race"))]


def message(state: str, at: datetime) -> str:
    old = "OK" if state == "ALARM" else "ALARM"
    return metric_alarm_message(NAME, state, old, at, METRIC, f"{NAME} went {state}")


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[ServedBridge]:
    with served_bridge(monkeypatch, CONFIG, ALERTBRIDGE_READ_TIMEOUT="5") as bridge:
        yield bridge


class Consumers:
    """Two delivery consumers (Lambda containers) over one queue, one record per batch. On the FIFO lane
    they share a GroupWatch; on a standard queue (`lane="standard"`) nothing keeps them apart."""

    def __init__(self, served: ServedBridge, lane: str) -> None:
        from alertbridge.handlers import delivery

        self.served, self.watch = served, GroupWatch()
        sqs = boto3.client("sqs")
        if lane == "fifo":
            url, arn = served.bridge.delivery_queue_url, served.bridge.delivery_queue_arn
        else:
            url = sqs.create_queue(QueueName="lane-standard")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
        self.url, self.lane, self.sqs = url, lane, sqs
        self.first, self.second = (
            SqsEventSource(sqs, url, arn, delivery.lambda_handler, batch_size=1, watch=self.watch),
            SqsEventSource(
                boto3.client("sqs"), url, arn, delivery.lambda_handler, batch_size=1, watch=self.watch
            ),
        )

    def notify(self, *bodies: str) -> None:
        """CloudWatch's notifications, through SNS and the real intake stage (or, on the standard lane,
        forwarded as the intake would, without a message group)."""
        if self.lane == "fifo":
            for body in bodies:
                self.served.bridge.publish(body)
            self.served.bridge.stages().intake.drain()
            return
        for body in bodies:
            alert = prepare_for_delivery(parse_sqs_body(body, received_at=NOW), transport_time=NOW)
            notice = AlertNotice(alert=alert, received_at=NOW)
            self.sqs.send_message(QueueUrl=self.url, MessageBody=notice.model_dump_json())

    def with_held_send(self, action: str, then: Callable[[], object]) -> None:
        """The first consumer's send of `action` is held in flight while `then` runs; then both drain."""
        self.served.sends.hold(action, KEY)
        holder = self.served.in_thread(self.first.poll_once)
        assert self.served.sends.started.wait(10), "the send was never made"
        then()
        self.served.sends.release.set()
        holder.join(timeout=30)
        self.drain()
        assert self.watch.overlaps == [], "two batches of one message group were in flight at once"

    def drain(self) -> None:
        self.first.drain()
        self.second.drain()


def open_incident(served: ServedBridge, consumers: Consumers) -> None:
    consumers.notify(message("ALARM", T1))
    consumers.drain()
    assert served.emulator.open_alert(KEY) is not None


@pytest.mark.parametrize("lane", LANES)
def test_a_resolve_in_flight_never_swallows_the_newer_alarm(served: ServedBridge, lane: str) -> None:
    consumers = Consumers(served, lane)
    open_incident(served, consumers)
    consumers.notify(message("OK", T2), message("ALARM", T3))
    # The OK's resolve is in flight; the other consumer polls meanwhile (on the lane it gets nothing).
    consumers.with_held_send("resolve", consumers.second.poll_once)
    assert served.emulator.open_alert(KEY) is not None, "the newer ALARM's page was lost"
    stored = served.item(KEY)
    assert stored is not None and stored.is_open and stored.state_changed_at == T3


@pytest.mark.parametrize("lane", LANES)
def test_a_trigger_in_flight_is_never_left_open_by_the_newer_ok(served: ServedBridge, lane: str) -> None:
    consumers = Consumers(served, lane)
    consumers.notify(message("ALARM", T1), message("OK", T2))
    consumers.with_held_send("trigger", consumers.second.poll_once)
    assert served.emulator.open_alert(KEY) is None, "an orphaned incident: the OK's resolve came first"
    stored = served.item(KEY)
    assert stored is not None and stored.status == KeyStatus.RESOLVED and not stored.trigger_pending


def test_the_reconcilers_stale_ok_never_closes_the_newer_episode(served: ServedBridge) -> None:
    consumers = Consumers(served, "fifo")
    served.bridge.put_alarm(NAME)
    open_incident(served, consumers)
    # CloudWatch says OK (the OK notification was lost) ... and the alarm fires again; its notification is
    # on the lane before the reconciler's observation.
    served.bridge.set_alarm_state(NAME, "OK", "recovered")
    (alarm,) = boto3.client("cloudwatch").describe_alarms(AlarmNames=[NAME])["MetricAlarms"]
    consumers.notify(message("ALARM", alarm["StateUpdatedTimestamp"] + timedelta(milliseconds=500)))
    report = served.run_reconciler()
    assert report["done"] == {"alarm-ok": 1}  # planned from the snapshot: the item still says T1
    consumers.drain()
    assert served.emulator.open_alert(KEY) is not None, "the stale observation closed the new episode"
    stored = served.item(KEY)
    assert stored is not None and stored.is_open


def test_a_maintenance_end_racing_an_ok_leaves_nothing_open(served: ServedBridge) -> None:
    consumers = Consumers(served, "fifo")
    served.bridge.put_alarm(NAME)
    served.bridge.set_alarm_state(NAME, "ALARM", "firing")
    from alertbridge.adapters.dynamo_state import DynamoMaintenanceStore

    windows = DynamoMaintenanceStore(served.bridge.table_name)
    start = datetime.now(UTC) - timedelta(hours=1)
    windows.put(MaintenanceWindow(id="mw-1", start=start, end=start + timedelta(hours=2), reason="deploy"))
    consumers.notify(message("ALARM", T1))
    consumers.drain()
    assert served.item(KEY).status == KeyStatus.SUPPRESSED  # type: ignore[union-attr]
    windows.end("mw-1", datetime.now(UTC))
    assert served.run_reconciler()["done"] == {"maintenance-ended": 1}
    consumers.notify(message("OK", T2))  # the OK arrives while the observation waits on the lane
    consumers.with_held_send("trigger", consumers.second.poll_once)
    assert served.emulator.open_alert(KEY) is None, "the trigger after maintenance was left open"
    stored = served.item(KEY)
    assert stored is not None and stored.status == KeyStatus.RESOLVED and stored.opened_at is not None


def test_the_local_fifo_event_source_never_hands_out_two_batches_of_one_group(served: ServedBridge) -> None:
    """Four consumers on one FIFO queue with messages of three groups; each batch is held until the others
    have polled twice more, so they try hard to take the same group."""
    sqs = boto3.client("sqs")
    url, arn = served.bridge.delivery_queue_url, served.bridge.delivery_queue_arn
    for index in range(60):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": index}), MessageGroupId=f"g{index % 3}",
                         MessageDeduplicationId=f"m{index}")  # fmt: skip
    polls, handled = PollCount(), []
    order: dict[str, list[int]] = {}
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        polls.wait_for_more(2)
        with lock:
            for record in event["Records"]:
                group = record["attributes"]["MessageGroupId"]
                order.setdefault(group, []).append(json.loads(record["body"])["n"])
                handled.append(group)
        return {"batchItemFailures": []}

    watch = GroupWatch()
    consumers = [
        SqsEventSource(polls.counting(boto3.client("sqs")), url, arn, handler, batch_size=2, watch=watch)
        for _ in range(4)
    ]
    threads = [threading.Thread(target=source.drain) for source in consumers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(handled) == 60 and watch.batches >= 30
    assert watch.overlaps == []
    assert all(numbers == sorted(numbers) for numbers in order.values())  # in order within each group


class PollCount:
    """Counts receives across consumers, so a held batch can wait until the others have polled."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def counting(self, client: Any) -> Any:
        receive = client.receive_message

        def counted(**request: Any) -> Any:
            answer = receive(**request)
            with self.changed:
                self.count += 1
                self.changed.notify_all()
            return answer

        client.receive_message = counted
        return client

    def wait_for_more(self, polls: int) -> None:
        with self.changed:
            target = self.count + polls
            self.changed.wait_for(lambda: self.count >= target, timeout=2.0)
