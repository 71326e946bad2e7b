"""Fault-injection soak machinery: many alarms flapping, delivered at-least-once and out of order, through the
real ingest handler on moto while the PagerDuty emulator fails in every way the Events API can.

Used by tests/soak. Everything is seeded: the same seed gives the same alarms, transitions, delivery order
and fault sequence (timing-dependent effects, such as which request meets the rate limit, may vary).

Time is compressed twice, as Lambda's SQS event source is played locally: a failed record is visible again
after `retry_delay_seconds` (SQS's visibility timeout, minutes in production, see event_source.py), and the
adapter's backoff between retries is scaled down (`backoff_base`), so a storm of faults does not sleep for
minutes. The retry delay must not be shorter than the emulator's rate-limit window, as in production a
visibility timeout of minutes outlasts PagerDuty's per-minute limit: with immediate redelivery a record
could use up its receives inside one rate-limit window and reach the DLQ with no fault injected.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from alertbridge import wiring
from alertbridge.local.bridge import LocalBridge, local_routing_key
from alertbridge.local.emulator import Fault, PagerDutyEmulator
from alertbridge.local.event_source import BatchResult
from alertbridge.local.scenario import Metric, cloudwatch_time, metric_alarm_message
from alertbridge.logic.parsers import parse_sqs_body
from alertbridge.logic.pipeline import Outcome

ACCOUNT = "123456789012"
DEV_ACCOUNT = "111111111111"  # the example configuration routes this account to "low-urgency"
REGION = "us-east-1"
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
METRIC = Metric("AWS/ECS", "CPUUtilization", {"ClusterName": "prod", "ServiceName": "api"}, threshold=90)
# Requests that mean the bridge built a body PagerDuty refuses: none may ever happen.
REFUSED_OUTCOMES = ("invalid", "unknown-routing-key", "too-large")
APPLIED = ("opened", "updated")
Channel = Literal["sns", "eventbridge"]


def every_fault(slow_seconds: float) -> tuple[Fault, ...]:
    """5xx, 429 with and without Retry-After, a connection reset, and an answer later than the timeout."""
    return (
        Fault.server_error(500),
        Fault.server_error(503),
        Fault.rate_limited(),
        Fault.rate_limited(retry_after=0),
        Fault.rate_limited(retry_after=1),
        Fault.reset(),
        Fault.slow(slow_seconds),
    )


@dataclass(frozen=True)
class Transition:
    """One alarm state change, as CloudWatch would notify it."""

    alarm: str
    account: str
    state: str  # ALARM or OK
    at: datetime

    @property
    def arn(self) -> str:
        return f"arn:aws:cloudwatch:{REGION}:{self.account}:alarm:{self.alarm}"

    @property
    def old_state(self) -> str:
        return "OK" if self.state == "ALARM" else "ALARM"

    @property
    def reason(self) -> str:
        relation = "greater" if self.state == "ALARM" else "not greater"
        return f"Threshold Crossed: 3 out of the last 3 datapoints were {relation} than the threshold (90.0)."


@dataclass(frozen=True)
class Delivery:
    transition: Transition
    channel: Channel


def alarm_identities(count: int) -> list[tuple[str, str]]:
    """(name, account) pairs spread over the example configuration's three routes."""
    kinds = ("payments-api-errors", "prod-api-cpu", "svc-worker-lag", "batch-dev-queue-age")
    identities = []
    for index in range(count):
        kind = kinds[index % len(kinds)]
        account = DEV_ACCOUNT if kind.startswith("batch-dev") else ACCOUNT
        identities.append((f"{kind}-{index:04d}", account))
    return identities


def plan_transitions(alarms: int, transitions: int, *, rng: random.Random) -> list[Transition]:
    """`transitions` state changes over `alarms` alarms, alternating ALARM/OK per alarm, each alarm's changes
    at distinct, increasing times; some alarms start with an OK (they were in ALARM before the soak)."""
    if alarms < 1 or transitions < alarms:
        raise ValueError("need at least one alarm and one transition per alarm")
    planned = []
    for index, (name, account) in enumerate(alarm_identities(alarms)):
        count = transitions // alarms + (1 if index < transitions % alarms else 0)
        first = "ALARM" if rng.random() < 0.8 else "OK"
        at = START + timedelta(seconds=rng.randrange(0, 600), milliseconds=rng.randrange(1000))
        for step in range(count):
            state = first if step % 2 == 0 else ("OK" if first == "ALARM" else "ALARM")
            planned.append(Transition(name, account, state, at))
            at += timedelta(minutes=rng.randrange(1, 30), milliseconds=rng.randrange(1, 1000))
    return sorted(planned, key=lambda t: (t.at, t.alarm))


