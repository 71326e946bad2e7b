"""A bad configuration or deployment setting fails synth with a message that says what to fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from infra.app import build_app
from infra.settings import (
    DeploySettings,
    InfraConfigError,
    IngestSettings,
    load_bridge_config,
    load_deploy_settings,
    pinned_version,
    runtime_requirements,
)

EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "functions/alertbridge/models/config.example.json").read_text()
)


HEALTH: dict[str, Any] = {"monitoring": {"health_email": "oncall@example.com"}}


def with_rule(rule: dict[str, Any]) -> dict[str, Any]:
    return {**EXAMPLE, "rules": [*EXAMPLE["rules"], rule]}


def test_example_file_by_path_and_inline_give_the_same_config() -> None:
    assert load_bridge_config("functions/alertbridge/models/config.example.json") == load_bridge_config(
        EXAMPLE
    )
    assert load_bridge_config(json.dumps(EXAMPLE)) == load_bridge_config(None)


def test_unknown_route_names_the_rule_and_the_known_routes() -> None:
    with pytest.raises(
        InfraConfigError,
        match=r"inline.*\n  - \(document\): Value error, typo rule routes to unknown route 'paymnets'; known: \['default'",
    ):
        load_bridge_config(
            with_rule({"name": "typo rule", "match": {"alarm_name": "x"}, "route": "paymnets"})
        )


def test_a_slow_regular_expression_fails_synth_naming_the_rule() -> None:
    with pytest.raises(
        InfraConfigError, match=r"rule .hang.: match.alarm_name: .*quantifier inside a repeated"
    ):
        load_bridge_config(with_rule({"name": "hang", "match": {"alarm_name": "re:^(a+)+$"}}))


def test_a_key_given_twice_fails_synth(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"routes": {"default": {}, "default": {"secret_field": "x"}}}', encoding="utf-8")
    with pytest.raises(InfraConfigError, match="'default' appears twice in one JSON object"):
        load_bridge_config(str(path))
    with pytest.raises(InfraConfigError, match="'rules' appears twice"):
        load_bridge_config('{"rules": [], "rules": []}')


def test_bad_regular_expression_fails() -> None:
    with pytest.raises(InfraConfigError, match="invalid regular expression"):
        load_bridge_config(with_rule({"match": {"alarm_name": "re:(unclosed"}, "route": "default"}))


def test_malformed_values_fail_with_the_field_name() -> None:
    with pytest.raises(InfraConfigError, match="  - default_severity: Value error, unknown severity 'sev9'"):
        load_bridge_config({**EXAMPLE, "default_severity": "sev9"})
    with pytest.raises(InfraConfigError, match="Extra inputs are not permitted"):
        load_bridge_config({**EXAMPLE, "rulez": []})


def test_missing_file_and_bad_json_are_named(tmp_path: Path) -> None:
    with pytest.raises(InfraConfigError, match="configuration file not found"):
        load_bridge_config("nope.json", base_dir=tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InfraConfigError, match=r"bad\.json is not valid JSON"):
        load_bridge_config("bad.json", base_dir=tmp_path)


def test_a_large_configuration_is_validated_and_not_limited_by_the_environment() -> None:
    big = {**EXAMPLE, "recommendations": {"A/B": ["x" * 200] * 20}}
    assert load_bridge_config(big).recommendations["A/B"][0] == "x" * 200


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"ingest": {"batch_size": 0}}, "batch_size"),
        ({"ingest": {"batch_size": 50}}, "needs max_batching_window_seconds"),
        ({"ingest": {"max_concurrency": 1}}, "max_concurrency"),
        ({"subscribe_topic_arns": ["arn:aws:sqs:us-east-1:123456789012:q"]}, "not SNS topic ARNs"),
        ({"pagerduty_region": "ap"}, "pagerduty_region"),
        ({"events_url": "https://events.eu.pagerduty.com"}, "events_url"),  # one region setting, no URLs
        ({"monitoring": {}}, "health alarms need a destination that does not depend on the bridge"),
        ({"monitoring": {"health_topic_arn": "arn:aws:sqs:us-east-1:123456789012:q"}}, "health_topic_arn"),
        ({"monitoring": {"pagerduty_email": "pd"}}, "not an e-mail"),
        ({"log_retention_days": 10}, "retention must be one of"),
        ({"monitoring": {"health_email": "not-an-email"}}, "not an e-mail"),
        ({"eventbridge": {"accounts": ["123"]}}, "12-digit"),
        ({"reconciler": {"schedule_minutes": 0}}, "schedule_minutes"),
        ({"unknown": 1}, "Extra inputs"),
    ],
)
def test_bad_deploy_settings(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(InfraConfigError, match=message):
        load_deploy_settings({**HEALTH, **settings})


def test_settings_accept_json_text_and_the_example_alarms_switch() -> None:
    assert load_deploy_settings(HEALTH) == DeploySettings.model_validate(HEALTH)
    text = json.dumps({**HEALTH, "ingest": {"batch_size": 5}})
    assert load_deploy_settings(text).ingest.batch_size == 5
    assert load_deploy_settings(HEALTH, "true").example_alarms is True
    with pytest.raises(InfraConfigError, match="true or false"):
        load_deploy_settings(HEALTH, "maybe")


def test_defaults_alone_name_the_out_of_band_health_settings() -> None:
    with pytest.raises(InfraConfigError, match=r"monitoring.health_email, monitoring.health_topic_arn"):
        load_deploy_settings(None)
    waived = load_deploy_settings({"monitoring": {"out_of_band_waiver": "lab account, nobody on call"}})
    assert waived.monitoring.out_of_band_destinations == []


def test_one_region_setting_sets_both_pagerduty_urls() -> None:
    us = load_deploy_settings(HEALTH)
    eu = load_deploy_settings({**HEALTH, "pagerduty_region": "eu"})
    assert (us.events_url, us.rest_url) == ("https://events.pagerduty.com", "https://api.pagerduty.com")
    assert (eu.events_url, eu.rest_url) == ("https://events.eu.pagerduty.com", "https://api.eu.pagerduty.com")


def test_visibility_timeout_is_six_times_the_function_timeout() -> None:
    ingest = IngestSettings()
    assert ingest.visibility_timeout_seconds == 6 * ingest.timeout_seconds


def test_powertools_version_comes_from_the_pinned_dependency() -> None:
    assert pinned_version("aws-lambda-powertools", runtime_requirements()) == "3.37.0"


def test_build_app_refuses_a_bad_rule_before_any_resource_exists() -> None:
    app = App(context={"alertbridge:config": with_rule({"route": "nowhere"}), "alertbridge:settings": HEALTH})
    with pytest.raises(InfraConfigError, match="unknown route 'nowhere'"):
        build_app(app)
    assert app.node.children == []
