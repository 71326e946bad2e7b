"""EventBridge "CloudWatch Alarm Configuration Change" with operation delete: an OK for the alarm's key."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from alertbridge.logic.events import event_action_for
from alertbridge.logic.lifecycle import decide
from alertbridge.logic.parsers import parse_lambda_event, parse_sqs_body
from alertbridge.logic.parsers.alarm_detail import DELETED_REASON
from alertbridge.models.alert import AlarmState, AlertSource
from alertbridge.models.config import BridgeConfig
from alertbridge.models.pagerduty import EventAction, Severity
from tests.unit.conftest import RECEIVED_AT, load_event

ARN = "arn:aws:cloudwatch:sa-east-1:123456789012:alarm:reporting-ec2-cpu-high"


def deleted() -> dict[str, Any]:
    doc: dict[str, Any] = load_event("eventbridge-alarm-deleted.json")
    return doc


def test_a_deleted_alarm_becomes_an_ok_with_reason_alarm_deleted() -> None:
    alert = parse_sqs_body(json.dumps(deleted()), received_at=RECEIVED_AT)
    assert alert.source == AlertSource.EVENTBRIDGE
    assert alert.state == AlarmState.OK
    assert alert.previous_state == AlarmState.ALARM
    assert alert.reason == DELETED_REASON
    assert alert.alarm_name == "reporting-ec2-cpu-high"
    assert alert.alarm_arn == ARN
    assert event_action_for(alert, BridgeConfig()) == EventAction.RESOLVE


def test_it_has_the_same_dedup_key_as_the_alarms_state_changes() -> None:
    (state_change,) = parse_lambda_event(
        load_event("eventbridge-metric-ec2-cpu.json"), received_at=RECEIVED_AT
    )
    alert = parse_sqs_body(json.dumps(deleted()), received_at=RECEIVED_AT)
    assert alert.dedup_key == state_change.dedup_key


def test_its_time_is_the_deletion_time() -> None:
    alert = parse_sqs_body(json.dumps(deleted()), received_at=RECEIVED_AT)
    assert alert.state_changed_at == datetime(2024, 8, 3, 16, 12, 7, tzinfo=UTC)


def test_deleted_within_the_second_of_its_last_change_is_still_newer_than_it() -> None:
    doc = deleted()
    doc["time"] = "2024-08-03T15:00:41Z"  # EventBridge's time has whole seconds: before the .727 change
    alert = parse_sqs_body(json.dumps(doc), received_at=RECEIVED_AT)
    assert alert.state_changed_at == datetime(2024, 8, 3, 15, 0, 41, 728000, tzinfo=UTC)


def test_the_lifecycle_resolves_the_open_key_of_the_deleted_alarm() -> None:
    (alarm,) = parse_lambda_event(load_event("eventbridge-metric-ec2-cpu.json"), received_at=RECEIVED_AT)
    now = RECEIVED_AT
    common = {"route": "default", "routing_key_id": "abc", "severity": Severity.ERROR, "summary": "s",
              "suppressed_by": None, "now": now, "ttl_days": 30}  # fmt: skip
    opened = decide(None, alarm, action=EventAction.TRIGGER, **common)  # type: ignore[arg-type]
    doc = deleted()
    doc["time"] = alarm.state_changed_at.strftime("%Y-%m-%dT%H:%M:%SZ")  # same second as the ALARM
    gone = parse_sqs_body(json.dumps(doc), received_at=now + timedelta(minutes=1))
    closing = decide(opened.new_item, gone, action=EventAction.RESOLVE, **common)  # type: ignore[arg-type]
    assert closing.send == EventAction.RESOLVE
    assert closing.route_for_send == "default"


def test_a_deletion_without_a_state_still_closes() -> None:
    doc = deleted()
    del doc["detail"]["state"]
    alert = parse_sqs_body(json.dumps(doc), received_at=RECEIVED_AT)
    assert alert.state == AlarmState.OK
    assert alert.reason == DELETED_REASON
    assert alert.source == AlertSource.EVENTBRIDGE


def test_other_configuration_changes_are_not_taken_for_a_deletion() -> None:
    doc = deleted()
    doc["detail"]["operation"] = "update"
    alert = parse_sqs_body(json.dumps(doc), received_at=RECEIVED_AT)
    assert alert.source == AlertSource.RAW  # unchanged behaviour: not an alarm state change
    assert alert.reason != DELETED_REASON


def test_a_deletion_as_a_lambda_event_record() -> None:
    record = {"eventSource": "aws:sqs", "body": json.dumps(deleted()), "attributes": {}}
    (alert,) = parse_lambda_event({"Records": [record]}, received_at=RECEIVED_AT)
    assert alert.state == AlarmState.OK and alert.reason == DELETED_REASON
