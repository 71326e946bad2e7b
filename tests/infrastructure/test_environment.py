"""The configuration lives in the code asset; every function's environment is measured as Lambda does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from alertbridge.models.config import BridgeConfig
from alertbridge.models.settings import config_digest
from infra.app import build_app
from infra.environment import LAMBDA_ENV_LIMIT_BYTES, lambda_env_bytes, measured_environment
from tests.infrastructure.conftest import make_app

HEALTH = {"monitoring": {"health_email": "oncall@example.com"}}


def regex_rules(count: int) -> dict[str, Any]:
    """A configuration of `count` regex rules, the kind whose quotes and backslashes JSON escapes."""
    routes = {f"team-{n}": {"description": f"Team {n} on-call"} for n in range(10)}
    rules = [
        {
            "name": f"team {n % 10} service {n}",
            "match": {
                "alarm_name": rf"re:^prod-svc{n}-(api|worker)-[0-9]+\.errors$",
                "namespace": "AWS/Lambda",
            },
            "route": f"team-{n % 10}",
            "runbook_url": f"https://wiki.example.com/runbooks/service-{n}",
        }
        for n in range(count)
    ]
    return {"routes": routes, "default_route": "team-0", "rules": rules}


def synthesize(config: dict[str, Any], tmp_path: Path) -> tuple[App, Any]:
    app = make_app({"alertbridge:config": config, "alertbridge:settings": HEALTH}, tmp_path)
    return app, build_app(app)


def test_escapes_and_the_other_variables_count_as_lambda_counts_them(tmp_path: Path) -> None:
    small = BridgeConfig.model_validate(regex_rules(12)).to_json_text()
    assert len(small.encode()) < 3000  # passed the old check of the minified configuration alone ...
    assert lambda_env_bytes({"C": small}) > len(small.encode()) + 300  # escaped backslashes count
    _, stack = synthesize(regex_rules(12), tmp_path)
    delivery = measured_environment(stack.bridge.delivery.function)
    # ... yet as the delivery function's variable, next to the others, Lambda would refuse it.
    assert lambda_env_bytes({**delivery, "ALERTBRIDGE_CONFIG": small}) > LAMBDA_ENV_LIMIT_BYTES
    assert lambda_env_bytes({"A": "é"}) == len('{"A":"\\u00e9"}')


def test_a_20_kb_configuration_synthesizes_and_every_environment_fits(tmp_path: Path) -> None:
    document = regex_rules(160)
    text = BridgeConfig.model_validate(document).to_json_text()
    assert len(text.encode()) > 20_000
    app, stack = synthesize(document, tmp_path)
    app.synth()
    bridge = stack.bridge
    for function in (
        bridge.intake_function.function,
        bridge.delivery.function,
        bridge.webhook.function,
        bridge.reconciler.function,
    ):
        variables = measured_environment(function)
        # Whatever the configuration's size: the variables are names, ARNs and URLs, well under 4 KB.
        assert lambda_env_bytes(variables) < 3000
        assert variables["ALERTBRIDGE_CONFIG_SHA256"] == config_digest(text)
        assert "ALERTBRIDGE_CONFIG" not in variables


def test_an_environment_over_4_kb_fails_synth_naming_the_function(tmp_path: Path) -> None:
    app, stack = synthesize(regex_rules(3), tmp_path)
    inline = BridgeConfig.model_validate(regex_rules(12)).to_json_text()
    stack.bridge.webhook.function.add_environment("ALERTBRIDGE_EXTRA", inline)
    with pytest.raises(
        RuntimeError, match=r"webhook function's environment is \d+ bytes as Lambda measures it"
    ):
        app.synth()


def test_template_carries_no_configuration(tmp_path: Path) -> None:
    app, _ = synthesize(regex_rules(160), tmp_path)
    template = app.synth().get_stack_by_name("AlertBridge").template
    assert "prod-svc42" not in json.dumps(template)
