"""The webhook Lambda handler in-process against moto (state table, Secrets Manager) and the PagerDuty
emulator's REST API (where the handler reads an incident's alert keys), fed real-shaped Function URL events:
the answers, the state table afterwards, the log lines and the metrics."""

# ruff: noqa: F811  (the `emulator` fixture is imported, then named as a test parameter)

from __future__ import annotations

import base64
import io
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from alertbridge import wiring
from alertbridge.adapters.dynamo_state import (
    DynamoIncidentLinks,
    DynamoStateStore,
    DynamoWebhookDeliveries,
)
from alertbridge.logic.webhook import MAX_BODY_BYTES, MIRRORED_EVENT_TYPES
from alertbridge.models.state import KeyStatus, StateItem
from alertbridge.observability import logger
from alertbridge.sandbox.emulator import Fault, PagerDutyEmulator
from alertbridge.sandbox.event_source import FakeLambdaContext
from tests.integration.aws_fixtures import AwsContext
from tests.integration.emulator_fixtures import emulator  # noqa: F401
from tests.webhook_events import (
    INCIDENT_ID,
    KEY,
    OLD_SECRET,
    SECRET,
    delivery,
    envelope_of,
    load,
    open_item,
    with_body,
)

SECRET_NAME = "alertbridge/webhook-test"
REST_TOKEN = "u+rest-token-never-logged"


@dataclass
class Webhook:
    aws: AwsContext
    secret_arn: str
    store: DynamoStateStore

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        from alertbridge.handlers.webhook import lambda_handler

        response = lambda_handler(event, FakeLambdaContext(function_name="alertbridge-webhook"))
        assert isinstance(response, dict)
        return response

    def item(self) -> StateItem | None:
        return self.store.get(KEY)

    def links(self) -> DynamoIncidentLinks:
        return DynamoIncidentLinks(self.aws.table_name, self.aws.dynamodb)

    def set_secret(self, secrets: list[str], *, rest_token: str | None = REST_TOKEN) -> None:
        value = {"webhook_secrets": secrets, "rest_token": rest_token, "from_email": "oncall@example.com"}
        boto3.client("secretsmanager", region_name=self.aws.region).put_secret_value(
            SecretId=self.secret_arn, SecretString=json.dumps(value)
        )
        new_container()


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the Powertools logger writes (its handler keeps the stream it was created with)."""
    buffer = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    yield buffer
    handler.setStream(previous)  # type: ignore[attr-defined]


def log_entries(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]


def new_container() -> None:
    wiring.reset()


@pytest.fixture
def webhook(
    aws: AwsContext, emulator: PagerDutyEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Webhook]:
    """The event files' incident exists in PagerDuty (the emulator), opened through the Events API: its
    alert's alert_key is KEY, its incident_key null; the state table has KEY open and no link yet."""
    emulator.add_token(REST_TOKEN)
    emulator.add_incident(KEY, incident_id=INCIDENT_ID)
    client = boto3.client("secretsmanager", region_name=aws.region)
    arn = client.create_secret(Name=SECRET_NAME, SecretString="{}")["ARN"]
    monkeypatch.setenv("ALERTBRIDGE_WEBHOOK_SECRET", arn)
    monkeypatch.setenv("ALERTBRIDGE_REST_URL", emulator.url)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "alertbridge")
    hook = Webhook(aws, arn, DynamoStateStore(aws.table_name, aws.dynamodb))
    hook.set_secret([SECRET])
    hook.store.save(open_item(), expected_version=None)
    yield hook
    new_container()


def status_and_reason(response: dict[str, Any]) -> tuple[int, str]:
    return response["statusCode"], json.loads(response["body"])["reason"]


def metrics_in(output: str) -> list[dict[str, Any]]:
    """The EMF documents Powertools printed (one JSON object per line)."""
    found = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            found.append(json.loads(line))
    return found


def assert_refused_without_state_change(
    webhook: Webhook, event: dict[str, Any], expected: tuple[int, str]
) -> None:
    before = webhook.item()
    assert status_and_reason(webhook.invoke(event)) == expected
    assert webhook.item() == before
    webhook_id = event["headers"].get("x-webhook-id")
    if webhook_id:
        deliveries = DynamoWebhookDeliveries(webhook.aws.table_name, webhook.aws.dynamodb)
        assert not deliveries.seen(webhook_id, datetime.now(UTC))


