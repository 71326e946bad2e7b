"""Events API v2 bodies from normalized alerts.

State to action (`event_action_for`):

- ALARM -> trigger; OK -> resolve.
- INSUFFICIENT_DATA follows `config.insufficient_data`: `ignore` (default) -> None, nothing is sent (the
  alarm lost its data, which is not yet a problem to page on); `trigger` -> a trigger with severity
  `config.insufficient_data_severity` unless a rule says otherwise; `resolve` -> a resolve (treat missing
  data as recovery).
- An Events v2 passthrough keeps its own `event_action` (trigger, acknowledge or resolve).

Bodies (`build_event`): `routing_key` holds the route NAME; the pipeline substitutes the real key at send
time. Resolve and acknowledge bodies carry only routing_key, event_action and dedup_key (PagerDuty ignores
the payload there). Trigger bodies are rich (summary, source, timestamp, component/group/class, structured
custom_details, console links) and kept under 512 KB by trimming custom_details first, the raw message
last. `minimal_event` is the safe fallback body sent once when PagerDuty answers 400 to the full one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from alertbridge.logic.dedup import account_from_arn, partition_from_arn, region_from_arn
from alertbridge.logic.graph import GraphSigning, image_for
from alertbridge.logic.intake import clean_text
from alertbridge.logic.policy import Routing, route_alert
from alertbridge.logic.recommendations import recommendations_for
from alertbridge.models.alert import AlarmKind, AlarmState, Alert, AlertSource, MetricRef
from alertbridge.models.config import BridgeConfig, InsufficientDataPolicy
from alertbridge.models.pagerduty import (
    MAX_REQUEST_BYTES,
    MAX_SUMMARY_CHARS,
    EventAction,
    EventV2,
    Link,
    Payload,
)
from alertbridge.models.state import StateItem

ELLIPSIS = "…"
MAX_FIELD_CHARS = 1024  # source/component/group/class: PagerDuty states no limit; keep them readable
MAX_LINKS = 20
# Headroom for the real routing key replacing the route name and for serializer differences.
BODY_BUDGET_BYTES = MAX_REQUEST_BYTES - 4 * 1024
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_INSUFFICIENT: dict[InsufficientDataPolicy, EventAction | None] = {
    InsufficientDataPolicy.IGNORE: None,
    InsufficientDataPolicy.TRIGGER: EventAction.TRIGGER,
    InsufficientDataPolicy.RESOLVE: EventAction.RESOLVE,
}
# Dimensions that name the affected resource best, in order of preference.
_PRIMARY_DIMENSIONS = (
    "FunctionName",
    "QueueName",
    "TableName",
    "DBInstanceIdentifier",
    "DBClusterIdentifier",
    "ServiceName",
    "ApiName",
    "ApiId",
    "LoadBalancer",
    "TargetGroup",
    "InstanceId",
    "AutoScalingGroupName",
    "StateMachineArn",
    "TopicName",
    "ClusterName",
)
_CLOUDWATCH_SOURCES = frozenset(
    {AlertSource.CLOUDWATCH_SNS.value, AlertSource.EVENTBRIDGE.value, AlertSource.LAMBDA_ACTION.value}
)
_CLOUDWATCH_ALERT_SOURCES = frozenset(
    {AlertSource.CLOUDWATCH_SNS, AlertSource.EVENTBRIDGE, AlertSource.LAMBDA_ACTION}
)
_CONSOLE_STATS = {"SUM": "Sum", "AVERAGE": "Average", "MAXIMUM": "Maximum", "MINIMUM": "Minimum"}


# --- state -> action -------------------------------------------------------------------------------


def event_action_for(alert: Alert, config: BridgeConfig) -> EventAction | None:
    if alert.passthrough is not None:
        return EventAction(alert.passthrough["event_action"])
    if alert.state is AlarmState.ALARM:
        return EventAction.TRIGGER
    if alert.state is AlarmState.OK:
        return EventAction.RESOLVE
    return _INSUFFICIENT[config.insufficient_data]


# --- bodies ----------------------------------------------------------------------------------------


def build_event(
    alert: Alert,
    routing: Routing,
    action: EventAction,
    config: BridgeConfig,
    graph: GraphSigning | None = None,  # metric graph images (logic/graph.py); None: no image
) -> EventV2:
    if action is not EventAction.TRIGGER:
        return EventV2(routing_key=routing.route, event_action=action, dedup_key=alert.dedup_key)
    if alert.passthrough is not None:
        forwarded = _passthrough_trigger(alert, routing, config)
        if forwarded is not None:
            return forwarded
    return _fit(_trigger_body(alert, routing, config, graph))


def minimal_event(alert: Alert, routing: Routing, config: BridgeConfig) -> EventV2:
    payload = Payload(
        summary=truncate(clean_text(summary_for(alert)), MAX_SUMMARY_CHARS),
        source=clean_text(source_for(alert, config)),
        severity=routing.severity,
    )
    return EventV2(
        routing_key=routing.route,
        event_action=EventAction.TRIGGER,
        dedup_key=alert.dedup_key,
        payload=payload,
    )


def _trigger_body(
    alert: Alert, routing: Routing, config: BridgeConfig, graph: GraphSigning | None = None
) -> dict[str, Any]:
    facts = _facts(alert)
    console = _alarm_console_url(alert, facts.host)
    payload = {
        "summary": truncate(summary_for(alert), MAX_SUMMARY_CHARS),
        "source": truncate(source_for(alert, config), MAX_FIELD_CHARS),
        "severity": routing.severity.value,
        "timestamp": facts.changed_at,
        "component": _bounded(component_for(alert, facts.metric)),
        "group": _bounded(group_for(alert, facts.metric)),
        "class": _bounded(class_for(alert, facts.metric)),
        "custom_details": details_for(alert, routing, config),
    }
    return {
        "routing_key": routing.route,
        "event_action": EventAction.TRIGGER.value,
        "dedup_key": alert.dedup_key,
        "payload": {key: value for key, value in payload.items() if value is not None},
        "links": [
            {"href": href, "text": text} for href, text in _links(alert, routing, config, console, facts)
        ],
        "images": graph_images(alert, routing, config, graph),
        "client": config.client,
        "client_url": console or config.client_url,
    }


@dataclass(frozen=True, slots=True)
class _Facts:
    """What several fields and links of one trigger body read, worked out once per body."""

    own: MetricRef | None  # contributor_metric
    metric: MetricRef | None  # primary_metric
    host: str | None  # the console of the alarm's region and partition (console_host)
    changed_at: str  # iso_timestamp of the state change


def _facts(alert: Alert) -> _Facts:
    own = contributor_metric(alert)
    return _Facts(
        own=own,
        metric=_primary(alert, own),
        host=console_host(alert.region, alert.alarm_arn),
        changed_at=iso_timestamp(alert.state_changed_at),
    )


def graph_images(
    alert: Alert, routing: Routing, config: BridgeConfig, graph: GraphSigning | None
) -> list[dict[str, Any]]:
    """The metric graph image of a CloudWatch metric alarm: a signed URL on the bridge, drawn only when a
    responder opens the incident (logic/graph.py). Empty without a base URL or signing key."""
    image = image_for(alert, routing.route, config, graph)
    return [image.model_dump(exclude_none=True)] if image is not None else []


def _passthrough_trigger(alert: Alert, routing: Routing, config: BridgeConfig) -> EventV2 | None:
    """Forward a ready-made body as given, fixing only what would make PagerDuty answer 400."""
    body = dict(alert.passthrough or {})
    payload = dict(body.get("payload") or {}) if isinstance(body.get("payload"), dict) else {}
    summary = payload.get("summary") if isinstance(payload.get("summary"), str) else None
    source = payload.get("source") if isinstance(payload.get("source"), str) else None
    payload["summary"] = truncate(
        summary if summary and summary.strip() else summary_for(alert), MAX_SUMMARY_CHARS
    )
    payload["source"] = source if source and source.strip() else source_for(alert, config)
    payload["severity"] = routing.severity.value
    body.update(routing_key=routing.route, dedup_key=alert.dedup_key, event_action="trigger", payload=payload)
    try:
        return _fit(body)
    except ValidationError:
        return None


# --- payload fields ---------------------------------------------------------------------------------


def truncate(text: str, limit: int) -> str:
    """At most `limit` UTF-16 code units, cut on a code point boundary and marked with an ellipsis.

    PagerDuty does not say in which unit it counts its limits; UTF-16 code units are never fewer than code
    points, so a text that fits by this count fits by either."""
    if len(text) <= limit // 2:
        return text  # a text of at most limit/2 code points is at most `limit` units
    units = utf16_units(text)
    if units <= limit:
        return text
    budget = limit - utf16_units(ELLIPSIS)
    return text[: _cut(text, budget)] + ELLIPSIS


def _cut(text: str, budget: int) -> int:
    """The length of the longest prefix of `text` of at most `budget` UTF-16 code units (`text` has more).

    Only characters outside the Basic Multilingual Plane take two units, so the prefix is found by visiting
    those alone: before the k-th of them (0-based, at `index`) the text has taken `index + k` units."""
    astral = 0
    for found in _ASTRAL.finditer(text):
        index = found.start()
        if budget - astral <= index:
            break  # the budget runs out among one-unit characters before this one
        if index + astral + 2 > budget:
            return index  # this character's two units do not fit
        astral += 1
    return budget - astral


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def utf16_units(text: str) -> int:
    """Length in UTF-16 code units: characters outside the Basic Multilingual Plane count twice (a lone
    surrogate, which `surrogatepass` encodes as itself, once)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def summary_for(alert: Alert) -> str:
    """What a responder reads first: state, alarm, what happened, where."""
    if alert.source in {AlertSource.RAW, AlertSource.PAGERDUTY_EVENT}:
        return _one_line(alert.reason or alert.alarm_name)
    if alert.source is AlertSource.GENERIC:
        return _one_line(_generic_summary(alert))
    where = f" ({alert.region})" if alert.region else ""
    who = f" {contributor_label(alert)}" if alert.contributor is not None else ""
    return _one_line(f"[{alert.state.value}] {alert.alarm_name}{who}: {_what_happened(alert)}{where}")


