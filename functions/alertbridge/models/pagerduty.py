"""The PagerDuty Events API v2 boundary: the exact bodies the bridge sends."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_DEDUP_KEY_CHARS = 255
MAX_SUMMARY_CHARS = 1024  # counted by the bridge in UTF-16 code units (never fewer than code points)
# PagerDuty says "512 KB" without saying which: the smaller reading (512,000 bytes) fits either.
MAX_REQUEST_BYTES = 512 * 1000
ROUTING_KEY_CHARS = 32


class Severity(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class EventAction(StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class Link(BaseModel):
    model_config = ConfigDict(frozen=True)
    href: str
    text: str


class Image(BaseModel):
    model_config = ConfigDict(frozen=True)
    src: str
    href: str | None = None
    alt: str | None = None


class Payload(BaseModel):
    summary: str = Field(min_length=1, max_length=MAX_SUMMARY_CHARS)
    source: str = Field(min_length=1)
    severity: Severity
    timestamp: str | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    custom_details: dict[str, Any] | None = None

    model_config = ConfigDict(populate_by_name=True)


class EventV2(BaseModel):
    """One Events API v2 request body. `routing_key` holds the route name until send time."""

    routing_key: str
    event_action: EventAction
    dedup_key: str | None = Field(default=None, max_length=MAX_DEDUP_KEY_CHARS)
    payload: Payload | None = None
    links: list[Link] = Field(default_factory=list)
    images: list[Image] = Field(default_factory=list)
    client: str | None = None
    client_url: str | None = None

    def to_body(self) -> dict[str, Any]:
        """The JSON body as PagerDuty expects it (aliases, no nulls, no empty lists)."""
        body = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        for key in ("links", "images"):
            if not body.get(key):
                body.pop(key, None)
        return body

    def with_routing_key(self, routing_key: str) -> EventV2:
        return self.model_copy(update={"routing_key": routing_key})


class ChangeEvent(BaseModel):
    """A change event (`/v2/change/enqueue`): informational, never pages."""

    routing_key: str
    payload: dict[str, Any]
    links: list[Link] = Field(default_factory=list)

    def to_body(self) -> dict[str, Any]:
        body = self.model_dump(mode="json", exclude_none=True)
        if not body.get("links"):
            body.pop("links", None)
        return body


class Incident(BaseModel):
    """A PagerDuty incident as the REST API v2 describes it (the fields the bridge reads)."""

    id: str
    number: int | None = None
    status: str
    incident_key: str | None = None
    html_url: str | None = None
    title: str | None = None
    created_at: datetime | None = None
