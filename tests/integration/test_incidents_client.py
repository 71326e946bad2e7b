"""`IncidentsClient` (the library's REST API v2 client) against the emulator: every call, the From header,
typed errors, bounded retries, the EU base URL and best effort (logged without the token, None returned)."""

# ruff: noqa: F811  (the `emulator` fixture is imported, then named as a test parameter)

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

import alertbridge
from alertbridge import BadToken, IncidentsClient, InvalidInput, NotFound, RateLimited, UnknownRequester
from alertbridge.sandbox.emulator import Fault, PagerDutyEmulator
from tests.integration.emulator_fixtures import REST_TOKEN, USER_EMAIL, emulator  # noqa: F401
from tests.integration.test_rest_adapter import open_incident


def client(emulator: PagerDutyEmulator, **options: Any) -> IncidentsClient:
    token = options.pop("token", REST_TOKEN)
    email = options.pop("from_email", USER_EMAIL)
    settings: dict[str, Any] = {"base_url": emulator.url, "sleep": lambda _: None, **options}
    return IncidentsClient(token, email, **settings)


def test_it_is_exported_lazily() -> None:
    assert "IncidentsClient" in alertbridge.__all__ and alertbridge.IncidentsClient is IncidentsClient


def test_get_acknowledge_note_resolve(emulator: PagerDutyEmulator) -> None:
    incident_id = open_incident(emulator)
    with client(emulator) as incidents:
        found = incidents.get_by_dedup_key("api-errors")
        assert found is not None and found.id == incident_id
        assert incidents.get_by_dedup_key("unknown") is None
        acknowledged = incidents.acknowledge(incident_id)
        assert acknowledged is not None and acknowledged.status == "acknowledged"
        incidents.note(incident_id, "restarted the task set")
        resolved = incidents.resolve(incident_id, resolution="rolled back deploy 4711")
        assert resolved is not None and resolved.status == "resolved"
    alert = emulator.latest_alert("api-errors")
    assert alert is not None
    assert [note["content"] for note in alert.notes] == ["restarted the task set"]
    assert alert.resolution == "rolled back deploy 4711"
    writes = [r for r in emulator.requests if r.method in ("PUT", "POST") and r.path.startswith("/incidents")]
    assert writes and all(r.headers.get("From") == USER_EMAIL for r in writes)


def test_reassign_to_users_or_an_escalation_policy(emulator: PagerDutyEmulator) -> None:
    incident_id = open_incident(emulator)
    with client(emulator) as incidents:
        assert incidents.reassign(incident_id, ["PUSER1", "PUSER2"]) is not None
        alert = emulator.latest_alert("api-errors")
        assert alert is not None and alert.assigned_to == ["PUSER1", "PUSER2"]
        assert incidents.reassign(incident_id, escalation_policy_id="PEPOL1") is not None
        alert = emulator.latest_alert("api-errors")  # a snapshot: read again
        assert alert is not None and alert.escalation_policy_id == "PEPOL1"
        with pytest.raises(InvalidInput):
            incidents.reassign(incident_id)
        with pytest.raises(InvalidInput):
            incidents.reassign(incident_id, ["PUSER1"], escalation_policy_id="PEPOL1")
    bodies = [r.body for r in emulator.requests if r.method == "PUT"]
    assert bodies[0] == {
        "incident": {
            "type": "incident_reference",
            "assignments": [
                {"assignee": {"id": "PUSER1", "type": "user_reference"}},
                {"assignee": {"id": "PUSER2", "type": "user_reference"}},
            ],
        }
    }
    assert bodies[1]["incident"]["escalation_policy"] == {
        "id": "PEPOL1",
        "type": "escalation_policy_reference",
    }


def test_typed_errors(emulator: PagerDutyEmulator) -> None:
    with client(emulator) as incidents, pytest.raises(NotFound):
        incidents.acknowledge("QDOESNOTEXIST")
    incident_id = open_incident(emulator)
    with client(emulator, token="u+not-a-known-token") as incidents, pytest.raises(BadToken):
        incidents.acknowledge(incident_id)
    with client(emulator, from_email="nobody@example.com") as incidents, pytest.raises(UnknownRequester):
        incidents.acknowledge(incident_id)


def test_429_and_5xx_are_retried_a_bounded_number_of_times(emulator: PagerDutyEmulator) -> None:
    incident_id = open_incident(emulator)
    emulator.inject(Fault.rate_limited(retry_after=1))
    emulator.inject(Fault.server_error(502))
    waits: list[float] = []
    with client(emulator, sleep=waits.append) as incidents:
        acknowledged = incidents.acknowledge(incident_id)
    assert acknowledged is not None and acknowledged.status == "acknowledged"
    assert waits[0] == 1.0 and len(waits) == 2
    emulator.inject(Fault.rate_limited(), times=5)
    with client(emulator, max_attempts=3) as incidents, pytest.raises(RateLimited) as caught:
        incidents.get_by_dedup_key("api-errors")
    assert caught.value.attempts == 3


def test_best_effort_logs_without_the_token_and_returns_none(
    emulator: PagerDutyEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.inject(Fault.server_error(503), times=5)
    with (
        caplog.at_level(logging.WARNING, logger="alertbridge.incidents"),
        client(emulator, best_effort=True, max_attempts=2) as incidents,
    ):
        assert incidents.acknowledge("QANY") is None
        assert incidents.note("QANY", "tried") is None
    assert "ServerError" in caplog.text and "acknowledge" in caplog.text
    assert REST_TOKEN not in caplog.text


def test_the_eu_region_uses_the_eu_api() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"incidents": [], "more": False})

    with IncidentsClient("u+token", USER_EMAIL, region="eu", transport=httpx.MockTransport(answer)) as eu:
        assert eu.get_by_dedup_key("k") is None
    assert seen and seen[0].startswith("https://api.eu.pagerduty.com/incidents?")
    assert repr(eu) == "IncidentsClient(base_url='https://api.eu.pagerduty.com')"
