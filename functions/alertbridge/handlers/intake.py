"""Intake Lambda: records of the standard ingest queue (fed by SNS topics and EventBridge rules) are parsed,
normalized and forwarded to the FIFO delivery queue, in the message group of their dedup key.

Nothing is sent to PagerDuty here: CloudWatch publishes to standard SNS topics and EventBridge's FIFO
targets take one static message group, so per-alarm order can only be set by a stage of our own. Each
record is processed alone; one that cannot be forwarded fails alone and returns to the queue (partial
batch response); the dead-letter queue catches what keeps failing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from alertbridge.handlers import imports_loaded
from alertbridge.logic.intake import prepare_for_delivery
from alertbridge.logic.parsers import parse_sqs_body
from alertbridge.models.delivery import AlertNotice
from alertbridge.observability import logger, metrics, metrics_counter
from alertbridge.wiring import intake as intake_wiring


def record_handler(record: SQSRecord) -> None:
    now = datetime.now(UTC)
    parts = intake_wiring.intake_parts()
    body = record.body
    sent_at = _sent_at(record) or now  # the transport's time, the same on every redelivery
    try:
        alert = parse_sqs_body(body, received_at=sent_at, max_raw_chars=parts.config.max_raw_message_chars)
        alert = prepare_for_delivery(alert, transport_time=sent_at)
        logger.set_correlation_id(alert.dedup_key)
        parts.delivery.send(AlertNotice(alert=alert, received_at=now))
    except Exception as exc:
        # The record goes back to the queue (and, if it keeps failing, to the DLQ, which has an alarm).
        metrics_counter.add("IntakeFailed")
        logger.warning(
            "record not forwarded; it returns to the queue",
            extra={"error": type(exc).__name__, "detail": str(exc)[:500], "message_id": record.message_id},
        )
        raise
    metrics_counter.add("Forwarded")
    logger.debug("alert forwarded", extra={"alarm_name": alert.alarm_name, "state": alert.state.value})


def _sent_at(record: SQSRecord) -> datetime | None:
    """SQS's `SentTimestamp` (epoch milliseconds)."""
    try:
        return datetime.fromtimestamp(int(record.attributes.sent_timestamp) / 1000, tz=UTC)
    except (KeyError, TypeError, ValueError):
        return None


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # A processor per invocation: it holds the batch's state (local runs play several containers at once).
    # Records as Powertools' SQS data class: the parser's pydantic event models would double the import.
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


imports_loaded()  # last: collection resumes (handlers/__init__.py)