# --- accepted ---------------------------------------------------------------------------------------------


def test_the_acknowledged_event_file_is_mirrored(webhook: Webhook) -> None:
    event = load("function-url-incident-acknowledged.json")
    signed = with_body(event, event["body"].encode(), webhook_id=event["headers"]["x-webhook-id"])
    response = webhook.invoke(signed)
    item = webhook.item()
    assert status_and_reason(response) == (200, "mirrored")
    assert response["headers"] == {"content-type": "application/json"}
    assert item is not None
    assert (item.status, item.pd_status, item.incident_number) == (KeyStatus.OPEN, "acknowledged", 4211)
    assert item.incident_url == "https://acme.pagerduty.com/incidents/Q2AEN3LD5KFJ9S"
    assert (item.last_actor, item.assignees, item.version) == ("Ada Lovelace", ("Ada Lovelace",), 2)


def test_the_base64_resolved_event_file_closes_the_key_as_human_resolved(webhook: Webhook) -> None:
    event = load("function-url-incident-resolved-base64.json")
    response = webhook.invoke(with_body(event, base64.b64decode(event["body"]), b64=True))
    item = webhook.item()
    assert status_and_reason(response) == (200, "mirrored")
    assert item is not None
    assert (item.status, item.resolved_by_human, item.pd_status) == (KeyStatus.RESOLVED, True, "resolved")
    assert item.expires_at is not None  # closed items expire


@pytest.mark.parametrize("event_type", sorted(MIRRORED_EVENT_TYPES))
def test_every_mirrored_type_through_the_handler(webhook: Webhook, event_type: str) -> None:
    assert status_and_reason(webhook.invoke(delivery(event_type))) == (200, "mirrored")
    item = webhook.item()
    assert item is not None and item.version == 2 and item.incident_id == "Q2AEN3LD5KFJ9S"


def test_unknown_type_gets_2xx_a_log_line_and_no_write(webhook: Webhook, log_output: io.StringIO) -> None:
    ping = load("function-url-pagey-ping.json")
    before = webhook.item()
    assert status_and_reason(webhook.invoke(with_body(ping, ping["body"].encode()))) == (200, "unknown-type")
    assert webhook.item() == before
    logged = log_entries(log_output)
    assert any(entry.get("event_type") == "pagey.ping" and entry["level"] == "INFO" for entry in logged)


def test_an_incident_without_state_gets_2xx(webhook: Webhook) -> None:
    other = delivery(data={"incident_key": "someone-elses-key"})
    assert status_and_reason(webhook.invoke(other)) == (200, "no-state")
    assert webhook.store.get("someone-elses-key") is None


# --- the dedup key by incident id ----------------------------------------------------------------------------


def test_the_first_delivery_learns_the_link_through_the_rest_api(
    webhook: Webhook, emulator: PagerDutyEmulator
) -> None:
    assert webhook.links().dedup_key_for(INCIDENT_ID) is None
    assert status_and_reason(webhook.invoke(delivery(webhook_id="K1"))) == (200, "mirrored")
    assert webhook.links().dedup_key_for(INCIDENT_ID) == KEY
    looked_up = [r.path for r in emulator.requests if r.path.startswith("/incidents")]
    assert looked_up == [f"/incidents/{INCIDENT_ID}/alerts"]
    assert all(r.headers.get("Authorization") == f"Token token={REST_TOKEN}" for r in emulator.requests)
    new_container()  # the link is in the table: a new container needs no REST call
    assert status_and_reason(webhook.invoke(delivery("incident.resolved", webhook_id="K2"))) == (
        200,
        "mirrored",
    )
    assert len([r for r in emulator.requests if r.path.startswith("/incidents")]) == 1


def test_rest_unavailable_answers_503_and_pagerdutys_retry_is_applied(
    webhook: Webhook, emulator: PagerDutyEmulator
) -> None:
    emulator.limit_faults_to("/incidents")
    emulator.inject(Fault.server_error(503), times=2)  # the handler's try and its one retry
    assert_refused_without_state_change(webhook, delivery(webhook_id="U1"), (503, "link-unavailable"))
    assert status_and_reason(webhook.invoke(delivery(webhook_id="U1"))) == (200, "mirrored")
    item = webhook.item()
    assert item is not None and item.pd_status == "acknowledged"


