"""An SNS message that already is an Events API v2 body: forwarded as given (routing key replaced)."""

from __future__ import annotations

import json
from typing import Any

from alertbridge.logic.dedup import bounded_key, content_key
from alertbridge.logic.parsers._common import Context, as_dict, as_str, parse_time
from alertbridge.models.alert import AlarmKind, AlarmState, Alert, AlertSource

_ACTIONS = {"trigger", "acknowledge", "resolve"}


def matches(doc: dict[str, Any]) -> bool:
    """A trigger needs its payload object; acknowledge/resolve need only their dedup key."""
    action = doc.get("event_action")
    if action == "trigger":
        return isinstance(doc.get("payload"), dict)
    return action in _ACTIONS and isinstance(doc.get("dedup_key"), str)


def parse(doc: dict[str, Any], ctx: Context) -> Alert:
    payload = as_dict(doc.get("payload"))
    summary = as_str(payload.get("summary"))
    key = as_str(doc.get("dedup_key"))
    dedup = bounded_key(key) if key else content_key(json.dumps(doc, sort_keys=True, default=str))
    return Alert(
        source=AlertSource.PAGERDUTY_EVENT,
        dedup_key=dedup,
        alarm_name=summary or dedup,
        state=AlarmState.OK if doc["event_action"] == "resolve" else AlarmState.ALARM,
        state_changed_at=parse_time(payload.get("timestamp")) or ctx.arrived_at(),
        kind=AlarmKind.UNKNOWN,
        reason=summary,
        severity_hint=as_str(payload.get("severity")),
        topic_arn=ctx.topic_arn,
        passthrough=doc,
    )
