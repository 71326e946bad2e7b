"""The Events v2 body builder: actions, limits, links, details, passthrough, minimal fallback."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from alertbridge.logic.events import (
    MAX_LINKS,
    alarm_console_url,
    build_event,
    event_action_for,
    metric_console_url,
    minimal_event,
    truncate,
    utf16_units,
)
from alertbridge.logic.parsers import parse_lambda_event, parse_sqs_body
from alertbridge.logic.policy import Routing, route_alert
from alertbridge.models.alert import AlarmState, Alert, AlertSource, MetricRef
from alertbridge.models.config import BridgeConfig
from alertbridge.models.pagerduty import MAX_REQUEST_BYTES, MAX_SUMMARY_CHARS, EventAction, Link, Severity
from tests.unit.conftest import RECEIVED_AT, load_event

ROUTING = Routing(route="default", severity=Severity.ERROR)


def alerts(name: str) -> list[Alert]:
    return parse_lambda_event(load_event(name), received_at=RECEIVED_AT)


def body_for(alert: Alert, config: BridgeConfig | None = None) -> dict[str, Any]:
    cfg = config or BridgeConfig()
    action = event_action_for(alert, cfg)
    assert action is not None
    return build_event(alert, route_alert(alert, cfg), action, cfg).to_body()


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("ignore", None), ("trigger", EventAction.TRIGGER), ("resolve", EventAction.RESOLVE)],
)
def test_insufficient_data_policy(policy: str, expected: EventAction | None) -> None:
    (alert,) = alerts("sns-insufficient-data.json")
    assert event_action_for(alert, BridgeConfig(insufficient_data=policy)) is expected  # type: ignore[arg-type]


def test_alarm_triggers_and_ok_resolves() -> None:
    alarm, ok = alerts("sqs-sns-lambda-errors-alarm-then-ok.json")
    assert event_action_for(alarm, BridgeConfig()) is EventAction.TRIGGER
    assert event_action_for(ok, BridgeConfig()) is EventAction.RESOLVE


def test_resolve_carries_only_routing_key_action_and_dedup_key() -> None:
    _, ok = alerts("sqs-sns-lambda-errors-alarm-then-ok.json")
    body = build_event(ok, ROUTING, EventAction.RESOLVE, BridgeConfig()).to_body()
    assert body == {"routing_key": "default", "event_action": "resolve", "dedup_key": ok.dedup_key}


def test_trigger_body_is_rich() -> None:
    alarm, _ = alerts("sqs-sns-lambda-errors-alarm-then-ok.json")
    body = body_for(alarm)
    payload = body["payload"]
    assert payload["summary"].startswith("[ALARM] prod-orders-api-errors: Threshold Crossed: 2 out of")
    assert payload["summary"].endswith("(eu-west-1)")
    assert payload["source"] == "123456789012/eu-west-1"
    assert payload["timestamp"] == "2024-03-14T10:42:31.118Z"
    assert (payload["component"], payload["group"], payload["class"]) == (
        "orders-api",
        "AWS/Lambda",
        "Errors",
    )
    details = payload["custom_details"]
    assert details["state_change"] == "OK -> ALARM"
    assert details["threshold"] == 5.0 and details["comparison"] == "GreaterThanOrEqualToThreshold"
    assert details["metrics"][0]["dimensions"] == {"FunctionName": "orders-api"}
    assert details["evaluation"]["datapoints_to_alarm"] == 2
    assert details["account"] == "123456789012" and details["region"] == "eu-west-1"
    assert any("CloudWatch Logs" in tip for tip in details["recommendations"])
    assert body["client"] == "alertbridge"
    assert body["client_url"] == body["links"][0]["href"]
    assert body["links"][0]["href"] == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/deeplink.js?region=eu-west-1"
        "#alarmsV2:alarm/prod-orders-api-errors"
    )


def test_console_links_quote_unicode_names_and_encode_metric_graphs() -> None:
    (alert,) = alerts("same-alarm-via-eventbridge.json")
    url = alarm_console_url(alert)
    assert url is not None and url.endswith(
        "#alarmsV2:alarm/Zahlungen%20%E2%80%93%20Latenz%20hoch%20%E2%9A%A0%EF%B8%8F%20%E6%94%AF%E4%BB%98%E5%BB%B6%E8%BF%9F"
    )
    graph = metric_console_url(alert)
    assert graph is not None
    assert "~(~'AWS*2fLambda~'Duration~'FunctionName~'zahlungen-api)" in graph
    assert "~stat~'p95~period~60~start~'2024-11-11T06*3a01*3a05.880Z" in graph


def test_no_console_link_without_a_region_code() -> None:
    alert = parse_sqs_body('{"AlarmName": "x", "NewStateValue": "ALARM"}', received_at=RECEIVED_AT)
    assert alarm_console_url(alert) is None
    assert "links" not in body_for(alert)
    assert body_for(alert)["payload"]["source"] == "alertbridge"  # never blank


def test_composite_summary_names_the_children_and_details_list_them() -> None:
    (alert,) = alerts("sns-composite-storefront.json")
    body = body_for(alert)
    assert body["payload"]["summary"] == (
        "[ALARM] storefront-degraded: storefront-5xx-high, storefront-latency-high in ALARM (us-west-2)"
    )
    children = body["payload"]["custom_details"]["triggering_children"]
    assert [c["name"] for c in children] == ["storefront-5xx-high", "storefront-latency-high"]
    assert body["payload"]["class"] == "composite"


def test_long_reason_and_255_char_name_keep_the_summary_within_1024_utf16_units() -> None:
    (alert,) = alerts("sns-unicode-255-char-name-long-reason.json")
    summary = body_for(alert)["payload"]["summary"]
    assert utf16_units(summary) <= MAX_SUMMARY_CHARS and len(summary) <= MAX_SUMMARY_CHARS
    assert utf16_units(summary) >= MAX_SUMMARY_CHARS - 1  # cut at the limit, not earlier
    assert summary.endswith("…")
    assert summary.startswith("[ALARM] orders-ddb-write-throttles-äöü-日本語-")


def test_truncate_counts_utf16_units_and_never_splits_a_code_point() -> None:
    text = "🚨" * 2000  # outside the BMP: 2 UTF-16 code units each
    cut = truncate(text, 1024)
    assert utf16_units(cut) == len(cut.encode("utf-16-le")) // 2 == 1023 and cut.endswith("…")
    assert len(cut) == 512  # 511 sirens and the ellipsis: one more siren would not fit
    cut.encode("utf-8")  # no half characters
    assert truncate("short", 1024) == "short"
    assert truncate("a" * 1024, 1024) == "a" * 1024
    mixed = truncate("a🚨" * 600, 1024)
    assert utf16_units(mixed) <= 1024 and utf16_units(mixed) >= 1023


def test_generic_alert_body_carries_its_links_and_recommendations_first() -> None:
    (alert,) = alerts("sqs-generic-alert-message.json")
    body = body_for(alert)
    assert body["dedup_key"] == "hybrid-routing-failure-rate"
    assert body["payload"]["severity"] == "critical"
    assert body["payload"]["custom_details"]["recommendations"][:2] == ["Check system health", "Review logs"]
    assert body["links"] == [
        {"href": "https://app.example.com/admin/bedrock-activation", "text": "Hybrid Routing Dashboard"}
    ]
    assert "client_url" not in body


def test_passthrough_is_forwarded_with_route_name_and_fixed_severity() -> None:
    (alert,) = alerts("sqs-pagerduty-event-passthrough.json")
    body = body_for(alert)
    assert body["routing_key"] == "default"  # never the sender's key
    assert body["payload"]["severity"] == "error"  # "urgent" is not a severity: default
    assert body["payload"]["custom_details"] == {"failed_partitions": [3, 7, 11]}
    assert body["client"] == "batch-scheduler"
    assert body["links"][0]["text"] == "Job run"


def test_passthrough_resolve_and_acknowledge_keep_their_action() -> None:
    for action in ("resolve", "acknowledge"):
        text = json.dumps({"event_action": action, "dedup_key": "k1", "routing_key": "x" * 32})
        alert = parse_sqs_body(text, received_at=RECEIVED_AT)
        assert event_action_for(alert, BridgeConfig()) is EventAction(action)
        body = build_event(alert, ROUTING, EventAction(action), BridgeConfig()).to_body()
        assert body == {"routing_key": "default", "event_action": action, "dedup_key": "k1"}


def test_passthrough_with_an_unusable_body_falls_back_to_a_built_one() -> None:
    text = json.dumps({"event_action": "trigger", "payload": {"summary": "  "}, "links": "nope"})
    alert = parse_sqs_body(text, received_at=RECEIVED_AT)
    body = body_for(alert)
    assert body["payload"]["summary"].strip()
    assert body["payload"]["source"].strip()


def test_huge_details_are_trimmed_below_512_kb_and_the_raw_message_survives_longest() -> None:
    big = {"blob": "x" * 400_000}
    alert = Alert(
        source=AlertSource.CLOUDWATCH_SNS,
        dedup_key="k",
        alarm_name="big",
        state=AlarmState.ALARM,
        state_changed_at=datetime(2025, 1, 1, tzinfo=UTC),
        reason_data=big,
        description="d" * 200_000,
        raw_message="r" * 50_000,
    )
    body = build_event(alert, ROUTING, EventAction.TRIGGER, BridgeConfig()).to_body()
    size = len(json.dumps(body).encode("utf-8"))
    assert size <= MAX_REQUEST_BYTES
    details = body["payload"]["custom_details"]
    assert details["reason_data"].startswith("[trimmed:")
    assert details["raw_message"] == "r" * 50_000


def test_lone_surrogates_are_replaced_so_the_body_encodes_as_utf8() -> None:
    alert = parse_sqs_body('{"weird": "\\ud800 text"}', received_at=RECEIVED_AT)
    body = body_for(alert)
    json.dumps(body, ensure_ascii=False).encode("utf-8")
    assert "\ufffd text" in json.dumps(body, ensure_ascii=False)  # U+FFFD, as the intake function cleans


def test_links_are_deduplicated_and_bounded() -> None:
    links = tuple(Link(href=f"https://x/{i % 30}", text=str(i)) for i in range(60))
    alert = Alert(
        source=AlertSource.GENERIC,
        dedup_key="k",
        alarm_name="n",
        state=AlarmState.ALARM,
        state_changed_at=datetime(2025, 1, 1, tzinfo=UTC),
        links=links,
    )
    assert len(body_for(alert)["links"]) == MAX_LINKS


def test_minimal_event_is_the_safe_subset() -> None:
    alarm, _ = alerts("sqs-sns-lambda-errors-alarm-then-ok.json")
    routing = Routing(route="payments", severity=Severity.CRITICAL)
    body = minimal_event(alarm, routing, BridgeConfig()).to_body()
    assert set(body) == {"routing_key", "event_action", "dedup_key", "payload"}
    assert set(body["payload"]) == {"summary", "source", "severity"}
    assert body["payload"]["severity"] == "critical"
    assert body["routing_key"] == "payments"


def test_metric_without_dimensions_uses_the_metric_name_as_component() -> None:
    alert = Alert(
        source=AlertSource.EVENTBRIDGE,
        dedup_key="k",
        alarm_name="n",
        state=AlarmState.ALARM,
        state_changed_at=datetime(2025, 1, 1, tzinfo=UTC),
        region="eu-west-1",
        metrics=(MetricRef(namespace="Custom/App", name="Orders"),),
    )
    payload = body_for(alert)["payload"]
    assert (payload["component"], payload["group"], payload["class"]) == ("Orders", "Custom/App", "Orders")
    assert payload["source"] == "eu-west-1"
