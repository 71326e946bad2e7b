"""The AlertMessage model publishes and parses the same camelCase JSON (the application alert format)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from alertbridge.logic.parsers import parse_sqs_body
from alertbridge.models.alert import AlertSource
from alertbridge.models.generic import AlertMessage
from tests.unit.conftest import RECEIVED_AT


def test_round_trip_keeps_camel_case() -> None:
    message = AlertMessage(
        alarm_name="prod-checkout",
        severity="CRITICAL",
        metric_name="FailedOrders",
        threshold=5,
        current_value=17,
        timestamp=datetime(2025, 1, 14, 14, 30, tzinfo=UTC),
        environment="production",
        dedup_id="checkout-1",
        auto_resolve_after_seconds=600,
        links=[{"href": "https://d", "text": "Dashboard"}],  # type: ignore[list-item]
    )
    document = message.to_json_dict()
    assert {"alarmName", "metricName", "currentValue", "dedupId", "autoResolveAfterSeconds"} <= set(document)
    assert "alarm_name" not in document
    assert AlertMessage.model_validate(document) == message
    assert AlertMessage.model_validate_json(message.model_dump_json(by_alias=True)) == message
    alert = parse_sqs_body(json.dumps(document), received_at=RECEIVED_AT)
    assert (alert.source, alert.dedup_key, alert.auto_resolve_after_seconds) == (
        AlertSource.GENERIC,
        "checkout-1",
        600,
    )


@pytest.mark.parametrize("alias", ["dedupId", "idempotencyId", "idempotency_id"])
def test_every_idempotency_alias_is_the_dedup_id(alias: str) -> None:
    assert AlertMessage.model_validate({"alarmName": "a", alias: "id-1"}).dedup_id == "id-1"


@pytest.mark.parametrize(
    ("state", "expected"), [("resolved", "OK"), ("ok", "OK"), ("ALARM", "ALARM"), (None, "ALARM")]
)
def test_states(state: str | None, expected: str) -> None:
    assert AlertMessage.model_validate({"alarmName": "a", "state": state}).state == expected


def test_unknown_state_and_missing_name_are_rejected() -> None:
    for bad in ({"alarmName": "a", "state": "maybe"}, {"severity": "CRITICAL"}, {"alarmName": ""}):
        with pytest.raises(ValidationError):
            AlertMessage.model_validate(bad)
