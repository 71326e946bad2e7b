"""`alertbridge demo`, as a user runs it, and the check that makes it fail when PagerDuty disagrees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from moto import mock_aws

from alertbridge import wiring
from alertbridge.models.config import BridgeConfig
from alertbridge.sandbox.bridge import use_fake_credentials
from alertbridge.sandbox.demo_run import DemoRun, lambda_event_deliveries
from alertbridge.sandbox.scenario import Metric, Step, metric_alarm_message

EVENTS = Path(__file__).resolve().parents[1] / "events"
ALERTBRIDGE = Path(sys.executable).with_name("alertbridge")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALERTBRIDGE_", "AWS_"))}
    return subprocess.run(
        [str(ALERTBRIDGE), *args], capture_output=True, text=True, timeout=240, env=env, check=False
    )


def test_the_builtin_scenario_ends_with_pagerduty_matching_every_alarm() -> None:
    result = run_cli("demo", "--storm", "12")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PagerDuty matches every alarm's final state" in result.stdout
    for outcome in ("duplicate", "stale", "resolve-without-open", "429 rate-limited"):
        assert outcome in result.stdout
    # Two-way sync: the responder's acknowledge comes back by signed webhook and is mirrored in the table;
    # the alarm whose OK was lost is closed by the reconciler.
    # PagerDuty names the incident only (incident_key null); the bridge learns its dedup key by REST
    assert (
        "incident events on the bus: Incident Triggered, Incident Acknowledged, Incident Resolved"
        in result.stdout
    )
    assert "webhook incident.acknowledged (signed, incident_key null) -> HTTP 200" in result.stdout
    assert "reconciler run (CloudWatch says OK): alarm-ok x1" in result.stdout
    # ... and its resolve note follows at the next run, once PagerDuty shows the incident closed.
    assert (
        "the closed incident's note: Resolved by alertbridge: alarm nightly-batch-failures" in result.stdout
    )
    (acked,) = [
        line for line in result.stdout.splitlines() if line.strip().startswith("prod-orders-queue-age")
    ]
    assert "acknowledged" in acked.split()


def test_replaying_event_files_prints_what_pagerduty_received() -> None:
    files = [EVENTS / "sns-composite-storefront.json", EVENTS / "sqs-sns-lambda-errors-alarm-then-ok.json"]
    result = run_cli("demo", "--events", *map(str, files), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"sent", "incidents", "dead_letters"}
    assert report["sent"] and all(body["routing_key"] == "<redacted>" for body in report["sent"])
    assert report["dead_letters"] == 0
    assert {incident["status"] for incident in report["incidents"]} <= {
        "open",
        "resolved",
        "ignored",
        "suppressed",
    }


def test_every_event_file_shape_has_a_delivery_path() -> None:
    for path in sorted(EVENTS.glob("*.json")):
        event = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(event, dict) and event.get("requestContext"):
            continue  # webhook requests are not alarm deliveries
        deliveries = lambda_event_deliveries(event)
        assert deliveries, path.name
        assert all(kind in {"sns", "sqs"} and isinstance(body, str) for kind, body, _ in deliveries)


@pytest.fixture
def demo(monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoRun]:
    for name in list(os.environ):
        if name.startswith("ALERTBRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    with mock_aws():
        use_fake_credentials()
        config = BridgeConfig.model_validate(BridgeConfig.example())
        with DemoRun.start(config) as run:
            yield run
    wiring.reset()


def test_the_check_fails_when_pagerduty_disagrees_with_an_alarm(demo: DemoRun) -> None:
    now = datetime.now(UTC)
    metric = Metric("AWS/Lambda", "Errors", {"FunctionName": "f"})
    step = Step(
        "fires", metric_alarm_message("stays-firing", "ALARM", "OK", now, metric, "x"), expect_open=True
    )
    demo.play([step])
    assert demo.verify() == []
    dedup_key = next(iter(demo.expected))
    demo.emulator.human_resolve(dedup_key)  # someone closes it in PagerDuty while the alarm still fires
    assert demo.verify() == ["fires: PagerDuty has it closed, the alarm says open"]
