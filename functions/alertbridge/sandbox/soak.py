"""The soak: alarms flapping at real-time pace through the whole bridge, with several concurrent consumers
on each stage, reconciler runs interleaved with the traffic, people acting on incidents through signed
webhooks, and PagerDuty failing in every way the Events API can. Used by `alertbridge soak` and
tests/soak; loopback only, bounded in count and time.

What runs: a serial moto server (every AWS call atomic, as in AWS; see sandbox/moto_server.py), the PagerDuty
emulator (rate limit, seeded faults, a PagerDuty maintenance window, a webhook subscription), the real
webhook handler behind a loopback HTTP server, `consumers` threads per stage, each a Lambda container
running the real intake or delivery handler from its event source, and the real reconciler.

What happens to the alarms (seeded): each alarm alternates ALARM/OK; notifications are delivered
at-least-once and out of order, by SNS or EventBridge; some alarms lose their last OK notification (only
CloudWatch knows), some are deleted, some hold a person's acknowledge or resolve, some fire during a
bridge maintenance window that ends mid-run, and a PagerDuty maintenance window drops triggers and resolves
for a while. Sends are held in flight (answered late but before the client gives up) and fail (5xx, 429
with and without Retry-After, connection resets, answers after the client's timeout).

What is checked, against an independent model of what PagerDuty should show (the alarms' own histories and
what people did, never the bridge's table): `lost_pages` (should be open, is not), `orphaned_incidents` (is
open, should not be), `misrouted_resolves` (a resolve PagerDuty dropped for its routing key, or an incident
on another service than its route's), `extra_pages` (a second incident for one alarm episode), and
`dead_letters`. Every seed must end with zeros.

Time is compressed: PagerDuty's rate limit (12 per second per key), the adapter's backoff, a failed record's
redelivery (1 s) and the reconciler's graces (seconds, not minutes).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from alertbridge import wiring
from alertbridge.logic.dedup import alarm_key
from alertbridge.logic.reconcile import AlarmHome, Graces
from alertbridge.models.config import BridgeConfig
from alertbridge.models.maintenance import MaintenanceWindow
from alertbridge.models.settings import settings
from alertbridge.sandbox.bridge import (
    FAKE_CREDENTIALS,
    LOCAL_WEBHOOK_SECRET,
    LocalBridge,
    local_routing_key,
    temporary_environment,
)
from alertbridge.sandbox.emulator import Fault, PagerDutyEmulator
from alertbridge.sandbox.event_source import GroupWatch, SqsEventSource
from alertbridge.sandbox.moto_server import SerialMotoServer
from alertbridge.sandbox.scenario import Metric, cloudwatch_time, metric_alarm_message
from alertbridge.services.pipeline import Outcome
from alertbridge.services.reconcile import ReconcileLimits
from alertbridge.wiring import delivery as delivery_wiring
from alertbridge.wiring import reconcile as reconcile_wiring

ACCOUNT = "123456789012"
DEV_ACCOUNT = "111111111111"  # the example configuration routes this account to "low-urgency"
REGION = "us-east-1"
METRIC = Metric("AWS/ECS", "CPUUtilization", {"ClusterName": "prod", "ServiceName": "api"}, threshold=90)
# Requests that mean the bridge built a body PagerDuty refuses: none may ever happen.
REFUSED_OUTCOMES = ("invalid", "unknown-routing-key", "too-large")
RATE_LIMIT, RATE_WINDOW = 12, 1.0  # PagerDuty's ~120/min per key, at the soak's pace
READ_TIMEOUT = 0.4  # the client's timeout, scaled down with everything else
HELD_SECONDS = 0.15  # a held send: answered late, but before the client gives up
SLOW_SECONDS = 0.6  # a slow answer: after the client gave up (PagerDuty may still have applied it)
RETRY_DELAY_SECONDS = 1  # a failed record's visibility timeout, compressed (>= the rate-limit window)
GRACES = Graces(pending_trigger=timedelta(seconds=4), open_check=timedelta(seconds=3))
MAINTENANCE_PREFIX = "svc-worker-"  # the bridge maintenance window covers these alarms
ENV = {
    "ALERTBRIDGE_READ_TIMEOUT": str(READ_TIMEOUT),
    "ALERTBRIDGE_CONNECT_TIMEOUT": "0.5",
    "ALERTBRIDGE_MAX_ATTEMPTS": "3",
    "ALERTBRIDGE_RECORD_BUDGET_SECONDS": "2",
    "ALERTBRIDGE_SECRETS_MAX_AGE": "60",
}
Fate = Literal["flap", "lost-ok", "deleted", "human-resolve", "human-ack"]
Channel = Literal["sns", "eventbridge"]


def every_fault() -> tuple[Fault, ...]:
    """5xx, 429 with and without Retry-After, a connection reset, a late answer after the client's timeout,
    and sends held in flight (answered late, within it)."""
    return (
        Fault.server_error(500),
        Fault.server_error(503),
        Fault.rate_limited(),
        Fault.rate_limited(retry_after=0),
        Fault.rate_limited(retry_after=1),
        Fault.reset(),
        Fault.slow(SLOW_SECONDS),
        Fault.slow(HELD_SECONDS),
        Fault.slow(HELD_SECONDS),
    )


class SoakOptions(BaseModel):
    seed: int = 20260301
    alarms: int = 48
    transitions: int = 400
    consumers: int = 4
    fault_rate: float = 0.12
    rounds: int = 10


class SoakReport(BaseModel):
    seed: int
    alarms: int
    transitions: int
    deliveries: int
    consumers: int
    reconciler_runs: int
    held_sends: int
    faults: int
    people: int
    lost_pages: int
    orphaned_incidents: int
    misrouted_resolves: int
    extra_pages: int
    dead_letters: int
    group_overlaps: int
    refused_bodies: int
    reconciler_converged: bool  # a run had nothing left to do (no correction repeated forever)
    seconds: float
    outcomes: dict[str, int]
    decisions: dict[str, int]
    problems: list[str]

    @property
    def clean(self) -> bool:
        figures = (self.lost_pages, self.orphaned_incidents, self.misrouted_resolves, self.extra_pages)
        failures = (
            self.dead_letters,
            self.group_overlaps,
            self.refused_bodies,
            not self.reconciler_converged,
        )
        return not any(figures) and not any(failures)


# --- the alarms and what should become of them (the independent model) -------------------------------------


@dataclass
class Alarm:
    name: str
    account: str
    fate: Fate
    changes: int  # how many state changes it makes in the soak
    published: list[tuple[str, datetime]] = field(default_factory=list)  # (state, time), in time order
    person_acted: bool = False

    @property
    def arn(self) -> str:
        return f"arn:aws:cloudwatch:{REGION}:{self.account}:alarm:{self.name}"

    @property
    def route(self) -> str:
        if self.name.startswith("payments-"):
            return "payments"
        return "low-urgency" if self.account == DEV_ACCOUNT else "default"

    @property
    def done(self) -> bool:
        return len(self.published) >= self.changes

    def next_state(self) -> str:
        return "ALARM" if len(self.published) % 2 == 0 else "OK"

    def should_be_open(self) -> bool:
        """What PagerDuty must show at the end, from the alarm's history and what people did."""
        if self.fate in ("deleted", "lost-ok"):
            return False
        if self.fate == "human-resolve" and self.person_acted:
            return False
        return bool(self.published) and self.published[-1][0] == "ALARM"


