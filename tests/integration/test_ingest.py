"""Both stages in-process: moto SNS -> SQS -> intake handler -> FIFO delivery queue -> delivery handler (each fed as
Lambda's event source would) -> emulator on loopback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from alertbridge import wiring
from alertbridge.handlers import delivery
from alertbridge.models.config import BridgeConfig
from alertbridge.sandbox.bridge import LocalBridge, local_routing_key
from alertbridge.sandbox.emulator import PagerDutyEmulator
from alertbridge.sandbox.emulator_state import Fault, RecordedRequest
from alertbridge.sandbox.scenario import Metric, alarm_arn, metric_alarm_message
from tests.integration.aws_fixtures import AwsContext

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
METRIC = Metric("AWS/Lambda", "Errors", {"FunctionName": "checkout"}, threshold=5)
CONFIG = BridgeConfig.model_validate(
    {
        "routes": {"default": {}, "payments": {}, "orphan": {}},
        "rules": [
            {"match": {"alarm_name": "payments-*"}, "route": "payments"},
            {"match": {"alarm_name": "orphan-*"}, "route": "orphan"},
            {"match": {"tags": {"team": "payments"}}, "route": "payments"},
        ],
    }
)


@pytest.fixture
def bridge(
    aws: AwsContext, emulator: PagerDutyEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalBridge]:
    local = LocalBridge.create(CONFIG, emulator.url, max_receive_count=3, name="itest")
    for name, value in local.environment(ALERTBRIDGE_MAX_ATTEMPTS="4", ALERTBRIDGE_READ_TIMEOUT="1").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    wiring.reset()
    yield local
    wiring.reset()


def fire(bridge: LocalBridge, name: str, state: str, at: datetime) -> None:
    old = "OK" if state == "ALARM" else "ALARM"
    bridge.publish(metric_alarm_message(name, state, old, at, METRIC, f"{name} went {state}"))


def events_requests(emulator: PagerDutyEmulator) -> list[RecordedRequest]:
    """What reached the Events API (the REST calls for resolve notes are left out)."""
    return [request for request in emulator.requests if request.path.startswith("/v2/")]


def drain(bridge: LocalBridge) -> None:
    bridge.stages().drain(max_batches=50)


def test_alarm_then_ok_opens_then_closes_the_incident(
    bridge: LocalBridge, emulator: PagerDutyEmulator
) -> None:
    fire(bridge, "checkout-errors", "ALARM", T0)
    drain(bridge)
    opened = emulator.open_alert(alarm_arn("checkout-errors"))
    assert opened is not None and "checkout-errors" in opened.summary
    fire(bridge, "checkout-errors", "OK", T0 + timedelta(minutes=5))
    drain(bridge)
    assert emulator.open_alert(alarm_arn("checkout-errors")) is None
    assert [r.outcome for r in events_requests(emulator)] == ["opened", "resolved"]
    items = {item["alarm_name"]: item for item in bridge.state_items()}
    assert items["checkout-errors"]["status"] == "resolved"


def test_a_duplicate_notification_sends_one_trigger(bridge: LocalBridge, emulator: PagerDutyEmulator) -> None:
    fire(bridge, "checkout-errors", "ALARM", T0)
    fire(bridge, "checkout-errors", "ALARM", T0)
    drain(bridge)
    assert [r.outcome for r in emulator.requests] == ["opened"]


def test_an_ok_overtaking_its_alarm_leaves_nothing_open(
    bridge: LocalBridge, emulator: PagerDutyEmulator
) -> None:
    fire(bridge, "web-5xx", "OK", T0 + timedelta(minutes=3))
    fire(bridge, "web-5xx", "ALARM", T0 + timedelta(minutes=1))
    drain(bridge)
    assert emulator.requests == []
    assert emulator.open_alert(alarm_arn("web-5xx")) is None


def test_the_resolve_goes_out_with_the_opening_routing_key_after_the_rules_change(
    bridge: LocalBridge, emulator: PagerDutyEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    fire(bridge, "payments-api", "ALARM", T0)
    drain(bridge)
    no_rules = BridgeConfig.model_validate({"routes": {"default": {}, "payments": {}, "orphan": {}}})
    monkeypatch.setenv("ALERTBRIDGE_CONFIG", no_rules.to_json_text())
    wiring.reset()  # a new container with the new configuration
    fire(bridge, "payments-api", "OK", T0 + timedelta(minutes=2))
    drain(bridge)
    trigger, resolve = events_requests(emulator)
    assert trigger.routing_key == resolve.routing_key == local_routing_key("payments")
    assert resolve.outcome == "resolved"


@pytest.mark.parametrize(
    "fault",
    [Fault.rate_limited(retry_after=0.05), Fault.rate_limited(), Fault.server_error(503), Fault.reset()],
    ids=["429-retry-after", "429-bare", "503", "connection-reset"],
)
def test_transient_failures_delay_the_page_but_never_lose_it(
    bridge: LocalBridge, emulator: PagerDutyEmulator, fault: Fault
) -> None:
    emulator.inject(fault, times=2)
    fire(bridge, "checkout-errors", "ALARM", T0)
    drain(bridge)
    assert emulator.open_alert(alarm_arn("checkout-errors")) is not None
    assert len(emulator.requests) == 3
    assert bridge.dead_letter_count() == 0


def test_an_outage_longer_than_the_record_budget_returns_the_record_to_the_queue(
    bridge: LocalBridge, emulator: PagerDutyEmulator
) -> None:
    emulator.inject(Fault.server_error(502), times=4)  # every attempt of the first delivery fails
    fire(bridge, "checkout-errors", "ALARM", T0)
    stages = bridge.stages()
    stages.intake.drain()
    source = stages.delivery
    first = source.poll_once()
    assert first is not None and first.failed == 1
    assert emulator.open_alert(alarm_arn("checkout-errors")) is None
    second = source.poll_once()
    assert second is not None and second.failed == 0 and second.receive_counts == [2]
    assert emulator.open_alert(alarm_arn("checkout-errors")) is not None


def test_a_failed_record_waits_out_its_retry_delay_before_the_next_receive(
    bridge: LocalBridge, emulator: PagerDutyEmulator
) -> None:
    emulator.inject(Fault.server_error(502), times=4)
    fire(bridge, "checkout-errors", "ALARM", T0)
    stages = bridge.stages(retry_delay_seconds=3)  # a margin a loaded machine cannot eat up
    stages.intake.drain()
    source = stages.delivery
    first = source.poll_once()
    assert first is not None and first.failed == 1
    assert source.poll_once() is None  # invisible until its delay is over, unlike an immediate redelivery
    assert source.drain(max_batches=5) == 1  # drain waits for it rather than stopping at an empty receive
    assert emulator.open_alert(alarm_arn("checkout-errors")) is not None
    assert bridge.dead_letter_count() == 0


def test_a_body_pagerduty_rejects_is_paged_again_with_the_minimal_body(
    bridge: LocalBridge, emulator: PagerDutyEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    event = {
        "routing_key": "ignored-by-the-bridge",
        "event_action": "trigger",
        "dedup_key": "app-event-7",
        "payload": {"summary": "Checkout latency high", "source": "checkout", "severity": "critical"},
        "images": [{"src": "http://insecure.example.com/graph.png"}],  # PagerDuty wants https
    }
    bridge.publish(json.dumps(event))
    drain(bridge)
    assert [r.status for r in emulator.requests] == [400, 202]
    alert = emulator.open_alert("app-event-7")
    assert alert is not None and alert.summary == "Checkout latency high"
    (warning,) = [
        record for record in caplog.records if "PagerDuty rejected the event" in record.getMessage()
    ]
    assert warning.levelname == "WARNING" and warning.__dict__["fallback"] is True
    assert any("images" in reason for reason in warning.__dict__["rejected"])  # PagerDuty's own words


def test_a_record_that_cannot_be_delivered_fails_alone_and_ends_in_the_dlq(
    bridge: LocalBridge, emulator: PagerDutyEmulator
) -> None:
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    without_orphan = {route: local_routing_key(route) for route in ("default", "payments")}
    secrets.put_secret_value(SecretId=bridge.routing_keys_secret, SecretString=json.dumps(without_orphan))
    fire(bridge, "checkout-errors", "ALARM", T0)
    fire(bridge, "orphan-job", "ALARM", T0)
    fire(bridge, "payments-api", "ALARM", T0)
    stages = bridge.stages()
    stages.intake.drain()
    source = stages.delivery
    first = source.poll_once()
    assert first is not None and (first.received, first.failed) == (3, 1)
    assert {r.dedup_key for r in emulator.requests} == {
        alarm_arn("checkout-errors"),
        alarm_arn("payments-api"),
    }
    source.drain(max_batches=10)
    assert bridge.dead_letter_count() == 1


def test_an_incident_opened_before_a_key_rotation_is_closed_with_the_retired_key(
    bridge: LocalBridge, emulator: PagerDutyEmulator
) -> None:
    fire(bridge, "checkout-errors", "ALARM", T0)
    drain(bridge)
    old, new = local_routing_key("default"), "N" * 32
    rotated = {route: local_routing_key(route) for route in ("payments", "orphan")} | {"default": [new, old]}
    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(
        SecretId=bridge.routing_keys_secret, SecretString=json.dumps(rotated)
    )
    wiring.reset()  # a new container: it reads the rotated secret
    fire(bridge, "api-latency", "ALARM", T0 + timedelta(minutes=1))
    fire(bridge, "checkout-errors", "OK", T0 + timedelta(minutes=2))
    drain(bridge)
    opened_after = emulator.open_alert(alarm_arn("api-latency"))
    assert opened_after is not None and opened_after.routing_key == new
    assert emulator.open_alert(alarm_arn("checkout-errors")) is None
    assert [r.outcome for r in events_requests(emulator)][-2:] in (
        ["opened", "resolved"],
        ["resolved", "opened"],
    )


def test_an_alarm_tagged_for_a_team_pages_that_teams_service(
    bridge: LocalBridge, emulator: PagerDutyEmulator
) -> None:
    assert bridge.put_alarm("ledger-lag", tags={"team": "payments"}) == alarm_arn("ledger-lag")
    fire(bridge, "ledger-lag", "ALARM", T0)
    fire(bridge, "checkout-errors", "ALARM", T0)  # no such alarm in CloudWatch: no tags, default route
    drain(bridge)
    tagged, untagged = (
        emulator.open_alert(alarm_arn("ledger-lag")),
        emulator.open_alert(alarm_arn("checkout-errors")),
    )
    assert tagged is not None and tagged.routing_key == local_routing_key("payments")
    assert untagged is not None and untagged.routing_key == local_routing_key("default")


def test_routing_keys_never_reach_the_logs(
    bridge: LocalBridge,
    emulator: PagerDutyEmulator,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Our loggers and the HTTP client's at DEBUG (botocore's own wire logging is not ours to police).
    for name in ("alertbridge", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    delivery.logger.setLevel("DEBUG")
    try:
        emulator.inject(Fault.server_error(500), Fault.rate_limited(), Fault.reset(), times=1)
        fire(bridge, "checkout-errors", "ALARM", T0)
        fire(bridge, "payments-api", "ALARM", T0)
        drain(bridge)
    finally:
        delivery.logger.setLevel("INFO")
    output = capsys.readouterr()
    logged = output.out + output.err + caplog.text
    assert "alert processed" in logged  # the handler did log
    for route in ("default", "payments", "orphan"):
        assert local_routing_key(route) not in logged


def test_an_auto_resolved_incident_gets_a_note_saying_why(
    bridge: LocalBridge, emulator: PagerDutyEmulator
) -> None:
    fire(bridge, "checkout-errors", "ALARM", T0)
    drain(bridge)
    fire(bridge, "checkout-errors", "OK", T0 + timedelta(minutes=5))
    drain(bridge)
    closed = emulator.latest_alert(alarm_arn("checkout-errors"))
    assert closed is not None and not closed.is_open
    assert closed.notes == []  # the resolve was the only PagerDuty call on its path
    bridge.run_reconciler()  # sees the incident closed and hands the confirmation to the lane
    drain(bridge)
    noted = emulator.latest_alert(alarm_arn("checkout-errors"))
    assert noted is not None
    [note] = noted.notes
    assert "Resolved by alertbridge" in str(note) and "checkout-errors went OK" in str(note)
    bridge.run_reconciler()
    drain(bridge)
    assert len(emulator.latest_alert(alarm_arn("checkout-errors")).notes) == 1  # type: ignore[union-attr]


def test_a_failing_note_never_blocks_the_resolve(
    bridge: LocalBridge, emulator: PagerDutyEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    wrong = {"webhook_secrets": ["s"], "rest_token": "revoked-token", "from_email": "oncall@example.com"}
    secrets.put_secret_value(SecretId=bridge.webhook_secret, SecretString=json.dumps(wrong))
    fire(bridge, "checkout-errors", "ALARM", T0)
    fire(bridge, "checkout-errors", "OK", T0 + timedelta(minutes=5))
    drain(bridge)
    closed = emulator.latest_alert(alarm_arn("checkout-errors"))
    assert closed is not None and not closed.is_open and closed.notes == []
    assert bridge.dead_letter_count() == 0
