"""The emulator's Events API v2 validation: the checks PagerDuty documents, with error strings in PagerDuty's
style (assumed wording: they follow its "'field' is missing or blank" form).

Stricter than PagerDuty where its prose is vague, so a stand-in fails where production might:
- an over-long summary is rejected here, where PagerDuty may truncate;
- the summary's 1024 limit is counted in UTF-16 code units (assumed: PagerDuty does not name the unit, and
  UTF-16 code units are never fewer than code points, so this is the stricter count).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alertbridge.models.pagerduty import MAX_DEDUP_KEY_CHARS, MAX_SUMMARY_CHARS, ROUTING_KEY_CHARS

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")


def event_errors(body: Any) -> list[str]:
    """Every reason PagerDuty would answer 400 to this /v2/enqueue body (empty: valid)."""
    if not isinstance(body, dict):
        return ["Event object must be a JSON object"]
    errors = routing_key_errors(body.get("routing_key"))
    action = body.get("event_action")
    if _blank(action):
        errors.append("'event_action' is missing or blank")
    elif action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    errors += _dedup_key_errors(body.get("dedup_key"), required=action in ("acknowledge", "resolve"))
    if action == "trigger":
        errors += _payload_errors(body.get("payload"))
    errors += links_errors(body.get("links")) + images_errors(body.get("images"))
    return errors


def change_event_errors(body: Any) -> list[str]:
    """Every reason PagerDuty would answer 400 to this /v2/change/enqueue body."""
    if not isinstance(body, dict):
        return ["Event object must be a JSON object"]
    errors = routing_key_errors(body.get("routing_key"))
    payload = body.get("payload")
    if not isinstance(payload, dict):
        errors.append("'payload' is missing or blank")
    else:
        errors += _summary_errors(payload.get("summary"))
        errors += _timestamp_errors(payload.get("timestamp"))
        errors += _custom_details_errors(payload.get("custom_details"))
    return errors + links_errors(body.get("links")) + images_errors(body.get("images"))


def routing_key_errors(routing_key: Any) -> list[str]:
    if _blank(routing_key):
        return ["'routing_key' is missing or blank"]
    if not isinstance(routing_key, str) or len(routing_key) != ROUTING_KEY_CHARS:
        return [f"Length of 'routing_key' is incorrect (should be {ROUTING_KEY_CHARS} characters)"]
    return []


def _dedup_key_errors(dedup_key: Any, *, required: bool) -> list[str]:
    if dedup_key is None or dedup_key == "":
        return ["'dedup_key' is missing or blank"] if required else []
    if not isinstance(dedup_key, str):
        return ["'dedup_key' must be a string"]
    if len(dedup_key) > MAX_DEDUP_KEY_CHARS:
        return [f"Length of 'dedup_key' is too long (maximum {MAX_DEDUP_KEY_CHARS} characters)"]
    return []


def _payload_errors(payload: Any) -> list[str]:
    if not isinstance(payload, dict) or not payload:
        return ["'payload' is missing or blank"]
    errors = _summary_errors(payload.get("summary"))
    if _blank(payload.get("source")):
        errors.append("'payload.source' is missing or blank")
    elif not isinstance(payload["source"], str):
        errors.append("'payload.source' must be a string")
    severity = payload.get("severity")
    if _blank(severity):
        errors.append("'payload.severity' is missing or blank")
    elif severity not in SEVERITIES:
        errors.append("'payload.severity' is invalid (must be one of critical, error, warning, info)")
    errors += _timestamp_errors(payload.get("timestamp"))
    for field in ("component", "group", "class"):
        if payload.get(field) is not None and not isinstance(payload[field], str):
            errors.append(f"'payload.{field}' must be a string")
    return errors + _custom_details_errors(payload.get("custom_details"))


def _summary_errors(summary: Any) -> list[str]:
    if _blank(summary):
        return ["'payload.summary' is missing or blank"]
    if not isinstance(summary, str):
        return ["'payload.summary' must be a string"]
    if len(summary) + sum(1 for char in summary if ord(char) > 0xFFFF) > MAX_SUMMARY_CHARS:
        return [f"Length of 'payload.summary' is too long (maximum {MAX_SUMMARY_CHARS} characters)"]
    return []


def _timestamp_errors(timestamp: Any) -> list[str]:
    if timestamp is None:
        return []
    if not isinstance(timestamp, str) or not _is_iso8601(timestamp):
        return ["'payload.timestamp' is not a valid ISO 8601 timestamp"]
    return []


def _custom_details_errors(details: Any) -> list[str]:
    # PagerDuty displays a string as is; any other JSON type than object or string is refused here
    if details is None or isinstance(details, dict | str):
        return []
    return ["'payload.custom_details' must be an object"]


def links_errors(links: Any) -> list[str]:
    if links is None:
        return []
    if not isinstance(links, list):
        return ["'links' must be an array"]
    return [
        f"'links[{i}].href' is missing or blank"
        for i, link in enumerate(links)
        if not _has_text(link, "href")
    ]


def images_errors(images: Any) -> list[str]:
    if images is None:
        return []
    if not isinstance(images, list):
        return ["'images' must be an array"]
    errors = []
    for i, image in enumerate(images):
        if not _has_text(image, "src"):
            errors.append(f"'images[{i}].src' is missing or blank")
        elif not image["src"].startswith("https://"):
            errors.append(f"'images[{i}].src' must be served over HTTPS")
    return errors


def _has_text(item: Any, field: str) -> bool:
    return isinstance(item, dict) and not _blank(item.get(field))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _is_iso8601(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True
