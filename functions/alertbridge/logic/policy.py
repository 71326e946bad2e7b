"""Severity and routing policy: which route (PagerDuty service) an alert goes to and how severe it is.

Order of precedence, for each of route and severity:

1. A directive inside the alarm's description (AlarmDescription, or a generic alert's `description`)::

       [alertbridge severity=critical route=payments]
       [alertbridge urgency=low]

   Keys: `severity` (any scale below), `urgency` (high -> critical, low -> warning), `route` (a configured
   route name). Keys and the word `alertbridge` are case-insensitive; the first directive counts; unknown
   keys are ignored. An unknown route or severity is ignored (recorded in `matched_rules`, e.g.
   `directive:route=nope(unknown)`), so the rules and defaults apply. `config.description_directives`
   switches directives off.
2. For severity only: the severity the alert itself carries (generic messages; Events v2 passthrough).
3. The first rule in `config.rules` whose `match` fits and that sets the field (`route`; `severity` or
   `urgency`, where `severity` wins when a rule sets both). Runbook and dashboard URLs come from the first
   matching rule that sets them, else from the chosen route.
4. Defaults: `config.default_route`; `config.insufficient_data_severity` for INSUFFICIENT_DATA, else
   `config.default_severity` (error).

Severity scales understood (case-insensitive): critical/error/warning/info (PagerDuty's, and applications'
CRITICAL/WARNING/INFO/ERROR), the LOW/NORMAL/HIGH/CRITICAL/EMERGENCY scale -> info/warning/error/critical/
critical, P1..P5 -> critical/error/warning/info/info, plus `warn`, `fatal`, `sev1`..`sev4`. Anything else
falls back to the next level of precedence: an unknown severity never makes PagerDuty answer 400.

Match fields: patterns are shell-style globs (`prod-*`, case-sensitive) unless they start with `re:`
(a Python regular expression searched anywhere in the value's first 256 characters; anchor it with ^...$;
configuration validation refuses expressions that could backtrack for long: logic/patterns.py). `alarm_name`, `account`, `region`
(code), `source` (an AlertSource value), `namespace` (any of the alert's metrics), `topic` (the topic ARN
or its name), `tags` (every listed tag must be present and match). A field the alert lacks never matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from alertbridge.logic import patterns
from alertbridge.models.alert import AlarmState, Alert
from alertbridge.models.config import BridgeConfig, Match, MultiTimeSeriesPages, Rule, Urgency
from alertbridge.models.pagerduty import Severity


class Routing(BaseModel):
    """Where an alert goes and how severe it is; the route's real routing key is resolved at send time."""

    model_config = ConfigDict(frozen=True)
    route: str
    severity: Severity
    runbook_url: str | None = None
    dashboard_url: str | None = None
    matched_rules: tuple[str, ...] = ()


SEVERITY_WORDS: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "emergency": Severity.CRITICAL,
    "fatal": Severity.CRITICAL,
    "p1": Severity.CRITICAL,
    "sev1": Severity.CRITICAL,
    "error": Severity.ERROR,
    "high": Severity.ERROR,
    "p2": Severity.ERROR,
    "sev2": Severity.ERROR,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "normal": Severity.WARNING,
    "medium": Severity.WARNING,
    "p3": Severity.WARNING,
    "sev3": Severity.WARNING,
    "info": Severity.INFO,
    "low": Severity.INFO,
    "p4": Severity.INFO,
    "p5": Severity.INFO,
    "sev4": Severity.INFO,
}
_T = TypeVar("_T")
_URGENCY: dict[Urgency, Severity] = {Urgency.HIGH: Severity.CRITICAL, Urgency.LOW: Severity.WARNING}
_DIRECTIVE = re.compile(r"\[\s*alertbridge\b([^\]]*)\]", re.IGNORECASE)
_PAIR = re.compile(r"([A-Za-z_]+)\s*=\s*([^\s,;]+)")


def severity_from_text(text: str | None) -> Severity | None:
    """A severity from any word in SEVERITY_WORDS (case-insensitive), or None when the word is unknown."""
    return SEVERITY_WORDS.get(text.strip().lower()) if text else None


def severity_from_urgency(text: str | None) -> Severity | None:
    try:
        return _URGENCY[Urgency(text.strip().lower())] if text else None
    except ValueError:
        return None


def parse_directive(description: str | None) -> dict[str, str]:
    """`[alertbridge severity=critical route=payments]` -> {"severity": "critical", "route": "payments"}."""
    found = _DIRECTIVE.search(description or "")
    if found is None:
        return {}
    return {key.lower(): value for key, value in _PAIR.findall(found.group(1))}


