"""`EventsClient` (the library API) against the emulator: every action and every error type."""

# ruff: noqa: F811  (the `emulator` fixture is imported, then named as a test parameter)

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from alertbridge import (
    ConnectionFailed,
    EventsClient,
    RateLimited,
    Rejected,
    RequestTimeout,
    ServerError,
)
from alertbridge.errors import ConfigError, PagerDutyError
from alertbridge.sandbox.emulator import Fault, PagerDutyEmulator
from tests.integration.emulator_fixtures import (
    OTHER_ROUTING_KEY,
    ROUTING_KEY,
    emulator,  # noqa: F401
)


def client(emulator: PagerDutyEmulator, key: str = ROUTING_KEY, **options: object) -> EventsClient:
    # `sleep` does not wait, so the whole-call deadline is set apart from the per-request timeout
    settings: dict[str, object] = {
        "timeout": 1.0,
        "max_attempts": 2,
        "sleep": lambda _: None,
        "deadline": 30,
        **options,
    }
    return EventsClient(key, base_url=emulator.url, **settings)  # type: ignore[arg-type]


def test_trigger_acknowledge_resolve_round_trip(emulator: PagerDutyEmulator) -> None:
    with client(emulator) as pd:
        key = pd.trigger(
            "Database connection pool exhausted",
            source="db-prod-01",
            severity="critical",
            dedup_key="db-pool-exhausted-001",
            component="postgres",
            group="prod-db",
            class_="capacity",
            custom_details={"in_use": 100, "max": 100},
            links=[{"href": "https://runbooks.example.com/db-pool", "text": "Runbook"}],
            images=[{"src": "https://graphs.example.com/pool.png", "alt": "pool usage"}],
            timestamp=datetime(2024, 1, 1, tzinfo=UTC),
        )
        assert key == "db-pool-exhausted-001"
        assert pd.acknowledge(key) == key
        assert emulator.alerts[0].status == "acknowledged"
        assert pd.resolve(key) == key
    alert = emulator.alerts[0]
    assert alert.status == "resolved" and alert.severity == "critical"
    body = alert.body
    assert body["payload"]["class"] == "capacity" and body["payload"]["timestamp"].startswith(
        "2024-01-01T00:00:00"
    )
    assert body["links"][0]["text"] == "Runbook" and body["images"][0]["alt"] == "pool usage"
    assert emulator.outcomes() == ["opened", "acknowledged", "resolved"]


def test_trigger_without_dedup_key_returns_the_key_to_resolve_with(emulator: PagerDutyEmulator) -> None:
    with client(emulator) as pd:
        key = pd.trigger("High CPU", source="web-1")
        assert emulator.open_alert(key) is not None and emulator.alerts[0].severity == "error"
        pd.resolve(key)
    assert emulator.open_alert(key) is None


def test_change_event(emulator: PagerDutyEmulator) -> None:
    with client(emulator) as pd:
        assert pd.change("Deployed v42", source="ci", custom_details={"sha": "abc"}) is None
    [change] = emulator.change_events
    assert change["payload"] == {"summary": "Deployed v42", "source": "ci", "custom_details": {"sha": "abc"}}
    assert emulator.alerts == []


def test_resolve_with_another_key_than_the_trigger_is_accepted_but_changes_nothing(
    emulator: PagerDutyEmulator,
) -> None:
    with client(emulator) as pd, client(emulator, OTHER_ROUTING_KEY) as other:
        key = pd.trigger("Disk full", source="db-1", dedup_key="disk")
        assert other.resolve(key) == key  # 202: accepted, not applied
    assert emulator.open_alert("disk") is not None


@pytest.mark.parametrize("bad", ["", "short", "x" * 33, "u+abcdefghijklmnopqrst"])
def test_routing_key_length_is_checked_up_front_without_echoing_it(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        EventsClient(bad)
    assert "32-character" in str(caught.value)
    assert not bad or bad not in str(caught.value)


def test_invalid_fields_fail_before_sending(emulator: PagerDutyEmulator) -> None:
    with client(emulator) as pd:
        with pytest.raises(ValueError):
            pd.trigger("x", source="web", severity="urgent")
        with pytest.raises(ValidationError) as caught:
            pd.trigger("s" * 1025, source="web")
        with pytest.raises(ValueError):
            pd.change("")
    assert emulator.requests == []
    assert ROUTING_KEY not in str(caught.value)


def test_rate_limited_carries_retry_after(emulator: PagerDutyEmulator) -> None:
    emulator.inject(Fault.rate_limited(retry_after=1), times=2)
    with client(emulator) as pd, pytest.raises(RateLimited) as caught:
        pd.trigger("x", source="web")
    assert caught.value.retry_after == 1.0 and caught.value.attempts == 2


def test_server_error(emulator: PagerDutyEmulator) -> None:
    emulator.inject(Fault.server_error(503), times=2)
    with client(emulator) as pd, pytest.raises(ServerError) as caught:
        pd.acknowledge("k")
    assert caught.value.status == 503


def test_request_timeout(emulator: PagerDutyEmulator) -> None:
    emulator.inject(Fault.slow(0.4), times=2)
    with client(emulator, timeout=0.1) as pd, pytest.raises(RequestTimeout) as caught:
        pd.resolve("k")
    assert caught.value.timeout_seconds == pytest.approx(0.1)  # the error says which limit was hit


def test_connection_failed(emulator: PagerDutyEmulator) -> None:
    emulator.inject(Fault.reset(), times=2)
    with client(emulator) as pd, pytest.raises(ConnectionFailed):
        pd.trigger("x", source="web")


def test_rejected_carries_pagerduty_messages(emulator: PagerDutyEmulator) -> None:
    emulator.set_routing_keys([OTHER_ROUTING_KEY])
    with client(emulator) as pd, pytest.raises(Rejected) as caught:
        pd.trigger("x", source="web")
    assert caught.value.errors == ["Invalid routing key"] and caught.value.attempts == 1


def test_transient_failures_are_retried_transparently(emulator: PagerDutyEmulator) -> None:
    emulator.inject(Fault.server_error(502))
    with client(emulator) as pd:
        assert pd.trigger("x", source="web", dedup_key="k") == "k"
    assert emulator.outcomes() == ["fault:status:502", "opened"]


@pytest.mark.parametrize(
    "fault",
    [Fault.rate_limited(1), Fault.server_error(500), Fault.slow(0.3), Fault.reset()],
    ids=["429", "500", "slow", "reset"],
)
def test_key_is_never_in_errors_or_logs(
    emulator: PagerDutyEmulator, caplog: pytest.LogCaptureFixture, fault: Fault
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.inject(fault, times=2)
    with client(emulator, timeout=0.1) as pd, pytest.raises(PagerDutyError) as caught:
        pd.trigger("x", source="web")
    assert ROUTING_KEY not in f"{caught.value} {caught.value!r} {caplog.text} {pd!r}"


def test_public_names_import_from_the_package_root() -> None:
    import alertbridge

    assert alertbridge.EventsClient is EventsClient
