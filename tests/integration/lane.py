"""A bridge on a serial moto server (every AWS call atomic, as in AWS) with the emulator, for tests where
threads act as concurrent Lambda containers, and a port wrapper that holds a PagerDuty send in flight."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from alertbridge import wiring
from alertbridge.adapters.dynamo_state import DynamoStateStore, reset_default_client
from alertbridge.models.config import BridgeConfig
from alertbridge.models.state import StateItem
from alertbridge.observability import metrics_counter
from alertbridge.ports import EventsApi, EventsResponse
from alertbridge.sandbox.bridge import FAKE_CREDENTIALS, LocalBridge
from alertbridge.sandbox.emulator import PagerDutyEmulator
from alertbridge.sandbox.moto_server import SerialMotoServer
from alertbridge.wiring import delivery as delivery_wiring

HOLD_LIMIT_SECONDS = 30.0  # a held send that is never released fails the test instead of hanging it


class HeldSends:
    """ports.EventsApi around the real adapter: the first send matching `hold_when` waits, in flight,
    until the test releases it. `started` tells the test the send is held."""

    def __init__(self, inner: EventsApi) -> None:
        self.inner = inner
        self.hold_when: Callable[[dict[str, Any]], bool] | None = None
        self.started = threading.Event()
        self.release = threading.Event()

    def hold(self, event_action: str, dedup_key: str) -> None:
        self.hold_when = lambda body: (
            (body.get("event_action"), body.get("dedup_key")) == (event_action, dedup_key)
        )

    def send(self, body: dict[str, Any], *, deadline: float | None = None) -> EventsResponse:
        if self.hold_when is not None and self.hold_when(body):
            self.hold_when = None
            self.started.set()
            if not self.release.wait(HOLD_LIMIT_SECONDS):
                raise AssertionError("a held send was never released")
        return self.inner.send(body, deadline=deadline)

    def send_change(self, body: dict[str, Any], *, deadline: float | None = None) -> EventsResponse:
        return self.inner.send_change(body, deadline=deadline)


@dataclass
class ServedBridge:
    bridge: LocalBridge
    emulator: PagerDutyEmulator
    sends: HeldSends

    def item(self, dedup_key: str) -> StateItem | None:
        return DynamoStateStore(self.bridge.table_name).get(dedup_key)

    def in_thread(self, work: Callable[[], object]) -> threading.Thread:
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        return thread

    def run_reconciler(self) -> dict[str, Any]:
        report = self.bridge.run_reconciler()
        wiring.reset(only="reconcile")  # a new reconciler container; the held delivery pipeline stays
        return report


@contextmanager
def served_bridge(
    monkeypatch: pytest.MonkeyPatch, config: BridgeConfig, **env: str
) -> Iterator[ServedBridge]:
    with SerialMotoServer() as server, PagerDutyEmulator(rate_limit=100_000, window_seconds=1.0) as emulator:
        for name, value in {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": server.url}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        reset_default_client()
        bridge = LocalBridge.create(config, emulator.url, name="lane")
        for name, value in bridge.environment(**env).items():
            monkeypatch.setenv(name, value)
        wiring.reset()
        pipeline = delivery_wiring.delivery_pipeline(metrics_counter)
        sends = HeldSends(pipeline.events)
        pipeline.events = sends
        try:
            yield ServedBridge(bridge, emulator, sends)
        finally:
            sends.release.set()
            wiring.reset()
            reset_default_client()
