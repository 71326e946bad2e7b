"""Ingest Lambda: SQS records (fed by SNS and EventBridge) become PagerDuty events.

Each record is processed alone: one that cannot be delivered within its budget fails alone and goes back
to the queue (partial batch response); the dead-letter queue catches what keeps failing.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from alertbridge import wiring
from alertbridge.logic.parsers import parse_sqs_body
from alertbridge.models.settings import settings
from alertbridge.observability import logger, metrics

# Leave this much of the invocation for the partial batch response and the metrics flush.
SAFETY_MARGIN_SECONDS = 2.0

processor = BatchProcessor(event_type=EventType.SQS, model=SqsRecordModel)


class _MetricsCounter:
    def add(self, name: str, value: int = 1) -> None:
        metrics.add_metric(name=name, unit="Count", value=value)


metrics_counter = _MetricsCounter()
_invocation_deadline: float | None = None


def record_handler(record: SqsRecordModel) -> None:
    now = datetime.now(UTC)
    pipeline = wiring.ingest_pipeline(metrics_counter)
    body = record.body if isinstance(record.body, str) else str(record.body)
    try:
        alert = parse_sqs_body(body, received_at=now, max_raw_chars=pipeline.config.max_raw_message_chars)
        logger.set_correlation_id(alert.dedup_key)
        outcome = pipeline.process(alert, now=now, deadline=_record_deadline())
    except Exception as exc:
        # The record goes back to the queue (and, if it keeps failing, to the DLQ, which has an alarm).
        metrics_counter.add("Failed")
        logger.warning(
            "record failed; it returns to the queue",
            extra={"error": type(exc).__name__, "detail": str(exc)[:500], "message_id": record.messageId},
        )
        raise
    if outcome.fallback:  # paged, but without the details responders need: someone should fix the body
        logger.warning(
            "PagerDuty rejected the event; paged with the minimal body", extra=outcome.model_dump(mode="json")
        )
        return
    logger.info("alert processed", extra=outcome.model_dump(mode="json", exclude={"dedup_key"}))


def _record_deadline() -> float:
    budget = time.monotonic() + settings().record_budget_seconds
    return budget if _invocation_deadline is None else min(budget, _invocation_deadline)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    global _invocation_deadline  # noqa: PLW0603 - one invocation at a time per container
    remaining = context.get_remaining_time_in_millis() / 1000.0
    _invocation_deadline = time.monotonic() + remaining - SAFETY_MARGIN_SECONDS
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
