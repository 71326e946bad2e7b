"""Plain text tables for the operator commands."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

MAX_CELL = 120


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    lines = [_line(headers, widths), _line(["-" * w for w in widths], widths)]
    lines += [_line(row, widths) for row in cells]
    return "\n".join(lines)


def _line(values: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(value.ljust(width) for value, width in zip(values, widths, strict=True)).rstrip()


def _cell(value: object) -> str:
    text = "" if value is None else str(value).replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def age(since: datetime | None, now: datetime) -> str:
    """`3d4h`, `2h05m`, `7m`, `40s`."""
    if since is None:
        return ""
    seconds = max(0, int((now - since).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m" if minutes else f"{secs}s"


def parse_duration(text: str) -> timedelta:
    """`90m`, `2h`, `1h30m`, `1d`, `45s`: a positive duration."""
    import re

    parts = re.fullmatch(r"\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*", text or "")
    if parts is None or not any(parts.groups()):
        raise ValueError(f"invalid duration {text!r}: use e.g. 30m, 2h, 1h30m or 1d")
    days, hours, minutes, seconds = (int(group or 0) for group in parts.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if duration <= timedelta(0):
        raise ValueError("the duration must be positive")
    return duration
