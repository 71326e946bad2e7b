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

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alertbridge.models.pagerduty import Severity

ROUTE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class InsufficientDataPolicy(StrEnum):
    """What INSUFFICIENT_DATA does: nothing, page like ALARM, or close like OK."""

    IGNORE = "ignore"
    TRIGGER = "trigger"
    RESOLVE = "resolve"


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


class Match(BaseModel):
    """All given fields must match. Patterns are shell-style globs (`prod-*`) unless they start with `re:`."""

    model_config = ConfigDict(extra="forbid")
    alarm_name: str | None = None
    namespace: str | None = None
    account: str | None = None
    region: str | None = None
    topic: str | None = None  # topic ARN or topic name glob
    source: str | None = None  # an AlertSource value
    # The alert's own severity, normalized to PagerDuty's scale (critical/error/warning/info) whatever
    # scale it was sent on (seed 003: route critical alerts by severity); only alerts that carry one.
    severity: str | None = None
    environment: str | None = None  # the application alert's `environment` (seed 002)
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator(
        "alarm_name", "namespace", "account", "region", "topic", "source", "severity", "environment"
    )
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("re:"):
            try:
                re.compile(value[3:])
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value[3:]!r}: {exc}") from exc
        return value


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


class BridgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routes: dict[str, Route] = Field(default_factory=lambda: {"default": Route()})
    default_route: str = "default"
    default_severity: Severity = Severity.ERROR
    rules: list[Rule] = Field(default_factory=list)
    insufficient_data: InsufficientDataPolicy = InsufficientDataPolicy.IGNORE
    insufficient_data_severity: Severity = Severity.WARNING
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
        return cls.model_validate(json.loads(text))

    @classmethod
    def from_file(cls, path: str | Path) -> BridgeConfig:
        return cls.from_json_text(Path(path).read_text(encoding="utf-8"))

    def to_json_text(self) -> str:
        return self.model_dump_json(exclude_defaults=True)

    @classmethod
    def example(cls) -> dict[str, Any]:
        """The example document shipped as `config.example.json`."""
        return json.loads((Path(__file__).parent / "config.example.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]
