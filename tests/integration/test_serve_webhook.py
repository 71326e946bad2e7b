"""The webhook handler over real HTTP: the in-process WebhookServer with the whole bridge on moto and the
emulator (a human resolve arriving by webhook is not fought), and `alertbridge serve-webhook` as a real
process receiving signed deliveries from the emulator, stopped with Ctrl-C."""

from __future__ import annotations

import argparse
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from alertbridge import wiring
from alertbridge.adapters.dynamo_state import DynamoStateStore
from alertbridge.cli import serve_webhook
from alertbridge.models.config import BridgeConfig
from alertbridge.models.state import KeyStatus, StateItem
from alertbridge.sandbox.bridge import LocalBridge
from alertbridge.sandbox.emulator import PagerDutyEmulator
from alertbridge.sandbox.scenario import Metric, metric_alarm_message
from alertbridge.sandbox.webhook_server import WebhookServer, function_url_event
from tests.integration.aws_fixtures import AwsContext
from tests.integration.emulator_fixtures import REST_TOKEN, ROUTING_KEY, USER_EMAIL

SECRET = "serve-webhook-test-secret"
REPO = Path(__file__).resolve().parents[2]
ERRORS = Metric("AWS/Lambda", "Errors", {"FunctionName": "checkout"})
ALARM_AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class Stack:
    bridge: LocalBridge
    emulator: PagerDutyEmulator
    server: WebhookServer

    def alarm(self, state: str, old: str, at: datetime) -> None:
        """CloudWatch publishes a transition; the ingest Lambda handles everything queued."""

        message = metric_alarm_message("checkout-errors", state, old, at, ERRORS, f"went {state}")
        self.bridge.publish(message, subject=f'{state}: "checkout-errors"')
        self.bridge.stages().drain()

    def item(self, dedup_key: str) -> StateItem | None:
        return DynamoStateStore(self.bridge.table_name).get(dedup_key)

    def sent(self) -> list[str]:
        return [r.event_action or "" for r in self.emulator.requests if r.path == "/v2/enqueue"]


