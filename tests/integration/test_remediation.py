"""A remediation path that keeps the table true, end to end (the demo's phase, alertbridge.sandbox.remediation):
an alarm pages through both stages, PagerDuty's (the emulator's) signed webhooks reach the real webhook
handler over HTTP, each mirrored delivery becomes exactly one event on the bridge's EventBridge bus (moto, a
rule to a queue), and a small remediation consumer written against `IncidentsClient` reacts to
`Incident Triggered` by acknowledging and resolving. PagerDuty, the table and the events agree at the end,
and the same alarm episode does not page again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from alertbridge import wiring
from alertbridge.adapters.dynamo_state import DynamoStateStore
from alertbridge.models.config import BridgeConfig
from alertbridge.sandbox.bridge import LocalBridge
from alertbridge.sandbox.emulator import PagerDutyEmulator
from alertbridge.sandbox.remediation import ALARM, show_remediation
from alertbridge.sandbox.scenario import Metric, alarm_arn, metric_alarm_message
from tests.integration.aws_fixtures import AwsContext


@pytest.fixture
def bridge(
    aws: AwsContext, emulator: PagerDutyEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalBridge]:
    local = LocalBridge.create(BridgeConfig(), emulator.url, name="remediation")
    for name, value in local.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("ALERTBRIDGE_EVENT_BUS_NAME", "")  # the phase sets it: restored (unset) after the test
    wiring.reset()
    yield local
    wiring.reset()


def test_remediation_code_resolves_through_pagerduty_and_the_table_follows(
    bridge: LocalBridge, emulator: PagerDutyEmulator
) -> None:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    assert show_remediation(bridge, emulator, at, echo=False) == []
    opened = [
        r for r in emulator.requests if r.outcome == "opened" and r.body.get("dedup_key") == alarm_arn(ALARM)
    ]
    assert len(opened) == 1  # paged once
    # The alarm still fires: its ALARM delivered again does not page again (a person resolved this episode).
    metric = Metric("AWS/Lambda", "Errors", {"FunctionName": "refunds"}, threshold=1)
    bridge.publish(metric_alarm_message(ALARM, "ALARM", "OK", at, metric, "Threshold Crossed: 3 errors"))
    bridge.stages().drain()
    assert emulator.open_alert(alarm_arn(ALARM)) is None
    # `alertbridge active` lists it from the index: resolved by the remediation's From user, still firing.
    store = DynamoStateStore(bridge.table_name, client=boto3.client("dynamodb"))
    [listed] = store.list_resolved_firing()
    assert (listed.dedup_key, listed.alarm_state.value) == (alarm_arn(ALARM), "ALARM")
    assert listed.last_actor and listed.resolved_by_human
