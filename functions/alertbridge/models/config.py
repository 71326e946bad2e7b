"""The one configuration document: routes, rules, severity policy, recommendations, maintenance defaults.

The same model validates the document at `cdk synth` time and in the Lambdas, so a bad rule fails the
deploy instead of the page.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from alertbridge.logic.patterns import UnsafePattern, check_pattern, is_regex, pattern_matches
from alertbridge.models.graph import GraphConfig
from alertbridge.models.pagerduty import Severity

ROUTE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class InsufficientDataPolicy(StrEnum):
    """What INSUFFICIENT_DATA does: nothing, page like ALARM, or close like OK."""

    IGNORE = "ignore"
    TRIGGER = "trigger"
    RESOLVE = "resolve"


class MultiTimeSeriesPages(StrEnum):
    """Which notifications of a multi-time-series (Metrics Insights) alarm page: each contributor (time
    series) with its own incident, the alarm-level change, or both. The others are recorded."""

    CONTRIBUTORS = "contributors"
    ALARM = "alarm"
    BOTH = "both"


class TagLinks(BaseModel):
    """Alarm tag keys whose values become a page's links (runbook, dashboard) and its owner."""

    model_config = ConfigDict(extra="forbid")
    runbook_url: str = "runbook_url"
    dashboard_url: str = "dashboard_url"
    owner: str = "owner"
    log_group: str = "log_group"  # overrides the resource's default log group in the Logs Insights link


class Urgency(StrEnum):
    HIGH = "high"
    LOW = "low"


class Route(BaseModel):
    """A PagerDuty service integration; its routing key lives in Secrets Manager under `secret_field`."""

    model_config = ConfigDict(extra="forbid")
    secret_field: str | None = None  # key inside the routing-keys secret JSON; defaults to the route name
    description: str | None = None
    runbook_url: str | None = None
    dashboard_url: str | None = None
    graph: bool = True  # a metric graph image on this route's CloudWatch triggers (see `graph` below)


