"""What the intake function does to a parsed alert before it enters the delivery lane (pure).

- **Time.** A state change is ordered by its own time. A producer whose clock runs ahead of the transport
  (SNS publish time, or SQS's send time) would make its alert newer than anything that follows it, so a
  time later than the transport's is clamped to it. A message with no time of its own already carries
  the transport's time (the parsers use it), never the time of processing: a redelivery is exactly as
  old as the first delivery. A time without an offset is read as UTC (assumed: nothing else can be known).
- **Text.** Strings that cannot be encoded as UTF-8 (lone surrogates) are replaced, so no write or log
  line can fail on them; the dedup key was already made collision-free from the original identity.
- **Size.** Every string is capped, so that neither the delivery queue message nor the state item can
  exceed its service's limit (SQS messages, DynamoDB's 400 KB items), whatever a producer sent.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from alertbridge.models.alert import Alert

MAX_NAME_CHARS = 1024  # an alarm name (CloudWatch allows 255; application alerts may send anything)
MAX_TEXT_CHARS = 8192  # any other string field
MAX_LIST_ITEMS = 100
MAX_DEPTH = 12  # deeper structures (only ever seen in hostile input) are kept as bounded text
TRUNCATION_MARK = "…"
_SURROGATES = re.compile("[\ud800-\udfff]")
_UNBOUNDED = frozenset({"dedup_key", "raw_message"})  # bounded by the parsers (and the configuration)


def prepare_for_delivery(alert: Alert, *, transport_time: datetime) -> Alert:
    """The alert as it goes on the delivery queue: its time bounded by the transport's, its text clean
    and bounded."""
    values = alert.model_dump()
    cleaned = {
        name: value if name in _UNBOUNDED else _bounded(value, MAX_TEXT_CHARS, 0)
        for name, value in values.items()
    }
    cleaned["alarm_name"] = _bounded(values["alarm_name"], MAX_NAME_CHARS, 0)
    if isinstance(cleaned["raw_message"], str):
        cleaned["raw_message"] = clean_text(cleaned["raw_message"])
    cleaned["state_changed_at"] = min(alert.state_changed_at, transport_time)
    return Alert.model_validate(cleaned)


def clean_text(text: str) -> str:
    """`text` with anything UTF-8 cannot encode (lone surrogates) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text)
    return text


def _bounded(value: Any, limit: int, depth: int) -> Any:
    if isinstance(value, str):
        text = clean_text(value)
        return text if len(text) <= limit else text[: limit - 1] + TRUNCATION_MARK
    if isinstance(value, dict | list | tuple) and depth >= MAX_DEPTH:
        return _bounded(repr(value)[: limit * 2], limit, depth)
    if isinstance(value, dict):
        items = list(value.items())[:MAX_LIST_ITEMS]
        return {_bounded(str(key), limit, depth): _bounded(item, limit, depth + 1) for key, item in items}
    if isinstance(value, list | tuple):
        return [_bounded(item, limit, depth + 1) for item in list(value)[:MAX_LIST_ITEMS]]
    return value
