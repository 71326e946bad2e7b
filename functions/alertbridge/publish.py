"""Raise and clear alerts from application code through the bridge's SNS topic.

The message is the generic `AlertMessage` the ingest Lambda parses; its dedup id is the PagerDuty dedup
key, so `resolve_alert(topic, same_id)` closes the incident `publish_alert` opened and
`acknowledge_alert(topic, same_id)` acknowledges it.

Errors: `InvalidInput` for an argument refused before anything is sent (a malformed topic ARN, a blank
dedup id, an alert the bridge would misread); `PublishFailed` when SNS does not take the message (no
such topic, not allowed to publish, not allowed to use the topic's KMS key, AWS unreachable).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from alertbridge.errors import InvalidInput, PublishFailed
from alertbridge.models.generic import AlertMessage

MAX_SNS_MESSAGE_BYTES = 256 * 1024
TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_NOT_FOUND = ("NotFound", "NotFoundException", "ResourceNotFoundException")
_KMS = ("KMSAccessDenied", "KMSAccessDeniedException", "KMSDisabled", "KMSDisabledException", "KMSNotFound",
        "KMSNotFoundException", "KMSInvalidState", "KMSInvalidStateException", "KMSOptInRequired")  # fmt: skip
_DENIED = ("AuthorizationError", "AuthorizationErrorException", "AccessDenied", "AccessDeniedException")


def publish_alert(topic_arn: str, alert: AlertMessage | dict[str, Any], *, sns_client: Any = None) -> str:
    """Publish an alert to the bridge's topic; returns the SNS message id. Validates before sending: a
    severity the bridge would not understand raises here, where the bridge itself would page at its default."""
    _check_topic_arn(topic_arn)
    message = alert if isinstance(alert, AlertMessage) else _validated(alert)
    _check_severity(message.severity)
    if message.timestamp is None:
        message = message.model_copy(update={"timestamp": datetime.now(UTC)})
    return _publish(topic_arn, message, sns_client)


def resolve_alert(
    topic_arn: str, dedup_id: str, *, alarm_name: str | None = None, sns_client: Any = None
) -> str:
    """Publish the OK for an alert raised earlier with the same dedup id; returns the SNS message id."""
    _check_topic_arn(topic_arn)
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
    _check_topic_arn(topic_arn)
    _check_dedup_id(dedup_id)
    body = json.dumps({"event_action": "acknowledge", "dedup_key": dedup_id}, ensure_ascii=False)
    return _send(topic_arn, body, _sns_subject(f"ACK: {dedup_id}"), sns_client)


def _check_topic_arn(topic_arn: object) -> None:
    if not isinstance(topic_arn, str) or not TOPIC_ARN.match(topic_arn):
        raise InvalidInput(
            f"{topic_arn!r} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME): use the stack's "
            "AlarmTopicArn output"
        )


def _check_dedup_id(dedup_id: object) -> None:
    """The same check for every call that finds an incident by its id (publish's dedupId aside)."""
    if not isinstance(dedup_id, str):
        raise InvalidInput(f"dedup_id must be a string, not {type(dedup_id).__name__}")
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
    subject = f"ALERT: {message.alarm_name}" if message.state != "OK" else f"OK: {message.alarm_name}"
    return _send(topic_arn, body, _sns_subject(subject), sns_client)


def _send(topic_arn: str, body: str, subject: str, sns_client: Any) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = sns_client or _default_sns_client(topic_arn)
        response = client.publish(TopicArn=topic_arn, Message=body, Subject=subject)
    except ClientError as error:
        raise _publish_failed(topic_arn, error) from None
    except BotoCoreError as error:  # no credentials, no route to SNS, ...
        raise PublishFailed(f"cannot publish to {topic_arn}: {error}", type(error).__name__) from None
    return str(response["MessageId"])


def _publish_failed(topic_arn: str, error: Any) -> PublishFailed:
    details = error.response.get("Error", {})
    code, message = str(details.get("Code", "")), str(details.get("Message", ""))
    if code in _NOT_FOUND:
        return PublishFailed(
            f"topic {topic_arn} does not exist (or is in another region or account): check the ARN", code
        )
    if code in _KMS:
        return PublishFailed(
            f"the topic {topic_arn} is encrypted and the caller may not use the bridge's KMS key ({code}): "
            "grant kms:GenerateDataKey and kms:Decrypt on that key to the publishing role", code
        )  # fmt: skip
    if code in _DENIED:
        return PublishFailed(
            f"the caller may not publish to {topic_arn}: grant sns:Publish on it ({message})", code
        )
    return PublishFailed(f"SNS refused to publish to {topic_arn}: {code}: {message}", code)


def _sns_subject(text: str) -> str:
    """SNS subjects: ASCII printable, no newlines, at most 100 characters."""
    printable = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return printable[:100]


def _default_sns_client(topic_arn: str) -> Any:
    import boto3

    region = topic_arn.split(":")[3] if topic_arn.count(":") >= 5 else None
    return boto3.client("sns", region_name=region)
