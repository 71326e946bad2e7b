"""The REST adapter against the emulator's incidents endpoints, including every error users hit (401, 403, 404, 429, 5xx)."""

# ruff: noqa: F811  (the `emulator` fixture is imported, then named as a test parameter)

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from alertbridge.adapters.pagerduty_rest import PagerDutyRestAdapter
from alertbridge.errors import (
    BadToken,
    Forbidden,
    NotFound,
    PagerDutyError,
    RateLimited,
    ServerError,
    UnknownRequester,
)
from alertbridge.sandbox.emulator import Fault, PagerDutyEmulator
from tests.integration.emulator_fixtures import (
    REST_TOKEN,
    ROUTING_KEY,
    USER_EMAIL,
    emulator,  # noqa: F401
)


def rest(emulator: PagerDutyEmulator, **options: Any) -> PagerDutyRestAdapter:
    settings: dict[str, Any] = {"base_url": emulator.url, "sleep": lambda _: None, **options}
    token = settings.pop("token", REST_TOKEN)
    email = settings.pop("from_email", USER_EMAIL)
    return PagerDutyRestAdapter(token, email, **settings)


def open_incident(emulator: PagerDutyEmulator, dedup_key: str = "api-errors") -> str:
    body = {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": "5xx rate high", "source": "api", "severity": "critical"},
    }
    assert httpx.post(f"{emulator.url}/v2/enqueue", json=body).status_code == 202
    alert = emulator.open_alert(dedup_key)
    assert alert is not None
    return alert.incident_id


def test_find_by_dedup_key(emulator: PagerDutyEmulator) -> None:
    incident_id = open_incident(emulator)
    with rest(emulator) as api:
        incident = api.find_by_dedup_key("api-errors")
        assert api.find_by_dedup_key("unknown") is None
    assert incident is not None
    assert (incident.id, incident.status, incident.incident_key, incident.number) == (
        incident_id,
        "triggered",
        None,  # PagerDuty's incident_key is null; the incident was found by its alert's key
        1,
    )
    assert incident.created_at is not None and incident.created_at.tzinfo is not None
    assert incident.html_url and incident.html_url.endswith(incident_id) and incident.title == "5xx rate high"
    request = emulator.requests[-2]  # the lookup of "api-errors"; the last one looked for "unknown"
    assert request.headers["Accept"] == "application/vnd.pagerduty+json;version=2"
    assert request.query["incident_key"] == ["api-errors"]
    assert request.query["date_range"] == ["all"] and request.query["offset"] == ["0"]


def test_find_prefers_the_open_incident_over_older_resolved_ones(emulator: PagerDutyEmulator) -> None:
    first = open_incident(emulator)
    emulator.human_resolve("api-errors")
    second = open_incident(emulator)
    with rest(emulator) as api:
        incident = api.find_by_dedup_key("api-errors")
    assert incident is not None and incident.id == second != first


def test_find_reads_every_page_and_picks_the_open_incident_on_page_2(emulator: PagerDutyEmulator) -> None:
    """An episode's open incident sits on page 2, after older resolved incidents of the same key."""
    start = datetime.now(UTC) - timedelta(days=3)
    resolved = [
        emulator.add_incident("api-errors", status="resolved", created_at=start + timedelta(minutes=n))
        for n in range(100)
    ]
    current = emulator.add_incident("api-errors", created_at=start + timedelta(hours=5))
    with rest(emulator) as api:
        incident = api.find_by_dedup_key("api-errors")
    assert incident is not None and (incident.id, incident.status) == (current.incident_id, "triggered")
    pages = [r.query["offset"] for r in emulator.requests if r.path == "/incidents"]
    assert pages == [["0"], ["100"]]
    assert resolved[0].incident_id != current.incident_id


def test_an_open_incident_counts_however_old_it_is(emulator: PagerDutyEmulator) -> None:
    """A trigger for the key goes into the open incident (PagerDuty deduplicates into the open alert), so an
    incident opened last week whose resolve PagerDuty dropped is this episode's incident too: a lookup
    that ignored it would re-send the trigger forever."""
    now = datetime.now(UTC)
    old = emulator.add_incident("api-errors", created_at=now - timedelta(days=7))  # still open
    with rest(emulator) as api:
        found = api.find_by_dedup_key("api-errors", created_since=now - timedelta(minutes=5))
    assert found is not None and found.id == old.incident_id


def test_find_without_an_open_incident_returns_the_newest(emulator: PagerDutyEmulator) -> None:
    start = datetime.now(UTC) - timedelta(days=3)
    older = emulator.add_incident("api-errors", status="resolved", created_at=start)
    newer = emulator.add_incident("api-errors", status="resolved", created_at=start + timedelta(hours=1))
    with rest(emulator) as api:
        incident = api.find_by_dedup_key("api-errors")
    assert incident is not None and incident.id == newer.incident_id != older.incident_id


def test_created_since_excludes_last_weeks_resolved_incident(emulator: PagerDutyEmulator) -> None:
    now = datetime.now(UTC)
    emulator.add_incident("api-errors", status="resolved", created_at=now - timedelta(days=7))
    with rest(emulator) as api:
        assert api.find_by_dedup_key("api-errors", created_since=now - timedelta(minutes=5)) is None
        assert api.find_by_dedup_key("api-errors") is not None  # without the bound it is found
        open_incident(emulator)  # a new episode: a second open incident of the key, opened now
        latest = emulator.latest_alert("api-errors")
        assert latest is not None
        current = latest.incident_id
        # sub-second opened_at vs PagerDuty's whole-second created_at: still found
        found = api.find_by_dedup_key("api-errors", created_since=datetime.now(UTC) - timedelta(seconds=0.5))
    assert found is not None and found.id == current


