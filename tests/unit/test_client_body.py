"""EventsClient sends exactly `EventV2.to_body()` with the real key in place, whichever path built it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from alertbridge.client import EventsClient
from alertbridge.models.pagerduty import EventV2

KEY = "K" * 32


def sent_body(**trigger: Any) -> tuple[dict[str, Any], str]:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(202, json={"status": "success", "dedup_key": "from-pd"})

    with EventsClient(KEY, transport=httpx.MockTransport(handler)) as client:
        returned = client.trigger(**trigger)
    return json.loads(bodies[0]), returned


@pytest.mark.parametrize(
    "trigger",
    [
        {"summary": "disk full", "source": "db-1", "dedup_key": "d-1"},
        {"summary": "disk full", "source": "db-1", "severity": "critical", "dedup_key": "d-1", "group": "g",
         "component": "c", "class_": "k", "timestamp": "2026-03-01T08:00:00Z"},
        {"summary": "disk full", "source": "db-1", "dedup_key": "d-1", "custom_details": {"free": 0.5}},
        {"summary": "disk full", "source": "db-1", "dedup_key": "d-1", "links": [{"href": "https://x", "text": "t"}],
         "images": [{"src": "https://x/i.png"}]},
    ],
)  # fmt: skip
def test_the_body_on_the_wire_is_the_models_body(trigger: dict[str, Any]) -> None:
    body, returned = sent_body(**trigger)
    payload = {name: trigger[name] for name in ("summary", "source", "severity", "timestamp", "component", "group",
               "custom_details") if name in trigger}  # fmt: skip
    payload.setdefault("severity", "error")
    if "class_" in trigger:
        payload["class"] = trigger["class_"]
    document = {"routing_key": KEY, "event_action": "trigger", "dedup_key": "d-1", "payload": payload}
    document.update({name: trigger[name] for name in ("links", "images") if name in trigger})
    expected = EventV2.model_validate(document).to_body()
    assert json.dumps(body) == json.dumps(expected)  # same keys, same order
    assert returned == "from-pd"


def test_a_timeout_is_built_once_and_clamped_only_near_the_deadline() -> None:
    client = EventsClient(KEY, timeout=4.0)
    http = client._adapter._http
    assert http.timeout(None) is http.timeout(4.0) is http.timeout(3.995)
    clamped = http.timeout(1.5)
    assert (clamped.connect, clamped.read, clamped.write, clamped.pool) == (1.5, 1.5, 1.5, 1.5)
    client.close()
