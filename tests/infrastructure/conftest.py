"""One synthesis per test session, bundling skipped (the bundler has its own test)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

from aws_cdk import App
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.stack import AlertBridgeStack

REPO = Path(__file__).resolve().parents[2]
CROSS_ACCOUNT_TOPIC = "arn:aws:sns:eu-west-1:222222222222:team-alarms"
SAME_ACCOUNT_TOPIC = "arn:aws:sns:us-east-1:111111111111:legacy-alarms"

# A deployment that turns every option on, so each resource and property can be asserted.
FULL_SETTINGS: dict[str, Any] = {
    "stack_name": "BridgeUnderTest",
    "ingest": {
        "batch_size": 25,
        "max_batching_window_seconds": 5,
        "max_concurrency": 7,
        "timeout_seconds": 45,
        "memory_mb": 512,
        "max_receive_count": 4,
    },
    "webhook": {"timeout_seconds": 8, "reserved_concurrency": 20},
    "reconciler": {"schedule_minutes": 7, "timeout_seconds": 90},
    "eventbridge": {
        "state_changes": True,
        "alarm_deletions": True,
        "alarm_name_prefixes": ["prod-", "payments-"],
    },
    "monitoring": {"health_email": "oncall@example.com", "oldest_message_age_seconds": 900},
    "subscribe_topic_arns": [CROSS_ACCOUNT_TOPIC, SAME_ACCOUNT_TOPIC],
    "pagerduty_region": "eu",
    "log_retention_days": 90,
    "log_level": "DEBUG",
    "example_alarms": True,
}


def make_app(context: dict[str, Any], outdir: Path) -> App:
    return App(outdir=str(outdir), context={"aws:cdk:bundling-stacks": [], **context})


@dataclass
class Synth:
    stack: AlertBridgeStack
    template: Template
    examples: Template
    outdir: Path

    @property
    def resources(self) -> dict[str, Any]:
        return self.template.to_json()["Resources"]  # type: ignore[no-any-return]

    def of_type(self, kind: str) -> dict[str, Any]:
        return {name: body for name, body in self.resources.items() if body["Type"] == kind}

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = make_app({"alertbridge:settings": FULL_SETTINGS}, outdir)
    stack = build_app(app)
    assembly = app.synth()  # runs cdk-nag: raises on any unacknowledged finding
    bridge = assembly.get_stack_by_name("BridgeUnderTest").template
    examples = assembly.get_stack_by_name("BridgeUnderTest-examples").template
    yield Synth(stack, Template.from_json(bridge), Template.from_json(examples), outdir)


@pytest.fixture(scope="session")
def cdk_json_context() -> dict[str, Any]:
    return json.loads((REPO / "cdk.json").read_text())["context"]  # type: ignore[no-any-return]