def continue_transitions(
    previous: Sequence[Transition], per_alarm: int, *, rng: random.Random
) -> list[Transition]:
    """`per_alarm` more changes for every alarm of `previous`, each after that alarm's newest one."""
    newest = newest_transitions(previous)
    planned = []
    for last in newest.values():
        state, at = last.state, last.at
        for _ in range(per_alarm):
            state = "OK" if state == "ALARM" else "ALARM"
            at += timedelta(minutes=rng.randrange(1, 30), milliseconds=rng.randrange(1, 1000))
            planned.append(Transition(last.alarm, last.account, state, at))
    return sorted(planned, key=lambda t: (t.at, t.alarm))


def newest_transitions(transitions: Iterable[Transition]) -> dict[str, Transition]:
    """Each alarm's newest transition: its final state."""
    newest: dict[str, Transition] = {}
    for transition in transitions:
        known = newest.get(transition.arn)
        if known is None or transition.at > known.at:
            newest[transition.arn] = transition
    return newest


def delivery_order(
    transitions: Sequence[Transition],
    *,
    rng: random.Random,
    duplicate_rate: float = 0.2,
    swap_rate: float = 0.3,
    swap_distance: int = 12,
    eventbridge_rate: float = 0.2,
) -> list[Delivery]:
    """At-least-once and out of order: near neighbours swapped, some deliveries repeated later, some by
    EventBridge (straight to the queue) instead of SNS."""
    order = list(transitions)
    for index in range(len(order) - 1):
        if rng.random() < swap_rate:
            other = min(len(order) - 1, index + rng.randrange(1, swap_distance + 1))
            order[index], order[other] = order[other], order[index]
    for index in reversed(range(len(order))):
        if rng.random() < duplicate_rate:
            order.insert(min(len(order), index + rng.randrange(1, 80)), order[index])
    channels: list[Channel] = ["sns", "eventbridge"]
    return [Delivery(t, channels[rng.random() < eventbridge_rate]) for t in order]


def sns_alarm_message(transition: Transition) -> str:
    """The `Message` CloudWatch publishes to SNS for this transition."""
    message = json.loads(
        metric_alarm_message(
            transition.alarm, transition.state, transition.old_state, transition.at, METRIC, transition.reason
        )
    )
    message.update(AWSAccountId=transition.account, AlarmArn=transition.arn)
    return json.dumps(message)


def eventbridge_alarm_event(transition: Transition) -> str:
    """The "CloudWatch Alarm State Change" event an EventBridge rule puts on the queue for this transition."""
    previous_at = transition.at - timedelta(minutes=1)
    return json.dumps(
        {
            "version": "0",
            "id": hashlib.md5(
                f"{transition.arn}@{transition.at}".encode(), usedforsecurity=False
            ).hexdigest(),
            "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch",
            "account": transition.account,
            "time": transition.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [transition.arn],
            "detail": {
                "alarmName": transition.alarm,
                "state": {
                    "value": transition.state,
                    "reason": transition.reason,
                    "reasonData": json.dumps({"version": "1.0", "threshold": METRIC.threshold}),
                    "timestamp": cloudwatch_time(transition.at),
                },
                "previousState": {
                    "value": transition.old_state,
                    "reason": "",
                    "timestamp": cloudwatch_time(previous_at),
                },
                "configuration": {
                    "description": None,
                    "metrics": [
                        {
                            "id": "m1",
                            "metricStat": {
                                "metric": {
                                    "namespace": METRIC.namespace,
                                    "name": METRIC.name,
                                    "dimensions": METRIC.dimensions,
                                },
                                "period": 60,
                                "stat": "Maximum",
                            },
                            "returnData": True,
                        }
                    ],
                },
            },
        }
    )


def dedup_key_of(transition: Transition) -> str:
    return parse_sqs_body(sns_alarm_message(transition), received_at=transition.at).dedup_key


@dataclass
class SoakStats:
    deliveries: int = 0
    batches: int = 0
    records: int = 0
    failed_records: int = 0
    redelivered_records: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, list[str]] = field(default_factory=dict)  # dedup key -> the bridge's decisions

    def count_batch(self, result: BatchResult) -> None:
        self.batches += 1
        self.records += result.received
        self.failed_records += result.failed
        self.redelivered_records += sum(1 for count in result.receive_counts if count > 1)

    def count_outcome(self, outcome: Outcome) -> None:
        self.outcomes[outcome.reason] = self.outcomes.get(outcome.reason, 0) + 1
        sent = f"->{outcome.sent.value}" if outcome.sent else ""
        self.decisions.setdefault(outcome.dedup_key, []).append(
            f"{outcome.alarm_state}:{outcome.reason}{sent}"
        )


