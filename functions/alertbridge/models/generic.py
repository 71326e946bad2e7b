"""The generic application alert (seed 002's `AlertMessage`, with seed 003's idempotency id and a state).

Applications publish it to the alarm topic as JSON with camelCase keys::

    {"severity": "CRITICAL", "alarmName": "prod-checkout-failures", "metricName": "FailedOrders",
     "threshold": 5, "currentValue": 17, "timestamp": "2025-01-14T14:30:00.000Z",
     "environment": "production", "description": "...", "recommendations": ["..."],
     "links": [{"href": "https://...", "text": "Dashboard"}], "dedupId": "checkout-failures",
     "state": "ALARM", "autoResolveAfterSeconds": 3600}

`dedupId`, `idempotencyId` and `idempotency_id` are accepted for the same field; it serializes as
`dedupId`. `state` accepts ALARM / OK / resolved / INSUFFICIENT_DATA (any case); "resolved" reads as OK.
`model_dump_json()` writes the camelCase form back, so the same model publishes and parses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from alertbridge.models.pagerduty import Link

_STATES = {
    "alarm": "ALARM",
    "triggered": "ALARM",
    "trigger": "ALARM",
    "firing": "ALARM",
    "ok": "OK",
    "resolved": "OK",
    "resolve": "OK",
    "insufficient_data": "INSUFFICIENT_DATA",
}


class AlertMessage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    alarm_name: str = Field(alias="alarmName", min_length=1)
    severity: str | None = None
    metric_name: str | None = Field(default=None, alias="metricName")
    threshold: float | None = None
    current_value: float | None = Field(default=None, alias="currentValue")
    timestamp: datetime | None = None
    environment: str | None = None
    description: str | None = None
    recommendations: list[str] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    dedup_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("dedupId", "idempotencyId", "idempotency_id", "dedup_id"),
        serialization_alias="dedupId",
    )
    state: str = "ALARM"
    auto_resolve_after_seconds: int | None = Field(default=None, alias="autoResolveAfterSeconds", ge=0)
    component: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("state", mode="before")
    @classmethod
    def _known_state(cls, value: object) -> str:
        if value is None:
            return "ALARM"
        state = _STATES.get(str(value).strip().lower())
        if state is None:
            raise ValueError(f"state must be ALARM, OK or resolved, not {value!r}")
        return state

    @field_validator("links", mode="before")
    @classmethod
    def _links_may_be_urls(cls, value: object) -> object:
        """A bare URL string is a link whose text is the URL."""
        if isinstance(value, list):
            return [{"href": item, "text": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @field_validator("dedup_id", "severity", "metric_name", "environment", "component", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    def to_json_dict(self) -> dict[str, Any]:
        """The camelCase JSON document an application publishes."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