def test_a_slow_rest_lookup_ends_at_the_delivery_deadline_and_pagerdutys_retry_is_mirrored(
    webhook: Webhook, emulator: PagerDutyEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The REST adapter's own bounds (2 s read timeout, 2.5 s per call) would outlast a shorter delivery
    deadline: the deadline cuts the request, and the answer is a 503 PagerDuty retries."""
    monkeypatch.setattr("alertbridge.handlers.webhook.DELIVERY_BUDGET_SECONDS", 0.8)
    # The adapter's own bounds far beyond the deadline, so what cuts the request is beyond doubt even on a
    # loaded machine: without the deadline the call would last 10 s.
    monkeypatch.setattr("alertbridge.wiring.webhook._REST_READ_TIMEOUT_SECONDS", 10.0)
    monkeypatch.setattr("alertbridge.wiring.webhook._REST_CALL_BUDGET_SECONDS", 10.0)
    emulator.limit_faults_to("/incidents")
    emulator.inject(Fault.slow(30.0), times=1)  # PagerDuty answering long after its own 5 s
    started = time.monotonic()
    assert_refused_without_state_change(webhook, delivery(webhook_id="D1"), (503, "out-of-time"))
    assert time.monotonic() - started < 5.0  # cut at the 0.8 s deadline, not at the adapter's 10 s
    assert status_and_reason(webhook.invoke(delivery(webhook_id="D1"))) == (200, "mirrored")
    item = webhook.item()
    assert item is not None and item.pd_status == "acknowledged"


def test_the_delivery_deadline_is_four_seconds_or_less_when_the_invocation_ends_sooner() -> None:
    from alertbridge.handlers.webhook import delivery_deadline

    before = time.monotonic()
    roomy = delivery_deadline(FakeLambdaContext(timeout_seconds=10.0)) - before
    short = delivery_deadline(FakeLambdaContext(timeout_seconds=3.0)) - before
    assert 3.9 < roomy <= 4.0 + (time.monotonic() - before)
    assert 2.4 < short <= 2.5 + (time.monotonic() - before)  # a 3 s function keeps half a second to answer


def test_without_a_rest_token_it_verifies_counts_and_answers_503_with_one_log_line(
    webhook: Webhook, log_output: io.StringIO, capfd: pytest.CaptureFixture[str]
) -> None:
    webhook.set_secret([SECRET], rest_token=None)
    assert_refused_without_state_change(webhook, delivery(webhook_id="T1"), (503, "no-rest-token"))
    assert_refused_without_state_change(webhook, delivery(webhook_id="T2"), (503, "no-rest-token"))
    assert_refused_without_state_change(webhook, delivery(secrets=["forged"]), (401, "bad-signature"))
    warnings = [e for e in log_entries(log_output) if "two-way sync is off" in e["message"]]
    assert len(warnings) == 1  # once per container
    reasons = [d.get("reason") for d in metrics_in(capfd.readouterr().out) if "reason" in d]
    assert reasons == ["no-rest-token", "no-rest-token", "bad-signature"]


def test_an_incident_the_bridge_did_not_open_is_answered_2xx_and_counted(
    webhook: Webhook, emulator: PagerDutyEmulator, capfd: pytest.CaptureFixture[str]
) -> None:
    other = emulator.add_incident("someone-elses-key")
    stranger = delivery(data={"id": other.incident_id}, webhook_id="S1")
    assert status_and_reason(webhook.invoke(stranger)) == (200, "not-ours")
    assert webhook.links().dedup_key_for(other.incident_id) is None
    reasons = [d.get("reason") for d in metrics_in(capfd.readouterr().out) if "reason" in d]
    assert reasons == ["not-ours"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("function-url-incident-annotated.json", (KeyStatus.OPEN, None, False, 1)),
        ("function-url-incident-resolved-by-integration.json", (KeyStatus.RESOLVED, "resolved", False, 0)),
        ("function-url-incident-unacknowledged-timeout.json", (KeyStatus.OPEN, "triggered", False, 0)),
    ],
)
def test_the_real_shapes_are_mirrored(
    webhook: Webhook, name: str, expected: tuple[KeyStatus, str | None, bool, int]
) -> None:
    event = load(name)
    assert status_and_reason(webhook.invoke(with_body(event, event["body"].encode()))) == (200, "mirrored")
    item = webhook.item()
    assert item is not None
    assert (item.status, item.pd_status, item.resolved_by_human, item.pd_note_count) == expected


def test_an_occurred_at_without_offset_is_not_a_500(webhook: Webhook) -> None:
    naive = delivery(event={"occurred_at": "2025-06-01T12:03:00"})
    assert status_and_reason(webhook.invoke(naive)) == (200, "mirrored")


# --- replay ---------------------------------------------------------------------------------------------------


def test_a_replayed_webhook_id_answers_200_and_changes_nothing(
    webhook: Webhook, capfd: pytest.CaptureFixture[str]
) -> None:
    assert status_and_reason(webhook.invoke(delivery("incident.acknowledged", webhook_id="W1"))) == (
        200,
        "mirrored",
    )
    after_first = webhook.item()
    replay = delivery("incident.resolved", webhook_id="W1")
    assert status_and_reason(webhook.invoke(replay)) == (200, "replay")
    assert webhook.item() == after_first
    names = [
        m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] for m in metrics_in(capfd.readouterr().out)
    ]
    assert names == ["WebhookAccepted", "WebhookReplay"]


def test_the_same_id_from_a_new_container_is_still_a_replay(webhook: Webhook) -> None:
    webhook.invoke(delivery(webhook_id="W2"))
    new_container()
    assert status_and_reason(webhook.invoke(delivery(webhook_id="W2"))) == (200, "replay")


# --- refused ------------------------------------------------------------------------------------------------------


def test_forged_signature(webhook: Webhook) -> None:
    assert_refused_without_state_change(webhook, delivery(secrets=["forged"]), (401, "bad-signature"))


def test_missing_signature_header(webhook: Webhook) -> None:
    assert_refused_without_state_change(webhook, delivery(secrets=()), (401, "missing-signature"))


def test_rotated_secret_two_secrets_either_valid(webhook: Webhook) -> None:
    webhook.set_secret([OLD_SECRET, SECRET])
    old = webhook.invoke(delivery("incident.acknowledged", secrets=[OLD_SECRET], webhook_id="R1"))
    new = webhook.invoke(delivery("incident.escalated", secrets=[SECRET], webhook_id="R2"))
    both = webhook.invoke(delivery("incident.reassigned", secrets=[OLD_SECRET, SECRET], webhook_id="R3"))
    assert [status_and_reason(r) for r in (old, new, both)] == [(200, "mirrored")] * 3
    webhook.set_secret([SECRET])  # rotation finished: the old one no longer works
    assert_refused_without_state_change(
        webhook, delivery(secrets=[OLD_SECRET], webhook_id="R4"), (401, "bad-signature")
    )


def test_oversized_body(webhook: Webhook) -> None:
    envelope = envelope_of(delivery())
    envelope["event"]["data"]["title"] = "x" * MAX_BODY_BYTES
    event = with_body(delivery(), json.dumps(envelope).encode())
    assert_refused_without_state_change(webhook, event, (413, "too-large"))


def test_malformed_json_with_a_valid_signature(webhook: Webhook) -> None:
    assert_refused_without_state_change(webhook, with_body(delivery(), b'{"event": '), (400, "malformed"))


def test_no_secret_configured_refuses_with_a_clear_log_line(
    webhook: Webhook, log_output: io.StringIO
) -> None:
    webhook.set_secret([])
    assert_refused_without_state_change(webhook, delivery(secrets=["anything"]), (500, "not-configured"))
    errors = [entry for entry in log_entries(log_output) if entry["level"] == "ERROR"]
    assert any("no signing secret is configured" in entry["message"] for entry in errors)


def test_a_missing_secret_refuses_with_500(webhook: Webhook, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTBRIDGE_WEBHOOK_SECRET", "alertbridge/does-not-exist")
    new_container()
    assert_refused_without_state_change(webhook, delivery(), (500, "secret-unreadable"))


def test_allow_unsigned_override(webhook: Webhook, monkeypatch: pytest.MonkeyPatch) -> None:
    webhook.set_secret([])
    monkeypatch.setenv("ALERTBRIDGE_ALLOW_UNSIGNED_WEBHOOKS", "true")
    new_container()
    assert status_and_reason(webhook.invoke(delivery(secrets=()))) == (200, "mirrored")


def test_allow_unsigned_does_not_weaken_a_configured_secret(
    webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTBRIDGE_ALLOW_UNSIGNED_WEBHOOKS", "true")
    new_container()
    assert_refused_without_state_change(webhook, delivery(secrets=()), (401, "missing-signature"))


def test_rejections_are_counted_in_total_and_by_reason(
    webhook: Webhook, capfd: pytest.CaptureFixture[str]
) -> None:
    webhook.invoke(delivery(secrets=["forged"]))
    webhook.invoke(delivery(secrets=()))
    rejected = [document for document in metrics_in(capfd.readouterr().out) if "WebhookRejected" in document]
    by_reason = [document for document in rejected if "reason" in document]
    totals = [document for document in rejected if "reason" not in document]
    assert [document["reason"] for document in by_reason] == ["bad-signature", "missing-signature"]
    assert all(["service", "reason"] in d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for d in by_reason)
    assert [document["WebhookRejected"] for document in totals] == [[1.0], [1.0]]


def test_secrets_and_signatures_never_reach_the_logs(
    webhook: Webhook, log_output: io.StringIO, capfd: pytest.CaptureFixture[str]
) -> None:
    webhook.set_secret([OLD_SECRET, SECRET])
    events = [
        delivery(secrets=[SECRET], webhook_id="L1"),
        delivery(secrets=["forged-secret-value"], webhook_id="L2"),
        delivery(secrets=[OLD_SECRET, SECRET], webhook_id="L3"),
        with_body(delivery(), b"{broken", webhook_id="L4"),
    ]
    signatures = [re.findall(r"[0-9a-f]{64}", e["headers"]["x-pagerduty-signature"]) for e in events]
    for event in events:
        webhook.invoke(event)
    output = log_output.getvalue() + "".join(capfd.readouterr())
    assert '"webhook_id":"L2"' in output  # the log lines are there...
    for secret in (SECRET, OLD_SECRET, "forged-secret-value", REST_TOKEN):
        assert secret not in output  # ...without any secret
    for digest in (d for found in signatures for d in found):
        assert digest not in output


def test_an_internal_failure_answers_500_and_the_retry_is_processed(
    webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real_save = DynamoStateStore.save

    def failing_once(self: DynamoStateStore, item: StateItem, *, expected_version: int | None) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("DynamoDB throttled")
        return real_save(self, item, expected_version=expected_version)

    monkeypatch.setattr(DynamoStateStore, "save", failing_once)
    assert_refused_without_state_change(webhook, delivery(webhook_id="F1"), (500, "error"))
    assert status_and_reason(webhook.invoke(delivery(webhook_id="F1"))) == (200, "mirrored")


def test_an_update_older_than_the_applied_one_changes_nothing(webhook: Webhook) -> None:
    webhook.invoke(delivery("incident.acknowledged", webhook_id="N1"))
    item = webhook.item()
    assert item is not None and item.pd_updated_at is not None
    earlier = (item.pd_updated_at - timedelta(minutes=1)).isoformat()
    late = delivery("incident.resolved", webhook_id="N2", event={"occurred_at": earlier})
    assert status_and_reason(webhook.invoke(late)) == (200, "unchanged")
    assert webhook.item() == item


def test_pagerdutys_retry_applies_a_delivery_first_answered_503(
    webhook: Webhook, emulator: PagerDutyEmulator
) -> None:
    """End to end over HTTP: the emulator's subscription delivers a responder's acknowledge while its
    REST API fails, gets 503, retries with (compressed) backoff, and the retry is mirrored."""
    from alertbridge.sandbox.webhook_server import WebhookServer

    emulator.limit_faults_to("/incidents")
    emulator.inject(Fault.server_error(503), times=2)
    with WebhookServer() as server:
        hooks = emulator.subscribe(server.url, secrets=[SECRET], time_scale=0.001)
        emulator.human_acknowledge(KEY, by="ada@example.com")
        assert hooks.wait_until(lambda attempts: any(a.outcome == "delivered" for a in attempts))
    assert hooks.outcomes() == [
        ("incident.acknowledged", 503, "retrying"),
        ("incident.acknowledged", 200, "delivered"),
    ]
    item = webhook.item()
    assert item is not None
    assert (item.pd_status, item.last_actor, item.incident_id) == (
        "acknowledged",
        "ada@example.com",
        INCIDENT_ID,
    )
