"""Every rendered body is valid against PagerDuty's official OpenAPI description and the documented limits.

The description is not in this repository (`PAGERDUTY_OPENAPI` in conftest.py says where a copy is read
from); the schema test is skipped without one. The limits come from PagerDuty's Events API v2 documentation
(developer.pagerduty.com/docs/events-api-v2/trigger-events/), which the OpenAPI file does not state.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from alertbridge import render_event
from alertbridge.models.config import BridgeConfig
from alertbridge.models.pagerduty import MAX_DEDUP_KEY_CHARS, MAX_REQUEST_BYTES, MAX_SUMMARY_CHARS
from tests.unit.conftest import EXAMPLE_CONFIG, PAGERDUTY_OPENAPI, RECEIVED_AT, event_files

OPENAPI = PAGERDUTY_OPENAPI
SEVERITIES = {"critical", "error", "warning", "info"}
REAL_KEY = "R" * 32  # the route name is replaced by a 32-char key at send time


def all_bodies() -> list[tuple[str, dict[str, Any]]]:
    """Every body of every event file, under both INSUFFICIENT_DATA policies that send something."""
    found = []
    for policy in ("trigger", "resolve"):
        config = BridgeConfig.from_file(EXAMPLE_CONFIG).model_copy(update={"insufficient_data": policy})
        for path in event_files():
            bodies = render_event(json.loads(path.read_text("utf-8")), config, received_at=RECEIVED_AT)
            found += [(f"{path.stem}[{index}]/{policy}", body) for index, body in enumerate(bodies)]
    return found


BODIES = all_bodies()


@pytest.fixture(scope="module")
def enqueue_validator() -> Any:
    if not OPENAPI.exists():
        pytest.skip(f"PagerDuty OpenAPI description not found at {OPENAPI} (kept outside the project)")
    from openapi_schema_validator import OAS30Validator

    spec = json.loads(OPENAPI.read_text("utf-8"))
    schema = spec["paths"]["/enqueue"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return OAS30Validator({**schema, "components": spec["components"]})


def test_there_are_bodies_of_every_action() -> None:
    assert {body["event_action"] for _, body in BODIES} == {"trigger", "resolve"}
    assert len(BODIES) >= 20


@pytest.mark.parametrize(("name", "body"), BODIES, ids=[name for name, _ in BODIES])
def test_body_matches_the_openapi_description(
    name: str, body: dict[str, Any], enqueue_validator: Any
) -> None:
    enqueue_validator.validate({**body, "routing_key": REAL_KEY})


@pytest.mark.parametrize(("name", "body"), BODIES, ids=[name for name, _ in BODIES])
def test_body_respects_the_documented_limits(name: str, body: dict[str, Any]) -> None:
    sent = {**body, "routing_key": REAL_KEY}
    assert len(json.dumps(sent, ensure_ascii=False).encode("utf-8")) <= MAX_REQUEST_BYTES
    assert 0 < len(body["dedup_key"]) <= MAX_DEDUP_KEY_CHARS
    if body["event_action"] != "trigger":
        assert set(body) == {"routing_key", "event_action", "dedup_key"}
        return
    payload = body["payload"]
    assert 0 < len(payload["summary"]) <= MAX_SUMMARY_CHARS
    assert payload["source"].strip()
    assert payload["severity"] in SEVERITIES
    assert all(link["href"].startswith("https://") for link in body.get("links", []))


def test_the_schema_rejects_what_pagerduty_rejects(enqueue_validator: Any) -> None:
    """The validator is not vacuous: a bad severity or a missing source fails."""
    from jsonschema.exceptions import ValidationError

    good = {
        "routing_key": REAL_KEY,
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "x", "severity": "error"},
    }
    enqueue_validator.validate(good)
    for bad_payload in (
        {"summary": "s", "source": "x", "severity": "urgent"},
        {"summary": "s", "severity": "info"},
    ):
        with pytest.raises(ValidationError):
            enqueue_validator.validate({**good, "payload": bad_payload})
