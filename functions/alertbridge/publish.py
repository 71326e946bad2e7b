"""Raise and clear alerts from application code through the bridge's SNS topic (seeds 002 and 003).

The message is the generic `AlertMessage` the ingest Lambda parses; its dedup id is the PagerDuty dedup
key, so `resolve_alert(topic, same_id)` closes the incident `publish_alert` opened and
`acknowledge_alert(topic, same_id)` acknowledges it (seed 002's acknowledgeIncident).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from alertbridge.errors import InvalidInput
from alertbridge.models.generic import AlertMessage

MAX_SNS_MESSAGE_BYTES = 256 * 1024


def publish_alert(topic_arn: str, alert: AlertMessage | dict[str, Any], *, sns_client: Any = None) -> str:
    """Publish an alert to the bridge's topic; returns the SNS message id. Validates before sending: a
    severity the bridge would not understand raises here, where the bridge itself would page at its default."""
    message = alert if isinstance(alert, AlertMessage) else _validated(alert)
    _check_severity(message.severity)
    if message.timestamp is None:
        message = message.model_copy(update={"timestamp": datetime.now(UTC)})
    return _publish(topic_arn, message, sns_client)


def resolve_alert(
    topic_arn: str, dedup_id: str, *, alarm_name: str | None = None, sns_client: Any = None
) -> str:
    """Publish the OK for an alert raised earlier with the same dedup id; returns the SNS message id."""
    _check_dedup_id(dedup_id)
    message = AlertMessage.model_validate(
        {
            "alarmName": alarm_name or dedup_id,
            "dedupId": dedup_id,
            "state": "OK",
            "timestamp": datetime.now(UTC),
        }
    )
    return _publish(topic_arn, message, sns_client)


def acknowledge_alert(topic_arn: str, dedup_id: str, *, sns_client: Any = None) -> str:
    """Acknowledge, through the bridge, the incident an alert with this dedup id opened; returns the SNS
    message id. The bridge sends PagerDuty's acknowledge with the routing key that opened the incident."""
    _check_dedup_id(dedup_id)
    body = json.dumps({"event_action": "acknowledge", "dedup_key": dedup_id}, ensure_ascii=False)
    client = sns_client or _default_sns_client(topic_arn)
    response = client.publish(TopicArn=topic_arn, Message=body, Subject=_sns_subject(f"ACK: {dedup_id}"))
    return str(response["MessageId"])


def _check_dedup_id(dedup_id: str) -> None:
    if not dedup_id.strip():
        raise InvalidInput("dedup_id must not be blank: it is how the bridge finds the incident")


def _check_severity(severity: str | None) -> None:
    from alertbridge.logic.policy import SEVERITY_WORDS, severity_from_text

    if severity is not None and severity_from_text(severity) is None:
        known = ", ".join(sorted({word.upper() for word in SEVERITY_WORDS}))
        raise InvalidInput(f"unknown severity {severity!r}: use one of {known}")


def _validated(document: dict[str, Any]) -> AlertMessage:
    from pydantic import ValidationError

    try:
        return AlertMessage.model_validate(document)
    except ValidationError as exc:
        raise InvalidInput(f"not a valid alert message: {exc}") from exc


def _publish(topic_arn: str, message: AlertMessage, sns_client: Any) -> str:
    body = json.dumps(message.to_json_dict(), ensure_ascii=False)
    if len(body.encode("utf-8")) > MAX_SNS_MESSAGE_BYTES:
        raise InvalidInput(
            f"alert message is {len(body.encode())} bytes; SNS accepts at most {MAX_SNS_MESSAGE_BYTES}"
        )
    client = sns_client or _default_sns_client(topic_arn)
    subject = f"ALERT: {message.alarm_name}" if message.state != "OK" else f"OK: {message.alarm_name}"
    response = client.publish(TopicArn=topic_arn, Message=body, Subject=_sns_subject(subject))
    return str(response["MessageId"])


def _sns_subject(text: str) -> str:
    """SNS subjects: ASCII printable, no newlines, at most 100 characters."""
    printable = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return printable[:100]


def _default_sns_client(topic_arn: str) -> Any:
    import boto3

    region = topic_arn.split(":")[3] if topic_arn.count(":") >= 5 else None
    return boto3.client("sns", region_name=region)
