"""The emulator answers as PagerDuty documents: one test per rule, over real loopback HTTP."""

# ruff: noqa: F811  (the `emulator` fixture is imported, then named as a test parameter)

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from alertbridge.logic.signature import verify
from alertbridge.sandbox.emulator import Fault, PagerDutyEmulator
from tests.integration.emulator_fixtures import (
    OTHER_ROUTING_KEY,
    REST_TOKEN,
    ROUTING_KEY,
    USER_EMAIL,
    emulator,  # noqa: F401
)

KEY = ROUTING_KEY
REST_HEADERS = {
    "Authorization": f"Token token={REST_TOKEN}",
    "Accept": "application/vnd.pagerduty+json;version=2",
    "From": USER_EMAIL,
}


@pytest.fixture
def http(emulator: PagerDutyEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, timeout=5.0, verify=False) as client:
        yield client


def trigger(dedup_key: str | None = "disk-full", key: str = KEY, **payload: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {"summary": "Disk full on db-1", "source": "db-1", "severity": "critical", **payload},
    }
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    return body


def action(name: str, dedup_key: str = "disk-full", key: str = KEY) -> dict[str, Any]:
    return {"routing_key": key, "event_action": name, "dedup_key": dedup_key}


def errors_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    data = response.json()
    assert data["status"] == "invalid event"
    assert data["message"] == "Event object is invalid"
    return list(data["errors"])


# ---- accepted events and dedup ------------------------------------------------------------------------------


def test_trigger_is_accepted_with_202_and_opens_an_alert(
    http: httpx.Client, emulator: PagerDutyEmulator
) -> None:
    response = http.post("/v2/enqueue", json=trigger())
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed", "dedup_key": "disk-full"}
    alert = emulator.open_alert("disk-full")
    assert alert is not None
    assert (alert.status, alert.summary, alert.severity, alert.routing_key) == (
        "open",
        "Disk full on db-1",
        "critical",
        KEY,
    )
    assert emulator.outcomes() == ["opened"]


def test_trigger_without_dedup_key_gets_a_generated_one(
    http: httpx.Client, emulator: PagerDutyEmulator
) -> None:
    key = http.post("/v2/enqueue", json=trigger(dedup_key=None)).json()["dedup_key"]
    assert key and emulator.open_alert(key) is not None


