"""The `IncidentEvents` port on an EventBridge bus (PutEvents, one entry per call).

PutEvents can answer 200 and still refuse an entry: `FailedEntryCount` and the entry's `ErrorCode` say so
(https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html); that is raised too.
"""

from __future__ import annotations

from typing import Any

from alertbridge.errors import AlertBridgeError
from alertbridge.models.incident_event import IncidentEvent


class EventNotAccepted(AlertBridgeError):
    """EventBridge did not accept the entry."""


class EventBridgeIncidentEvents:
    def __init__(self, bus_name: str, client: Any = None) -> None:
        if client is None:
            from alertbridge.adapters import aws

            client = aws.client("events")
        self.bus_name = bus_name
        self._client = client

    def entry(self, event: IncidentEvent) -> dict[str, Any]:
        return {
            "Source": event.source,
            "DetailType": event.detail_type,
            "Detail": event.detail.model_dump_json(),
            "Resources": list(event.resources),
            "Time": event.time,
            "EventBusName": self.bus_name,
        }

    def put(self, event: IncidentEvent) -> None:
        answer = self._client.put_events(Entries=[self.entry(event)])
        if answer.get("FailedEntryCount"):
            failed = (answer.get("Entries") or [{}])[0]
            raise EventNotAccepted(
                f"EventBridge refused the incident event: {failed.get('ErrorCode')} {failed.get('ErrorMessage')}"
            )