def contributor_label(alert: Alert) -> str:
    """A contributor as responders read it: its GROUP BY dimensions (`TableName=orders`), else its id."""
    found = alert.contributor
    if found is None:
        return ""
    shown = ", ".join(f"{name}={value}" for name, value in found.attributes.items())
    return f"[{shown or 'contributor ' + found.id}]"


def _what_happened(alert: Alert) -> str:
    children = [child.name for child in alert.triggering_children]
    if alert.kind is AlarmKind.COMPOSITE and children:
        return f"{', '.join(children)} in {alert.triggering_children[0].state or 'ALARM'}"
    if alert.reason:
        return alert.reason
    metric = primary_metric(alert)
    if metric is not None and alert.threshold is not None:
        return f"{metric.name} {alert.comparison or 'vs'} {_number(alert.threshold)}"
    return alert.kind.value


def _generic_summary(alert: Alert) -> str:
    label = alert.severity_hint.upper() if alert.severity_hint else alert.state.value
    if alert.state is not AlarmState.ALARM:
        label = alert.state.value
    text = f"[{label}] {alert.alarm_name}"
    if alert.description:
        text += f": {alert.description}"
    metric = primary_metric(alert)
    if metric is not None and alert.metric_value is not None:
        text += f" — {metric.name} = {_number(alert.metric_value)}"
        if alert.threshold is not None:
            text += f" (threshold {_number(alert.threshold)})"
    return text + (f" [{alert.environment}]" if alert.environment else "")