def test_second_trigger_updates_the_open_alert(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    http.post("/v2/enqueue", json=trigger())
    http.post("/v2/enqueue", json=trigger(summary="Disk still full", severity="warning"))
    assert len(emulator.alerts) == 1
    alert = emulator.open_alert("disk-full")
    assert alert is not None and alert.summary == "Disk still full"
    assert (alert.severity, alert.urgency) == ("critical", "high")  # a re-trigger never lowers them
    assert emulator.outcomes() == ["opened", "updated"]


def test_a_retrigger_raises_severity_and_urgency(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    http.post("/v2/enqueue", json=trigger(severity="warning"))
    first = emulator.open_alert("disk-full")
    assert first is not None and (first.severity, first.urgency) == ("warning", "low")
    http.post("/v2/enqueue", json=trigger(severity="error"))
    raised = emulator.open_alert("disk-full")
    assert raised is not None and (raised.severity, raised.urgency) == ("error", "high")


def test_acknowledge_then_resolve(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    http.post("/v2/enqueue", json=trigger())
    assert http.post("/v2/enqueue", json=action("acknowledge")).status_code == 202
    assert emulator.alerts[0].status == "acknowledged"
    assert http.post("/v2/enqueue", json=action("resolve")).status_code == 202
    assert emulator.alerts[0].status == "resolved"
    assert emulator.open_alert("disk-full") is None
    assert [h["action"] for h in emulator.alerts[0].history] == ["trigger", "acknowledge", "resolve"]


def test_trigger_after_resolve_opens_a_new_alert(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    http.post("/v2/enqueue", json=trigger())
    http.post("/v2/enqueue", json=action("resolve"))
    http.post("/v2/enqueue", json=trigger())
    alerts = emulator.alerts
    assert [a.status for a in alerts] == ["resolved", "open"]
    assert alerts[0].incident_id != alerts[1].incident_id and alerts[1].number == alerts[0].number + 1


@pytest.mark.parametrize("name", ["acknowledge", "resolve"])
def test_ack_or_resolve_without_open_alert_is_dropped_silently(
    http: httpx.Client,
    emulator: PagerDutyEmulator,
    name: str,
) -> None:
    response = http.post("/v2/enqueue", json=action(name))
    assert response.status_code == 202 and response.json()["dedup_key"] == "disk-full"
    assert emulator.alerts == []
    assert emulator.outcomes() == ["dropped-no-open"]


@pytest.mark.parametrize("name", ["acknowledge", "resolve"])
def test_ack_or_resolve_with_another_routing_key_is_dropped(
    http: httpx.Client,
    emulator: PagerDutyEmulator,
    name: str,
) -> None:
    http.post("/v2/enqueue", json=trigger())
    response = http.post("/v2/enqueue", json=action(name, key=OTHER_ROUTING_KEY))
    assert response.status_code == 202
    assert emulator.alerts[0].status == "open"
    assert emulator.outcomes() == ["opened", "dropped-other-key"]


def test_same_dedup_key_on_two_routing_keys_is_two_alerts(
    http: httpx.Client, emulator: PagerDutyEmulator
) -> None:
    http.post("/v2/enqueue", json=trigger())
    http.post("/v2/enqueue", json=trigger(key=OTHER_ROUTING_KEY))
    http.post("/v2/enqueue", json=action("resolve", key=OTHER_ROUTING_KEY))
    assert emulator.open_alert("disk-full", KEY) is not None
    assert emulator.open_alert("disk-full", OTHER_ROUTING_KEY) is None


def test_change_event_is_recorded_and_never_opens_an_alert(
    http: httpx.Client, emulator: PagerDutyEmulator
) -> None:
    body = {"routing_key": KEY, "payload": {"summary": "Deployed v42", "source": "ci"}}
    response = http.post("/v2/change/enqueue", json=body)
    assert response.status_code == 202 and response.json()["status"] == "success"
    assert emulator.alerts == [] and emulator.change_events == [body]


def test_every_request_is_recorded_with_headers_body_status_outcome(
    http: httpx.Client,
    emulator: PagerDutyEmulator,
) -> None:
    http.post("/v2/enqueue", json=trigger(), headers={"X-Test": "yes"})
    http.post("/v2/enqueue", json={"routing_key": "short"})
    first, second = emulator.requests
    assert (first.method, first.path, first.status, first.outcome) == ("POST", "/v2/enqueue", 202, "opened")
    assert first.headers["X-Test"] == "yes" and first.body == trigger() and first.dedup_key == "disk-full"
    assert first.routing_key == KEY and first.event_action == "trigger"
    assert (second.status, second.outcome) == (400, "invalid")


def test_reset_forgets_everything(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    http.post("/v2/enqueue", json=trigger())
    emulator.inject(Fault.server_error())
    emulator.reset()
    assert emulator.alerts == [] and emulator.requests == []
    assert http.post("/v2/enqueue", json=trigger()).status_code == 202


# ---- validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (trigger(key="k" * 31), "Length of 'routing_key' is incorrect (should be 32 characters)"),
        ({**trigger(), "routing_key": None}, "'routing_key' is missing or blank"),
        ({**trigger(), "event_action": "explode"}, "'event_action' is invalid"),
        ({"routing_key": KEY, "dedup_key": "x"}, "'event_action' is missing or blank"),
        ({"routing_key": KEY, "event_action": "resolve"}, "'dedup_key' is missing or blank"),
        (
            {"routing_key": KEY, "event_action": "acknowledge", "dedup_key": ""},
            "'dedup_key' is missing or blank",
        ),
        (trigger(dedup_key="d" * 256), "Length of 'dedup_key' is too long (maximum 255 characters)"),
        ({"routing_key": KEY, "event_action": "trigger"}, "'payload' is missing or blank"),
        (trigger(summary=""), "'payload.summary' is missing or blank"),
        (trigger(summary="s" * 1025), "Length of 'payload.summary' is too long (maximum 1024 characters)"),
        (trigger(source="   "), "'payload.source' is missing or blank"),
        (trigger(severity="urgent"), "'payload.severity' is invalid"),
        (trigger(severity=None), "'payload.severity' is missing or blank"),
        (trigger(timestamp="yesterday"), "'payload.timestamp' is not a valid ISO 8601 timestamp"),
        (
            {**trigger(), "images": [{"src": "http://example.com/x.png"}]},
            "'images[0].src' must be served over HTTPS",
        ),
        ({**trigger(), "images": [{"alt": "no src"}]}, "'images[0].src' is missing or blank"),
        ({**trigger(), "links": [{"text": "no href"}]}, "'links[0].href' is missing or blank"),
        ({**trigger(), "links": {"href": "https://x"}}, "'links' must be an array"),
    ],
)
def test_invalid_event_is_refused_with_400(http: httpx.Client, body: dict[str, Any], expected: str) -> None:
    assert any(error.startswith(expected) for error in errors_of(http.post("/v2/enqueue", json=body)))


def test_boundaries_are_accepted(http: httpx.Client) -> None:
    body = {
        **trigger(dedup_key="d" * 255, summary="s" * 1024, timestamp="2015-07-17T08:42:58.315+0000"),
        "links": [{"href": "https://example.com", "text": "runbook"}],
        "images": [{"src": "https://example.com/graph.png", "href": "https://example.com", "alt": "graph"}],
    }
    assert http.post("/v2/enqueue", json=body).status_code == 202


def test_all_errors_are_reported_together(http: httpx.Client) -> None:
    body = {"routing_key": "short", "event_action": "trigger", "payload": {"summary": "x"}}
    assert len(errors_of(http.post("/v2/enqueue", json=body))) == 3  # key length, source, severity


def test_invalid_event_is_not_ingested(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    http.post("/v2/enqueue", json=trigger(severity="urgent"))
    assert emulator.alerts == []


def test_unparseable_json_is_an_unrecognized_object(http: httpx.Client) -> None:
    response = http.post("/v2/enqueue", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {
        "status": "Unrecognized object",
        "message": "Event object format is unrecognized",
        "errors": ["JSON parse error"],
    }


def test_request_over_512_kb_is_refused(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    body = trigger(custom_details={"blob": "x" * (512 * 1024)})
    response = http.post("/v2/enqueue", json=body)
    assert response.status_code == 413 and response.json()["status"] == "invalid event"
    assert emulator.alerts == [] and emulator.outcomes() == ["too-large"]


def test_change_event_validation(http: httpx.Client) -> None:
    errors = errors_of(
        http.post("/v2/change/enqueue", json={"routing_key": KEY, "payload": {"source": "ci"}})
    )
    assert errors == ["'payload.summary' is missing or blank"]
    assert errors_of(http.post("/v2/change/enqueue", json={"routing_key": KEY})) == [
        "'payload' is missing or blank"
    ]


def test_unknown_routing_key_is_refused_when_keys_are_configured(
    http: httpx.Client,
    emulator: PagerDutyEmulator,
) -> None:
    emulator.set_routing_keys([KEY])
    assert http.post("/v2/enqueue", json=trigger()).status_code == 202
    assert errors_of(http.post("/v2/enqueue", json=trigger(key=OTHER_ROUTING_KEY))) == ["Invalid routing key"]


# ---- rate limit and maintenance ------------------------------------------------------------------------


def test_rate_limit_per_routing_key_answers_429_and_does_not_ingest(
    http: httpx.Client,
    emulator: PagerDutyEmulator,
) -> None:
    emulator.set_rate_limit(3, 60.0)
    responses = [http.post("/v2/enqueue", json=trigger(dedup_key=f"k{i}")) for i in range(4)]
    assert [r.status_code for r in responses] == [202, 202, 202, 429]
    assert emulator.open_alert("k3") is None
    assert "Retry-After" not in responses[-1].headers  # PagerDuty's Events API sends none
    assert emulator.outcomes()[-1] == "rate-limited"
    assert (
        http.post("/v2/enqueue", json=trigger(key=OTHER_ROUTING_KEY)).status_code == 202
    )  # another key's budget


def test_rate_limit_window_slides(emulator: PagerDutyEmulator) -> None:
    now = [100.0]
    own = PagerDutyEmulator(rate_limit=2, window_seconds=10.0, clock=lambda: now[0])
    with own, httpx.Client(base_url=own.url, verify=False) as client:

        def status() -> int:
            return client.post("/v2/enqueue", json=trigger()).status_code

        assert [status(), status(), status()] == [202, 202, 429]
        now[0] += 10.0
        assert [status(), status(), status()] == [202, 202, 429]


def test_default_rate_limit_is_120_per_minute(emulator: PagerDutyEmulator) -> None:
    assert (emulator.config.rate_limit, emulator.config.window) == (120, 60.0)


def test_maintenance_suppresses_triggers_and_drops_resolves(
    http: httpx.Client,
    emulator: PagerDutyEmulator,
) -> None:
    http.post("/v2/enqueue", json=trigger(dedup_key="before"))
    emulator.set_maintenance(True)
    assert http.post("/v2/enqueue", json=trigger(dedup_key="during")).status_code == 202
    assert http.post("/v2/enqueue", json=action("resolve", "before")).status_code == 202
    assert emulator.open_alert("during") is None
    assert emulator.open_alert("before") is not None  # the orphan a resolve during maintenance leaves
    assert emulator.outcomes() == ["opened", "suppressed-maintenance", "dropped-maintenance"]
    emulator.set_maintenance(False)
    http.post("/v2/enqueue", json=action("resolve", "before"))
    assert emulator.open_alert("before") is None


def test_maintenance_can_cover_only_some_services(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    emulator.set_maintenance(True, routing_keys=[OTHER_ROUTING_KEY])
    http.post("/v2/enqueue", json=trigger())
    http.post("/v2/enqueue", json=trigger(key=OTHER_ROUTING_KEY, dedup_key="other"))
    assert emulator.open_alert("disk-full") is not None and emulator.open_alert("other") is None


# ---- fault injection ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
def test_injected_server_error(http: httpx.Client, emulator: PagerDutyEmulator, status: int) -> None:
    emulator.inject(Fault.server_error(status))
    assert http.post("/v2/enqueue", json=trigger()).status_code == status
    assert emulator.alerts == []  # a fault replaces the answer: nothing ingested
    assert http.post("/v2/enqueue", json=trigger()).status_code == 202  # only the next request
    assert emulator.outcomes() == [f"fault:status:{status}", "opened"]


def test_injected_429_with_and_without_retry_after(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    emulator.inject(Fault.rate_limited(retry_after=7), Fault.rate_limited())
    first, second = (http.post("/v2/enqueue", json=trigger()) for _ in range(2))
    assert (first.status_code, first.headers.get("Retry-After")) == (429, "7")
    assert (second.status_code, second.headers.get("Retry-After")) == (429, None)


def test_faults_queued_for_n_requests(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    emulator.inject(Fault.server_error(502), times=3)
    assert [http.post("/v2/enqueue", json=trigger()).status_code for _ in range(4)] == [502, 502, 502, 202]


def test_injected_connection_reset(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    emulator.inject(Fault.reset())
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        http.post("/v2/enqueue", json=trigger())
    assert emulator.requests[0].status == 0 and emulator.requests[0].outcome == "fault:reset"
    assert emulator.alerts == []
    assert http.post("/v2/enqueue", json=trigger()).status_code == 202


def test_injected_slow_answer_times_out_but_is_processed(
    http: httpx.Client,
    emulator: PagerDutyEmulator,
) -> None:
    emulator.inject(Fault.slow(0.6))
    with pytest.raises(httpx.ReadTimeout):
        http.post("/v2/enqueue", json=trigger(), timeout=0.15)
    assert emulator.open_alert("disk-full") is not None  # PagerDuty got it; only the answer was late


def test_seeded_random_fault_rate_is_reproducible(emulator: PagerDutyEmulator) -> None:
    def run() -> list[int]:
        emulator.reset()
        emulator.set_fault_rate(0.5, seed=42, kinds=[Fault.server_error(500), Fault.server_error(503)])
        with httpx.Client(base_url=emulator.url, verify=False) as client:
            return [client.post("/v2/enqueue", json=trigger()).status_code for _ in range(20)]

    first = run()
    assert first == run()
    assert {500, 503, 202} <= set(first)


def test_faults_can_be_limited_to_some_paths(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    emulator.limit_faults_to("/incidents")
    emulator.inject(Fault.server_error(503))
    assert http.post("/v2/enqueue", json=trigger()).status_code == 202
    assert http.get("/incidents", headers=REST_HEADERS).status_code == 503


def test_fault_queue_is_thread_safe(emulator: PagerDutyEmulator) -> None:
    emulator.inject(Fault.server_error(500), times=20)
    statuses: list[int] = []

    def worker() -> None:
        with httpx.Client(base_url=emulator.url, verify=False) as client:
            for i in range(10):
                statuses.append(client.post("/v2/enqueue", json=trigger(dedup_key=f"t{i}")).status_code)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(500) == 20 and statuses.count(202) == 20


# ---- REST API -----------------------------------------------------------------------------------------


def open_incident(http: httpx.Client, emulator: PagerDutyEmulator, dedup_key: str = "disk-full") -> str:
    http.post("/v2/enqueue", json=trigger(dedup_key=dedup_key))
    alert = emulator.open_alert(dedup_key)
    assert alert is not None
    return alert.incident_id


def test_rest_matches_incident_key_against_the_alerts_keys(
    http: httpx.Client, emulator: PagerDutyEmulator
) -> None:
    incident_id = open_incident(http, emulator)
    open_incident(http, emulator, "other")
    response = http.get("/incidents", params={"incident_key": "disk-full"}, headers=REST_HEADERS)
    assert response.status_code == 200
    [incident] = response.json()["incidents"]
    assert incident["id"] == incident_id
    assert incident["incident_key"] is None  # opened through the Events API: the key is the alert's
    assert incident["status"] == "triggered" and incident["incident_number"] >= 1
    assert incident["html_url"].endswith(f"/incidents/{incident_id}")


def test_rest_lists_an_incidents_alerts_with_their_alert_key(
    http: httpx.Client, emulator: PagerDutyEmulator
) -> None:
    incident_id = open_incident(http, emulator)
    response = http.get(f"/incidents/{incident_id}/alerts", headers=REST_HEADERS)
    body = response.json()
    assert response.status_code == 200
    [alert] = body["alerts"]
    assert (alert["alert_key"], alert["incident"]["id"], alert["status"]) == (
        "disk-full",
        incident_id,
        "triggered",
    )
    assert (body["limit"], body["offset"], body["more"], body["total"]) == (25, 0, False, None)


def test_rest_lists_are_paginated(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    for n in range(30):
        emulator.add_incident("busy", status="resolved", summary=f"n{n}")
    first = http.get("/incidents", params={"incident_key": "busy"}, headers=REST_HEADERS).json()
    assert (len(first["incidents"]), first["limit"], first["more"], first["total"]) == (25, 25, True, None)
    rest = http.get(
        "/incidents", params={"incident_key": "busy", "offset": 25, "limit": 10}, headers=REST_HEADERS
    ).json()
    assert (len(rest["incidents"]), rest["offset"], rest["more"]) == (5, 25, False)
    titles = [i["title"] for i in first["incidents"] + rest["incidents"]]
    assert titles == [f"n{n}" for n in range(30)]  # oldest first, nothing twice


def test_rest_lists_cover_the_last_month_unless_date_range_all(
    http: httpx.Client, emulator: PagerDutyEmulator
) -> None:
    old = emulator.add_incident("disk-full", created_at=datetime.now(UTC) - timedelta(days=40))
    recent = emulator.add_incident("disk-full", created_at=datetime.now(UTC) - timedelta(days=2))

    def ids(**params: str) -> list[str]:
        query = {"incident_key": "disk-full", **params}
        return [
            i["id"] for i in http.get("/incidents", params=query, headers=REST_HEADERS).json()["incidents"]
        ]

    assert ids() == [recent.incident_id]
    assert ids(date_range="all") == [old.incident_id, recent.incident_id]
    since = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    assert ids(since=since) == [old.incident_id, recent.incident_id]


def test_rest_rate_limit_answers_pagerdutys_429(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    emulator.set_rest_rate_limit(2, 60.0)
    assert [http.get("/incidents", headers=REST_HEADERS).status_code for _ in range(2)] == [200, 200]
    throttled = http.get("/incidents", headers=REST_HEADERS)
    assert throttled.status_code == 429
    assert throttled.json() == {"error": {"message": "Rate Limit Exceeded", "code": 2020}}
    assert throttled.headers["ratelimit-limit"] == "2" and throttled.headers["ratelimit-remaining"] == "0"
    assert 1 <= int(throttled.headers["ratelimit-reset"]) <= 60
    assert "Retry-After" not in throttled.headers
    assert http.post("/v2/enqueue", json=trigger()).status_code == 202  # the Events API is not affected


def test_rest_get_incident_and_404(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    incident_id = open_incident(http, emulator)
    assert http.get(f"/incidents/{incident_id}", headers=REST_HEADERS).json()["incident"]["id"] == incident_id
    missing = http.get("/incidents/QNOPE", headers=REST_HEADERS)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 2100


@pytest.mark.parametrize("status", ["acknowledged", "resolved"])
def test_rest_put_changes_status(http: httpx.Client, emulator: PagerDutyEmulator, status: str) -> None:
    incident_id = open_incident(http, emulator)
    body = {"incident": {"type": "incident_reference", "status": status, "resolution": "fixed"}}
    response = http.put(f"/incidents/{incident_id}", json=body, headers=REST_HEADERS)
    assert response.status_code == 200 and response.json()["incident"]["status"] == status
    alert = emulator.alerts[0]
    assert alert.status == status and alert.history[-1]["by"] == USER_EMAIL


def test_rest_acknowledging_a_resolved_incident_is_refused(
    http: httpx.Client,
    emulator: PagerDutyEmulator,
) -> None:
    incident_id = open_incident(http, emulator)
    http.post("/v2/enqueue", json=action("resolve"))
    body = {"incident": {"type": "incident_reference", "status": "acknowledged"}}
    response = http.put(f"/incidents/{incident_id}", json=body, headers=REST_HEADERS)
    assert response.status_code == 400 and "Incident Already Resolved" in response.json()["error"]["errors"]


def test_rest_add_note(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    incident_id = open_incident(http, emulator)
    response = http.post(
        f"/incidents/{incident_id}/notes", json={"note": {"content": "auto"}}, headers=REST_HEADERS
    )
    assert response.status_code == 201 and response.json()["note"]["content"] == "auto"
    assert emulator.alerts[0].notes[0]["content"] == "auto"


@pytest.mark.parametrize("authorization", [None, "Token token=wrong", f"Bearer {REST_TOKEN}"])
def test_rest_bad_token_is_401(http: httpx.Client, authorization: str | None) -> None:
    headers = {k: v for k, v in REST_HEADERS.items() if k != "Authorization"}
    if authorization:
        headers["Authorization"] = authorization
    response = http.get("/incidents", headers=headers)
    assert response.status_code == 401 and response.json()["error"]["code"] == 2006


def test_rest_unknown_from_is_requester_user_not_found(
    http: httpx.Client, emulator: PagerDutyEmulator
) -> None:
    incident_id = open_incident(http, emulator)
    headers = {**REST_HEADERS, "From": "nobody@example.com"}
    body = {"incident": {"type": "incident_reference", "status": "resolved"}}
    response = http.put(f"/incidents/{incident_id}", json=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["errors"] == ["Requester User Not Found"]
    assert emulator.alerts[0].status == "open"


def test_rest_missing_from_is_400(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    incident_id = open_incident(http, emulator)
    headers = {k: v for k, v in REST_HEADERS.items() if k != "From"}
    response = http.post(f"/incidents/{incident_id}/notes", json={"note": {"content": "x"}}, headers=headers)
    assert response.status_code == 400 and response.json()["error"]["code"] == 2011


def test_rest_read_only_token_or_user_without_permission_is_403(
    http: httpx.Client,
    emulator: PagerDutyEmulator,
) -> None:
    incident_id = open_incident(http, emulator)
    emulator.add_token("read-only-token", read_only=True)
    emulator.add_user("observer@example.com", can_write=False)
    body = {"incident": {"type": "incident_reference", "status": "resolved"}}
    read_only = {**REST_HEADERS, "Authorization": "Token token=read-only-token"}
    assert http.get("/incidents", headers=read_only).status_code == 200  # reads are allowed
    assert http.put(f"/incidents/{incident_id}", json=body, headers=read_only).status_code == 403
    observer = {**REST_HEADERS, "From": "observer@example.com"}
    assert http.put(f"/incidents/{incident_id}", json=body, headers=observer).status_code == 403
    assert emulator.alerts[0].status == "open"


def test_rest_requires_the_v2_accept_header(http: httpx.Client) -> None:
    headers = {**REST_HEADERS, "Accept": "application/json"}
    assert http.get("/incidents", headers=headers).status_code == 406


# ---- humans and webhooks -------------------------------------------------------------------------------


class _Receiver:
    """A tiny webhook receiver on loopback that keeps what it got."""

    def __init__(self) -> None:
        received: list[tuple[dict[str, str], bytes]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers.items()), raw))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    yield server
    server.close()


def test_send_webhook_is_a_signed_v3_envelope(
    http: httpx.Client,
    emulator: PagerDutyEmulator,
    receiver: _Receiver,
) -> None:
    incident_id = open_incident(http, emulator)
    status = emulator.send_webhook(
        receiver.url, "incident.acknowledged", "disk-full", secrets=["old", "new"], webhook_id="w-1"
    )
    assert status == 202
    [(headers, raw)] = receiver.received
    assert headers["X-Webhook-Id"] == "w-1"
    assert headers["X-PagerDuty-Signature"].count("v1=") == 2
    assert verify(headers["X-PagerDuty-Signature"], raw, ["new"])
    event = json.loads(raw)["event"]
    assert (event["event_type"], event["resource_type"]) == ("incident.acknowledged", "incident")
    assert event["agent"]["summary"] == USER_EMAIL and event["occurred_at"].endswith("Z")
    data = event["data"]
    assert (data["id"], data["incident_key"], data["status"]) == (incident_id, None, "triggered")
    assert {
        "number",
        "title",
        "html_url",
        "service",
        "urgency",
        "priority",
        "assignees",
        "escalation_policy",
    } <= set(data)


def test_unsigned_and_forged_webhooks_can_be_sent(
    http: httpx.Client,
    emulator: PagerDutyEmulator,
    receiver: _Receiver,
) -> None:
    open_incident(http, emulator)
    emulator.send_webhook(receiver.url, "incident.resolved", "disk-full")
    emulator.send_webhook(receiver.url, "incident.resolved", "disk-full", secrets=["s"], body=b'{"forged":1}')
    unsigned, forged = receiver.received
    assert "X-PagerDuty-Signature" not in unsigned[0]
    assert forged[1] == b'{"forged":1}' and verify(forged[0]["X-PagerDuty-Signature"], forged[1], ["s"])


def test_human_resolve_changes_state_and_sends_the_webhook(
    http: httpx.Client,
    emulator: PagerDutyEmulator,
    receiver: _Receiver,
) -> None:
    open_incident(http, emulator)
    alert = emulator.human_resolve(
        "disk-full", by="human@example.com", webhook_url=receiver.url, secrets=["s"]
    )
    assert alert.status == "resolved" and alert.resolved_by == "human@example.com"
    assert emulator.open_alert("disk-full") is None
    event = json.loads(receiver.received[0][1])["event"]
    assert event["event_type"] == "incident.resolved" and event["data"]["status"] == "resolved"
    # a resolve the bridge sends afterwards finds no open alert: dropped, like PagerDuty does
    http.post("/v2/enqueue", json=action("resolve"))
    assert emulator.outcomes()[-1] == "dropped-no-open"


def test_human_acknowledge_without_webhook(http: httpx.Client, emulator: PagerDutyEmulator) -> None:
    open_incident(http, emulator)
    assert emulator.human_acknowledge("disk-full").status == "acknowledged"
    with pytest.raises(LookupError):
        emulator.human_acknowledge("nothing-open")


# ---- webhook subscriptions ------------------------------------------------------------------------------


class _Scripted:
    """A receiver answering the queued statuses in order (then 200), keeping every delivery it got."""

    def __init__(self, statuses: list[int]) -> None:
        script, received = list(statuses), []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers.items()), json.loads(raw)))
                self.send_response(script.pop(0) if script else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.received: list[tuple[dict[str, str], dict[str, Any]]] = received
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def events(self) -> list[dict[str, Any]]:
        return [body["event"] for _, body in self.received]


@pytest.fixture
def scripted() -> Iterator[Any]:
    made: list[_Scripted] = []

    def make(*statuses: int) -> _Scripted:
        made.append(_Scripted(list(statuses)))
        return made[-1]

    yield make
    for server in made:
        server.server.shutdown()
        server.server.server_close()


def test_deliveries_carry_the_agent_pagerduty_sends(
    http: httpx.Client, emulator: PagerDutyEmulator, scripted: Any
) -> None:
    receiver = scripted()
    hooks = emulator.subscribe(receiver.url, secrets=["s"], time_scale=0.001)
    incident_id = open_incident(http, emulator)  # Events API trigger
    emulator.human_acknowledge("disk-full", by="ada@example.com")  # the web app
    emulator.acknowledgement_timeout("disk-full")  # PagerDuty itself
    put = {"incident": {"type": "incident_reference", "status": "resolved"}}
    http.put(f"/incidents/{incident_id}", json=put, headers=REST_HEADERS)  # REST, From: a user
    http.post(f"/incidents/{incident_id}/notes", json={"note": {"content": "why"}}, headers=REST_HEADERS)
    assert hooks.wait_until(lambda attempts: len(attempts) == 5)
    events = receiver.events()
    assert [e["event_type"] for e in events] == [
        "incident.triggered",
        "incident.acknowledged",
        "incident.unacknowledged",
        "incident.resolved",
        "incident.annotated",
    ]
    triggered, acked, timed_out, resolved, note = events
    assert (triggered["agent"]["type"], triggered["agent"]["summary"]) == (
        "inbound_integration_reference",
        "Events API V2",
    )
    assert (acked["agent"]["type"], acked["agent"]["summary"]) == ("user_reference", "ada@example.com")
    assert timed_out["agent"] is None and timed_out["data"]["status"] == "triggered"
    assert (resolved["agent"]["type"], resolved["agent"]["summary"]) == ("user_reference", USER_EMAIL)
    assert all(e["data"].get("incident_key", None) is None for e in events)
    assert note["data"]["type"] == "incident_note" and note["data"]["content"] == "why"
    assert note["data"]["incident"] == {
        **note["data"]["incident"],
        "id": incident_id,
        "type": "incident_reference",
    }
    for headers, body in receiver.received:
        assert verify(headers["X-PagerDuty-Signature"], json.dumps(body).encode(), ["s"])


def test_events_api_deliveries_name_the_client(
    http: httpx.Client, emulator: PagerDutyEmulator, scripted: Any
) -> None:
    receiver = scripted()
    hooks = emulator.subscribe(receiver.url, time_scale=0.001)
    http.post("/v2/enqueue", json={**trigger(), "client": "alertbridge", "client_url": "https://x.example"})
    http.post("/v2/enqueue", json=action("resolve"))
    assert hooks.wait_until(lambda attempts: len(attempts) == 2)
    opened, resolved = receiver.events()
    assert opened["client"] == {"name": "alertbridge", "url": "https://x.example"}
    assert resolved["agent"]["type"] == "inbound_integration_reference"  # the bridge's own resolve


def test_5xx_429_and_timeouts_are_retried_with_the_same_webhook_id(
    http: httpx.Client, emulator: PagerDutyEmulator, scripted: Any
) -> None:
    receiver = scripted(500, 429, 503)
    hooks = emulator.subscribe(receiver.url, time_scale=0.001)
    open_incident(http, emulator)
    assert hooks.wait_until(lambda attempts: attempts and attempts[-1].outcome == "delivered")
    assert [(status, outcome) for _, status, outcome in hooks.outcomes()] == [
        (500, "retrying"),
        (429, "retrying"),
        (503, "retrying"),
        (200, "delivered"),
    ]
    assert len({headers["X-Webhook-Id"] for headers, _ in receiver.received}) == 1


def test_a_slow_receiver_times_out_and_is_retried(emulator: PagerDutyEmulator) -> None:
    calls: list[int] = []
    release = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            calls.append(1)
            if len(calls) == 1:
                release.wait(5.0)  # held until the test ends: the subscription's timeout runs out first
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        hooks = emulator.subscribe(
            f"http://127.0.0.1:{server.server_address[1]}/", timeout=0.2, time_scale=0.001
        )
        emulator.add_incident("disk-full")
        emulator.human_acknowledge("disk-full")
        assert hooks.wait_until(lambda attempts: attempts and attempts[-1].outcome == "delivered")
        assert [(status, outcome) for _, status, outcome in hooks.outcomes()] == [
            (0, "retrying"),
            (200, "delivered"),
        ]
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_other_4xx_are_dropped_and_three_in_a_row_disable_the_subscription(
    http: httpx.Client, emulator: PagerDutyEmulator, scripted: Any
) -> None:
    receiver = scripted(400, 404, 410)
    hooks = emulator.subscribe(receiver.url, time_scale=0.001)
    for key in ("a", "b", "c", "d"):
        open_incident(http, emulator, key)
    assert hooks.wait_until(lambda attempts: len(attempts) == 4)
    assert [(status, outcome) for _, status, outcome in hooks.outcomes()] == [
        (400, "dropped"),
        (404, "dropped"),
        (410, "dropped"),
        (0, "disabled"),
    ]
    assert not hooks.enabled and len(receiver.received) == 3


def test_a_success_resets_the_drops_in_a_row(
    http: httpx.Client, emulator: PagerDutyEmulator, scripted: Any
) -> None:
    receiver = scripted(400, 400, 200, 400, 400)
    hooks = emulator.subscribe(receiver.url, time_scale=0.001)
    for key in ("a", "b", "c", "d", "e"):
        open_incident(http, emulator, key)
    assert hooks.wait_until(lambda attempts: len(attempts) == 5)
    assert hooks.enabled


def test_cli_runs_the_emulator_until_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from alertbridge.cli import emulator as cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--port", "0", "--rate-limit", "5", "--window", "2", "--user-email", "a@b.c"])
    stop = threading.Event()
    thread = threading.Thread(target=lambda: cli.run(args, stop=stop))
    thread.start()
    try:
        for _ in range(100):
            out = capsys.readouterr().out
            if "listening on" in out:
                break
            stop.wait(0.02)
        url = out.split("listening on ")[1].split()[0]
        assert httpx.post(f"{url}/v2/enqueue", json=trigger()).status_code == 202
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
