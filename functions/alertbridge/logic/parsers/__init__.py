"""Every inbound shape becomes one normalized `Alert`. One module per shape plus this dispatch.

Shapes are detected from their content, never assumed from where they came from:

- SNS envelope (SQS raw delivery off, or a Lambda SNS record): `Type`/`Message`/`TopicArn`; the message
  inside is parsed again, with the topic ARN, subject and SNS timestamp as context.
- CloudWatch alarm JSON (`AlarmName` + `NewStateValue`): `cloudwatch`.
- EventBridge "CloudWatch Alarm State Change" and the Lambda alarm action (`alarmData`): `alarm_detail`.
- An Events API v2 body (`event_action` + `payload`/`dedup_key`): `passthrough`.
- An application's AlertMessage (`alarmName`, models/generic.py): `generic`.
- Anything else (other JSON, plain text, a malformed variant of the above): `raw`, which still pages.

`parse_sqs_body` never raises for bad input; `parse_lambda_event` raises `InvalidInput` only when the
top-level object is not a Lambda event shape at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from alertbridge.errors import InvalidInput
from alertbridge.logic.parsers import alarm_detail, cloudwatch, generic, passthrough, raw
from alertbridge.logic.parsers._common import (
    DEFAULT_MAX_RAW_CHARS,
    Context,
    as_dict,
    as_str,
    loads,
    parse_time,
)
from alertbridge.models.alert import Alert

__all__ = ["parse_lambda_event", "parse_sqs_body"]

_Parser = Callable[[dict[str, Any], Context], Alert]
_SHAPES: tuple[tuple[Callable[[dict[str, Any]], bool], _Parser], ...] = (
    (cloudwatch.matches, cloudwatch.parse),
    (alarm_detail.is_eventbridge, alarm_detail.parse_eventbridge),
    (alarm_detail.is_lambda_action, alarm_detail.parse_lambda_action),
    (passthrough.matches, passthrough.parse),
    (generic.matches, generic.parse),
)
_MALFORMED = (ValueError, TypeError, KeyError, AttributeError, ValidationError, RecursionError)


def parse_sqs_body(body: str, *, received_at: datetime, max_raw_chars: int = DEFAULT_MAX_RAW_CHARS) -> Alert:
    """One SQS record body of the ingest queue (SNS raw delivery on or off, or an EventBridge target)."""
    return _from_text(body, Context(received_at=received_at, max_raw_chars=max_raw_chars))


def parse_lambda_event(
    event: object, *, received_at: datetime, max_raw_chars: int = DEFAULT_MAX_RAW_CHARS
) -> list[Alert]:
    """A whole Lambda event of any shape the bridge accepts, in record order."""
    ctx = Context(received_at=received_at, max_raw_chars=max_raw_chars)
    if not isinstance(event, dict):
        raise InvalidInput(f"not a Lambda event: a JSON {type(event).__name__}, expected an object")
    records = event.get("Records")
    if isinstance(records, list):
        return [_from_record(record, index, ctx) for index, record in enumerate(records)]
    if not _is_known_document(event):
        raise InvalidInput("not a Lambda event: no Records, alarm, EventBridge or alert message shape found")
    return [_from_document(event, ctx)]


def _from_record(record: object, index: int, ctx: Context) -> Alert:
    entry = as_dict(record)
    if entry.get("eventSource") == "aws:sqs" and isinstance(entry.get("body"), str):
        sent = parse_time(_number(as_dict(entry.get("attributes")).get("SentTimestamp")))
        return _from_text(
            entry["body"], Context(received_at=sent or ctx.received_at, max_raw_chars=ctx.max_raw_chars)
        )
    if entry.get("EventSource") == "aws:sns" and isinstance(entry.get("Sns"), dict):
        return _from_document(entry["Sns"], ctx)
    raise InvalidInput(f"not a Lambda event: Records[{index}] is neither an SQS nor an SNS record")


def _number(value: object) -> float | None:
    try:
        return float(value) if isinstance(value, str | int | float) else None
    except ValueError:
        return None


def _is_known_document(doc: dict[str, Any]) -> bool:
    return _is_sns_envelope(doc) or "detail-type" in doc or any(match(doc) for match, _ in _SHAPES)


def _from_text(text: str, ctx: Context) -> Alert:
    try:
        doc = loads(text)
    except (ValueError, RecursionError):
        return raw.parse(text, ctx)
    return _from_document(doc, ctx, text)


def _from_document(doc: object, ctx: Context, text: str | None = None) -> Alert:
    try:
        return _dispatch(doc, ctx)
    except _MALFORMED:
        return raw.parse(text if text is not None else _dump(doc), ctx)


def _dispatch(doc: object, ctx: Context) -> Alert:
    if not isinstance(doc, dict):
        return raw.parse(_dump(doc), ctx)
    if _is_sns_envelope(doc):
        return _from_envelope(doc, ctx)
    parser = next((parse for match, parse in _SHAPES if match(doc)), None)
    return parser(doc, ctx) if parser else raw.parse(_dump(doc), ctx)


def _is_sns_envelope(doc: dict[str, Any]) -> bool:
    """SQS gives `SigningCertURL`, Lambda SNS records `SigningCertUrl`; both carry Type/Message/TopicArn."""
    return isinstance(doc.get("Message"), str) and "TopicArn" in doc and "Type" in doc


def _from_envelope(doc: dict[str, Any], ctx: Context) -> Alert:
    inner = ctx.inside_envelope(
        as_str(doc.get("TopicArn")), as_str(doc.get("Subject")), parse_time(doc.get("Timestamp"))
    )
    kind = doc.get("Type")
    if kind != "Notification":  # e.g. a SubscriptionConfirmation: a human must act on it
        subject = inner.subject or f"SNS {kind} for topic {inner.topic_arn}"
        return raw.parse(_dump(doc), replace(inner, subject=subject))
    return _from_text(doc["Message"], inner)


def _dump(doc: object) -> str:
    return json.dumps(doc, ensure_ascii=False, default=str)