def test_alert_keys_reads_every_page(emulator: PagerDutyEmulator) -> None:
    incident_id = open_incident(emulator)
    with rest(emulator) as api:
        assert api.alert_keys(incident_id) == ["api-errors"]
        with pytest.raises(NotFound):
            api.alert_keys("QDOESNOTEXIST")
    [request] = [r for r in emulator.requests if r.path.endswith("/alerts") and r.status == 200]
    assert request.query["limit"] == ["100"]


def test_a_rest_429_waits_as_ratelimit_reset_says(emulator: PagerDutyEmulator) -> None:
    incident_id = open_incident(emulator)
    emulator.set_rest_rate_limit(1, 2.0)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        emulator.set_rest_rate_limit(None)  # the window passes while we wait

    with rest(emulator, sleep=sleep) as api:
        assert api.alert_keys(incident_id) == ["api-errors"]
        assert api.alert_keys(incident_id) == ["api-errors"]  # the second is throttled, then retried
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 2.0
    assert [r.status for r in emulator.requests if r.path.endswith("/alerts")] == [200, 429, 200]


def test_a_rest_429_longer_than_the_call_budget_is_not_waited_for(emulator: PagerDutyEmulator) -> None:
    incident_id = open_incident(emulator)
    emulator.set_rest_rate_limit(1, 60.0)
    sleeps: list[float] = []
    with rest(emulator, sleep=sleeps.append, call_budget=2.0, max_retry_after=30.0) as api:
        api.alert_keys(incident_id)
        with pytest.raises(PagerDutyError):
            api.alert_keys(incident_id)
    assert sleeps == []  # ratelimit-reset (about 60 s) does not fit the 2 s budget: give up at once


def test_acknowledge_resolve_and_note(emulator: PagerDutyEmulator) -> None:
    incident_id = open_incident(emulator)
    with rest(emulator) as api:
        assert api.acknowledge(incident_id).status == "acknowledged"
        api.add_note(incident_id, "alarm back to OK: auto-resolved by alertbridge")
        resolved = api.resolve(incident_id, resolution="alarm OK")
    assert resolved.status == "resolved"
    alert = emulator.alerts[0]
    assert alert.resolved_by == USER_EMAIL and alert.resolution == "alarm OK"
    assert alert.notes[0]["content"].startswith("alarm back to OK")
    put = next(r for r in emulator.requests if r.method == "PUT")
    assert put.headers["From"] == USER_EMAIL and put.headers["Authorization"] == f"Token token={REST_TOKEN}"


def test_unknown_from_email_says_what_to_fix(emulator: PagerDutyEmulator) -> None:
    incident_id = open_incident(emulator)
    with rest(emulator, from_email="ghost@example.com") as api, pytest.raises(UnknownRequester) as caught:
        api.resolve(incident_id)
    message = str(caught.value)
    assert "ghost@example.com" in message and "must be the e-mail of a user" in message
    assert emulator.alerts[0].status == "open"


def test_bad_token_is_bad_token_without_echoing_it(
    emulator: PagerDutyEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with rest(emulator, token="not-the-token-123") as api, pytest.raises(BadToken) as caught:
        api.find_by_dedup_key("x")
    assert "401" in str(caught.value)
    assert "not-the-token-123" not in str(caught.value) + repr(caught.value) + caplog.text


def test_empty_token_is_refused_up_front() -> None:
    with pytest.raises(BadToken):
        PagerDutyRestAdapter("  ", USER_EMAIL)


def test_read_only_token_is_forbidden(emulator: PagerDutyEmulator) -> None:
    incident_id = open_incident(emulator)
    emulator.add_token("read-only", read_only=True)
    with rest(emulator, token="read-only") as api:
        assert api.find_by_dedup_key("api-errors") is not None
        with pytest.raises(Forbidden) as caught:
            api.acknowledge(incident_id)
    assert "403" in str(caught.value) and "read-only" not in str(caught.value).replace("be read-only", "")


def test_user_without_permission_is_forbidden(emulator: PagerDutyEmulator) -> None:
    incident_id = open_incident(emulator)
    emulator.add_user("observer@example.com", can_write=False)
    with rest(emulator, from_email="observer@example.com") as api, pytest.raises(Forbidden):
        api.add_note(incident_id, "hello")


def test_unknown_incident_is_not_found(emulator: PagerDutyEmulator) -> None:
    with rest(emulator) as api, pytest.raises(NotFound):
        api.acknowledge("QDOESNOTEXIST")


def test_429_is_retried_a_bounded_number_of_times(emulator: PagerDutyEmulator) -> None:
    incident_id = open_incident(emulator)
    emulator.inject(Fault.rate_limited(retry_after=1))
    sleeps: list[float] = []
    with rest(emulator, sleep=sleeps.append) as api:
        assert api.acknowledge(incident_id).status == "acknowledged"
    assert sleeps == [1.0]
    emulator.inject(Fault.rate_limited(), times=5)
    with rest(emulator, max_attempts=3) as api, pytest.raises(RateLimited) as caught:
        api.find_by_dedup_key("api-errors")
    assert caught.value.attempts == 3


def test_server_error_retried_for_updates_but_not_for_notes(emulator: PagerDutyEmulator) -> None:
    incident_id = open_incident(emulator)
    emulator.inject(Fault.server_error(502))
    with rest(emulator) as api:
        assert api.resolve(incident_id).status == "resolved"
        emulator.inject(Fault.server_error(502))
        with pytest.raises(ServerError):
            api.add_note(incident_id, "would be posted twice if retried")
    assert [r.status for r in emulator.requests if r.path.endswith("/notes")] == [502]
