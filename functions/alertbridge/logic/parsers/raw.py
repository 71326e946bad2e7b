"""Anything unrecognized: still a page, summarized from the SNS Subject or the first line."""

from __future__ import annotations

from alertbridge.logic.dedup import content_key
from alertbridge.logic.parsers._common import Context
from alertbridge.models.alert import AlarmKind, AlarmState, Alert, AlertSource

_NAME_CHARS = 255
_HEADLINE_CHARS = 1024


def parse(text: str, ctx: Context) -> Alert:
    title = headline(text, ctx.subject)
    return Alert(
        source=AlertSource.RAW,
        dedup_key=content_key(ctx.topic_arn or "", ctx.subject or "", text),
        alarm_name=title[:_NAME_CHARS],
        state=AlarmState.ALARM,
        state_changed_at=ctx.arrived_at(),
        kind=AlarmKind.UNKNOWN,
        topic_arn=ctx.topic_arn,
        raw_message=bounded(text, ctx.max_raw_chars),
        subject=ctx.subject,
        reason=title,
    )


def headline(text: str, subject: str | None) -> str:
    if subject and subject.strip():
        return " ".join(subject.split())[:_HEADLINE_CHARS]
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first[:_HEADLINE_CHARS] or f"Unrecognized alert message ({len(text)} characters)"


def bounded(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters not shown]"
