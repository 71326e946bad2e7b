"""Every inbound shape parses into the normalized Alert; bad input becomes a RAW alert, never an exception."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alertbridge.errors import InvalidInput
from alertbridge.logic.events import build_event, event_action_for
from alertbridge.logic.parsers import parse_lambda_event, parse_sqs_body
from alertbridge.logic.policy import route_alert
from alertbridge.models.alert import AlarmKind, AlarmState, AlertSource
from alertbridge.models.config import BridgeConfig
from alertbridge.models.pagerduty import MAX_DEDUP_KEY_CHARS, EventAction
from tests.unit.conftest import RECEIVED_AT, event_files, load_event


def parse(name: str):  # type: ignore[no-untyped-def]
    return parse_lambda_event(load_event(name), received_at=RECEIVED_AT)


def test_sqs_with_raw_delivery_off_unwraps_the_sns_envelope() -> None:
    alarm, ok = parse("sqs-sns-lambda-errors-alarm-then-ok.json")
    assert alarm.source is AlertSource.CLOUDWATCH_SNS
    assert (alarm.state, ok.state) == (AlarmState.ALARM, AlarmState.OK)
    assert alarm.previous_state is AlarmState.OK
    assert alarm.topic_arn == "arn:aws:sns:eu-west-1:123456789012:alarms"
    assert alarm.region == "eu-west-1"  # from the ARN, not "EU (Ireland)"
    assert alarm.account_id == "123456789012"
    assert (
        alarm.dedup_key
        == ok.dedup_key
        == "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:prod-orders-api-errors"
    )
    assert alarm.state_changed_at == datetime(2024, 3, 14, 10, 42, 31, 118000, tzinfo=UTC)
    metric = alarm.metrics[0]
    assert (metric.namespace, metric.name, metric.stat) == ("AWS/Lambda", "Errors", "SUM")
    assert metric.dimensions == {"FunctionName": "orders-api"}
    assert alarm.threshold == 5.0
    assert alarm.comparison == "GreaterThanOrEqualToThreshold"
    assert alarm.evaluation is not None
    assert (alarm.evaluation.evaluation_periods, alarm.evaluation.datapoints_to_alarm) == (3, 2)
    assert alarm.kind is AlarmKind.METRIC


def test_sqs_with_raw_delivery_on_reads_the_alarm_json_itself() -> None:
    (alert,) = parse("sqs-raw-delivery-alb-5xx-directive.json")
    assert alert.source is AlertSource.CLOUDWATCH_SNS
    assert alert.topic_arn is None
    assert alert.metrics[0].dimensions["LoadBalancer"] == "app/checkout-alb/50dc6c495c0c9188"
    assert alert.evaluation is not None and alert.evaluation.treat_missing_data == "notBreaching"
    assert "[alertbridge severity=critical route=payments]" in (alert.description or "")


def test_metric_math_alarm_keeps_every_query() -> None:
    (alert,) = parse("sns-metric-math-apigw-error-rate.json")
    assert alert.kind is AlarmKind.METRIC_MATH
    assert alert.region == "ap-southeast-2"
    assert alert.description is None
    assert [m.id for m in alert.metrics] == ["e1", "m1", "m2"]
    assert alert.metrics[0].expression == "100*(m1/m2)"
    assert alert.metrics[1].dimensions == {"ApiName": "storefront", "Stage": "prod"}
    assert alert.metrics[1].return_data is False


def test_anomaly_detection_alarm_has_a_threshold_metric_and_no_threshold() -> None:
    (alert,) = parse("sns-anomaly-detection-alb-latency.json")
    assert alert.kind is AlarmKind.ANOMALY_DETECTION
    assert alert.threshold is None
    assert alert.threshold_metric_id == "ad1"
    assert alert.evaluation is not None and alert.evaluation.treat_missing_data == "missing"


def test_composite_via_sns_lists_its_triggering_children() -> None:
    (alert,) = parse("sns-composite-storefront.json")
    assert alert.kind is AlarmKind.COMPOSITE
    assert alert.alarm_rule is not None and "storefront-latency-high" in alert.alarm_rule
    assert [c.name for c in alert.triggering_children] == ["storefront-5xx-high", "storefront-latency-high"]
    assert alert.metrics == ()


def test_composite_via_eventbridge_reads_triggering_alarms_from_reason_data() -> None:
    (alert,) = parse("sqs-eventbridge-composite-payments.json")
    assert alert.source is AlertSource.EVENTBRIDGE
    assert alert.kind is AlarmKind.COMPOSITE
    assert alert.region == "ap-northeast-1"
    assert [c.name for c in alert.triggering_children] == ["payments-db-connections"]
    assert alert.triggering_children[0].state == "ALARM"


def test_eventbridge_metric_alarm_takes_threshold_from_reason_data() -> None:
    (alert,) = parse("eventbridge-metric-ec2-cpu.json")
    assert alert.source is AlertSource.EVENTBRIDGE
    assert alert.kind is AlarmKind.METRIC
    assert alert.threshold == 90.0
    assert alert.reason_data is not None and alert.reason_data["recentDatapoints"] == [97.3]
    assert alert.metrics[0].dimensions == {"InstanceId": "i-0a1b2c3d4e5f67890"}
    assert alert.previous_state is AlarmState.OK


def test_lambda_alarm_action() -> None:
    (alert,) = parse("lambda-action-sqs-age.json")
    assert alert.source is AlertSource.LAMBDA_ACTION
    assert alert.region == "ca-central-1"
    assert alert.metrics[0].name == "ApproximateAgeOfOldestMessage"
    assert alert.threshold == 900.0


def test_the_same_alarm_gets_the_same_dedup_key_by_sns_eventbridge_and_lambda_action() -> None:
    alerts = [
        parse(name)[0]
        for name in (
            "same-alarm-via-sqs-sns.json",
            "same-alarm-via-eventbridge.json",
            "same-alarm-via-lambda-action.json",
        )
    ]
    assert [a.source for a in alerts] == [
        AlertSource.CLOUDWATCH_SNS,
        AlertSource.EVENTBRIDGE,
        AlertSource.LAMBDA_ACTION,
    ]
    assert len({a.dedup_key for a in alerts}) == 1
    assert alerts[0].dedup_key.endswith(
        ":alarm:Zahlungen \u2013 Latenz hoch \u26a0\ufe0f \u652f\u4ed8\u5ef6\u8fdf"
    )
    assert len({a.state_changed_at for a in alerts}) == 1


def test_255_char_unicode_name_gets_a_bounded_readable_key() -> None:
    (alert,) = parse("sns-unicode-255-char-name-long-reason.json")
    assert len(alert.alarm_name) == 255
    assert alert.description is None  # the key is absent altogether
    assert len(alert.dedup_key) <= MAX_DEDUP_KEY_CHARS
    assert alert.dedup_key.startswith("arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-ddb")
    assert len(alert.reason or "") > 1024


def test_generic_alert_message_with_idempotency_id_and_its_resolve() -> None:
    (trigger,) = parse("sqs-generic-alert-message.json")
    (resolve,) = parse("sqs-generic-alert-message-resolved.json")
    assert trigger.source is AlertSource.GENERIC
    assert trigger.dedup_key == resolve.dedup_key == "hybrid-routing-failure-rate"
    assert (trigger.state, resolve.state) == (AlarmState.ALARM, AlarmState.OK)
    assert trigger.severity_hint == "CRITICAL"
    assert trigger.metric_value == 85.0 and trigger.threshold == 95.0
    assert trigger.recommendations == ("Check system health", "Review logs")
    assert trigger.links[0].text == "Hybrid Routing Dashboard"
    assert trigger.state_changed_at == datetime(2025, 1, 14, 14, 30, tzinfo=UTC)


def test_generic_alert_without_id_keys_on_environment_and_name() -> None:
    (alert,) = parse("sqs-raw-generic-priority-scale.json")
    assert alert.dedup_key == "staging/db-pool-exhausted"
    assert alert.state_changed_at == datetime.fromtimestamp(1737000000, tz=UTC)  # epoch milliseconds
    assert alert.links[0].href == "https://grafana.example.com/d/db-pool"


def test_events_v2_body_is_a_passthrough() -> None:
    (alert,) = parse("sqs-pagerduty-event-passthrough.json")
    assert alert.source is AlertSource.PAGERDUTY_EVENT
    assert alert.passthrough is not None and alert.passthrough["client"] == "batch-scheduler"
    assert alert.dedup_key == "batch-job/nightly-export"


def test_plain_text_is_summarized_from_the_subject_or_first_line() -> None:
    raw_on, wrapped = parse("sqs-plain-text.json")
    assert raw_on.source is wrapped.source is AlertSource.RAW
    assert raw_on.alarm_name == "Backup of db-reporting failed"
    assert raw_on.raw_message is not None and "pg_dump" in raw_on.raw_message
    assert raw_on.state_changed_at == datetime.fromtimestamp(1738465200, tz=UTC)  # SQS SentTimestamp
    assert wrapped.alarm_name == "Disk almost full on fileserver-2"
    assert wrapped.topic_arn == "arn:aws:sns:sa-east-1:123456789012:ops-misc"


def test_non_alarm_json_still_pages() -> None:
    s3_event, array = parse("sqs-non-alarm-json.json")
    assert s3_event.source is array.source is AlertSource.RAW
    assert s3_event.alarm_name == "Amazon S3 Notification"
    assert s3_event.raw_message is not None and "ObjectRemoved" in s3_event.raw_message
    assert array.state is AlarmState.ALARM


def test_insufficient_data_is_parsed_as_such() -> None:
    (alert,) = parse("sns-insufficient-data.json")
    assert alert.state is AlarmState.INSUFFICIENT_DATA


def test_a_bare_cloudwatch_message_is_accepted_as_a_lambda_event() -> None:
    (alert,) = parse("bare-cloudwatch-alarm-rds-storage.json")
    assert alert.region == "eu-central-1"
    assert alert.metrics[0].unit == "Bytes"


@pytest.mark.parametrize("path", event_files(), ids=lambda p: p.name)
def test_every_event_file_parses_with_bounded_keys_and_region_codes(path) -> None:  # type: ignore[no-untyped-def]
    for alert in parse_lambda_event(json.loads(path.read_text("utf-8")), received_at=RECEIVED_AT):
        assert 0 < len(alert.dedup_key) <= MAX_DEDUP_KEY_CHARS
        assert alert.region is None or " " not in alert.region
        assert alert.state_changed_at.tzinfo is not None


# --- bad input never raises from parse_sqs_body ------------------------------------------------------

BAD_BODIES = [
    "",
    "   ",
    "null",
    "42",
    '"just a string"',
    "[1, 2",
    "\ufffd\ufffd invalid utf-8 replaced by SQS \ufffd",
    '{"AlarmName": "x", "NewStateValue": "BROKEN"}',
    '{"detail-type": "CloudWatch Alarm State Change", "detail": {"state": {}}}',
    '{"alarmData": {"state": {"value": "ALARM"}}, "source": "aws.cloudwatch"}',
    '{"alarmName": "", "severity": "CRITICAL"}',
    '{"event_action": "trigger", "payload": "not an object"}',
    '{"Type": "Notification", "TopicArn": "arn:aws:sns:eu-west-1:1:t", "Message": "{\\"AlarmName\\": 1}"}',
    '{"x": NaN, "y": "\\ud800 lone surrogate"}',
    "[" * 5000 + "]" * 5000,
    "x" * 300_000,
]


def test_an_application_alert_with_an_odd_field_keeps_its_identity_and_state() -> None:
    alert = parse_sqs_body('{"alarmName": "app", "threshold": "not a number"}', received_at=RECEIVED_AT)
    assert (alert.source, alert.alarm_name, alert.ignored_fields) == (
        AlertSource.GENERIC,
        "app",
        ("threshold",),
    )


@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_bad_bodies_become_raw_alerts(body: str) -> None:
    alert = parse_sqs_body(body, received_at=RECEIVED_AT)
    assert alert.source is AlertSource.RAW
    assert alert.state is AlarmState.ALARM
    assert alert.raw_message is not None and len(alert.raw_message) <= 4000 + 60
    assert alert.alarm_name.strip()


def test_an_alarm_with_odd_fields_is_still_read_as_an_alarm() -> None:
    body = (
        '{"AlarmName": "x", "NewStateValue": "alarm", "Trigger": "not an object", "StateChangeTime": "soon"}'
    )
    alert = parse_sqs_body(body, received_at=RECEIVED_AT)
    assert alert.source is AlertSource.CLOUDWATCH_SNS
    assert alert.state is AlarmState.ALARM
    assert alert.state_changed_at == RECEIVED_AT
    assert alert.metrics == () and alert.evaluation is None
    assert alert.dedup_key == "arn:aws:cloudwatch:unknown:unknown:alarm:x"


def test_raw_message_bound_is_configurable() -> None:
    alert = parse_sqs_body("y" * 5000, received_at=RECEIVED_AT, max_raw_chars=100)
    assert alert.raw_message is not None and alert.raw_message.startswith("y" * 100)
    assert "4900 more characters" in alert.raw_message


def test_subscription_confirmation_pages_with_a_clear_subject() -> None:
    body = json.dumps(
        {
            "Type": "SubscriptionConfirmation",
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:alarms",
            "Message": "You have chosen to subscribe to the topic ...",
            "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
        }
    )
    alert = parse_sqs_body(body, received_at=RECEIVED_AT)
    assert alert.source is AlertSource.RAW
    assert alert.alarm_name.startswith("SNS SubscriptionConfirmation for topic arn:aws:sns")
    assert alert.raw_message is not None and "ConfirmSubscription" in alert.raw_message


@pytest.mark.parametrize(
    "event",
    [[], "text", 3, None, {"hello": "world"}, {"Records": [{"eventSource": "aws:s3"}]}],
    ids=["list", "string", "number", "null", "other-object", "s3-records"],
)
def test_non_lambda_shapes_raise_invalid_input(event: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_lambda_event(event, received_at=RECEIVED_AT)
    assert "\n" not in str(caught.value)


def test_an_eventbridge_event_of_another_detail_type_still_pages() -> None:
    event = {"detail-type": "CloudWatch Alarm Configuration Change", "source": "aws.cloudwatch", "detail": {}}
    (alert,) = parse_lambda_event(event, received_at=RECEIVED_AT)
    assert alert.source is AlertSource.RAW


def test_empty_sqs_batch_is_no_alert() -> None:
    assert parse_lambda_event({"Records": []}, received_at=RECEIVED_AT) == []


# --- property: nothing makes parse_sqs_body raise -----------------------------------------------------


_json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
_shape_keys = st.sampled_from(
    [
        "AlarmName",
        "NewStateValue",
        "Trigger",
        "AlarmArn",
        "detail-type",
        "detail",
        "alarmData",
        "alarmName",
        "event_action",
        "payload",
        "dedup_key",
        "Type",
        "Message",
        "TopicArn",
        "state",
        "severity",
        "resources",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_shape_keys, _json_values, max_size=8))
def test_shape_like_documents_never_raise_and_always_build_a_valid_body(doc: dict[str, object]) -> None:
    alert = parse_sqs_body(json.dumps(doc), received_at=RECEIVED_AT)
    assert 0 < len(alert.dedup_key) <= MAX_DEDUP_KEY_CHARS
    config = BridgeConfig(insufficient_data="trigger")  # type: ignore[arg-type]
    action = event_action_for(alert, config)
    assert action is not None
    body = build_event(alert, route_alert(alert, config), action, config).to_body()
    json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
    if action is EventAction.TRIGGER:
        assert body["payload"]["source"].strip() and body["payload"]["summary"].strip()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_never_raises(text: str) -> None:
    assert parse_sqs_body(text, received_at=RECEIVED_AT).alarm_name