class Match(BaseModel):
    """All given fields must match. Patterns are shell-style globs (`prod-*`) unless they start with `re:`
    (limited to expressions that cannot backtrack for long: see logic/patterns.py)."""

    model_config = ConfigDict(extra="forbid")
    alarm_name: str | None = None
    namespace: str | None = None
    account: str | None = None
    region: str | None = None
    topic: str | None = None  # topic ARN or topic name glob
    source: str | None = None  # an AlertSource value
    # The alert's own severity, normalized to PagerDuty's scale (critical/error/warning/info) whatever
    # scale it was sent on (so critical application alerts can be routed by severity); only alerts that carry one.
    # A plain word is normalized the same way (`CRITICAL`, `P1`, `emergency` -> critical); a pattern must
    # match at least one of the four values.
    severity: str | None = None
    environment: str | None = None  # the application alert's `environment`
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("alarm_name", "namespace", "account", "region", "topic", "source", "environment")
    @classmethod
    def _pattern_is_safe(cls, value: str | None) -> str | None:
        if value is not None:
            _checked(value)
        return value

    @field_validator("tags")
    @classmethod
    def _tag_patterns_are_safe(cls, tags: dict[str, str]) -> dict[str, str]:
        for key, pattern in tags.items():
            try:
                check_pattern(pattern)
            except UnsafePattern as exc:
                raise ValueError(f"tag {key!r}: {exc}") from None
        return tags

    @field_validator("severity")
    @classmethod
    def _severity_is_known(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if is_regex(value) or any(ch in value for ch in "*?["):
            _checked(value)
            if not any(pattern_matches(value, severity.value) for severity in Severity):
                raise ValueError(
                    f"severity pattern {value!r} matches none of {_SEVERITY_VALUES}: an alert's severity "
                    "is compared after it is normalized to PagerDuty's scale"
                )
            return value
        return _normalized_severity(value).value


class Rule(BaseModel):
    """First matching rule wins for each of route and severity it sets."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    match: Match = Field(default_factory=Match)
    route: str | None = None
    severity: Severity | None = None
    urgency: Urgency | None = None  # PagerDuty urgency maps to severity: high -> critical, low -> warning
    runbook_url: str | None = None
    dashboard_url: str | None = None

    @field_validator("match", mode="wrap")
    @classmethod
    def _name_the_rule(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        """A bad pattern names its rule: `rule 'payments alarms': match.alarm_name: ...`."""
        try:
            return handler(value)
        except ValidationError as exc:
            label = info.data.get("name")
            problems = "; ".join(
                "match." + ".".join(str(part) for part in error["loc"]) + ": " + _bare(error["msg"])
                for error in exc.errors()
            )
            raise ValueError(f"rule {label!r}: {problems}" if label else problems) from None

    @field_validator("severity", mode="before")
    @classmethod
    def _any_scale(cls, value: Any) -> Any:
        return _normalized_severity(value) if isinstance(value, str) else value


class IncidentEventsConfig(BaseModel):
    """Mappings added to the incident events put on EventBridge (models/incident_event.py)."""

    model_config = ConfigDict(extra="forbid")
    # PagerDuty service id or name -> the platform's internal service name
    services: dict[str, str] = Field(default_factory=dict)
    # PagerDuty urgency -> severity
    urgency_severity: dict[str, str] = Field(default_factory=lambda: {"high": "sev2", "low": "sev3"})
    # PagerDuty priority name (e.g. "P1") -> severity; wins over the urgency when the priority is mapped
    priority_severity: dict[str, str] = Field(default_factory=dict)


class BridgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routes: dict[str, Route] = Field(default_factory=lambda: {"default": Route()})
    default_route: str = "default"
    default_severity: Severity = Severity.ERROR
    rules: list[Rule] = Field(default_factory=list)
    insufficient_data: InsufficientDataPolicy = InsufficientDataPolicy.IGNORE
    insufficient_data_severity: Severity = Severity.WARNING
    multi_time_series_pages: MultiTimeSeriesPages = MultiTimeSeriesPages.CONTRIBUTORS
    tag_links: TagLinks = Field(default_factory=TagLinks)
    # Extra or replacement recommendations, keyed "Namespace/MetricName" (e.g. "AWS/Lambda/Errors").
    recommendations: dict[str, list[str]] = Field(default_factory=dict)
    builtin_recommendations: bool = True
    # Directive inside AlarmDescription, e.g. "[alertbridge severity=critical route=payments]".
    description_directives: bool = True
    client: str = "alertbridge"
    client_url: str | None = None
    # Closed state items are kept this long (DynamoDB TTL, also checked in code).
    closed_item_ttl_days: int = Field(default=30, ge=1, le=3650)
    max_raw_message_chars: int = Field(default=4000, ge=100, le=100_000)
    # Metric graph images on CloudWatch triggers (models/graph.py); `"graph": {"enabled": false}` turns them off.
    graph: GraphConfig = Field(default_factory=GraphConfig)
    incident_events: IncidentEventsConfig = Field(default_factory=IncidentEventsConfig)

    @field_validator("default_severity", "insufficient_data_severity", mode="before")
    @classmethod
    def _any_scale(cls, value: Any) -> Any:
        return _normalized_severity(value) if isinstance(value, str) else value

    @field_validator("routes")
    @classmethod
    def _route_names_are_simple(cls, routes: dict[str, Route]) -> dict[str, Route]:
        if not routes:
            raise ValueError("at least one route is required")
        bad = [name for name in routes if not re.match(ROUTE_NAME, name)]
        if bad:
            raise ValueError(f"route names must match {ROUTE_NAME}: {bad}")
        return routes

    @model_validator(mode="after")
    def _routes_exist(self) -> Self:
        known = set(self.routes)
        if self.default_route not in known:
            raise ValueError(f"default_route {self.default_route!r} is not one of the routes {sorted(known)}")
        for index, rule in enumerate(self.rules):
            if rule.route is not None and rule.route not in known:
                label = rule.name or f"rules[{index}]"
                raise ValueError(f"{label} routes to unknown route {rule.route!r}; known: {sorted(known)}")
        return self

    def secret_field(self, route: str) -> str:
        return self.routes[route].secret_field or route

    @property
    def matches_tags(self) -> bool:
        """Some rule matches on tags: the bridge must read CloudWatch alarms' tags (their notifications
        carry none)."""
        return any(rule.match.tags for rule in self.rules)

    @classmethod
    def from_json_text(cls, text: str) -> BridgeConfig:
        """Parse and validate; a key given twice in any object (two routes of one name) is an error."""
        return cls.model_validate(loads_without_duplicates(text))

    @classmethod
    def from_file(cls, path: str | Path) -> BridgeConfig:
        return cls.from_json_text(Path(path).read_text(encoding="utf-8"))

    def to_json_text(self) -> str:
        return self.model_dump_json(exclude_defaults=True)

    @classmethod
    def example(cls) -> dict[str, Any]:
        """The example document shipped as `config.example.json`."""
        return json.loads((Path(__file__).parent / "config.example.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


_SEVERITY_VALUES = ", ".join(severity.value for severity in Severity)


def _bare(message: str) -> str:
    return message.removeprefix("Value error, ")


def _checked(pattern: str) -> None:
    try:
        check_pattern(pattern)
    except UnsafePattern as exc:
        raise ValueError(str(exc)) from None


def _normalized_severity(word: str) -> Severity:
    """A severity word on any scale the alerts use (logic/policy.py), or ValueError naming the known ones."""
    from alertbridge.logic.policy import SEVERITY_WORDS, severity_from_text

    severity = severity_from_text(word)
    if severity is None:
        known = ", ".join(sorted(SEVERITY_WORDS))
        raise ValueError(f"unknown severity {word!r}: use one of {known} (any case)")
    return severity


class DuplicateKey(ValueError):
    """A JSON object names the same key twice (json.loads would keep the last one silently)."""


def loads_without_duplicates(text: str) -> Any:
    """json.loads, refusing an object that names a key twice (`{"routes": {"a": {}, "a": {}}}`)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        document: dict[str, Any] = {}
        for key, value in items:
            if key in document:
                raise DuplicateKey(f"the key {key!r} appears twice in one JSON object")
            document[key] = value
        return document

    return json.loads(text, object_pairs_hook=pairs)
