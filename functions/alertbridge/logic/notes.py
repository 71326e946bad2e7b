"""A note on the PagerDuty incident saying why the bridge resolved it.

The resolve commits the note's text on the key's item (`lifecycle.with_resolve_note`); the note is added
to the incident only after PagerDuty confirms the incident closed: the reconciler's confirmation, decided
by the delivery function (`Pipeline.observe`). So a resolve costs one PagerDuty call, and notes go out at
the reconciler's pace, within its lookup budget (the REST API allows about 960 calls a minute per token).
Only with a REST token; a failure never undoes or delays a resolve.
"""

from __future__ import annotations

from datetime import datetime

from alertbridge.models.state import StateItem

MAX_NOTE_CHARS = 25_000  # PagerDuty's limit on a note's content


def resolve_note(item: StateItem, reason_text: str, at: datetime) -> str:
    """E.g. "Resolved by alertbridge: alarm cpu-high returned to OK at 2025-06-01T12:00:00+00:00: ..."."""
    what = f"alarm {item.alarm_name}" if item.alarm_name else f"alert {item.dedup_key}"
    text = f"Resolved by alertbridge: {what} at {at.isoformat(timespec='seconds')}: {reason_text}"
    return text[:MAX_NOTE_CHARS]