def route_alert(alert: Alert, config: BridgeConfig) -> Routing:
    matched = [(label, rule) for label, rule in _labelled(config.rules) if rule_matches(rule.match, alert)]
    rules = [rule for _, rule in matched]
    notes = [label for label, _ in matched]
    directive = parse_directive(alert.description) if config.description_directives else {}
    route = (
        _directive_route(directive, config, notes) or _first(r.route for r in rules) or config.default_route
    )
    severity = (
        _directive_severity(directive, notes)
        or severity_from_text(alert.severity_hint)
        or _first(_rule_severity(r) for r in rules)
        or _default_severity(alert, config)
    )
    settings = config.routes[route]
    return Routing(
        route=route,
        severity=severity,
        runbook_url=_first(r.runbook_url for r in rules) or settings.runbook_url,
        dashboard_url=_first(r.dashboard_url for r in rules) or settings.dashboard_url,
        matched_rules=tuple(notes),
    )


def _labelled(rules: list[Rule]) -> Iterable[tuple[str, Rule]]:
    return ((rule.name or f"rules[{index}]", rule) for index, rule in enumerate(rules))


def _first(values: Iterable[_T | None]) -> _T | None:
    return next((value for value in values if value is not None), None)


def _rule_severity(rule: Rule) -> Severity | None:
    if rule.severity is not None:
        return rule.severity
    return _URGENCY[rule.urgency] if rule.urgency is not None else None


def _default_severity(alert: Alert, config: BridgeConfig) -> Severity:
    if alert.state is AlarmState.INSUFFICIENT_DATA:
        return config.insufficient_data_severity
    return config.default_severity


def _directive_route(directive: dict[str, str], config: BridgeConfig, notes: list[str]) -> str | None:
    route = directive.get("route")
    if route is None:
        return None
    known = route in config.routes
    notes.append(f"directive:route={route}" + ("" if known else "(unknown)"))
    return route if known else None


def _directive_severity(directive: dict[str, str], notes: list[str]) -> Severity | None:
    for key, read in (("severity", severity_from_text), ("urgency", severity_from_urgency)):
        if key in directive:
            severity = read(directive[key])
            notes.append(f"directive:{key}={directive[key]}" + ("" if severity else "(unknown)"))
            if severity is not None:
                return severity
    return None


def rule_matches(match: Match, alert: Alert) -> bool:
    """Every field the rule sets must match; a field the alert lacks does not match."""
    # Only the fields set on the match (at construction or since) can hold a pattern: the others keep their
    # default, None. A rule sets one or two of them; reading all of them for every alert was most of routing.
    for field in match.model_fields_set:
        values_of = _VALUES_OF.get(field)  # None for `tags`, checked below
        if values_of is None:
            continue
        pattern = getattr(match, field)
        if pattern is not None and not _any_matches(pattern, values_of(alert)):
            return False
    return all(_any_matches(pattern, [alert.tags.get(key)]) for key, pattern in match.tags.items())


def _own_severity(alert: Alert) -> str | None:
    severity = severity_from_text(alert.severity_hint)
    return severity.value if severity is not None else None


def _topic_names(topic_arn: str | None) -> list[str | None]:
    return [topic_arn, topic_arn.rsplit(":", 1)[-1]] if topic_arn else []


# The values each match field is checked against, read only for the fields a rule sets.
_MATCHED_VALUES: tuple[tuple[str, Callable[[Alert], list[str | None]]], ...] = (
    ("alarm_name", lambda alert: [alert.alarm_name]),
    ("account", lambda alert: [alert.account_id]),
    ("region", lambda alert: [alert.region]),
    ("source", lambda alert: [alert.source.value]),
    ("namespace", lambda alert: [metric.namespace for metric in alert.metrics]),
    ("topic", lambda alert: _topic_names(alert.topic_arn)),
    ("severity", lambda alert: [_own_severity(alert)]),
    ("environment", lambda alert: [alert.environment]),
)
_VALUES_OF = dict(_MATCHED_VALUES)


def _any_matches(pattern: str, values: Iterable[str | None]) -> bool:
    return any(value is not None and pattern_matches(pattern, value) for value in values)


pattern_matches = patterns.pattern_matches


def pages_for(alert: Alert, config: BridgeConfig) -> bool:
    """Whether this notification of a multi-time-series alarm pages (`multi_time_series_pages`): each
    contributor, the alarm-level change, or both. Every other notification pages."""
    mode = config.multi_time_series_pages
    if alert.contributor is not None:
        return mode in (MultiTimeSeriesPages.CONTRIBUTORS, MultiTimeSeriesPages.BOTH)
    if alert.is_alarm_level_multi_time_series:
        return mode in (MultiTimeSeriesPages.ALARM, MultiTimeSeriesPages.BOTH)
    return True
