"""Routing and severity policy: rules, directives, every severity scale SEVERITY_WORDS knows, fallbacks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from alertbridge.logic.policy import (
    parse_directive,
    route_alert,
    rule_matches,
    severity_from_text,
    severity_from_urgency,
)
from alertbridge.models.alert import AlarmState, Alert, AlertSource, MetricRef
from alertbridge.models.config import BridgeConfig, Match
from alertbridge.models.pagerduty import Severity

ARN = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:"


def alert(name: str = "orders-errors", **fields: Any) -> Alert:
    base: dict[str, Any] = {
        "source": AlertSource.CLOUDWATCH_SNS,
        "dedup_key": ARN + name,
        "alarm_name": name,
        "alarm_arn": ARN + name,
        "state": AlarmState.ALARM,
        "state_changed_at": datetime(2025, 1, 1, tzinfo=UTC),
        "account_id": "123456789012",
        "region": "eu-west-1",
        "metrics": (MetricRef(namespace="AWS/Lambda", name="Errors"),),
        "topic_arn": "arn:aws:sns:eu-west-1:123456789012:alarms-critical",
    }
    return Alert(**(base | fields))


def config(**fields: Any) -> BridgeConfig:
    routes = {
        "default": {},
        "payments": {"runbook_url": "https://wiki/pay"},
        "data": {"dashboard_url": "https://d"},
    }
    return BridgeConfig.model_validate({"routes": routes} | fields)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("CRITICAL", Severity.CRITICAL),
        ("WARNING", Severity.WARNING),
        ("INFO", Severity.INFO),
        ("ERROR", Severity.ERROR),
        ("LOW", Severity.INFO),
        ("NORMAL", Severity.WARNING),
        ("HIGH", Severity.ERROR),
        ("EMERGENCY", Severity.CRITICAL),
        (" warning ", Severity.WARNING),
        ("P1", Severity.CRITICAL),
        ("bogus", None),
        ("", None),
        (None, None),
    ],
)
def test_severity_scales(word: str | None, expected: Severity | None) -> None:
    assert severity_from_text(word) is expected


def test_urgency_maps_high_to_critical_and_low_to_warning() -> None:
    assert severity_from_urgency("high") is Severity.CRITICAL
    assert severity_from_urgency("LOW") is Severity.WARNING
    assert severity_from_urgency("medium") is None


def test_defaults_without_rules() -> None:
    routing = route_alert(alert(), config())
    assert (routing.route, routing.severity, routing.matched_rules) == ("default", Severity.ERROR, ())


def test_insufficient_data_uses_its_own_default_severity() -> None:
    routing = route_alert(
        alert(state=AlarmState.INSUFFICIENT_DATA), config(insufficient_data_severity="info")
    )
    assert routing.severity is Severity.INFO


def test_first_matching_rule_wins_for_route_and_severity_independently() -> None:
    cfg = config(
        rules=[
            {"name": "sev", "match": {"alarm_name": "orders-*"}, "severity": "warning"},
            {"name": "route", "match": {"namespace": "AWS/Lambda"}, "route": "payments"},
            {"name": "later", "match": {"account": "123456789012"}, "route": "data", "severity": "critical"},
        ]
    )
    routing = route_alert(alert(), cfg)
    assert routing.route == "payments"
    assert routing.severity is Severity.WARNING
    assert routing.runbook_url == "https://wiki/pay"  # from the chosen route
    assert routing.matched_rules == ("sev", "route", "later")


def test_rule_urgency_maps_to_severity_and_rule_links_beat_route_links() -> None:
    cfg = config(
        rules=[{"match": {"region": "eu-*"}, "route": "data", "urgency": "low", "runbook_url": "https://rb"}]
    )
    routing = route_alert(alert(), cfg)
    assert routing.severity is Severity.WARNING
    assert (routing.runbook_url, routing.dashboard_url) == ("https://rb", "https://d")
    assert routing.matched_rules == ("rules[0]",)


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ({"alarm_name": "orders-*"}, True),
        ({"alarm_name": "Orders-*"}, False),  # globs are case-sensitive
        ({"alarm_name": "re:^orders-(errors|latency)$"}, True),
        ({"alarm_name": "re:^payments"}, False),
        ({"namespace": "AWS/Lambda"}, True),
        ({"namespace": "AWS/SQS"}, False),
        ({"account": "1234*"}, True),
        ({"region": "us-*"}, False),
        ({"topic": "alarms-critical"}, True),
        ({"topic": "arn:aws:sns:*:alarms-*"}, True),
        ({"source": "eventbridge"}, False),
        ({"source": "cloudwatch-sns"}, True),
        ({"tags": {"team": "pay*"}}, True),
        ({"tags": {"team": "data"}}, False),
        ({"tags": {"owner": "*"}}, False),  # absent tag never matches
        ({"alarm_name": "orders-*", "region": "us-east-1"}, False),  # all fields must match
        ({}, True),
    ],
)
def test_rule_matching(match: dict[str, Any], expected: bool) -> None:
    assert rule_matches(Match.model_validate(match), alert(tags={"team": "payments"})) is expected


def test_a_field_the_alert_lacks_does_not_match() -> None:
    bare = alert(account_id=None, region=None, metrics=(), topic_arn=None)
    for field in ("account", "region", "namespace", "topic", "severity", "environment"):
        assert not rule_matches(Match.model_validate({field: "*"}), bare)


@pytest.mark.parametrize(
    ("sent", "pattern", "expected"),
    [
        ("CRITICAL", "critical", True),
        ("EMERGENCY", "critical", True),  # an upper-case word, normalized first
        ("HIGH", "critical", False),  # HIGH is error on PagerDuty's scale
        ("HIGH", "re:^(critical|error)$", True),
        ("bogus", "*", False),  # an unknown word is no severity: the rule does not match
        (None, "*", False),
    ],
)
def test_rules_route_by_the_alerts_own_severity(sent: str | None, pattern: str, expected: bool) -> None:
    assert rule_matches(Match.model_validate({"severity": pattern}), alert(severity_hint=sent)) is expected


def test_rules_route_by_environment_and_a_severity_rule_picks_the_route() -> None:
    cfg = config(
        routes={"default": {}, "critical-prod": {}},
        rules=[{"match": {"severity": "critical", "environment": "prod*"}, "route": "critical-prod"}],
    )
    assert (
        route_alert(alert(severity_hint="CRITICAL", environment="production"), cfg).route == "critical-prod"
    )
    assert route_alert(alert(severity_hint="CRITICAL", environment="staging"), cfg).route == "default"
    assert route_alert(alert(severity_hint="WARNING", environment="production"), cfg).route == "default"


def test_directive_syntax() -> None:
    assert parse_directive("High errors [AlertBridge  severity=CRITICAL route=payments, x=y] more") == {
        "severity": "CRITICAL",
        "route": "payments",
        "x": "y",
    }
    assert parse_directive("no directive [other severity=critical]") == {}
    assert parse_directive(None) == {}


def test_directive_overrides_rules() -> None:
    cfg = config(rules=[{"match": {}, "route": "data", "severity": "info"}])
    routing = route_alert(alert(description="x [alertbridge severity=critical route=payments]"), cfg)
    assert (routing.route, routing.severity) == ("payments", Severity.CRITICAL)
    assert routing.matched_rules == ("rules[0]", "directive:route=payments", "directive:severity=critical")


def test_directive_urgency() -> None:
    routing = route_alert(alert(description="[alertbridge urgency=low]"), config())
    assert routing.severity is Severity.WARNING


def test_unknown_directive_route_and_severity_fall_back_and_are_recorded() -> None:
    cfg = config(rules=[{"name": "r", "match": {}, "route": "data", "severity": "info"}])
    routing = route_alert(alert(description="[alertbridge route=nope severity=loud]"), cfg)
    assert (routing.route, routing.severity) == ("data", Severity.INFO)
    assert routing.matched_rules == ("r", "directive:route=nope(unknown)", "directive:severity=loud(unknown)")


def test_directives_can_be_switched_off() -> None:
    routing = route_alert(
        alert(description="[alertbridge severity=critical]"), config(description_directives=False)
    )
    assert routing.severity is Severity.ERROR


def test_the_alerts_own_severity_beats_rules_but_unknown_words_fall_back() -> None:
    cfg = config(rules=[{"match": {}, "severity": "info"}])
    assert route_alert(alert(severity_hint="EMERGENCY"), cfg).severity is Severity.CRITICAL
    assert route_alert(alert(severity_hint="whatever"), cfg).severity is Severity.INFO
    assert route_alert(alert(severity_hint="whatever"), config()).severity is Severity.ERROR


def test_example_config_routes_payments_alarms(example_config: BridgeConfig) -> None:
    routing = route_alert(alert("payments-db-cpu"), example_config)
    assert routing.route == "payments"
    assert routing.runbook_url == "https://wiki.example.com/runbooks/payments"
    dev = route_alert(alert("x", account_id="111111111111"), example_config)
    assert (dev.route, dev.severity) == ("low-urgency", Severity.WARNING)