def source_for(alert: Alert, config: BridgeConfig) -> str:
    """Never blank: account/region for AWS alarms, environment[/component] for apps, else the topic."""
    if alert.account_id or alert.region:
        return account_region(alert.account_id, alert.region)
    if alert.environment:
        return "/".join(part for part in (alert.environment, alert.component) if part)
    if alert.topic_arn:
        return alert.topic_arn
    return config.client or "alertbridge"


def account_region(account: str | None, region: str | None) -> str:
    """PagerDuty's `source` for an AWS alarm: `account/region`, whichever parts are known."""
    return "/".join(part for part in (account, region) if part)


def component_for(alert: Alert, metric: MetricRef | None) -> str | None:
    """`metric`: the alert's primary_metric (as for group_for and class_for)."""
    if alert.component:
        return alert.component
    if metric is None:
        return alert.triggering_children[0].name if alert.triggering_children else None
    value = primary_dimension(metric)
    return value[1] if value else metric.name


def group_for(alert: Alert, metric: MetricRef | None) -> str | None:
    if metric is not None and metric.namespace:
        return metric.namespace
    if alert.environment:
        return alert.environment
    if alert.kind is AlarmKind.COMPOSITE:
        return "CloudWatch composite alarms"
    return alert.topic_arn.rsplit(":", 1)[-1] if alert.topic_arn else None


def class_for(alert: Alert, metric: MetricRef | None) -> str | None:
    if metric is not None and metric.name:
        return metric.name
    return None if alert.kind is AlarmKind.UNKNOWN else alert.kind.value


def primary_metric(alert: Alert) -> MetricRef | None:
    """The metric a responder looks at: a contributor's own time series, else the first real metric
    (math alarms also list expressions)."""
    return _primary(alert, contributor_metric(alert))


def _primary(alert: Alert, own: MetricRef | None) -> MetricRef | None:
    """primary_metric, given the alert's contributor_metric."""
    if own is not None:
        return own
    named = [metric for metric in alert.metrics if metric.name]
    with_namespace = [metric for metric in named if metric.namespace]
    chosen = with_namespace or named
    return chosen[0] if chosen else None


_INSIGHTS_SELECT = re.compile(
    r"^\s*SELECT\s+(?P<stat>[A-Za-z]+)\s*\(\s*(?P<q>\"?)(?P<metric>[^\"()]+?)(?P=q)\s*\)\s+FROM\s+"
    r"(?:SCHEMA\s*\(\s*)?(?P<nq>\"?)(?P<namespace>[^\",()\s]+)(?P=nq)",
    re.IGNORECASE,
)
_INSIGHTS_STATS = {"AVG": "Average", "SUM": "Sum", "MAX": "Maximum", "MIN": "Minimum", "COUNT": "SampleCount"}