@pytest.fixture
def stack(aws: AwsContext, emulator: PagerDutyEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    bridge = LocalBridge.create(BridgeConfig(), emulator.url, name="e2e", webhook_secrets=(SECRET,))
    for name, value in bridge.environment().items():  # like bridge.activate(), undone after the test
        monkeypatch.setenv(name, value)
    wiring.reset()
    with WebhookServer() as server:
        yield Stack(bridge, emulator, server)
    wiring.reset()


def test_a_human_resolve_by_webhook_is_not_fought(stack: Stack) -> None:
    stack.alarm("ALARM", "OK", ALARM_AT)
    (alert,) = stack.emulator.alerts
    key = alert.dedup_key
    stack.emulator.human_resolve(key, by="ada@example.com", webhook_url=stack.server.url, secrets=[SECRET])
    item = stack.item(key)
    assert item is not None
    assert (item.status, item.resolved_by_human, item.last_actor) == (
        KeyStatus.RESOLVED,
        True,
        "ada@example.com",
    )
    assert item.incident_id == alert.incident_id
    sent_before = stack.sent()

    stack.alarm("ALARM", "OK", ALARM_AT)  # SNS redelivers the same ALARM
    stack.alarm("INSUFFICIENT_DATA", "ALARM", ALARM_AT + timedelta(minutes=1))  # ignored by policy
    stack.alarm("ALARM", "INSUFFICIENT_DATA", ALARM_AT + timedelta(minutes=2))  # same episode
    assert stack.sent() == sent_before == ["trigger"]
    assert stack.emulator.open_alert(key) is None

    stack.alarm("OK", "ALARM", ALARM_AT + timedelta(minutes=3))  # the episode ends...
    stack.alarm("ALARM", "OK", ALARM_AT + timedelta(minutes=4))  # ...and a new one pages again
    assert stack.sent() == ["trigger", "trigger"]
    assert stack.emulator.open_alert(key) is not None


def test_an_acknowledge_arrives_by_webhook_over_http(stack: Stack) -> None:
    stack.alarm("ALARM", "OK", ALARM_AT)
    (alert,) = stack.emulator.alerts
    stack.emulator.human_acknowledge(alert.dedup_key, webhook_url=stack.server.url, secrets=[SECRET])
    item = stack.item(alert.dedup_key)
    assert item is not None
    assert (item.status, item.pd_status, item.incident_number) == (
        KeyStatus.OPEN,
        "acknowledged",
        alert.number,
    )


def test_signed_forged_unsigned_and_replayed_deliveries_over_http(stack: Stack) -> None:
    stack.alarm("ALARM", "OK", ALARM_AT)
    key = stack.emulator.alerts[0].dedup_key
    url = stack.server.url
    before = stack.item(key)
    forged = stack.emulator.send_webhook(url, "incident.resolved", key, secrets=["guessed"])
    unsigned = stack.emulator.send_webhook(url, "incident.resolved", key)
    assert (forged, unsigned, stack.item(key)) == (401, 401, before)
    first = stack.emulator.send_webhook(url, "incident.escalated", key, secrets=[SECRET], webhook_id="X1")
    after = stack.item(key)
    again = stack.emulator.send_webhook(url, "incident.resolved", key, secrets=[SECRET], webhook_id="X1")
    assert (first, again, stack.item(key)) == (200, 200, after)
    assert after is not None and after.status == KeyStatus.OPEN


def test_an_oversized_request_is_refused_with_413(stack: Stack) -> None:
    response = httpx.post(stack.server.url, content=b"{" + b" " * (300 * 1024) + b"}", timeout=5)
    assert response.status_code == 413


def test_a_binary_request_reaches_the_handler_as_base64() -> None:
    event = function_url_event("POST", "/hook?x=1", {"Content-Type": "application/octet-stream"}, b"\xff\x00")
    assert (event["isBase64Encoded"], event["body"], event["rawPath"], event["rawQueryString"]) == (
        True,
        "/wA=",
        "/hook",
        "x=1",
    )
    text = function_url_event("POST", "/", {"Content-Type": "application/json", "X-Webhook-Id": "a"}, b"{}")
    assert (text["isBase64Encoded"], text["body"], text["headers"]["x-webhook-id"]) == (False, "{}", "a")


# --- the command ------------------------------------------------------------------------------------------------


def test_the_command_refuses_to_start_without_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(port=0, secret=None, allow_unsigned=False, seed_key=[], quiet_logs=True)
    assert serve_webhook.run(args) == 2
    assert "--secret" in capsys.readouterr().out


class Process:
    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "alertbridge.cli.main", "serve-webhook", *args]
        self.popen = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                assert self.popen.poll() is None, "serve-webhook exited early"
                continue
            if text in line:
                return line
        raise AssertionError(f"no line containing {text!r} within {timeout}s")

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
        return self.popen.wait(timeout=15)


@pytest.fixture
def served(emulator: PagerDutyEmulator) -> Iterator[tuple[Process, str]]:
    process = Process(
        "--port", "0", "--secret", SECRET, "--seed-key", "checkout-key", "--quiet-logs",
        "--rest-token", REST_TOKEN, "--from-email", USER_EMAIL, "--rest-url", emulator.url,
    )  # fmt: skip
    try:
        banner = process.wait_for("listening on http://127.0.0.1:")
        url = banner.split("listening on ", 1)[1].split()[0]
        process.wait_for("Ctrl-C")
        yield process, url
    finally:
        if process.popen.poll() is None:
            process.popen.kill()
            process.popen.wait()


def test_serve_webhook_mirrors_signed_deliveries_and_stops_on_ctrl_c(
    served: tuple[Process, str], emulator: PagerDutyEmulator
) -> None:
    process, url = served
    trigger = {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "checkout-key",
        "payload": {"summary": "checkout errors", "source": "checkout", "severity": "error"},
    }
    assert httpx.post(f"{emulator.url}/v2/enqueue", json=trigger, timeout=5).status_code == 202

    emulator.human_acknowledge("checkout-key", by="ada@example.com", webhook_url=url, secrets=[SECRET])
    line = process.wait_for("-> 200")
    assert "by=ada@example.com" in line
    assert "mirrored" in line and "pd_status=acknowledged" in line and "key=checkout-key" in line

    assert emulator.send_webhook(url, "incident.resolved", "checkout-key", secrets=["forged"]) == 401
    assert "401 bad-signature" in process.wait_for("-> 401")

    assert process.stop() == 0
    process.wait_for("stopped", timeout=5)
