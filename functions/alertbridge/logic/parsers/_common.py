"""Small, forgiving readers shared by the per-shape parsers."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alertbridge.logic.dedup import alarm_arn, alarm_key, contributor_key
from alertbridge.models.alert import AlarmState, Contributor, MetricRef, MuteDetail, TriggeringChild
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
        # Built directly: `dataclasses.replace` costs several times a constructor call, once per message.
        return Context(self.received_at, topic_arn, subject, sent_at or self.sent_at, self.max_raw_chars)


# One decoder for every message: `json.loads` with `parse_constant` would build a new one per call.
_DECODER = json.JSONDecoder(parse_constant=str)


def loads(text: str) -> Any:
    """JSON with NaN/Infinity kept as strings, so the body we send stays valid JSON."""
    return _DECODER.decode(text)


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: object) -> str | None:
    if isinstance(value, str):  # blank when only whitespace (what `strip` removes), tested without a copy
        return value if value and not value.isspace() else None
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


def cloudwatch_dedup_key(
    arn: str | None,
    account: str | None,
    region: str | None,
    name: str,
    found: Contributor | None = None,
) -> str:
    """The alarm ARN whichever way the alarm arrived; rebuilt from its parts when a shape lacks it. A
    contributor's key adds its id (`logic/dedup.contributor_key`)."""
    full = arn or alarm_arn("aws", region or "unknown", account or "unknown", name)
    return contributor_key(full, found.id) if found is not None else alarm_key(full)


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
    entry = as_dict(value)
    try:
        return dict(zip(map(str.lower, entry), entry.values(), strict=True))
    except TypeError:  # a key that is not a string (JSON never has one)
        return {str(key).lower(): item for key, item in entry.items()}


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


# --- CloudWatch since 2025: contributors, mute rules, tags in the payload ---------------------------------
#
# Documented (EventBridge): `detail.alarmContributor{id, attributes}`, `detail.muteDetail{mutedByArn,
# muteWindowStart, muteWindowEnd}`, `detail.alarmTags` (a key/value object) and `alarmTagsStatus`; SNS
# messages carry `AlarmTagsStatus`. AWS shows no SNS or Lambda example of a contributor notification nor the
# SNS field holding the tags: keys are matched without regard to case, and the plausible spellings below
# (PascalCase as in SNS, camelCase as in EventBridge) are accepted.

TAGS_RETRIEVED = "SUCCESS"
_CONTRIBUTOR_KEYS = ("alarmcontributor", "contributor")
_CONTRIBUTOR_ID_KEYS = ("id", "contributorid")
_CONTRIBUTOR_ATTRIBUTE_KEYS = ("attributes", "contributorattributes")
_TAG_KEYS = ("alarmtags", "tags")
_TIME_SERIES_REASON = re.compile(r"\b\d+ out of \d+ time series evaluated to\b", re.IGNORECASE)
_TIME_SERIES_MARK = "evaluated to"
_INSIGHTS_QUERY = re.compile(r"^\s*SELECT\b.*\bGROUP\s+BY\b", re.IGNORECASE | re.DOTALL)


def contributor(*entries: dict[str, Any]) -> Contributor | None:
    """The contributor a notification is about: an `alarmContributor` object (`id`, `attributes`), or
    top-level `contributorId` and `contributorAttributes` (any case), in the first of `entries` (documents
    with their keys lowered once by the parser: `lower_keys`) naming one."""
    for entry in entries:
        nested = next(
            (lower_keys(entry[k]) for k in _CONTRIBUTOR_KEYS if isinstance(entry.get(k), dict)), None
        )
        if nested is not None:
            ident = next((as_str(nested.get(k)) for k in _CONTRIBUTOR_ID_KEYS if as_str(nested.get(k))), None)
            raw = next((nested[k] for k in _CONTRIBUTOR_ATTRIBUTE_KEYS if nested.get(k) is not None), None)
        else:
            ident, raw = as_str(entry.get("contributorid")), entry.get("contributorattributes")
        if ident is not None:
            return Contributor(id=ident, attributes=dimensions(raw))
    return None


def mute_detail(*entries: dict[str, Any]) -> MuteDetail | None:
    """`muteDetail` (any case) of the first of `entries` (keys lowered) that has one with a rule ARN."""
    for entry in entries:
        detail = lower_keys(entry.get("mutedetail"))
        arn = as_str(detail.get("mutedbyarn"))
        if arn is not None:
            return MuteDetail(
                muted_by_arn=arn,
                window_start=parse_time(detail.get("mutewindowstart")),
                window_end=parse_time(detail.get("mutewindowend")),
            )
    return None


def alarm_tags(*entries: dict[str, Any]) -> tuple[dict[str, str], bool]:
    """(tags, retrieved): the alarm's tags as the notification carries them (`entries`: documents with their
    keys lowered). Retrieved when a status says `SUCCESS`, or when tags are present without any status;
    `aws:` keys never propagate and are dropped."""
    status: str | None = None
    found: dict[str, str] | None = None
    for entry in entries:
        status = status or as_str(entry.get("alarmtagsstatus"))
        if found is None:
            found = next((_tag_map(entry[k]) for k in _TAG_KEYS if entry.get(k) is not None), None)
    if found is None:
        return {}, False  # nothing to use (whatever the status says): ListTagsForResource is the fallback
    retrieved = status.strip().upper() == TAGS_RETRIEVED if status else bool(found)
    if not retrieved:
        return {}, False
    return {key: value for key, value in found.items() if not key.startswith("aws:")}, True


def _tag_map(value: object) -> dict[str, str] | None:
    """A key/value object, or a list of `{Key, Value}` (any case) as ListTagsForResource answers."""
    if isinstance(value, dict):
        return {str(key): str(item) for key, item in value.items() if isinstance(item, str | int | float)}
    if isinstance(value, list):
        tags: dict[str, str] = {}
        for item in value:
            entry = lower_keys(item)
            if isinstance(entry.get("key"), str):
                tags[entry["key"]] = str(entry.get("value", ""))
        return tags
    return None


def is_multi_time_series(metrics: tuple[MetricRef, ...], reason: str | None) -> bool:
    """A Metrics Insights query alarm over several time series (`SELECT ... GROUP BY ...`), or an alarm-level
    reason that counts time series ("6 out of 6 time series evaluated to ALARM")."""
    if any(metric.expression and _INSIGHTS_QUERY.search(metric.expression) for metric in metrics):
        return True
    # The search is slow on a long reason; every text it can match holds "evaluated to" in lower case (no
    # character outside ASCII matches those letters without regard to case), and most reasons do not.
    return bool(reason and _TIME_SERIES_MARK in reason.lower() and _TIME_SERIES_REASON.search(reason))
