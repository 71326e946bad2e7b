"""What an operator types into the configuration is checked at synth, so it cannot hang ingest or misroute."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from pydantic import ValidationError

from alertbridge.logic.patterns import MAX_MATCHED_CHARS, UnsafePattern, check_pattern, pattern_matches
from alertbridge.logic.policy import route_alert, rule_matches
from alertbridge.models.config import BridgeConfig, DuplicateKey
from alertbridge.models.pagerduty import Severity
from tests.unit.test_policy import alert


def config(*rules: dict[str, Any]) -> BridgeConfig:
    return BridgeConfig.model_validate({"routes": {"default": {}, "pay": {}}, "rules": list(rules)})


# --- 1. a regex cannot hang ingest ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        "re:^(a+)+$",  # > 60 s on 255 characters with Python's re
        "re:^([a-z0-9]+-?)+-errors$",  # 12-50 s on a 31-33 character name it does not match
        "re:(a|ab)+c",
        "re:(x|y?)+z",
        "re:(?:a?b?){24}c",
        "re:(\\w+\\.)+com",
        "re:\\w+(\\.\\w+)*$",
        "re:(a)\\1",
        "re:(?P<x>a)(?P=x)",
        "re:(a)?(?(1)b|c)",
        "re:.*a.*a.*a.*b",
        "re:" + "a" * 600,
    ],
)
def test_a_pattern_that_could_backtrack_for_long_is_refused_naming_the_rule(pattern: str) -> None:
    with pytest.raises(ValidationError, match=r"rule 'slow rule': match\.alarm_name: "):
        config({"name": "slow rule", "match": {"alarm_name": pattern}, "route": "pay"})


@pytest.mark.parametrize(
    "pattern",
    [
        "re:^orders-(errors|latency)$",
        "re:^(get|put)+$",
        "re:^prod-.*-errors$",
        "re:[a-z0-9-]+-errors$",
        "re:(?i)^PAY",
        "re:^(?!test-)",
        "re:^[a-z]{2}-[a-z]+-\\d$",
        "prod-*-errors-*",
    ],
)
def test_ordinary_patterns_are_accepted(pattern: str) -> None:
    check_pattern(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        "re:^orders-(errors|latency)$",
        "re:.*a.*b",
        "re:\\d+\\d+x",
        "re:[ab]*a+?c",
        "re:^(get|put)+$",
        "re:(?=.*a).*c",
        "*a*a*a*a*a*a*a*a*a*a*b",
    ],
)
def test_accepted_patterns_finish_on_hostile_values(pattern: str) -> None:
    check_pattern(pattern)
    hostile = ["a" * 100_000, "1" * 100_000, "getput" * 10_000 + "!"]
    done = threading.Event()

    def run() -> None:
        for value in hostile:
            pattern_matches(pattern, value)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(timeout=10), f"{pattern} did not finish on hostile values"


def test_a_regex_sees_the_first_256_characters_of_a_value() -> None:
    assert pattern_matches("re:^a+$", "a" * 10_000)  # matched on the first MAX_MATCHED_CHARS only
    assert not pattern_matches("re:b$", "a" * MAX_MATCHED_CHARS + "b")


def test_a_unsafe_pattern_names_what_to_change() -> None:
    with pytest.raises(UnsafePattern, match="character class"):
        check_pattern("re:^([a-z0-9]+-?)+-errors$")


# --- 2. every pattern field is validated, tags included --------------------------------------------------


def test_tag_patterns_are_validated() -> None:
    with pytest.raises(ValidationError, match="tag 'team': invalid regular expression '\\(pay'"):
        config({"name": "tags", "match": {"tags": {"team": "re:(pay"}}, "route": "pay"})
    with pytest.raises(ValidationError, match=r"tag 'team'.*quantifier inside a repeated group"):
        config({"match": {"tags": {"team": "re:^(a+)+$"}}, "route": "pay"})


@pytest.mark.parametrize("field", ["alarm_name", "namespace", "account", "region", "topic", "source",
                                   "environment"])  # fmt: skip
def test_every_pattern_field_is_validated(field: str) -> None:
    with pytest.raises(ValidationError, match=f"match.{field}: invalid regular expression"):
        config({"name": "r", "match": {field: "re:(open"}})


# --- 3. severities are normalized; unknown words and duplicate keys are errors -----------------------------


@pytest.mark.parametrize(("word", "expected"), [("CRITICAL", "critical"), ("Emergency", "critical"),
                                                 ("p2", "error"), ("WARN", "warning"), ("low", "info")])  # fmt: skip
def test_match_severity_is_normalized_like_the_alerts(word: str, expected: str) -> None:
    cfg = config({"match": {"severity": word}, "route": "pay"})
    assert cfg.rules[0].match.severity == expected
    assert route_alert(alert(severity_hint="EMERGENCY"), cfg).route == (
        "pay" if expected == "critical" else "default"
    )


def test_a_critical_rule_written_in_capitals_routes_critical_alerts() -> None:
    cfg = config({"match": {"severity": "CRITICAL"}, "route": "pay"})
    assert rule_matches(cfg.rules[0].match, alert(severity_hint="critical"))


def test_unknown_severity_words_are_refused() -> None:
    with pytest.raises(ValidationError, match="unknown severity 'CRTICAL'"):
        config({"name": "typo", "match": {"severity": "CRTICAL"}, "route": "pay"})
    with pytest.raises(ValidationError, match="matches none of critical, error, warning, info"):
        config({"match": {"severity": "CRIT*"}, "route": "pay"})
    with pytest.raises(ValidationError, match="unknown severity 'sev9'"):
        config({"match": {}, "severity": "sev9"})


def test_rule_and_default_severities_take_any_scale() -> None:
    cfg = BridgeConfig.model_validate({"default_severity": "WARNING", "rules": [{"severity": "P1"}]})
    assert cfg.default_severity is Severity.WARNING and cfg.rules[0].severity is Severity.CRITICAL


def test_duplicate_route_names_and_duplicate_keys_are_errors() -> None:
    text = '{"routes": {"pay": {}, "pay": {"secret_field": "other"}}, "default_route": "pay"}'
    with pytest.raises(DuplicateKey, match="'pay' appears twice"):
        BridgeConfig.from_json_text(text)
    rule = '{"rules": [{"match": {"alarm_name": "a-*", "alarm_name": "b-*"}}]}'
    with pytest.raises(DuplicateKey, match="'alarm_name' appears twice"):
        BridgeConfig.from_json_text(rule)
    assert BridgeConfig.from_json_text(json.dumps({"routes": {"a": {}, "b": {}}, "default_route": "a"}))