class Soak:
    """The bridge under test: publish deliveries, drain through the real handler, check the end state."""

    def __init__(
        self,
        bridge: LocalBridge,
        emulator: PagerDutyEmulator,
        *,
        backoff_base: float = 0.02,
        retry_delay_seconds: int = 1,
    ) -> None:
        self.bridge = bridge
        self.emulator = emulator
        self.backoff_base = backoff_base
        self.source = bridge.stages(retry_delay_seconds=retry_delay_seconds)
        self.stats = SoakStats()
        self._sqs = self.source.intake.sqs

    def configure(self, **env: str) -> None:
        """A fresh container with these settings (e.g. ALERTBRIDGE_MAX_ATTEMPTS), observed by this soak."""
        from alertbridge.adapters.pagerduty_events import PagerDutyEventsAdapter
        from alertbridge.models.settings import settings
        from alertbridge.observability import metrics_counter

        self.bridge.activate(**env)
        pipeline = wiring.delivery_pipeline(metrics_counter)
        current = settings()
        # Time compression: the same adapter and retry rules, with the backoff scaled down.
        pipeline.events = PagerDutyEventsAdapter(
            current.events_url,
            connect_timeout=current.connect_timeout,
            read_timeout=current.read_timeout,
            max_attempts=current.max_attempts,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_base * 8,
        )
        pipeline.observers.append(self.stats.count_outcome)

    def set_max_receive_count(self, count: int) -> None:
        attributes = self._sqs.get_queue_attributes(QueueUrl=self.bridge.dlq_url, AttributeNames=["QueueArn"])
        redrive = {"deadLetterTargetArn": attributes["Attributes"]["QueueArn"], "maxReceiveCount": str(count)}
        self._sqs.set_queue_attributes(
            QueueUrl=self.bridge.queue_url, Attributes={"RedrivePolicy": json.dumps(redrive)}
        )

    def deliver(self, deliveries: Sequence[Delivery], *, chunk: int = 60) -> None:
        """Deliver in chunks, draining after each: processing interleaves with arrival, as in production."""
        for start in range(0, len(deliveries), chunk):
            for delivery in deliveries[start : start + chunk]:
                self._send(delivery)
            self.drain()

    def _send(self, delivery: Delivery) -> None:
        self.stats.deliveries += 1
        if delivery.channel == "sns":
            self.bridge.publish(sns_alarm_message(delivery.transition))
        else:
            self.bridge.send_to_queue(eventbridge_alarm_event(delivery.transition))

    def drain(self) -> None:
        self.source.drain(on_batch=self.stats.count_batch)

    def redrive(self) -> int:
        """`alertbridge redrive`'s own move: the DLQ back to the ingest queue; returns how many moved."""
        from alertbridge.operator.commands import redrive_queue

        _, moved, _ = redrive_queue(self._sqs, self.bridge.dlq_url, self.bridge.queue_url)
        return moved

    def dead_letters(self) -> int:
        return self.bridge.dead_letter_count()

    def mismatches(self, transitions: Iterable[Transition]) -> list[str]:
        """Where PagerDuty disagrees with an alarm's newest state, or an incident is on the wrong service."""
        problems = []
        for newest in newest_transitions(transitions).values():
            key = dedup_key_of(newest)
            alert = self.emulator.open_alert(key)
            if (alert is not None) != (newest.state == "ALARM"):
                has = "open" if alert is not None else "closed"
                problems.append(
                    f"{newest.alarm}: newest state {newest.state} at {newest.at}, PagerDuty {has}; "
                    f"{self.history(key)}"
                )
            elif alert is not None and alert.routing_key != local_routing_key(route_of(newest)):
                problems.append(f"{newest.alarm}: open on another service than its route's")
        return problems

    def history(self, dedup_key: str) -> str:
        """What the bridge decided and what PagerDuty did for one key, for a failure message."""
        requests = [
            f"{request.event_action}:{request.outcome}"
            for request in self.emulator.requests
            if isinstance(request.body, dict) and request.body.get("dedup_key") == dedup_key
        ]
        return f"bridge decided {self.stats.decisions.get(dedup_key, [])}; PagerDuty saw {requests}"

    def request_outcomes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for request in self.emulator.requests:
            if request.path.startswith("/v2/"):
                counts[request.outcome] = counts.get(request.outcome, 0) + 1
        return counts


def route_of(transition: Transition) -> str:
    """The example configuration's route for the soak's alarm names and accounts."""
    if transition.alarm.startswith("payments-"):
        return "payments"
    return "low-urgency" if transition.account == DEV_ACCOUNT else "default"


def replay_fault_plan(requests: int, rate: float, seed: int, kinds: Sequence[Fault]) -> dict[str, int]:
    """Which faults a seeded fault rate injected over `requests` requests (the emulator draws the same way:
    one draw per request on a faulted path, in arrival order). Counts slow answers, which the emulator
    records under their normal outcome."""
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    for _ in range(requests):
        if rng.random() < rate:
            fault = kinds[rng.randrange(len(kinds))]
            label = fault.label + (f":{fault.retry_after}" if fault.retry_after is not None else "")
            counts[label] = counts.get(label, 0) + 1
    return counts
