"""A note on the PagerDuty incident saying why the bridge resolved it (issue 5 item 2).

Only with a REST token (an `IncidentsApi`); a failure is counted and logged by the caller, never raised:
the resolve itself has already gone out and must not be undone or retried because of a note.
"""

from __future__ import annotations

from datetime import datetime

from alertbridge.models.state import StateItem
from alertbridge.ports import Counter, IncidentsApi

MAX_NOTE_CHARS = 25_000  # PagerDuty's limit on a note's content


def resolve_note(item: StateItem, reason_text: str, at: datetime) -> str:
    """E.g. "Resolved by alertbridge: alarm cpu-high returned to OK at 2025-06-01T12:00:00+00:00: ..."."""
    what = f"alarm {item.alarm_name}" if item.alarm_name else f"alert {item.dedup_key}"
    text = f"Resolved by alertbridge: {what} at {at.isoformat(timespec='seconds')}: {reason_text}"
    return text[:MAX_NOTE_CHARS]


class ResolveNotes:
    """`after_resolve(item, reason_text)` once a resolve for `item` was sent."""

    def __init__(self, incidents: IncidentsApi | None, counter: Counter) -> None:
        self.incidents = incidents
        self.counter = counter
        self.last_error: str | None = None  # for the caller's log line (never carries a secret)

    def after_resolve(self, item: StateItem, reason_text: str, *, at: datetime | None = None) -> bool:
        """True when the note was added; False when there is no token, no incident, or the call failed."""
        if self.incidents is None:
            return False
        try:
            return self._add(item, resolve_note(item, reason_text, at or item.last_seen))
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            self.counter.add("NoteFailed")
            return False

    def _add(self, item: StateItem, text: str) -> bool:
        assert self.incidents is not None
        incident_id = item.incident_id
        if not incident_id:
            incident = self.incidents.find_by_dedup_key(item.dedup_key, created_since=item.opened_at)
            incident_id = incident.id if incident is not None else None
        if not incident_id:
            self.counter.add("NoteNoIncident")
            return False
        self.incidents.add_note(incident_id, text)
        self.counter.add("NoteAdded")
        return True