def contributor_metric(alert: Alert) -> MetricRef | None:
    """A contributor's own time series: the metric and namespace of the alarm's Metrics Insights query
    (`SELECT AVG(M) FROM "NS" GROUP BY ...`, or `FROM SCHEMA("NS", ...)`) with the contributor's
    attributes as its dimensions. None when the query cannot be read."""
    if alert.contributor is None:
        return None
    for metric in alert.metrics:
        found = _INSIGHTS_SELECT.match(metric.expression or "")
        if found is not None:
            return MetricRef(
                namespace=found["namespace"],
                name=found["metric"].strip(),
                stat=_INSIGHTS_STATS.get(found["stat"].upper(), "Average"),
                period=metric.period,
                dimensions=dict(alert.contributor.attributes),
            )
    return None


def primary_dimension(metric: MetricRef) -> tuple[str, str] | None:
    for name in _PRIMARY_DIMENSIONS:
        if name in metric.dimensions:
            return name, metric.dimensions[name]
    return next(iter(metric.dimensions.items()), None)


def iso_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- custom details ---------------------------------------------------------------------------------


def details_for(alert: Alert, routing: Routing, config: BridgeConfig) -> dict[str, Any]:
    details: dict[str, Any] = {
        "alarm_name": alert.alarm_name,
        "state_change": _state_change(alert),
        "reason": alert.reason,
        "reason_data": alert.reason_data,
        "description": alert.description,
        "current_value": alert.metric_value,
        "threshold": alert.threshold,
        "comparison": alert.comparison,
        "threshold_metric_id": alert.threshold_metric_id,
        "metrics": [_metric_details(metric) for metric in alert.metrics],
        "evaluation": alert.evaluation.model_dump(exclude_none=True) if alert.evaluation else None,
        "alarm_rule": alert.alarm_rule,
        "triggering_children": [child.model_dump(exclude_none=True) for child in alert.triggering_children],
        "contributor": alert.contributor.model_dump() if alert.contributor is not None else None,
        "muted_by": _mute_details(alert),
        "owner": alert.tags.get(config.tag_links.owner),
        "recommendations": recommendations_for(alert, config),
        "account": alert.account_id,
        "region": alert.region,
        "environment": alert.environment,
        "reported_severity": alert.severity_hint,
        "auto_resolve_after_seconds": alert.auto_resolve_after_seconds,
        "tags": alert.tags,
        "alarm_arn": alert.alarm_arn,
        "topic_arn": alert.topic_arn,
        "alarm_kind": alert.kind.value,
        "arrived_via": alert.source.value,
        "route": routing.route,
        "matched_rules": list(routing.matched_rules),
        "subject": alert.subject,
        "raw_message": alert.raw_message,
        "ignored_fields": list(alert.ignored_fields),
    }
    # Leaves out None, "", [] and {}. Only a falsy value is checked further: `value not in (None, [], {}, "")`
    # said the same at four slow comparisons per field.
    return {
        key: value
        for key, value in details.items()
        if value or (value is not None and not isinstance(value, str | list | dict))
    }


def _mute_details(alert: Alert) -> dict[str, Any] | None:
    if alert.mute is None:
        return None
    mute = alert.mute
    window = {"start": mute.window_start, "end": mute.window_end}
    return {
        "mute_rule_arn": mute.muted_by_arn,
        **{key: iso_timestamp(value) for key, value in window.items() if value is not None},
    }


def _state_change(alert: Alert) -> str:
    if alert.previous_state is None:
        return alert.state.value
    return f"{alert.previous_state.value} -> {alert.state.value}"


def _metric_details(metric: MetricRef) -> dict[str, Any]:
    """The metric's fields without None and defaults, as `model_dump(exclude_none=True,
    exclude_defaults=True)` gives them, read off the frozen model (its `vars` are its fields, in order)
    without a serializer pass."""
    fields = vars(metric).items()
    return {name: value for name, value in fields if value is not None and value != _METRIC_DEFAULTS[name]}


_METRIC_DEFAULTS = {
    name: field.get_default(call_default_factory=True) for name, field in MetricRef.model_fields.items()
}


# --- links ------------------------------------------------------------------------------------------


def links_for(alert: Alert, routing: Routing, config: BridgeConfig | None = None) -> list[Link]:
    """Every link a responder needs: the alarm, its graph, each triggering child of a composite, the
    resource's logs for the evaluation window, the runbook and dashboard (route, rule or alarm tags), and
    each URL of the AlarmDescription, named after the text that labels it."""
    facts = _facts(alert)
    chosen = _links(alert, routing, config or BridgeConfig(), _alarm_console_url(alert, facts.host), facts)
    return [Link(href=href, text=text) for href, text in chosen]


def _links(
    alert: Alert, routing: Routing, config: BridgeConfig, console: str | None, facts: _Facts
) -> list[tuple[str, str]]:
    """(href, text) of `links_for`, first of each href kept, at most MAX_LINKS; plain pairs, because the
    trigger body is validated whole once (`_fit`)."""
    names = config.tag_links
    candidates = [
        (console, f"CloudWatch alarm {alert.alarm_name}"),
        (_metric_graph_url(alert, facts), _graph_text(alert)),
        *_child_links(alert),
        (_logs_url(alert, alert.tags.get(names.log_group), facts), "CloudWatch Logs Insights"),
        (routing.runbook_url, "Runbook"),
        (routing.dashboard_url, "Dashboard"),
        (_http(alert.tags.get(names.runbook_url)), "Runbook"),
        (_http(alert.tags.get(names.dashboard_url)), "Dashboard"),
        *((href, text) for text, href in description_links(alert.description)),
    ]
    unique: dict[str, str] = {}
    for href, text in candidates:
        if href and href not in unique:
            unique[href] = truncate(text, 256)
    for link in alert.links:
        unique.setdefault(link.href, link.text)
    return list(unique.items())[:MAX_LINKS]


