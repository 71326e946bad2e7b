"""An application's generic alert (`AlertMessage`, camelCase; models/generic.py)."""

from __future__ import annotations

from typing import Any

from alertbridge.logic.dedup import generic_key
from alertbridge.logic.parsers._common import Context
from alertbridge.models.alert import AlarmKind, AlarmState, Alert, AlertSource, MetricRef
from alertbridge.models.generic import AlertMessage


def matches(doc: dict[str, Any]) -> bool:
    return isinstance(doc.get("alarmName"), str) and "detail" not in doc and "alarmData" not in doc


def parse(doc: dict[str, Any], ctx: Context) -> Alert:
    message = AlertMessage.model_validate(doc)
    metrics = (MetricRef(name=message.metric_name),) if message.metric_name else ()
    return Alert(
        source=AlertSource.GENERIC,
        dedup_key=dedup_key(message),
        alarm_name=message.alarm_name,
        state=AlarmState(message.state),
        state_changed_at=message.timestamp or ctx.arrived_at(),
        kind=AlarmKind.GENERIC,
        description=message.description,
        metrics=metrics,
        threshold=message.threshold,
        topic_arn=ctx.topic_arn,
        tags=message.tags,
        severity_hint=message.severity,
        metric_value=message.current_value,
        environment=message.environment,
        recommendations=tuple(message.recommendations),
        links=tuple(message.links),
        auto_resolve_after_seconds=message.auto_resolve_after_seconds,
        component=message.component,
        ignored_fields=message.ignored_fields,
    )


def dedup_key(message: AlertMessage) -> str:
    """The idempotency id is the key; without one, the environment and the alarm name."""
    if message.dedup_id:
        return generic_key(message.dedup_id)
    identity = f"{message.environment}/{message.alarm_name}" if message.environment else message.alarm_name
    return generic_key(identity)
