"""Plain text tables for the operator commands.

Cells are never cut, except in the columns a caller names in `shorten` (free text such as an alarm's
summary): a dedup key, a link or a check's "what to fix" must stay whole so it can be pasted. Columns are
aligned by display width, so CJK text (two terminal cells per character) lines up.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

MAX_CELL = 120


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], *, shorten: Collection[str] = ()
) -> str:
    cells = [
        [_cell(value, header in shorten) for value, header in zip(row, headers, strict=True)] for row in rows
    ]
    widths = [
        max([display_width(h), *(display_width(row[i]) for row in cells)]) for i, h in enumerate(headers)
    ]
    lines = [_line(headers, widths), _line(["-" * w for w in widths], widths)]
    lines += [_line(row, widths) for row in cells]
    return "\n".join(lines)


def display_width(text: str) -> int:
    """Terminal cells: wide and fullwidth characters take two, combining marks none."""
    return sum(_char_width(ch) for ch in text)


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _line(values: Sequence[str], widths: Sequence[int]) -> str:
    padded = (
        value + " " * (width - display_width(value)) for value, width in zip(values, widths, strict=True)
    )
    return "  ".join(padded).rstrip()


def _cell(value: object, shorten: bool) -> str:
    text = "" if value is None else " ".join(str(value).splitlines())
    if not shorten or display_width(text) <= MAX_CELL:
        return text
    kept, width = [], 0
    for ch in text:
        width += _char_width(ch)
        if width > MAX_CELL - 1:
            break
        kept.append(ch)
    return "".join(kept) + "…"


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
    try:
        duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ValueError(f"duration {text!r} is too long") from None
    if duration <= timedelta(0):
        raise ValueError("the duration must be positive")
    return duration
