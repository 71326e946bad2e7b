"""Small, forgiving readers shared by the per-shape parsers."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from alertbridge.logic.dedup import alarm_arn, alarm_key
from alertbridge.models.alert import AlarmState, MetricRef, TriggeringChild
from alertbridge.models.config import BridgeConfig

DEFAULT_MAX_RAW_CHARS: int = BridgeConfig.model_fields["max_raw_message_chars"].default


@dataclass(frozen=True)
class Context:
    """What the surroundings of a message tell about it (SNS envelope, SQS record, arrival time)."""

    received_at: datetime
    topic_arn: str | None = None
    subject: str | None = None
    sent_at: datetime | None = None
    max_raw_chars: int = DEFAULT_MAX_RAW_CHARS

    def arrived_at(self) -> datetime:
        return self.sent_at or self.received_at

    def inside_envelope(
        self, topic_arn: str | None, subject: str | None, sent_at: datetime | None
    ) -> Context:
        return replace(self, topic_arn=topic_arn, subject=subject, sent_at=sent_at or self.sent_at)


def loads(text: str) -> Any:
    """JSON with NaN/Infinity kept as strings, so the body we send stays valid JSON."""
    return json.loads(text, parse_constant=str)


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: object) -> str | None:
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def as_float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def as_int(value: object) -> int | None:
    number = as_float(value)
    return int(number) if number is not None else None


def parse_time(value: object) -> datetime | None:
    """ISO 8601 as CloudWatch (`+0000`), EventBridge (`Z`) or JavaScript writes it; epoch seconds or ms."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def alarm_state(value: object) -> AlarmState:
    """The state as CloudWatch spells it; anything else is not an alarm notification (ValueError)."""
    return AlarmState(str(value).strip().upper())


def optional_state(value: object) -> AlarmState | None:
    try:
        return alarm_state(value) if value else None
    except ValueError:
        return None


def name_from_arn(arn: str) -> str:
    """`arn:aws:cloudwatch:r:a:alarm:Name:with:colons` -> `Name:with:colons`."""
    marker = ":alarm:"
    return arn.split(marker, 1)[1] if marker in arn else arn


def cloudwatch_dedup_key(arn: str | None, account: str | None, region: str | None, name: str) -> str:
    """The alarm ARN whichever way the alarm arrived; rebuilt from its parts when a shape lacks it."""
    if arn:
        return alarm_key(arn)
    return alarm_key(alarm_arn("aws", region or "unknown", account or "unknown", name))


def dimensions(value: object) -> dict[str, str]:
    """SNS gives `[{"name":..,"value":..}]`, EventBridge a map; both become a map."""
    if isinstance(value, dict):
        return {str(key): str(item) for key, item in value.items()}
    result: dict[str, str] = {}
    for item in as_list(value):
        entry = {str(key).lower(): item_value for key, item_value in as_dict(item).items()}
        if "name" in entry:
            result[str(entry["name"])] = str(entry.get("value", ""))
    return result


def lower_keys(value: object) -> dict[str, Any]:
    """CloudWatch spells the same metric keys in PascalCase (SNS) and camelCase (EventBridge)."""
    return {str(key).lower(): item for key, item in as_dict(value).items()}


def metric_query(value: object) -> MetricRef:
    """One entry of `Trigger.Metrics` (SNS) or `configuration.metrics` (EventBridge)."""
    query = lower_keys(value)
    stat = lower_keys(query.get("metricstat"))
    metric = lower_keys(stat.get("metric"))
    return_data = query.get("returndata")
    return MetricRef(
        id=as_str(query.get("id")),
        namespace=as_str(metric.get("namespace")),
        name=as_str(metric.get("metricname") or metric.get("name")),
        stat=as_str(stat.get("stat")),
        unit=as_str(stat.get("unit")),
        period=as_int(stat.get("period") or query.get("period")),
        dimensions=dimensions(metric.get("dimensions")),
        expression=as_str(query.get("expression")),
        label=as_str(query.get("label")),
        return_data=return_data if isinstance(return_data, bool) else None,
    )


def triggering_child(value: object) -> TriggeringChild | None:
    entry = lower_keys(value)
    arn = as_str(entry.get("arn"))
    if arn is None:
        return None
    state = lower_keys(entry.get("state"))
    return TriggeringChild(
        arn=arn,
        name=name_from_arn(arn),
        state=as_str(state.get("value")),
        timestamp=as_str(state.get("timestamp")),
    )


def triggering_children(values: object) -> tuple[TriggeringChild, ...]:
    children = (triggering_child(item) for item in as_list(values))
    return tuple(child for child in children if child is not None)


def reason_data(value: object) -> dict[str, Any] | None:
    """`reasonData` is a JSON string inside the JSON; keep it as an object when it parses."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = loads(value)
    except ValueError:
        return {"text": value}
    return parsed if isinstance(parsed, dict) else {"value": parsed}