def plan_alarms(count: int, transitions: int, rng: random.Random) -> list[Alarm]:
    """`count` alarms over the example configuration's three routes; an eighth each loses its last OK,
    is deleted, has its incident resolved by a person, or acknowledged by one (the rest just flap)."""
    kinds = ("payments-api-errors", "prod-api-cpu", "svc-worker-lag", "batch-dev-queue-age")
    special: list[Fate] = ["lost-ok", "deleted", "human-resolve", "human-ack"]
    fates: list[Fate] = [special[i % 4] if i < max(4, count // 2) else "flap" for i in range(count)]
    rng.shuffle(fates)
    per_alarm = max(2, transitions // count)
    alarms = []
    for index in range(count):
        kind = kinds[index % len(kinds)]
        account = DEV_ACCOUNT if kind.startswith("batch-dev") else ACCOUNT
        fate = fates[index]
        if account != ACCOUNT and fate in ("lost-ok", "deleted"):
            # The reconciler describes only its own account's alarms; another account's lost OK waits for
            # its notification or a person (see the README on what the reconciler covers).
            fate = "human-ack"
        changes = per_alarm + rng.randrange(0, 3)
        if fate in ("human-resolve", "human-ack") and changes % 2 == 0:
            changes += 1  # ends in ALARM: a person acts on the open incident
        if fate == "lost-ok" and changes % 2 == 1:
            changes += 1  # ends in OK, whose notification is lost
        alarms.append(Alarm(f"{kind}-{index:04d}", account, fate, changes))
    return alarms


# --- notifications as CloudWatch sends them -------------------------------------------------------------------


def sns_alarm_message(alarm: Alarm, state: str, at: datetime) -> str:
    old = "OK" if state == "ALARM" else "ALARM"
    reason = (
        f"Threshold Crossed: 3 datapoints were {'greater' if state == 'ALARM' else 'not greater'} than 90."
    )
    message = json.loads(metric_alarm_message(alarm.name, state, old, at, METRIC, reason))
    message.update(AWSAccountId=alarm.account, AlarmArn=alarm.arn)
    return json.dumps(message)


def eventbridge_alarm_event(alarm: Alarm, state: str, at: datetime) -> str:
    old = "OK" if state == "ALARM" else "ALARM"
    metric = {
        "id": "m1",
        "metricStat": {
            "metric": {"namespace": METRIC.namespace, "name": METRIC.name, "dimensions": METRIC.dimensions},
            "period": 60,
            "stat": "Maximum",
        },
        "returnData": True,
    }
    previous = {"value": old, "reason": "", "timestamp": cloudwatch_time(at - timedelta(seconds=1))}
    detail = {
        "alarmName": alarm.name,
        "state": {"value": state, "reason": f"went {state}", "timestamp": cloudwatch_time(at)},
        "previousState": previous,
        "configuration": {"description": None, "metrics": [metric]},
    }
    return _alarm_event(alarm, "CloudWatch Alarm State Change", f"{alarm.name}-{at.timestamp()}", at, detail)


def deletion_event(alarm: Alarm, at: datetime) -> str:
    detail = {
        "alarmName": alarm.name,
        "operation": "delete",
        "state": {"value": alarm.published[-1][0], "timestamp": cloudwatch_time(at)},
    }
    return _alarm_event(alarm, "CloudWatch Alarm Configuration Change", f"{alarm.name}-deleted", at, detail)


def _alarm_event(alarm: Alarm, detail_type: str, event_id: str, at: datetime, detail: dict[str, Any]) -> str:
    """An EventBridge event from CloudWatch about `alarm`, as a rule puts it on the ingest queue."""
    return json.dumps(
        {
            "version": "0",
            "id": event_id,
            "detail-type": detail_type,
            "source": "aws.cloudwatch",
            "account": alarm.account,
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [alarm.arn],
            "detail": detail,
        }
    )


@dataclass(frozen=True)
class Delivery:
    alarm: Alarm
    body: str
    channel: Channel


def shuffled(deliveries: list[Delivery], rng: random.Random) -> list[Delivery]:
    """At-least-once and out of order: a third of the alarms with two changes this round have them
    delivered in reverse (an OK before its ALARM, an ALARM before the OK that preceded it), near neighbours
    swapped, and a fifth delivered twice, the copy anywhere later in the round (after newer changes too)."""
    order = list(deliveries)
    positions: dict[int, list[int]] = {}
    for index, delivery in enumerate(order):
        positions.setdefault(id(delivery.alarm), []).append(index)
    for indexes in positions.values():
        if len(indexes) >= 2 and rng.random() < 0.35:
            first, second = indexes[0], indexes[1]
            order[first], order[second] = order[second], order[first]
    for index in range(len(order) - 1):
        if rng.random() < 0.2:
            other = min(len(order) - 1, index + rng.randrange(1, 8))
            order[index], order[other] = order[other], order[index]
    for index in reversed(range(len(order))):
        if rng.random() < 0.2:
            order.insert(rng.randrange(index + 1, len(order) + 1), order[index])
    return order


# --- the running bridge -----------------------------------------------------------------------------------------


class Consumers:
    """`count` Lambda containers per stage, each polling its queue until stopped."""

    def __init__(self, bridge: LocalBridge, count: int) -> None:
        import boto3

        from alertbridge.handlers import delivery, intake

        self.watch = GroupWatch()
        self.stopping = threading.Event()
        self.busy = 0
        self._lock = threading.Lock()
        sources = []
        for _ in range(count):
            sources.append(
                SqsEventSource(
                    boto3.client("sqs"),
                    bridge.queue_url,
                    bridge.queue_arn,
                    intake.lambda_handler,
                    retry_delay_seconds=RETRY_DELAY_SECONDS,
                )
            )
            sources.append(
                SqsEventSource(
                    boto3.client("sqs"),
                    bridge.delivery_queue_url,
                    bridge.delivery_queue_arn,
                    delivery.lambda_handler,
                    retry_delay_seconds=RETRY_DELAY_SECONDS,
                    watch=self.watch,
                )
            )
        self.threads = [threading.Thread(target=self._run, args=(source,), daemon=True) for source in sources]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _run(self, source: SqsEventSource) -> None:
        while not self.stopping.is_set():
            with self._lock:
                self.busy += 1
            try:
                result = source.poll_once()
            finally:
                with self._lock:
                    self.busy -= 1
            if result is None:
                self.stopping.wait(0.02)


@dataclass
class Soak:
    options: SoakOptions
    bridge: LocalBridge
    emulator: PagerDutyEmulator
    consumers: Consumers
    subscription: Any
    rng: random.Random
    decisions: dict[str, int] = field(default_factory=dict)
    deliveries: int = 0
    reconciler_runs: int = 0
    people: int = 0
    converged: bool = False
    problems: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, outcome: Outcome) -> None:
        with self._lock:
            label = outcome.observation or outcome.alarm_state
            self.decisions[f"{label}:{outcome.reason}"] = (
                self.decisions.get(f"{label}:{outcome.reason}", 0) + 1
            )

    # --- traffic ---------------------------------------------------------------------------------------

    def play(self, alarms: list[Alarm]) -> None:
        rounds = self.options.rounds
        window = self._start_maintenance_window()
        for number in range(rounds):
            if number == rounds // 3:
                self.emulator.set_maintenance(True)  # PagerDuty accepts, then drops triggers and resolves
            if number == rounds // 3 + 2:
                self.emulator.set_maintenance(False)
            if number == rounds // 2:
                self._end_window(window)
            self._publish(self._round(alarms, number))
            self._people_act(alarms)
            self.reconcile()
        self.emulator.set_maintenance(False)
        self._end_window(window)

    def _round(self, alarms: list[Alarm], number: int) -> list[Delivery]:
        """This round's state changes, up to three per alarm, their times interleaved across alarms:
        CloudWatch's state moves first, the notifications follow (out of order, see `shuffled`)."""
        remaining_rounds = self.options.rounds - number
        quota = {}
        for alarm in alarms:
            left = alarm.changes - len(alarm.published)
            share = -(-left // remaining_rounds)  # ceil: the last round finishes every alarm
            quota[id(alarm)] = min(left, share + (1 if self.rng.random() < 0.3 else 0), 3)
        deliveries: list[Delivery] = []
        for step in range(3):
            for alarm in alarms:
                if quota[id(alarm)] > step and not alarm.done:
                    deliveries += self._change(alarm)
        return shuffled(deliveries, self.rng)

    def _change(self, alarm: Alarm) -> list[Delivery]:
        state = alarm.next_state()
        at = self._after(alarm)
        self.bridge.set_alarm_state(alarm.name, state, f"soak: {state}")
        alarm.published.append((state, at))
        if alarm.done and alarm.fate == "lost-ok":
            return []  # only CloudWatch knows it recovered: the reconciler must close the incident
        channel: Channel = "eventbridge" if self.rng.random() < 0.2 else "sns"
        body = (
            eventbridge_alarm_event(alarm, state, at)
            if channel == "eventbridge"
            else sns_alarm_message(alarm, state, at)
        )
        deliveries = [Delivery(alarm, body, channel)]
        if alarm.done and alarm.fate == "deleted":
            deliveries.append(Delivery(alarm, deletion_event(alarm, at), "eventbridge"))
        return deliveries

    def _after(self, alarm: Alarm) -> datetime:
        """Now, at least 2 ms after the alarm's previous change (notifications carry milliseconds), and
        read after CloudWatch's previous update, so the two clocks agree as CloudWatch's do."""
        last = alarm.published[-1][1] if alarm.published else None
        while True:
            now = datetime.now(UTC)
            if last is None or now - last >= timedelta(milliseconds=2):
                return now

    def _publish(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            self.deliveries += 1
            if delivery.channel == "sns":
                self.bridge.publish(delivery.body)
            else:
                self.bridge.send_to_queue(delivery.body)
        for alarm in {id(d.alarm): d.alarm for d in deliveries}.values():
            if alarm.done and alarm.fate == "deleted":
                self._delete(alarm)

    def _delete(self, alarm: Alarm) -> None:
        import boto3

        boto3.client("cloudwatch").delete_alarms(AlarmNames=[alarm.name])

    def _people_act(self, alarms: list[Alarm]) -> None:
        """A responder acknowledges or resolves an alarm's incident once its last ALARM opened it (signed
        webhooks reach the bridge through the emulator's subscription)."""
        for alarm in alarms:
            if alarm.fate not in ("human-resolve", "human-ack") or not alarm.done or alarm.person_acted:
                continue
            incident = self.emulator.open_alert(parse_key(alarm))
            final_at = alarm.published[-1][1]
            if incident is None or _opened_at(incident.body) != final_at.replace(
                microsecond=final_at.microsecond // 1000 * 1000
            ):
                continue  # its last episode is not in PagerDuty yet
            if alarm.fate == "human-resolve":
                self.emulator.human_resolve(parse_key(alarm))
            else:
                self.emulator.human_acknowledge(parse_key(alarm))
            alarm.person_acted = True
            self.people += 1

    def _start_maintenance_window(self) -> MaintenanceWindow:
        from alertbridge.adapters.dynamo_state import DynamoMaintenanceStore

        now = datetime.now(UTC)
        window = MaintenanceWindow(id="mw-soak", start=now - timedelta(minutes=1), end=now + timedelta(hours=1),
                                   reason="soak: deploy", alarm_name_prefix=MAINTENANCE_PREFIX)  # fmt: skip
        DynamoMaintenanceStore(self.bridge.table_name).put(window)
        return window

    def _end_window(self, window: MaintenanceWindow) -> None:
        from alertbridge.adapters.dynamo_state import DynamoMaintenanceStore

        DynamoMaintenanceStore(self.bridge.table_name).end(window.id, datetime.now(UTC))

    # --- the reconciler and settling ---------------------------------------------------------------------

    def reconcile(self) -> dict[str, int]:
        from alertbridge.observability import metrics_counter

        reconciler = reconcile_wiring.build_reconciler(
            settings(), metrics_counter, AlarmHome(region=REGION, account=ACCOUNT)
        )
        reconciler.limits = ReconcileLimits(graces=GRACES)
        report = reconciler.run(now=datetime.now(UTC))
        self.reconciler_runs += 1
        return dict(report.done)

    def quiet(self, timeout: float = 180.0) -> bool:
        """Both queues empty, no consumer in a batch, no webhook delivery pending: a condition, polled."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            idle = self._queues_empty() and self.consumers.busy == 0 and self.subscription.wait_idle(0.5)
            if idle and self._queues_empty():  # nothing arrived while the webhooks drained
                return True
            self.consumers.stopping.wait(0.05)
        return False

    def _queues_empty(self) -> bool:
        import boto3

        sqs = boto3.client("sqs")
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        for url in (self.bridge.queue_url, self.bridge.delivery_queue_url):
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            if any(int(attributes.get(name, "0")) for name in names):
                return False
        return True

    def settle(self, alarms: list[Alarm], *, max_runs: int = 40) -> None:
        """Let the lane drain and the reconciler repair until a run has nothing left to do twice."""
        idle_runs = 0
        for _ in range(max_runs):
            if not self.quiet():
                self.problems.append("the bridge did not settle within 180 s")
            self._people_act(alarms)
            done = self.reconcile()
            idle_runs = idle_runs + 1 if not done else 0
            if idle_runs >= 2:
                self.converged = True
                return
            self.consumers.stopping.wait(1.0)  # the reconciler's compressed graces are seconds
        self.problems.append(f"the reconciler still had work after {max_runs} runs")


def parse_key(alarm: Alarm) -> str:
    """The alarm's dedup key, as the bridge makes it from the ARN."""
    return alarm_key(alarm.arn)


def _opened_at(body: dict[str, Any]) -> datetime | None:
    stamp = body.get("payload", {}).get("timestamp") if isinstance(body.get("payload"), dict) else None
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")) if stamp else None
    except ValueError:
        return None


# --- the figures -------------------------------------------------------------------------------------------------


def judge(soak: Soak, alarms: list[Alarm]) -> dict[str, int]:
    emulator, figures = soak.emulator, dict.fromkeys(("lost_pages", "orphaned", "misrouted", "extra"), 0)
    requests = emulator.requests
    for alarm in alarms:
        key, expected = parse_key(alarm), alarm.should_be_open()
        incident = emulator.open_alert(key)
        if expected and incident is None:
            figures["lost_pages"] += 1
            soak.problems.append(f"lost page: {alarm.name} ({alarm.fate}) {_history(alarm)}")
        if not expected and incident is not None:
            figures["orphaned"] += 1
            soak.problems.append(f"orphaned incident: {alarm.name} ({alarm.fate}) {_history(alarm)}")
        if incident is not None and incident.routing_key != local_routing_key(alarm.route):
            figures["misrouted"] += 1
            soak.problems.append(f"{alarm.name}: open on another service than route {alarm.route}'s")
        opened = [
            _opened_at(r.body)
            for r in requests
            if r.outcome == "opened" and isinstance(r.body, dict) and r.body.get("dedup_key") == key
        ]
        if len(opened) > len(set(opened)):
            figures["extra"] += len(opened) - len(set(opened))
            soak.problems.append(
                f"extra page: {alarm.name} opened {len(opened)} incidents for {len(set(opened))} episodes"
            )
    dropped = sum(1 for r in requests if r.outcome == "dropped-other-key")
    figures["misrouted"] += dropped
    if dropped:
        soak.problems.append(
            f"{dropped} ack/resolve(s) went out with another routing key than the opening one"
        )
    return figures


def _history(alarm: Alarm) -> str:
    return ", ".join(f"{state}@{at.strftime('%H:%M:%S.%f')[:-3]}" for state, at in alarm.published)


def count_held(requests: int, rate: float, seed: int) -> tuple[int, int]:
    """(faults, held sends) the seeded fault rate injected over `requests` Events API requests (the emulator
    draws the same way: one draw per request on a faulted path, in arrival order)."""
    rng, kinds = random.Random(seed), every_fault()
    faults = held = 0
    for _ in range(requests):
        if rng.random() < rate:
            fault = kinds[rng.randrange(len(kinds))]
            faults += 1
            held += fault.kind == "slow" and fault.delay < READ_TIMEOUT
    return faults, held


# --- the run -------------------------------------------------------------------------------------------------------


def run_soak(options: SoakOptions, *, config: BridgeConfig | None = None) -> SoakReport:
    from alertbridge.adapters.dynamo_state import reset_default_client
    from alertbridge.adapters.pagerduty_events import PagerDutyEventsAdapter
    from alertbridge.observability import logger, metrics_counter
    from alertbridge.sandbox.webhook_server import WebhookServer

    started, rng = time.monotonic(), random.Random(options.seed)
    alarms = plan_alarms(options.alarms, options.transitions, rng)
    level = logger.log_level
    logger.setLevel(logging.ERROR)  # thousands of INFO lines would only cost time
    with (
        SerialMotoServer() as aws,
        PagerDutyEmulator(rate_limit=RATE_LIMIT, window_seconds=RATE_WINDOW) as emulator,
    ):
        base = {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": aws.url, "POWERTOOLS_METRICS_DISABLED": "true"}
        with temporary_environment(base):
            reset_default_client()
            bridge = LocalBridge.create(
                config or BridgeConfig.model_validate(BridgeConfig.example()), emulator.url,
                max_receive_count=20, name="soak",
            )  # fmt: skip
            with temporary_environment(bridge.environment(**ENV)):
                wiring.reset()
                pipeline = delivery_wiring.delivery_pipeline(metrics_counter)
                current = settings()
                # Time compression: the same adapter and retry rules, the backoff scaled down.
                pipeline.events = PagerDutyEventsAdapter(
                    current.events_url,
                    connect_timeout=current.connect_timeout,
                    read_timeout=current.read_timeout,
                    max_attempts=current.max_attempts,
                    backoff_base=0.02,
                    backoff_cap=0.16,
                )
                for alarm in alarms:
                    bridge.put_alarm(alarm.name)
                consumers = Consumers(bridge, options.consumers)
                with WebhookServer() as hooks:
                    subscription = emulator.subscribe(
                        hooks.url, secrets=(LOCAL_WEBHOOK_SECRET,), time_scale=0.002
                    )
                    soak = Soak(options, bridge, emulator, consumers, subscription, rng)
                    pipeline.observers.append(soak.observe)
                    emulator.limit_faults_to("/v2/")
                    emulator.set_fault_rate(options.fault_rate, seed=options.seed, kinds=every_fault())
                    consumers.start()
                    try:
                        soak.play(alarms)
                        events_requests = sum(1 for r in emulator.requests if r.path.startswith("/v2/"))
                        emulator.clear_faults()
                        soak.settle(alarms)
                    finally:
                        consumers.stop()
                        emulator.unsubscribe(subscription)
                    figures = judge(soak, alarms)
                    faults, held = count_held(events_requests, options.fault_rate, options.seed)
                    outcomes: dict[str, int] = {}
                    for request in emulator.requests:
                        if request.path.startswith("/v2/"):
                            outcomes[request.outcome] = outcomes.get(request.outcome, 0) + 1
                    report = SoakReport(
                        seed=options.seed,
                        alarms=len(alarms),
                        transitions=sum(len(a.published) for a in alarms),
                        deliveries=soak.deliveries,
                        consumers=options.consumers,
                        reconciler_runs=soak.reconciler_runs,
                        held_sends=held,
                        faults=faults,
                        people=soak.people,
                        lost_pages=figures["lost_pages"],
                        orphaned_incidents=figures["orphaned"],
                        misrouted_resolves=figures["misrouted"],
                        extra_pages=figures["extra"],
                        dead_letters=bridge.dead_letter_count(),
                        group_overlaps=len(consumers.watch.overlaps),
                        refused_bodies=sum(outcomes.get(name, 0) for name in REFUSED_OUTCOMES),
                        reconciler_converged=soak.converged,
                        seconds=round(time.monotonic() - started, 1),
                        outcomes=dict(sorted(outcomes.items())),
                        decisions=dict(sorted(soak.decisions.items())),
                        problems=soak.problems,
                    )
            wiring.reset()
            reset_default_client()
    logger.setLevel(level)
    return report


def summary(report: SoakReport) -> str:
    verdict = "every trust figure is zero" if report.clean else "TRUST FIGURES NOT ZERO"
    lines = [
        f"soak (seed {report.seed}): {report.alarms} alarms, {report.transitions} transitions, "
        f"{report.deliveries} deliveries, {report.consumers} consumers per stage, {report.reconciler_runs} "
        f"reconciler runs, {report.people} people acting, {report.faults} faults ({report.held_sends} sends "
        f"held in flight), {report.seconds}s",
        f"  lost pages {report.lost_pages}, orphaned incidents {report.orphaned_incidents}, misrouted resolves "
        f"{report.misrouted_resolves}, extra pages {report.extra_pages}, dead letters {report.dead_letters}, "
        f"group overlaps {report.group_overlaps}, refused bodies {report.refused_bodies}, reconciler "
        f"{'converged' if report.reconciler_converged else 'never ran out of corrections'}",
        f"  PagerDuty outcomes: {report.outcomes}",
        f"  {verdict}",
        *(f"  - {problem}" for problem in report.problems),
    ]
    return "\n".join(lines)


Runner = Callable[[SoakOptions], SoakReport]
