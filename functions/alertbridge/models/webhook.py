"""Webhook boundary models: the Lambda Function URL request/response (payload format 2.0) and the
PagerDuty Webhooks V3 envelope `{"event": {...}}`.

Every model ignores fields it does not know: PagerDuty adds fields without notice, and a delivery must not
fail because of one.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

_LENIENT = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


# --- Function URL (payload format 2.0) ----------------------------------------------------------------


class HttpDescription(BaseModel):
    model_config = _LENIENT

    method: str = "POST"
    path: str = "/"
    source_ip: str | None = Field(default=None, alias="sourceIp")


class RequestContext(BaseModel):
    model_config = _LENIENT

    http: HttpDescription = Field(default_factory=HttpDescription)
    request_id: str | None = Field(default=None, alias="requestId")


class FunctionUrlRequest(BaseModel):
    """What a Function URL hands the function. Header names arrive lower-cased; `header()` accepts any case."""

    model_config = _LENIENT

    version: str = "2.0"
    raw_path: str = Field(default="/", alias="rawPath")
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    is_base64_encoded: bool = Field(default=False, alias="isBase64Encoded")
    request_context: RequestContext = Field(default_factory=RequestContext, alias="requestContext")

    @property
    def method(self) -> str:
        return self.request_context.http.method.upper()

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)

    def encoded_size(self) -> int:
        """The body's size as received (base64 text counts 4/3 of the bytes it carries)."""
        return len(self.body or "")

    def raw_body(self) -> bytes:
        """The bytes PagerDuty signed. Raises ValueError when a base64 body is not valid base64."""
        if self.body is None:
            return b""
        if self.is_base64_encoded:
            return base64.b64decode(self.body, validate=True)
        return self.body.encode("utf-8")


class FunctionUrlResponse(BaseModel):
    model_config = ConfigDict(frozen=True)

    status_code: int
    body: dict[str, Any] = Field(default_factory=dict)

    def to_lambda(self) -> dict[str, Any]:
        return {
            "statusCode": self.status_code,
            "headers": {"content-type": "application/json"},
            "body": json.dumps(self.body),
            "isBase64Encoded": False,
        }


# --- PagerDuty Webhooks V3 ------------------------------------------------------------------------------


class Reference(BaseModel):
    """A PagerDuty object reference (agent, assignee, service...): `summary` is the display name."""

    model_config = _LENIENT

    id: str | None = None
    type: str | None = None
    summary: str | None = None
    html_url: str | None = None

    @property
    def label(self) -> str | None:
        return self.summary or self.id


class IncidentData(BaseModel):
    """`event.data` of an incident event. `incident_key` is null for incidents opened through the Events API
    v2 (the dedup key the bridge sent is their alert's `alert_key`); it is filled only for incidents without
    child alerts."""

    model_config = _LENIENT

    id: str | None = None
    type: str | None = None
    number: int | None = None
    status: str | None = None
    incident_key: str | None = None
    title: str | None = None
    html_url: str | None = None
    urgency: str | None = None
    assignees: list[Reference] | None = None
    resolve_reason: Any = None


class WebhookEvent(BaseModel):
    model_config = _LENIENT

    id: str | None = None
    event_type: str
    resource_type: str | None = None
    occurred_at: datetime
    agent: Reference | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _utc_when_naive(cls, value: datetime) -> datetime:
        """A timestamp without a UTC offset is read as UTC (PagerDuty's timestamps are UTC)."""
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class WebhookEnvelope(BaseModel):
    model_config = _LENIENT

    event: WebhookEvent


class IncidentUpdate(BaseModel):
    """One incident webhook, reduced to what the state mirror needs."""

    model_config = ConfigDict(frozen=True)

    event_type: str
    event_id: str | None
    dedup_key: str | None
    incident_id: str | None
    number: int | None
    url: str | None
    status: str | None
    assignees: tuple[str, ...] | None
    actor: str | None
    actor_type: str | None
    occurred_at: datetime
