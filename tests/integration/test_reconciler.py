"""The reconciler Lambda end to end: real handler, moto (table, CloudWatch alarms, secrets) and the
PagerDuty emulator, with incidents opened through the real ingest pipeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from alertbridge.adapters.dynamo_state import window_to_dynamo
from alertbridge.errors import PagerDutyError
from alertbridge.models.alert import AlarmState, AlertSource
from alertbridge.models.maintenance import MaintenanceWindow
from alertbridge.models.state import KeyStatus, StateItem
from alertbridge.models.table import INDEX_SORT_KEY
from alertbridge.sandbox.emulator_state import Fault
from alertbridge.sandbox.scenario import alarm_arn
from tests.integration.deployed_bridge import REGION, Deployed, deployed_fixture  # noqa: F401 - the fixture

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def open_alarm(d: Deployed, name: str, *, cloudwatch_state: str = "ALARM") -> str:
    d.put_alarm(name, cloudwatch_state)
    outcome = d.notify(name, "ALARM", T0)
    assert outcome.sent == "trigger"
    assert d.emulator.open_alert(outcome.dedup_key) is not None
    return outcome.dedup_key


def test_an_open_key_whose_alarm_was_deleted_is_resolved_with_a_note(deployed: Deployed) -> None:
    key = open_alarm(deployed, "api-errors")
    deployed.cloudwatch.delete_alarms(AlarmNames=["api-errors"])
    report = deployed.reconcile()
    assert report["done"] == {"alarm-deleted": 1}
    assert deployed.emulator.open_alert(key) is None
    alert = deployed.emulator.latest_alert(key)
    assert alert is not None and alert.status == "resolved" and alert.notes == []
    assert deployed.reconcile()["done"] == {"resolve-confirmed": 1}  # the next run adds the note
    noted = deployed.emulator.latest_alert(key)
    assert noted is not None
    (note,) = noted.notes
    assert note["content"].startswith("Resolved by alertbridge: alarm api-errors at ")
    assert "deleted" in note["content"]
    stored = deployed.state.get(key)
    assert stored is not None and stored.status == KeyStatus.RESOLVED


def test_an_open_key_whose_alarm_is_already_ok_is_resolved_a_firing_one_is_not(deployed: Deployed) -> None:
    recovered = open_alarm(deployed, "db-cpu")
    firing = open_alarm(deployed, "queue-age")
    deployed.cloudwatch.set_alarm_state(AlarmName="db-cpu", StateValue="OK", StateReason="recovered")
    report = deployed.reconcile()
    assert report["done"] == {"alarm-ok": 1}
    assert deployed.emulator.open_alert(recovered) is None
    assert deployed.emulator.open_alert(firing) is not None
    assert deployed.state.get(firing).status == KeyStatus.OPEN  # type: ignore[union-attr]


def test_the_resolve_uses_the_opening_routes_key(deployed: Deployed) -> None:
    key = open_alarm(deployed, "pay-latency")
    deployed.cloudwatch.delete_alarms(AlarmNames=["pay-latency"])
    deployed.reconcile()
    resolves = [r for r in deployed.emulator.requests if r.event_action == "resolve"]
    assert [r.routing_key for r in resolves] == [deployed.routing_key("payments")]
    assert deployed.emulator.open_alert(key) is None


def test_a_generic_alert_past_its_auto_resolve_timeout_is_resolved(deployed: Deployed) -> None:
    def message(name: str, seconds: int) -> str:
        return json.dumps({"alarmName": name, "severity": "WARNING", "idempotencyId": name,
                           "timestamp": T0.isoformat(), "autoResolveAfterSeconds": seconds})  # fmt: skip

    due = deployed.ingest(message("batch-late", 60)).dedup_key
    later = deployed.ingest(message("batch-slow", 86_400)).dedup_key
    report = deployed.reconcile()
    assert report["done"] == {"auto-resolve-timeout": 1}
    assert deployed.emulator.open_alert(due) is None
    assert deployed.emulator.open_alert(later) is not None


def test_when_a_maintenance_window_ends_alarms_still_in_alarm_are_triggered(deployed: Deployed) -> None:
    now = datetime.now(UTC)
    window = MaintenanceWindow(id="mw-deploy", start=now - timedelta(hours=1), end=now + timedelta(hours=1),
                               reason="deploy", route="default")  # fmt: skip
    deployed.maintenance.put(window)
    deployed.put_alarm("web-5xx", "ALARM")
    deployed.put_alarm("web-latency", "ALARM")
    held = deployed.notify("web-5xx", "ALARM", T0)
    recovered = deployed.notify("web-latency", "ALARM", T0)
    assert held.reason == "suppressed-maintenance" and deployed.emulator.alerts == []
    assert deployed.reconcile()["planned"] == 0  # the window still covers them
    deployed.cloudwatch.set_alarm_state(AlarmName="web-latency", StateValue="OK", StateReason="ok")
    deployed.maintenance.end("mw-deploy", datetime.now(UTC))
    report = deployed.reconcile()
    assert report["done"] == {"maintenance-ended": 1, "suppressed-alarm-recovered": 1}
    alert = deployed.emulator.open_alert(held.dedup_key)
    assert alert is not None and "web-5xx" in alert.summary
    assert alert.routing_key == deployed.routing_key("default")
    assert deployed.emulator.latest_alert(recovered.dedup_key) is None
    assert deployed.state.get(held.dedup_key).status == KeyStatus.OPEN  # type: ignore[union-attr]
    assert deployed.state.get(recovered.dedup_key).status == KeyStatus.IGNORED  # type: ignore[union-attr]


def test_a_resolve_dropped_by_a_pagerduty_maintenance_window_is_sent_again(deployed: Deployed) -> None:
    key = open_alarm(deployed, "orders-errors")
    deployed.emulator.set_maintenance(True)
    resolve = deployed.notify("orders-errors", "OK", T0 + timedelta(minutes=5))
    assert resolve.sent == "resolve"
    events = [r for r in deployed.emulator.requests if r.path == "/v2/enqueue"]
    assert events[-1].outcome == "dropped-maintenance"
    assert deployed.emulator.open_alert(key) is not None  # orphaned
    assert deployed.reconcile()["done"] == {"resolve-resent": 1}  # still in maintenance: dropped again
    assert deployed.emulator.open_alert(key) is not None
    deployed.emulator.set_maintenance(False)
    assert deployed.reconcile()["done"] == {"resolve-resent": 1}
    assert deployed.emulator.open_alert(key) is None  # closed at last
    assert deployed.reconcile()["done"] == {"resolve-confirmed": 1}
    assert deployed.state.get(key).pd_status == "resolved"  # type: ignore[union-attr]
    sent = len(deployed.emulator.requests)
    assert deployed.reconcile()["planned"] == 0  # confirmed keys leave the list: no more lookups
    assert len(deployed.emulator.requests) == sent


def test_without_a_rest_token_dropped_resolves_are_not_looked_for(deployed: Deployed) -> None:
    open_alarm(deployed, "orders-errors")
    deployed.emulator.set_maintenance(True)
    deployed.notify("orders-errors", "OK", T0 + timedelta(minutes=5))
    deployed.emulator.set_maintenance(False)
    deployed.set_secret(deployed.bridge.webhook_secret, {"webhook_secrets": ["whsec"]})
    sent = len(deployed.emulator.requests)
    assert deployed.reconcile()["planned"] == 0
    assert len(deployed.emulator.requests) == sent


def test_one_key_failing_does_not_stop_the_others(deployed: Deployed) -> None:
    broken = open_alarm(deployed, "pay-errors")
    fine = open_alarm(deployed, "search-errors")
    deployed.cloudwatch.delete_alarms(AlarmNames=["pay-errors", "search-errors"])
    deployed.set_secret(deployed.bridge.routing_keys_secret, {"default": deployed.routing_key("default")})
    report = deployed.reconcile()
    assert report["done"] == {"alarm-deleted": 2}  # both observations reached the delivery lane
    assert deployed.emulator.open_alert(fine) is None
    assert deployed.emulator.open_alert(broken) is not None
    assert deployed.state.get(broken).status == KeyStatus.OPEN  # type: ignore[union-attr]  # retried next run
    assert deployed.bridge.dead_letter_count() == 1  # its delivery kept failing: the FIFO DLQ has it


def test_resolves_are_listed_from_the_index_within_the_lookback(deployed: Deployed) -> None:
    key = open_alarm(deployed, "lookback")
    deployed.notify("lookback", "OK", T0 + timedelta(minutes=1))
    store = deployed.state
    assert [item.dedup_key for item in store.list_unconfirmed_resolves(T0)] == [key]
    assert list(store.list_unconfirmed_resolves(datetime.now(UTC) + timedelta(minutes=1))) == []


def test_a_trigger_that_never_got_through_is_paged_by_the_reconciler(deployed: Deployed) -> None:
    deployed.put_alarm("disk-full", "ALARM")
    deployed.emulator.inject(Fault.server_error(503), times=20)  # PagerDuty down for every attempt
    with pytest.raises(PagerDutyError):
        deployed.notify("disk-full", "ALARM", T0)
    deployed.emulator.clear_faults()
    pending = deployed.state.get(alarm_arn("disk-full"))
    assert (
        pending is not None
        and pending.trigger_pending
        and deployed.emulator.open_alert(pending.dedup_key) is None
    )
    assert deployed.reconcile()["planned"] == 0  # its record is still being retried by SQS: leave it

    # The record went to the DLQ and nobody redrove it: an hour later the reconciler pages.
    stuck = pending.model_copy(
        update={"last_seen": pending.last_seen - timedelta(hours=1), "version": pending.version + 1}
    )
    assert deployed.state.save(stuck, expected_version=pending.version)
    assert deployed.reconcile()["done"] == {"pending-trigger-resent": 1}
    alert = deployed.emulator.open_alert(pending.dedup_key)
    assert alert is not None and alert.routing_key == deployed.routing_key("default")
    stored = deployed.state.get(pending.dedup_key)
    assert stored is not None and stored.is_open and not stored.trigger_pending
    assert deployed.notify("disk-full", "OK", T0 + timedelta(minutes=5)).sent == "resolve"
    assert deployed.emulator.open_alert(pending.dedup_key) is None


def test_a_trigger_dropped_in_a_pagerduty_maintenance_window_is_paged_once_it_ends(
    deployed: Deployed,
) -> None:
    deployed.emulator.set_maintenance(True)
    key = deployed.notify("disk-full", "ALARM", T0).dedup_key
    deployed.put_alarm("disk-full", "ALARM")
    assert deployed.emulator.latest_alert(key) is None  # PagerDuty accepted it (202) and opened nothing
    deployed.emulator.set_maintenance(False)
    opened = deployed.state.get(key)
    assert opened is not None and opened.is_open and opened.pd_status is None
    assert deployed.reconcile()["planned"] == 0  # a webhook may still mirror it: wait for the grace

    aged = opened.model_copy(
        update={"opened_at": datetime.now(UTC) - timedelta(hours=1), "version": opened.version + 1}
    )
    assert deployed.state.save(aged, expected_version=opened.version)
    assert deployed.reconcile()["done"] == {"trigger-not-opened": 1}
    alert = deployed.emulator.open_alert(key)
    assert alert is not None and alert.routing_key == deployed.routing_key("default")
    resent = deployed.state.get(key)
    assert resent is not None and resent.opened_at is not None and resent.opened_at > aged.opened_at  # type: ignore[operator]
    assert deployed.reconcile()["planned"] == 0  # the re-sent trigger gets its own grace
    aged = resent.model_copy(
        update={"opened_at": datetime.now(UTC) - timedelta(hours=1), "version": resent.version + 1}
    )
    assert deployed.state.save(aged, expected_version=resent.version)
    assert deployed.reconcile()["done"] == {"open-confirmed": 1}  # found it: mirrored
    stored = deployed.state.get(key)
    assert stored is not None and stored.pd_status == "triggered" and stored.incident_id == alert.incident_id
    lookups = len(deployed.emulator.requests)
    assert deployed.reconcile()["planned"] == 0 and len(deployed.emulator.requests) == lookups


def test_each_run_rewrites_windows_an_earlier_version_stored_in_the_current_layout(
    deployed: Deployed,
) -> None:
    now = datetime.now(UTC)
    current = MaintenanceWindow(id="older", start=now - timedelta(minutes=5), end=now + timedelta(hours=1))
    older = window_to_dynamo(current, 30)
    older[INDEX_SORT_KEY] = {"S": f"{current.start.isoformat()}#{current.id}"}  # an earlier version's key
    client = boto3.client("dynamodb", region_name=REGION)
    client.put_item(TableName=deployed.bridge.table_name, Item=older)
    assert deployed.maintenance.list_active(now) == []
    deployed.reconcile()
    assert deployed.maintenance.list_active(now) == [current]


def test_a_record_without_a_page_whose_alarm_is_ok_closes_and_nothing_is_sent(deployed: Deployed) -> None:
    """A multi-time-series alarm's level recorded without a page, whose OK notification was lost: the
    reconciler sees CloudWatch OK and the record closes, so `alertbridge active` stops listing it."""
    deployed.put_alarm("orders-latency", "OK")
    arn = deployed.alarm_arn("orders-latency")
    record = StateItem(
        dedup_key=arn, status=KeyStatus.RECORDED, alarm_state=AlarmState.ALARM, state_changed_at=T0,
        route="default", alarm_name="orders-latency", alarm_arn=arn, source=AlertSource.CLOUDWATCH_SNS.value,
        first_seen=T0, last_seen=T0,
    )  # fmt: skip
    assert deployed.state.save(record, expected_version=None)
    assert [i.dedup_key for i in deployed.state.list_recorded()] == [arn]
    assert deployed.reconcile()["done"] == {"alarm-ok": 1}
    assert list(deployed.state.list_recorded()) == []
    closed = deployed.state.get(arn)
    assert closed is not None and (closed.status, closed.alarm_state) == (KeyStatus.RESOLVED, AlarmState.OK)
    assert deployed.emulator.requests == []  # nothing was paged, so nothing is resolved
