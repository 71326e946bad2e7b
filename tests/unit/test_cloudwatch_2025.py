"""CloudWatch since 2025: multi-time-series alarms (contributors), alarm mute rules, tags in payloads,
and the links a page carries. Documented shapes come from tests/events/; the inferred SNS and Lambda
spellings are built here."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest

from alertbridge.logic.dedup import contributor_key
from alertbridge.logic.events import (
    console_url,
    description_links,
    links_for,
    metric_console_url,
    trigger_from_item,
)
from alertbridge.logic.parsers import parse_lambda_event, parse_sqs_body
from alertbridge.logic.policy import route_alert
from alertbridge.logic.reconcile import ActionKind, AlarmHome, plan
from alertbridge.models.alert import AlarmKind, AlarmState, Alert
from alertbridge.models.config import BridgeConfig
from alertbridge.models.delivery import Observation, ObservationKind
from alertbridge.models.state import KeyStatus, StateItem
from alertbridge.ports import ObservedContributor
from alertbridge.sandbox.scenario import (
    INSIGHTS_ALARM,
    Metric,
    alarm_arn,
    insights_alarm_level,
    insights_contributor,
    metric_alarm_message,
    muted_alarm,
)
from alertbridge.services.pipeline import Pipeline
from tests.fakes import (
    FakeAlarmTags,
    FakeDeliveryQueue,
    FakeEvents,
    FakeKeys,
    FakeMaintenance,
    FakeStateStore,
    ListCounter,
)
from tests.unit.conftest import load_event

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ORDERS, CARTS = "6d442278dba546f6", "a1b2c3d4e5f60718"
HOME = AlarmHome(region="us-east-1", account="123456789012")


def parsed(body: str | dict[str, Any], at: datetime = T0) -> Alert:
    return parse_sqs_body(body if isinstance(body, str) else json.dumps(body), received_at=at)


def pipeline(config: BridgeConfig | None = None, **ports: object) -> Pipeline:
    parts: dict[str, object] = {
        "config": config or BridgeConfig(),
        "state": FakeStateStore(),
        "events": FakeEvents(),
        "keys": FakeKeys({"default": "D" * 32}),
        "maintenance": FakeMaintenance(),
        "counter": ListCounter(),
        "delivery": FakeDeliveryQueue(),
    }
    parts.update(ports)
    return Pipeline(**parts)  # type: ignore[arg-type]


def sent(bridge: Pipeline) -> list[tuple[str, str]]:
    return [(body["event_action"], body["dedup_key"]) for body in bridge.events.sent]  # type: ignore[attr-defined]


# --- parsing: documented and inferred shapes --------------------------------------------------------------


def test_a_documented_contributor_event_is_its_own_key_with_its_attributes() -> None:
    alert = parsed(load_event("eventbridge-contributor-alarm.json"))
    assert alert.kind is AlarmKind.MULTI_TIME_SERIES
    assert alert.contributor is not None and alert.contributor.id == ORDERS
    assert alert.contributor.attributes == {"TableName": "example-dynamodb-table-name"}
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:DynamoDBInsightsAlarm"
    assert alert.dedup_key == contributor_key(arn, ORDERS) == f"{arn}#contributor={ORDERS}"
    assert alert.previous_state is None and alert.mute is not None


def test_the_alarm_level_change_is_recognized_as_multi_time_series() -> None:
    alert = parsed(load_event("eventbridge-multi-time-series-alarm-level.json"))
    assert alert.is_alarm_level_multi_time_series
    assert alert.dedup_key == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:DynamoDBInsightsAlarm"


@pytest.mark.parametrize(
    "fields",
    [
        {"AlarmContributor": {"Id": ORDERS, "Attributes": {"TableName": "orders"}}},
        {"ContributorId": ORDERS, "ContributorAttributes": [{"name": "TableName", "value": "orders"}]},
    ],
    ids=["nested", "top-level"],
)
def test_inferred_sns_contributor_spellings_are_accepted(fields: dict[str, Any]) -> None:
    message = json.loads(metric_alarm_message("ins", "ALARM", "OK", T0, Metric("AWS/DynamoDB", "X"), "r"))
    alert = parsed({**message, **fields})
    assert alert.contributor is not None and alert.contributor.id == ORDERS
    assert alert.contributor.attributes == {"TableName": "orders"}
    assert alert.dedup_key.endswith(f"#contributor={ORDERS}")


def test_inferred_lambda_action_contributor_and_tags() -> None:
    detail = json.loads(insights_contributor(ORDERS, "orders", "ALARM", T0))["detail"]
    event = {
        "source": "aws.cloudwatch",
        "alarmArn": alarm_arn(INSIGHTS_ALARM),
        "accountId": "123456789012",
        "region": "us-east-1",
        "alarmData": {**detail, "alarmTags": {"owner": "team-db"}, "alarmTagsStatus": "SUCCESS"},
    }
    alert = parsed(event)
    assert alert.contributor is not None and alert.contributor.id == ORDERS
    assert alert.tags == {"owner": "team-db"} and alert.tags_retrieved


def test_a_long_alarm_arn_keeps_the_contributor_key_bounded_readable_and_distinct() -> None:
    arn = alarm_arn("x" * 255)
    first, second = contributor_key(arn, ORDERS), contributor_key(arn, CARTS)
    assert len(first) <= 255 and len(second) <= 255 and first != second
    assert first.endswith(f"#contributor={ORDERS}") and first.startswith("arn:aws:cloudwatch:")


@pytest.mark.parametrize(
    ("fields", "tags", "retrieved"),
    [
        ({"AlarmTagsStatus": "SUCCESS", "AlarmTags": [{"Key": "team", "Value": "db"}]}, {"team": "db"}, True),
        ({"AlarmTagsStatus": "SUCCESS", "Tags": {"team": "db", "aws:x": "y"}}, {"team": "db"}, True),
        ({"AlarmTagsStatus": "SUCCESS"}, {}, False),  # status without the tags: ask CloudWatch
        ({"AlarmTagsStatus": "FAILURE", "AlarmTags": {"team": "db"}}, {}, False),
    ],
)
def test_sns_tags_are_used_only_when_retrieved(
    fields: dict[str, Any], tags: dict[str, str], retrieved: bool
) -> None:
    message = json.loads(metric_alarm_message("a", "ALARM", "OK", T0, Metric("AWS/Lambda", "Errors"), "r"))
    alert = parsed({**message, **fields})
    assert (alert.tags, alert.tags_retrieved) == (tags, retrieved)


# --- paging a multi-time-series alarm ---------------------------------------------------------------------


def test_contributors_page_and_the_alarm_level_is_recorded_then_its_ok_closes_them() -> None:
    bridge = pipeline()
    level = parsed(insights_alarm_level("ALARM", "OK", T0, 2))
    orders = parsed(insights_contributor(ORDERS, "orders", "ALARM", T0))
    carts = parsed(insights_contributor(CARTS, "carts", "ALARM", T0))
    for alert in (level, orders, carts):
        bridge.process(alert, now=T0, deadline=None)
    assert sent(bridge) == [("trigger", orders.dedup_key), ("trigger", carts.dedup_key)]
    recorded = bridge.state.get(level.dedup_key)
    assert recorded is not None and recorded.status == KeyStatus.RECORDED
    later = T0 + timedelta(minutes=5)
    bridge.process(parsed(insights_contributor(ORDERS, "orders", "OK", later)), now=later, deadline=None)
    ok_at = T0 + timedelta(minutes=6)
    bridge.process(parsed(insights_alarm_level("OK", "ALARM", ok_at, 0)), now=ok_at, deadline=None)
    queued = bridge.delivery.sent  # type: ignore[union-attr]
    assert [(m.what, m.dedup_key, m.as_of) for m in queued] == [
        (ObservationKind.RESOLVE_CONTRIBUTOR_ALARM_OK, carts.dedup_key, ok_at)
    ]
    assert sent(bridge)[-1] == ("resolve", orders.dedup_key)  # nothing sent for carts from the alarm's lane
    bridge.deliver(queued[0], now=ok_at, deadline=None)  # carts's own lane decides it
    assert sent(bridge)[-1] == ("resolve", carts.dedup_key)
    item = bridge.state.get(carts.dedup_key)
    assert item is not None and item.status == KeyStatus.RESOLVED and item.contributor_id == CARTS


def test_a_contributor_that_fired_again_after_the_alarm_level_ok_keeps_its_incident() -> None:
    bridge = pipeline()
    bridge.process(parsed(insights_contributor(CARTS, "carts", "ALARM", T0)), now=T0, deadline=None)
    ok_at = T0 + timedelta(minutes=6)
    bridge.process(parsed(insights_alarm_level("OK", "ALARM", ok_at, 0)), now=ok_at, deadline=None)
    refire = ok_at + timedelta(minutes=1)
    bridge.process(parsed(insights_contributor(CARTS, "carts", "ALARM", refire)), now=refire, deadline=None)
    (observation,) = bridge.delivery.sent  # type: ignore[union-attr]
    outcome = bridge.deliver(observation, now=refire, deadline=None)
    assert outcome.reason == "stale" and sent(bridge)[-1][0] == "trigger"


@pytest.mark.parametrize(("mode", "pages"), [("alarm", ["level"]), ("both", ["level", "orders"])])
def test_which_level_pages_is_a_configuration_choice(mode: str, pages: list[str]) -> None:
    bridge = pipeline(BridgeConfig(multi_time_series_pages=mode))  # type: ignore[arg-type]
    alerts = {
        "level": parsed(insights_alarm_level("ALARM", "OK", T0, 1)),
        "orders": parsed(insights_contributor(ORDERS, "orders", "ALARM", T0)),
    }
    for alert in alerts.values():
        bridge.process(alert, now=T0, deadline=None)
    assert sent(bridge) == [("trigger", alerts[name].dedup_key) for name in pages]


# --- mute rules ---------------------------------------------------------------------------------------------


def _muted(at: datetime = T0, ends: datetime | None = None) -> Alert:
    return parsed(muted_alarm(at, at - timedelta(minutes=5), ends or at + timedelta(minutes=30), "upgrade"))


def test_a_muted_trigger_is_held_back_with_its_rule_and_window_and_its_ok_still_resolves() -> None:
    bridge = pipeline()
    outcome = bridge.process(_muted(), now=T0, deadline=None)
    assert outcome.reason == "suppressed-mute-rule" and sent(bridge) == []
    item = bridge.state.get(outcome.dedup_key)
    assert item is not None and item.status == KeyStatus.SUPPRESSED
    assert item.mute_rule_arn and item.mute_rule_arn.endswith(":alarm-mute-rule:upgrade")
    assert item.mute_ends_at == T0 + timedelta(minutes=30)
    bridge.state.items[item.dedup_key] = item.model_copy(update={"status": KeyStatus.OPEN})  # say it was open
    ok = json.loads(muted_alarm(T0 + timedelta(minutes=1), T0, T0 + timedelta(minutes=30), "upgrade"))
    ok["detail"]["state"]["value"] = "OK"
    bridge.process(parsed(ok), now=T0, deadline=None)
    assert sent(bridge) == [("resolve", item.dedup_key)]


def test_the_action_cloudwatch_runs_when_the_mute_ends_pages() -> None:
    bridge = pipeline()
    muted = _muted()
    bridge.process(muted, now=T0, deadline=None)
    rerun = muted.model_copy(update={"mute": None})  # the same ALARM, delivered once the mute ended
    outcome = bridge.process(rerun, now=T0 + timedelta(minutes=31), deadline=None)
    assert outcome.reason == "mute-ended" and sent(bridge) == [("trigger", muted.dedup_key)]
    item = bridge.state.get(muted.dedup_key)
    assert item is not None and item.is_open and item.mute_rule_arn is None


def _suppressed(ends: datetime) -> StateItem:
    bridge = pipeline()
    outcome = bridge.process(_muted(ends=ends), now=T0, deadline=None)
    item = bridge.state.get(outcome.dedup_key)
    assert item is not None
    return item


def test_the_reconciler_pages_a_muted_key_once_its_mute_window_ended_and_not_before() -> None:
    ends = T0 + timedelta(minutes=30)
    item = _suppressed(ends)
    states = {item.alarm_name: AlarmState.ALARM}
    during = plan(
        open_items=[],
        suppressed_items=[item],
        alarm_states=states,
        windows=[],
        now=ends - timedelta(seconds=1),
        home=HOME,
    )
    assert during == []
    (after,) = plan(
        open_items=[], suppressed_items=[item], alarm_states=states, windows=[], now=ends, home=HOME
    )
    assert after.kind == ActionKind.TRIGGER_AFTER_MAINTENANCE and "mute rule" in after.why
    recovered = plan(
        open_items=[],
        suppressed_items=[item],
        alarm_states={item.alarm_name: AlarmState.OK},
        windows=[],
        now=ends,
        home=HOME,
    )
    assert [action.kind for action in recovered] == [ActionKind.CLEAR_SUPPRESSED]


# --- the reconciler and DescribeAlarmContributors ------------------------------------------------------------


def _open_contributor() -> StateItem:
    bridge = pipeline()
    outcome = bridge.process(parsed(insights_contributor(CARTS, "carts", "ALARM", T0)), now=T0, deadline=None)
    item = bridge.state.get(outcome.dedup_key)
    assert item is not None and item.is_open
    return item


@pytest.mark.parametrize(
    ("listed", "expected"),
    [({}, [ActionKind.RESOLVE_CONTRIBUTOR_OK]), ({CARTS: ObservedContributor(id=CARTS)}, []), (None, [])],
    ids=["no-longer-in-alarm", "still-in-alarm", "unreadable"],
)
def test_the_reconciler_closes_a_contributor_cloudwatch_no_longer_lists_in_alarm(
    listed: dict[str, ObservedContributor] | None, expected: list[ActionKind]
) -> None:
    item = _open_contributor()
    contributors = {} if listed is None else {INSIGHTS_ALARM: listed}
    actions = plan(
        open_items=[item], suppressed_items=[], alarm_states={INSIGHTS_ALARM: AlarmState.ALARM},
        windows=[], now=T0, home=HOME, contributors=contributors,
    )  # fmt: skip
    assert [action.kind for action in actions] == expected


def test_a_contributor_observation_resolves_on_fresh_state() -> None:
    bridge = pipeline()
    outcome = bridge.process(parsed(insights_contributor(CARTS, "carts", "ALARM", T0)), now=T0, deadline=None)
    item = bridge.state.get(outcome.dedup_key)
    assert item is not None
    later = T0 + timedelta(minutes=10)
    observation = Observation(
        what=ObservationKind.RESOLVE_CONTRIBUTOR_OK, dedup_key=item.dedup_key, observed_at=later,
        why="not listed", state_changed_at=item.state_changed_at, opened_at=item.opened_at, as_of=later,
    )  # fmt: skip
    assert bridge.deliver(observation, now=later, deadline=None).sent is not None
    assert sent(bridge)[-1] == ("resolve", item.dedup_key)


# --- tags ---------------------------------------------------------------------------------------------------


def test_payload_tags_route_without_a_list_tags_call_and_become_links_and_owner() -> None:
    config = BridgeConfig.model_validate(
        {"routes": {"default": {}, "db": {}}, "rules": [{"match": {"tags": {"team": "db"}}, "route": "db"}]}
    )
    lookups = FakeAlarmTags({"team": "other"})
    bridge = pipeline(config, alarm_tags=lookups, keys=FakeKeys({"default": "D" * 32, "db": "B" * 32}))
    event = json.loads(load_event_text("eventbridge-muted-cpu.json"))
    del event["detail"]["muteDetail"]
    event["detail"]["alarmTags"] = {
        "team": "db",
        "owner": "db-oncall",
        "runbook_url": "https://wiki.example.com/rb",
        "dashboard_url": "https://grafana.example.com/d/cpu",
    }
    event["detail"]["alarmTagsStatus"] = "SUCCESS"
    outcome = bridge.process(parsed(event), now=T0, deadline=None)
    assert outcome.route == "db" and lookups.calls == []
    body = bridge.events.sent[0]  # type: ignore[attr-defined]
    assert body["payload"]["custom_details"]["owner"] == "db-oncall"
    assert body["payload"]["custom_details"]["tags"]["team"] == "db"
    links = {link["text"]: link["href"] for link in body["links"]}
    assert links["Runbook"] == "https://wiki.example.com/rb"
    assert links["Dashboard"] == "https://grafana.example.com/d/cpu"


def test_without_payload_tags_the_tags_are_still_read_from_cloudwatch() -> None:
    config = BridgeConfig.model_validate(
        {"rules": [{"match": {"tags": {"team": "db"}}, "severity": "critical"}]}
    )
    lookups = FakeAlarmTags({"team": "db"})
    bridge = pipeline(config, alarm_tags=lookups)
    message = metric_alarm_message("a", "ALARM", "OK", T0, Metric("AWS/Lambda", "Errors"), "r")
    bridge.process(parsed(message), now=T0, deadline=None)
    assert len(lookups.calls) == 1 and bridge.events.sent[0]["payload"]["severity"] == "critical"  # type: ignore[attr-defined]


def load_event_text(name: str) -> str:
    return json.dumps(load_event(name))


# --- links --------------------------------------------------------------------------------------------------


def test_each_description_url_is_a_link_named_by_its_label() -> None:
    text = "CPU high. Dashboard: https://grafana.example.com/d/cpu. Runbook - https://wiki/rb, [Logs](https://logs.example.com/q)"
    assert description_links(text) == [
        ("Dashboard", "https://grafana.example.com/d/cpu"),
        ("Runbook", "https://wiki/rb"),
        ("Logs", "https://logs.example.com/q"),
    ]
    assert description_links("see https://example.com/x") == [("see", "https://example.com/x")]
    assert description_links("https://example.com/x") == [("example.com", "https://example.com/x")]


def test_a_composite_links_every_triggering_child() -> None:
    (alert,) = parse_lambda_event(load_event("sns-composite-storefront.json"), received_at=T0)
    texts = [link.text for link in links_for(alert, route_alert(alert, BridgeConfig()))]
    children = [text for text in texts if text.startswith("Triggering alarm ")]
    assert len(children) == len(alert.triggering_children) >= 2


def test_a_metric_math_graph_shows_the_alarms_own_expression() -> None:
    (alert,) = parse_lambda_event(load_event("sns-metric-math-apigw-error-rate.json"), received_at=T0)
    url = metric_console_url(alert)
    assert url is not None and "expression~'" in url
    expression = next(m.expression for m in alert.metrics if m.expression)
    assert expression is not None


def test_lambda_alarms_carry_a_logs_insights_link_over_the_evaluation_window() -> None:
    message = metric_alarm_message(
        "f", "ALARM", "OK", T0, Metric("AWS/Lambda", "Errors", {"FunctionName": "checkout"}), "r"
    )
    alert = parsed(message)
    (logs,) = [
        link for link in links_for(alert, route_alert(alert, BridgeConfig())) if "logs-insights" in link.href
    ]
    decoded = unquote(unquote(logs.href.replace("$", "%")))
    assert "*2faws*2flambda*2fcheckout" in decoded  # the function's log group
    assert "2026-03-02T11*3a59*3a00.000Z" in decoded and "2026-03-02T12*3a00*3a00.000Z" in decoded


@pytest.mark.parametrize(
    ("partition", "host"),
    [
        ("aws", "https://cn-north-1.console.aws.amazon.com"),
        ("aws-cn", "https://cn-north-1.console.amazonaws.cn"),
        ("aws-us-gov", "https://console.amazonaws-us-gov.com"),
    ],
)
def test_rebuilt_triggers_use_the_alarms_partition(partition: str, host: str) -> None:
    arn = f"arn:{partition}:cloudwatch:cn-north-1:123456789012:alarm:db"
    item = StateItem(
        dedup_key=arn, status=KeyStatus.SUPPRESSED, alarm_state=AlarmState.ALARM, state_changed_at=T0,
        route="default", alarm_name="db", alarm_arn=arn, source="eventbridge", first_seen=T0, last_seen=T0,
    )  # fmt: skip
    url = console_url(item)
    assert url is not None and url.startswith(host + "/cloudwatch/deeplink.js")
    assert trigger_from_item(item, BridgeConfig(), note="n").client_url == url