def _graph_text(alert: Alert) -> str:
    if alert.contributor is not None:
        return f"CloudWatch metric graph {contributor_label(alert)}"
    return "CloudWatch metric graph"


def _http(value: str | None) -> str | None:
    return value if value and _URL.fullmatch(value) else None


# A URL in free text; trailing sentence punctuation is not part of it.
_URL = re.compile(r"https?://[^\s<>\"'`\]\[)(]+")
_MARKDOWN_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((https?://[^\s)]+)\)")
_DASHES = "-\u2013\u2014"  # hyphen, en dash, em dash
_LABEL_SPLIT = re.compile(rf"(?:[.;|\u2022]\s|\n|\s[{_DASHES}]\s|,\s)")
_LABEL_TAIL = f" \t:=>([{{{_DASHES}"
_TRAILING = ".,;:!?"
_MAX_LABEL_WORDS = 6


def description_links(description: str | None) -> list[tuple[str, str]]:
    """(label, url) for each http(s) URL of an AlarmDescription, in order. The label is the text that names
    it: `[Dashboard](https://...)`, or what precedes it on its line back to a sentence break
    ("Dashboard: https://..." -> "Dashboard"); a bare URL is labelled by its host."""
    text = description or ""
    if "://" not in text:
        return []  # both patterns need a scheme's `://`; most descriptions have no URL
    found: list[tuple[int, str, str]] = []
    marked = [
        (match.start(), match.end(), match[1].strip(), match[2]) for match in _MARKDOWN_LINK.finditer(text)
    ]
    found += [(start, label, url) for start, _, label, url in marked]
    previous_end = 0
    for match in _URL.finditer(text):
        inside = next((end for start, end, _, _ in marked if start <= match.start() < end), None)
        if inside is not None:
            previous_end = inside
            continue
        url = match[0].rstrip(_TRAILING)
        before = text[previous_end : match.start()]
        previous_end = match.end()
        found.append((match.start(), _label(before) or _host(url), url))
    return [(label, url) for _, label, url in sorted(found)]


def _label(before: str) -> str:
    segment = _LABEL_SPLIT.split(before.rstrip(_LABEL_TAIL))[-1] if before else ""
    words = segment.strip(_LABEL_TAIL).split()
    return " ".join(words[-_MAX_LABEL_WORDS:])


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def _child_links(alert: Alert) -> list[tuple[str, str]]:
    """A composite alarm's triggering children, each linked to its own alarm page (in its own region)."""
    links: list[tuple[str, str]] = []
    for child in alert.triggering_children:
        region = region_from_arn(child.arn)
        host = console_host(region, child.arn)
        if host is None:
            continue
        state = f" ({child.state})" if child.state else ""
        links.append((alarm_deeplink(host, region, child.name), f"Triggering alarm {child.name}{state}"))
    return links


def alarm_console_url(alert: Alert) -> str | None:
    """The console deep link of the alarm; None when the region code is unknown."""
    return _alarm_console_url(alert, console_host(alert.region, alert.alarm_arn))


def _alarm_console_url(alert: Alert, host: str | None) -> str | None:
    if host is None or alert.source in (AlertSource.GENERIC, AlertSource.RAW, AlertSource.PAGERDUTY_EVENT):
        return None
    return alarm_deeplink(host, alert.region, alert.alarm_name)


def alarm_deeplink(host: str, region: str | None, alarm_name: str) -> str:
    """The CloudWatch console's deep link to one alarm (the one home of its format)."""
    return f"{host}/cloudwatch/deeplink.js?region={region}#alarmsV2:alarm/{quote(alarm_name, safe='')}"


def metric_console_url(alert: Alert) -> str | None:
    """A metrics graph around the state change: a contributor's own time series; for metric math (and
    Metrics Insights query) alarms, the alarm's own expressions with the metrics they read; else the
    alarm's named metrics."""
    return _metric_graph_url(alert, _facts(alert))


def _metric_graph_url(alert: Alert, facts: _Facts) -> str | None:
    host, own = facts.host, facts.own
    metrics = [own] if own is not None else [m for m in alert.metrics if m.namespace and m.name]
    expressions = [] if own is not None else [m for m in alert.metrics if m.expression]
    if host is None or not (metrics or expressions):
        return None
    start = iso_timestamp(alert.state_changed_at - timedelta(hours=3))
    end = iso_timestamp(alert.state_changed_at + timedelta(hours=1))
    graph = "".join(_jsurl_expression(metric) for metric in expressions)
    graph += "".join(_jsurl_metric(metric, with_options=bool(expressions)) for metric in metrics)
    first = metrics[0] if metrics else expressions[0]
    stat = _CONSOLE_STATS.get((first.stat or "").upper(), first.stat or "Average")
    query = (
        f"~(metrics~({graph})~region~'{alert.region}~stat~'{_jsurl(stat)}"
        f"~period~{first.period or 300}~start~'{_jsurl(start)}~end~'{_jsurl(end)})"
    )
    return f"{host}/cloudwatch/home?region={alert.region}#metricsV2:graph={query}"


# The log group a resource writes to by default, per metric namespace (AWS documentation):
# Lambda `/aws/lambda/<function>`; ECS Container Insights `/aws/ecs/containerinsights/<cluster>/performance`;
# App Runner `/aws/apprunner/<service>/<service id>/application`; API Gateway REST execution logs
# `API-Gateway-Execution-Logs_<rest api id>/<stage>` (only when the metric names the API by id); Step
# Functions has no fixed log group: `/aws/vendedlogs/states/<name>-Logs` is the name its console proposes.
_LOG_GROUPS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("AWS/Lambda", ("FunctionName",), "/aws/lambda/{FunctionName}"),
    ("AWS/ECS", ("ClusterName",), "/aws/ecs/containerinsights/{ClusterName}/performance"),
    ("ECS/ContainerInsights", ("ClusterName",), "/aws/ecs/containerinsights/{ClusterName}/performance"),
    ("AWS/AppRunner", ("ServiceName", "ServiceID"), "/aws/apprunner/{ServiceName}/{ServiceID}/application"),
    ("AWS/ApiGateway", ("ApiId", "Stage"), "API-Gateway-Execution-Logs_{ApiId}/{Stage}"),
    ("AWS/States", ("StateMachineArn",), "/aws/vendedlogs/states/{StateMachineName}-Logs"),
)
_LOGS_QUERY = "fields @timestamp, @message, @logStream\n| sort @timestamp desc\n| limit 200"
_DEFAULT_PERIOD_SECONDS = 300


def log_group_for(metric: MetricRef | None) -> str | None:
    """The default log group of the resource the alarm watches (Lambda, API Gateway, ECS, App Runner, Step
    Functions), from its primary metric's namespace and dimensions."""
    if metric is None or not metric.namespace:
        return None
    dims = dict(metric.dimensions)
    if "StateMachineArn" in dims:
        dims["StateMachineName"] = dims["StateMachineArn"].rsplit(":", 1)[-1]
    for namespace, needed, pattern in _LOG_GROUPS:
        if metric.namespace == namespace and all(dims.get(name) for name in needed):
            return pattern.format(**dims)
    return None


def logs_insights_url(alert: Alert, log_group: str | None = None) -> str | None:
    """CloudWatch Logs Insights over the resource's log group (or `log_group`, e.g. from an alarm tag) for
    the alarm's evaluation window (period x evaluation periods up to the state change)."""
    return _logs_url(alert, log_group, _facts(alert))


def _logs_url(alert: Alert, log_group: str | None, facts: _Facts) -> str | None:
    host, metric = facts.host, facts.metric
    if host is None or alert.source not in _CLOUDWATCH_ALERT_SOURCES:
        return None
    group = log_group or log_group_for(metric)
    if group is None:
        return None
    evaluation = alert.evaluation
    period = (evaluation.period if evaluation else None) or (metric.period if metric else None)
    periods = (evaluation.evaluation_periods if evaluation else None) or 1
    span = timedelta(seconds=(period or _DEFAULT_PERIOD_SECONDS) * periods)
    detail = (
        f"~(end~'{_insights(facts.changed_at)}"
        f"~start~'{_insights(iso_timestamp(alert.state_changed_at - span))}"
        f"~timeType~'ABSOLUTE~tz~'UTC~editorString~'{_ENCODED_LOGS_QUERY}"
        f"~source~(~'{_insights(group)}))"
    )
    encoded = _insights_marks(detail)
    return f"{host}/cloudwatch/home?region={alert.region}#logsV2:logs-insights$3FqueryDetail$3D{encoded}"


# The console's Logs Insights URL state: primitives percent-encoded with `*` for `%`, the structure's
# `~ ( ) '` then escaped twice with `$` for `%`.
_INSIGHTS_MARKS = (("~", "$257E"), ("(", "$2528"), (")", "$2529"), ("'", "$2527"))


def _insights_marks(text: str) -> str:
    """The structure's marks escaped. One `replace` per mark: `str.translate` with a table of four entries
    is a slow lookup per character of the whole URL state; no replacement holds a mark, so the order of
    the replacements does not matter."""
    for mark, escaped in _INSIGHTS_MARKS:
        text = text.replace(mark, escaped)
    return text


def _insights(text: str) -> str:
    return text.translate(_INSIGHTS_TABLE)


def _insights_escape(code_point: int) -> str:
    return "".join(f"*{byte:02x}" for byte in chr(code_point).encode("utf-8", "replace"))


class _InsightsTable(dict[int, str]):
    """`str.translate` table for `_insights`: ASCII filled in, other code points computed on first use (and
    kept, up to a bound)."""

    def __missing__(self, code_point: int) -> str:
        escaped = _insights_escape(code_point)
        if len(self) < 4096:
            self[code_point] = escaped
        return escaped


_INSIGHTS_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
_INSIGHTS_TABLE = _InsightsTable(
    {code: chr(code) if chr(code) in _INSIGHTS_SAFE else _insights_escape(code) for code in range(128)}
)
_ENCODED_LOGS_QUERY = _insights(_LOGS_QUERY)  # the same query in every URL


def console_host(region: str | None, arn: str | None) -> str | None:
    """The console of the ARN's partition: `aws`, `aws-cn` or `aws-us-gov`."""
    if not region or not _REGION.match(region):
        return None
    partition = partition_from_arn(arn)
    if partition == "aws-cn":
        return f"https://{region}.console.amazonaws.cn"
    if partition == "aws-us-gov":
        return "https://console.amazonaws-us-gov.com"
    return f"https://{region}.console.aws.amazon.com"


def _jsurl_expression(metric: MetricRef) -> str:
    """A metric math or Metrics Insights expression as a graph entry: `{expression, label, id}`."""
    fields = [("expression", metric.expression or "")]
    if metric.label:
        fields.append(("label", metric.label))
    if metric.id:
        fields.append(("id", metric.id))
    body = "~".join(f"{name}~'{_jsurl(value)}" for name, value in fields)
    return f"~(~({body}))"


def _jsurl_metric(metric: MetricRef, *, with_options: bool = False) -> str:
    """A metric as a graph entry; beside expressions it keeps its id (the expressions name it) and is shown
    only when the alarm returns its data."""
    parts = [metric.namespace or "", metric.name or ""]
    for name, value in metric.dimensions.items():
        parts += [name, value]
    entry = "".join(f"~'{_jsurl(part)}" for part in parts)
    if with_options and metric.id:
        visible = "true" if metric.return_data else "false"
        entry += f"~(id~'{_jsurl(metric.id)}~visible~{visible})"
    return "~(" + entry + ")"


def _jsurl(text: str) -> str:
    """The console's URL state encoding (jsurl): `*XX` for a byte-range code unit, `**XXXX` above.

    ASCII letters, digits and `_-.` stay, `$` becomes `!`; every other UTF-16 code unit is escaped (a
    character outside the Basic Multilingual Plane as its two surrogates, a lone surrogate as itself)."""
    return text.translate(_JSURL_TABLE)


def _jsurl_escape(code_point: int) -> str:
    if code_point > 0xFFFF:  # two UTF-16 code units: the surrogate pair
        offset = code_point - 0x10000
        return f"**{0xD800 + (offset >> 10):04x}**{0xDC00 + (offset & 0x3FF):04x}"
    return f"*{code_point:02x}" if code_point < 0x100 else f"**{code_point:04x}"


class _JsurlTable(dict[int, str]):
    """`str.translate` table: ASCII filled in, other code points computed on first use (and kept, up to a
    bound: a few thousand distinct characters cover every script an alarm name is written in)."""

    def __missing__(self, code_point: int) -> str:
        escaped = _jsurl_escape(code_point)
        if len(self) < 4096:
            self[code_point] = escaped
        return escaped


_JSURL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
_JSURL_TABLE = _JsurlTable(
    {code: chr(code) if chr(code) in _JSURL_SAFE else _jsurl_escape(code) for code in range(128)}
)
_JSURL_TABLE[ord("$")] = "!"


# --- size and hygiene -------------------------------------------------------------------------------


def _fit(body: dict[str, Any]) -> EventV2:
    """Validate, and keep the body under 512 KB: trim custom_details largest first, the raw message last.

    The body is serialized once (as `_size` does); only a body with a surrogate escape in it, or one
    json.dumps refuses, goes through `_clean` (which replaces lone surrogates) and is measured again."""
    try:
        text = json.dumps(body, default=str)
    except (TypeError, ValueError, RecursionError):  # e.g. a tuple key: `_clean` makes it a string
        text = None
    if text is None or (_SURROGATE_ESCAPE in text and _has_lone_surrogate(text)):
        body = _clean(body)
        size = _size(body)
    else:
        size = len(text)  # ASCII-escaped JSON: one byte per character
    if size <= BODY_BUDGET_BYTES:
        return EventV2.model_validate(body)
    details = body.get("payload", {}).get("custom_details")
    if isinstance(details, dict):
        body["payload"]["custom_details"] = _trimmed(body, details)
    if _size(body) > BODY_BUDGET_BYTES:
        body["links"] = body.get("links", [])[:3]
        body.pop("images", None)
    return EventV2.model_validate(body)


# In ASCII-escaped JSON a UTF-16 surrogate is written `\ud800` to `\udfff`: a pair stands for a character
# outside the Basic Multilingual Plane; a lone one is what `_clean` replaces. An escaped backslash (`\\`) is
# consumed first so its second half is never read as the start of an escape.
_SURROGATE_ESCAPE = "\\ud"
_PAIRS_AND_BACKSLASHES = re.compile(r"\\\\|\\ud[89ab][0-9a-f]{2}\\ud[c-f][0-9a-f]{2}")
_SURROGATE = re.compile(r"\\ud[89a-f]")


def _has_lone_surrogate(text: str) -> bool:
    """Whether json.dumps output (ASCII-escaped) holds a surrogate that is not half of a pair."""
    return _SURROGATE.search(_PAIRS_AND_BACKSLASHES.sub(" ", text)) is not None


def _trimmed(body: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
    details = dict(details)
    body["payload"]["custom_details"] = details
    order = sorted((key for key in details if key != "raw_message"), key=lambda k: -_size(details[k]))
    for key in [*order, "raw_message"]:
        if _size(body) <= BODY_BUDGET_BYTES:
            break
        if key in details:
            details[key] = f"[trimmed: {_size(details[key])} bytes did not fit the 512 KB limit]"
    if _size(body) > BODY_BUDGET_BYTES:
        return {"trimmed": "custom details did not fit the 512 KB limit"}
    return details


def _size(value: object) -> int:
    """An upper bound of the serialized size: ASCII-escaped JSON is never smaller than UTF-8 JSON."""
    return len(json.dumps(value, default=str).encode("utf-8"))


def _clean(value: Any) -> Any:
    """Strings with lone surrogates (from odd JSON escapes) cannot be sent as UTF-8: replace them."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(key)): _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "CloudWatch alarm"


def _bounded(text: str | None) -> str | None:
    return truncate(text, MAX_FIELD_CHARS) if text else None


def _number(value: float) -> str:
    return f"{value:g}"


# --- bodies rebuilt from a state item ------------------------------------------------------------
# The reconciler's corrective triggers are decided long after the notification is gone: what the state
# item kept is all there is.


def trigger_from_item(
    item: StateItem,
    config: BridgeConfig,
    *,
    note: str,
    graph: GraphSigning | None = None,
    held_back_by: str | None = None,
) -> EventV2:
    """A trigger for the item's episode when its notification is gone (the reconciler asked for it), built
    by the one body builder from the notification the item kept (`StateItem.trigger_alert`), else from
    the item's own facts; with the episode's route, severity and summary, and `note` saying why it comes
    now; `held_back_by`, the maintenance window that held it back (default: the item's). `routing_key`
    holds the route name, as `build_event` does; the caller substitutes the key."""
    alert = stored_alert(item)
    routing = route_alert(alert, config).model_copy(
        update={"route": item.route, "severity": item.severity or config.default_severity}
    )
    if alert.passthrough is not None:
        return build_event(alert, routing, EventAction.TRIGGER, config, graph)
    body = _trigger_body(alert, routing, config, graph)
    payload = body["payload"]
    if item.summary:
        payload["summary"] = truncate(item.summary, MAX_SUMMARY_CHARS)
    window = held_back_by or item.maintenance_window_id
    extra = {"held_back_by_maintenance_window": window, "note": note}
    payload["custom_details"] = {
        **payload.get("custom_details", {}),
        **{key: value for key, value in extra.items() if value is not None},
    }
    return _fit(body)


def stored_alert(item: StateItem) -> Alert:
    """The notification the item kept for its episode; for an item without one (written by an earlier
    version, or too large to keep), an alert made of the item's own facts."""
    if item.trigger_alert is not None:
        try:
            return Alert.model_validate_json(item.trigger_alert)
        except ValidationError:
            pass  # an alert model this version cannot read: the item's facts still make a valid trigger
    source = item.source if item.source in _ALERT_SOURCES else AlertSource.RAW.value
    return Alert(
        source=AlertSource(source),
        dedup_key=item.dedup_key,
        alarm_name=item.alarm_name or item.dedup_key,
        state=AlarmState.ALARM,
        state_changed_at=item.state_changed_at,
        alarm_arn=item.alarm_arn,
        account_id=item.account_id or account_from_arn(item.alarm_arn),
        region=region_from_arn(item.alarm_arn),
    )


_ALERT_SOURCES = frozenset(source.value for source in AlertSource)


def console_url(item: StateItem) -> str | None:
    """The alarm's console page, in the console of the alarm ARN's partition."""
    region = region_from_arn(item.alarm_arn)
    host = console_host(region, item.alarm_arn)
    if host is None or item.source not in _CLOUDWATCH_SOURCES or not item.alarm_name:
        return None
    return alarm_deeplink(host, region, item.alarm_name)


def resolve_body(item: StateItem) -> EventV2:
    return EventV2(routing_key=item.route, event_action=EventAction.RESOLVE, dedup_key=item.dedup_key)
