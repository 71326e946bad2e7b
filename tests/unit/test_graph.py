"""Metric graph images, pure: widgets (metric, math, anomaly band), periods by data age, tokens (sign,
verify, tamper, expiry), the route's answers, and the trigger body's `images` entry."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alertbridge.errors import ConfigError
from alertbridge.logic import graph
from alertbridge.logic.events import build_event, event_action_for
from alertbridge.logic.graph import ExpiredToken, GraphSigning, InvalidToken
from alertbridge.logic.parsers import parse_lambda_event
from alertbridge.logic.png import png_text
from alertbridge.logic.policy import route_alert
from alertbridge.models.alert import Alert
from alertbridge.models.config import BridgeConfig
from alertbridge.models.settings import Settings
from tests.unit.conftest import RECEIVED_AT, load_event

KEY = b"k" * 40
OTHER_KEY = b"o" * 40
BASE = "https://abc.lambda-url.eu-west-1.on.aws"


class Keys:
    def __init__(self, *keys: bytes) -> None:
        self.keys = list(keys)

    def signing_key(self) -> bytes | None:
        return self.keys[0] if self.keys else None

    def verifying_keys(self) -> Sequence[bytes]:
        return self.keys


class Images:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def render(self, region: str, widget: dict[str, Any]) -> bytes:
        self.calls.append((region, widget))
        if self.fail:
            raise RuntimeError("throttled")
        return graph.placeholder_png("drawn", "stand-in")


def first(name: str) -> Alert:
    return parse_lambda_event(load_event(name), received_at=RECEIVED_AT)[0]


def spec(name: str, config: BridgeConfig | None = None) -> graph.GraphSpec:
    found = graph.spec_for(first(name), config or BridgeConfig())
    assert found is not None
    return found


def body(alert: Alert, config: BridgeConfig, signing: GraphSigning | None) -> dict[str, Any]:
    action = event_action_for(alert, config)
    assert action is not None
    return build_event(alert, route_alert(alert, config), action, config, signing).to_body()


# --- widgets -----------------------------------------------------------------------------------------


def test_single_metric_widget_has_the_threshold_and_the_window_around_the_transition() -> None:
    alarm = first("sqs-sns-lambda-errors-alarm-then-ok.json")
    found = spec("sqs-sns-lambda-errors-alarm-then-ok.json")
    widget = graph.widget_for(found, alarm.state_changed_at + timedelta(minutes=5))
    assert widget["region"] == "eu-west-1"
    assert widget["title"] == "prod-orders-api-errors"
    assert widget["metrics"] == [
        ["AWS/Lambda", "Errors", "FunctionName", "orders-api", {"stat": "Sum", "period": 60}]
    ]
    start = alarm.state_changed_at - timedelta(hours=3)
    end = alarm.state_changed_at + timedelta(minutes=30)
    assert widget["start"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert widget["end"] == end.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert widget["annotations"]["horizontal"] == [
        {"label": "Threshold >= 5", "value": 5.0, "color": "#d62728"}
    ]
    assert widget["annotations"]["vertical"][0]["label"].startswith("ALARM")


def test_metric_math_widget_draws_the_expression_and_hides_its_inputs() -> None:
    widget = graph.widget_for(spec("sns-metric-math-apigw-error-rate.json"), RECEIVED_AT)
    expression, *inputs = widget["metrics"]
    assert expression[0]["expression"] == "100*(m1/m2)"
    assert expression[0]["id"] == "e1"
    assert [line[-1]["id"] for line in inputs] == ["m1", "m2"]
    assert all(line[-1]["visible"] is False for line in inputs)
    assert widget["annotations"]["horizontal"][0]["value"] == 2.5


def test_anomaly_detection_widget_draws_the_band_not_a_threshold() -> None:
    found = spec("sns-anomaly-detection-alb-latency.json")
    widget = graph.widget_for(found, RECEIVED_AT)
    assert found.band_id == "ad1"
    assert widget["metrics"][1][0]["expression"] == "ANOMALY_DETECTION_BAND(m1, 2)"
    assert widget["metrics"][1][0]["id"] == "ad1"
    assert "horizontal" not in widget["annotations"]
    assert "anomaly detection band" in graph.alt_text(found)


@pytest.mark.parametrize(
    ("alarm_period", "age", "expected"),
    [
        (60, timedelta(days=1), 60),
        (10, timedelta(hours=2), 10),  # high resolution, still kept
        (10, timedelta(hours=4), 60),  # past 3 hours: 1-minute points
        (60, timedelta(days=16), 300),  # past 15 days: 5-minute points
        (120, timedelta(days=16), 300),
        (600, timedelta(days=30), 600),
        (60, timedelta(days=64), 3600),  # past 63 days: 1-hour points
        (None, timedelta(days=1), 300),
    ],
)
def test_period_is_one_cloudwatch_still_keeps(
    alarm_period: int | None, age: timedelta, expected: int
) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert graph.period_at(alarm_period, start, start + age) == expected


def test_an_old_incident_renders_with_a_coarser_period() -> None:
    found = spec("sqs-sns-lambda-errors-alarm-then-ok.json")
    later = found.end + timedelta(days=20)
    widget = graph.widget_for(found, later)
    assert widget["period"] == 300
    assert widget["metrics"][0][-1]["period"] == 300


def test_no_graph_for_composites_text_and_metricless_application_alerts() -> None:
    config = BridgeConfig()
    for name in ("sns-composite-storefront.json", "sqs-plain-text.json", "sqs-generic-alert-message.json"):
        assert graph.spec_for(first(name), config) is None, name


def test_href_opens_the_same_graph_in_the_console() -> None:
    href = graph.console_url(spec("sqs-sns-lambda-errors-alarm-then-ok.json"))
    assert href.startswith(
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#metricsV2:graph=~("
    )
    assert "~'AWS*2fLambda~'Errors~'FunctionName~'orders-api" in href


# --- tokens ----------------------------------------------------------------------------------------


def test_token_round_trips_and_is_compact() -> None:
    found = spec("sns-metric-math-apigw-error-rate.json")
    token = graph.sign(found, KEY)
    assert len(token) < 600
    assert graph.verify(token, [KEY], found.end) == found


def test_token_under_a_retired_key_still_verifies_during_a_rotation() -> None:
    found = spec("sqs-sns-lambda-errors-alarm-then-ok.json")
    assert graph.verify(graph.sign(found, OTHER_KEY), [KEY, OTHER_KEY], found.end) == found


@pytest.mark.parametrize("where", ["payload", "signature"])
def test_tampered_token_is_refused(where: str) -> None:
    found = spec("sqs-sns-lambda-errors-alarm-then-ok.json")
    token = graph.sign(found, KEY)
    payload, signature = token.split(".")
    if where == "payload":
        forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
    else:
        forged = payload + "." + signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    with pytest.raises(InvalidToken):
        graph.verify(forged, [KEY], found.end)


def test_token_signed_with_another_key_or_malformed_is_refused() -> None:
    found = spec("sqs-sns-lambda-errors-alarm-then-ok.json")
    token = graph.sign(found, OTHER_KEY)
    for bad in (token, "", "abc", "x" * 5000, token.replace(".", "")):
        with pytest.raises(InvalidToken):
            graph.verify(bad, [KEY], found.end)


def test_token_expires_after_its_lifetime() -> None:
    config = BridgeConfig.model_validate({"graph": {"token_lifetime_days": 7}})
    alarm = first("sqs-sns-lambda-errors-alarm-then-ok.json")
    token = graph.sign(spec("sqs-sns-lambda-errors-alarm-then-ok.json", config), KEY)
    graph.verify(token, [KEY], alarm.state_changed_at + timedelta(days=6))
    with pytest.raises(ExpiredToken):
        graph.verify(token, [KEY], alarm.state_changed_at + timedelta(days=7))


# --- the route ---------------------------------------------------------------------------------------


def test_route_renders_on_view_and_answers_403_404_and_a_placeholder() -> None:
    found = spec("sqs-sns-lambda-errors-alarm-then-ok.json")
    token = graph.sign(found, KEY)
    images = Images()
    viewed = found.end + timedelta(days=1)
    ok = graph.answer(token, [KEY], images, viewed)
    assert (ok.status, ok.content_type) == (200, "image/png")
    assert ok.cache_control == "public, max-age=86400"
    assert len(images.calls) == 1
    assert images.calls[0][0] == "eu-west-1"
    assert graph.answer(token[:-3] + "AAA", [KEY], images, viewed).status == 403
    expired = graph.answer(token, [KEY], images, viewed + timedelta(days=90))
    assert expired.status == 404
    assert len(images.calls) == 1  # refused and expired tokens never reach CloudWatch
    failed = graph.answer(token, [KEY], Images(fail=True), viewed)
    assert (failed.status, failed.content_type, failed.reason) == (200, "image/png", "render-failed")
    assert "not available" in png_text(failed.body)["Description"]


def test_an_unreadable_key_answers_a_placeholder_not_an_error() -> None:
    token = graph.sign(spec("sqs-sns-lambda-errors-alarm-then-ok.json"), KEY)
    answer = graph.answer(token, [], Images(), RECEIVED_AT)
    assert (answer.status, answer.content_type, answer.cache_control) == (200, "image/png", "no-store")
    assert "key" in png_text(answer.body)["Description"]


def test_a_graph_still_filling_is_cached_briefly() -> None:
    found = spec("sqs-sns-lambda-errors-alarm-then-ok.json")
    answer = graph.answer(graph.sign(found, KEY), [KEY], Images(), found.end - timedelta(minutes=10))
    assert answer.cache_control == f"public, max-age={graph.LIVE_MAX_AGE}"


def test_path_carries_the_token() -> None:
    assert graph.token_from_path("/graph/abc.def.png") == "abc.def"
    assert graph.token_from_path("/webhook") is None


# --- the trigger body --------------------------------------------------------------------------------


def test_trigger_carries_one_image_pointing_at_the_bridge() -> None:
    alarm = first("sqs-sns-lambda-errors-alarm-then-ok.json")
    signing = GraphSigning(base_url=BASE + "/", keys=Keys(KEY))
    (image,) = body(alarm, BridgeConfig(), signing)["images"]
    assert image["src"].startswith(BASE + "/graph/") and image["src"].endswith(".png")
    token = graph.token_from_path(image["src"].removeprefix(BASE))
    assert token is not None
    assert graph.verify(token, [KEY], alarm.state_changed_at).title == "prod-orders-api-errors"
    assert image["href"].startswith("https://eu-west-1.console.aws.amazon.com/cloudwatch/home")
    assert image["alt"].startswith("prod-orders-api-errors: AWS/Lambda Errors (FunctionName=orders-api)")


def test_no_image_without_a_base_url_a_key_or_when_turned_off() -> None:
    alarm = first("sqs-sns-lambda-errors-alarm-then-ok.json")
    assert "images" not in body(alarm, BridgeConfig(), None)
    assert "images" not in body(alarm, BridgeConfig(), GraphSigning(base_url=BASE, keys=Keys()))
    off = BridgeConfig.model_validate({"graph": {"enabled": False}})
    assert "images" not in body(alarm, off, GraphSigning(base_url=BASE, keys=Keys(KEY)))
    route_off = BridgeConfig.model_validate({"routes": {"default": {"graph": False}}})
    assert "images" not in body(alarm, route_off, GraphSigning(base_url=BASE, keys=Keys(KEY)))


def test_no_image_on_composite_alarms_or_resolves() -> None:
    signing = GraphSigning(base_url=BASE, keys=Keys(KEY))
    assert "images" not in body(first("sns-composite-storefront.json"), BridgeConfig(), signing)
    ok = parse_lambda_event(load_event("sqs-sns-lambda-errors-alarm-then-ok.json"), received_at=RECEIVED_AT)[
        1
    ]
    assert "images" not in body(ok, BridgeConfig(), signing)


def test_base_url_must_be_https() -> None:
    with pytest.raises(ValueError, match="https"):
        BridgeConfig.model_validate({"graph": {"base_url": "http://example.com"}})
    with pytest.raises(ConfigError, match="https"):
        Settings.from_env({"ALERTBRIDGE_GRAPH_BASE_URL": "http://example.com"})
    assert Settings.from_env({"ALERTBRIDGE_GRAPH_BASE_URL": BASE + "/"}).graph_base_url == BASE


def test_placeholder_is_a_valid_png_saying_why() -> None:
    data = graph.placeholder_png("my-alarm", "CloudWatch could not draw this graph now")
    texts = png_text(data)
    assert texts["Title"] == "my-alarm"
    assert json.dumps(texts)
