"""Fault-injection soak: an alarm storm with flapping alarms, delivered at-least-once and out of order, through
the real ingest handler (moto SNS -> SQS -> local event source) while the PagerDuty emulator answers 5xx, 429
(with and without Retry-After), resets connections and answers later than the client's timeout.

Size: ALERTBRIDGE_SOAK_ALARMS (default 120) and ALERTBRIDGE_SOAK_TRANSITIONS (default 1,200); seed:
ALERTBRIDGE_SOAK_SEED. Loopback only. Redelivery is SQS's own (receive counts, redrive policy, DLQ), with the
visibility timeout and the adapter's backoff compressed (see alertbridge.local.soak).
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from moto import mock_aws

from alertbridge import wiring
from alertbridge.adapters.dynamo_state import reset_default_client
from alertbridge.local.bridge import FAKE_CREDENTIALS, LocalBridge
from alertbridge.local.emulator import PagerDutyEmulator
from alertbridge.local.soak import (
    REFUSED_OUTCOMES,
    Delivery,
    Soak,
    continue_transitions,
    delivery_order,
    every_fault,
    plan_transitions,
    replay_fault_plan,
)
from alertbridge.models.config import BridgeConfig

pytestmark = pytest.mark.soak

ALARMS = int(os.environ.get("ALERTBRIDGE_SOAK_ALARMS", "120"))
TRANSITIONS = int(os.environ.get("ALERTBRIDGE_SOAK_TRANSITIONS", "1200"))
SEED = int(os.environ.get("ALERTBRIDGE_SOAK_SEED", "20260301"))

READ_TIMEOUT = 0.2  # seconds: the client's timeout, scaled down with everything else
SLOW_ANSWER = 0.4  # seconds: a slow fault answers after this, so the client has given up
FAULT_RATE = 0.12  # of PagerDuty requests in the main phase
OVERLOAD_FAULT_RATE = 0.85  # the over-budget phase: records must reach the DLQ
# PagerDuty allows ~120 events per minute per routing key. Scaled to the soak's pace (~30 requests/s over
# three routing keys): 12 per second per key, so bursts on one key meet the limit as a real storm would.
RATE_LIMIT, RATE_WINDOW = 12, 1.0
MAX_RECEIVE_COUNT = 10
KINDS = every_fault(SLOW_ANSWER)
MAIN_ENV = {
    "ALERTBRIDGE_READ_TIMEOUT": str(READ_TIMEOUT),
    "ALERTBRIDGE_CONNECT_TIMEOUT": "0.5",
    "ALERTBRIDGE_MAX_ATTEMPTS": "3",
    "ALERTBRIDGE_RECORD_BUDGET_SECONDS": "2",
}


@pytest.fixture
def soak(monkeypatch: pytest.MonkeyPatch) -> Iterator[Soak]:
    for name, value in {**FAKE_CREDENTIALS, "POWERTOOLS_METRICS_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    from alertbridge.observability import logger

    level = logger.log_level
    logger.setLevel(logging.ERROR)  # a few thousand INFO lines per run would only cost time
    with mock_aws(), PagerDutyEmulator(rate_limit=RATE_LIMIT, window_seconds=RATE_WINDOW) as emulator:
        reset_default_client()
        bridge = LocalBridge.create(
            BridgeConfig.model_validate(BridgeConfig.example()),
            emulator.url,
            max_receive_count=MAX_RECEIVE_COUNT,
            name="soak",
        )
        for name in bridge.environment(**MAIN_ENV):
            monkeypatch.setenv(name, "")  # restored after the test; activate() sets the values
        emulator.limit_faults_to("/v2/")
        yield Soak(bridge, emulator, retry_delay_seconds=math.ceil(RATE_WINDOW))
    wiring.reset()
    reset_default_client()
    logger.setLevel(level)


@dataclass
class Phase:
    name: str
    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    redriven: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"  {self.name}: {self.requests} PagerDuty requests, {sum(self.faults.values())} faults injected "
            f"{dict(sorted(self.faults.items()))}, {self.dead_letters} dead letters, {self.redriven} redriven, "
            f"{self.seconds:.1f}s"
        )


def run_phase(soak: Soak, phase: Phase, deliveries: list[Delivery], *, rate: float, seed: int) -> None:
    """Deliver under a seeded fault rate, then turn faults off and redrive whatever reached the DLQ."""
    started, before = time.monotonic(), sum(soak.request_outcomes().values())
    soak.emulator.set_fault_rate(rate, seed=seed, kinds=KINDS)
    soak.deliver(deliveries)
    phase.requests = sum(soak.request_outcomes().values()) - before
    phase.faults = replay_fault_plan(phase.requests, rate, seed, KINDS)
    phase.dead_letters = soak.dead_letters()
    soak.emulator.clear_faults()
    soak.configure(**MAIN_ENV)
    soak.set_max_receive_count(MAX_RECEIVE_COUNT)
    phase.redriven = soak.redrive()
    soak.drain()
    phase.seconds = time.monotonic() - started


def test_storm_with_faults_ends_where_every_alarm_ended(soak: Soak) -> None:
    rng = random.Random(SEED)
    started = time.monotonic()
    transitions = plan_transitions(ALARMS, TRANSITIONS, rng=rng)
    main, overload = Phase("main phase"), Phase("over-budget phase")

    soak.configure(**MAIN_ENV)
    run_phase(soak, main, delivery_order(transitions, rng=rng), rate=FAULT_RATE, seed=SEED)
    after_main = soak.mismatches(transitions)

    # Over budget: faults on most requests, no retries in the handler, a short redrive policy.
    more = continue_transitions(transitions, 2, rng=rng)
    soak.configure(**{**MAIN_ENV, "ALERTBRIDGE_MAX_ATTEMPTS": "1"})
    soak.set_max_receive_count(2)
    run_phase(soak, overload, delivery_order(more, rng=rng), rate=OVERLOAD_FAULT_RATE, seed=SEED + 1)
    everything = [*transitions, *more]
    problems = soak.mismatches(everything)
    outcomes = soak.request_outcomes()

    stats = soak.stats
    print(
        f"\nsoak (seed {SEED}): {len({t.arn for t in everything})} alarms, {len(everything)} transitions, "
        f"{stats.deliveries} deliveries, {stats.batches} batches, {stats.records} records "
        f"({stats.failed_records} failed, {stats.redelivered_records} redelivered), "
        f"{time.monotonic() - started:.1f}s; redrive: alertbridge.operator.commands.redrive_queue"
    )
    print(f"{main.line()}\n{overload.line()}")
    print(f"  PagerDuty outcomes: {dict(sorted(outcomes.items()))}")
    print(f"  bridge decisions: {dict(sorted(stats.outcomes.items()))}")

    assert len({t.arn for t in transitions}) == ALARMS and len(transitions) == TRANSITIONS
    assert sum(main.faults.values()) > 0 and any("slow" in kind for kind in main.faults)
    assert overload.dead_letters > 0, "the over-budget phase should have sent records to the DLQ"
    assert (main.redriven, overload.redriven) == (main.dead_letters, overload.dead_letters)
    assert soak.dead_letters() == 0
    assert outcomes.get("dropped-other-key", 0) == 0, "an ack/resolve went out with another routing key"
    assert {name: outcomes.get(name, 0) for name in REFUSED_OUTCOMES} == dict.fromkeys(REFUSED_OUTCOMES, 0)
    mismatches = [*after_main, *problems]
    assert not mismatches, "PagerDuty disagrees with the alarms:\n" + "\n".join(mismatches)
