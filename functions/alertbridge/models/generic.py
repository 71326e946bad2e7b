"""The generic application alert (`AlertMessage`, with an idempotency id and a state).

Applications publish it to the alarm topic as JSON with camelCase keys::

    {"severity": "CRITICAL", "alarmName": "prod-checkout-failures", "metricName": "FailedOrders",
     "threshold": 5, "currentValue": 17, "timestamp": "2025-01-14T14:30:00.000Z",
     "environment": "production", "description": "...", "recommendations": ["..."],
     "links": [{"href": "https://...", "text": "Dashboard"}], "dedupId": "checkout-failures",
     "state": "ALARM", "autoResolveAfterSeconds": 3600}

`dedupId`, `idempotencyId` and `idempotency_id` are accepted for the same field; it serializes as
`dedupId`. `state` accepts ALARM / OK / resolved / recovered / INSUFFICIENT_DATA (any case); "resolved"
and "recovered" read as OK. `model_dump_json()` writes the camelCase form back, so the same model
publishes and parses.

Parsing is lenient about everything but the identity (`alarmName`, the dedup id) and the state: a field of
the wrong type (`currentValue: ""`, `severity: 3`, `timestamp: ""`, a number as a tag value) is converted
when it can be, else dropped and named in `ignored_fields`. An application's OK with one odd field must
still resolve its incident, never turn into a new page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alertbridge.models.pagerduty import Link

_STATES = {
    "alarm": "ALARM",
    "triggered": "ALARM",
    "trigger": "ALARM",
    "firing": "ALARM",
    "ok": "OK",
    "resolved": "OK",
    "resolve": "OK",
    "recovered": "OK",
    "insufficient_data": "INSUFFICIENT_DATA",
}
_TEXT_FIELDS = ("severity", "metricName", "environment", "description", "component")


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
    ignored_fields: tuple[str, ...] = Field(default=(), exclude=True)  # dropped for their type

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: object) -> object:
        """Convert or drop fields of the wrong type, so that the identity and the state always survive."""
        if not isinstance(data, dict):
            return data
        fields = dict(data)
        ignored = _unusable(fields)
        for name in ignored:
            del fields[name]
        for name in _TEXT_FIELDS:
            value = fields.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                fields[name] = str(value)
            elif value is not None and not isinstance(value, str):
                ignored.append(name)
                del fields[name]
        if "tags" in fields:
            fields["tags"], dropped = _string_tags(fields["tags"])
            ignored.extend(dropped)
        fields["ignored_fields"] = tuple(ignored)
        return fields

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


class _TypedFields(BaseModel):
    """The typed fields `_lenient` drops when their value does not fit (checked in one validation)."""

    model_config = ConfigDict(extra="ignore")

    threshold: float | None = None
    currentValue: float | None = None  # the document's own field names
    autoResolveAfterSeconds: Annotated[int, Field(ge=0)] | None = None
    timestamp: datetime | None = None
    links: list[Link | str] | None = None
    recommendations: list[str] | None = None


_TYPED_FIELDS = tuple(_TypedFields.model_fields)


def _unusable(fields: dict[str, Any]) -> list[str]:
    """The typed fields present in `fields` whose values do not validate, in `_TYPED_FIELDS` order."""
    present = {name: fields[name] for name in _TYPED_FIELDS if name in fields}
    if not present:
        return []
    try:
        _TypedFields.model_validate(present)
    except ValidationError as exc:
        bad = {error["loc"][0] for error in exc.errors() if error["loc"]}
        return [name for name in _TYPED_FIELDS if name in bad]
    return []


def _string_tags(value: object) -> tuple[dict[str, str], list[str]]:
    """Tags as strings: numbers and booleans are written out; anything else is dropped and named."""
    if not isinstance(value, dict):
        return {}, ["tags"]
    tags, dropped = {}, []
    for key, item in value.items():
        if isinstance(item, str | int | float | bool):
            tags[str(key)] = str(item).lower() if isinstance(item, bool) else str(item)
        else:
            dropped.append(f"tags.{key}")
    return tags, dropped
