"""Delivery Lambda: the FIFO delivery queue's messages (notifications from the intake function, observations
from the reconciler) become PagerDuty events. The only code that sends Events API requests for alarms.

Lambda's FIFO event source hands out one batch per message group (dedup key) at a time, in order; with
`skip_group_on_error`, a record that fails fails the rest of its own group in the batch (they come back in
order) while other keys' records go on. What keeps failing reaches the FIFO dead-letter queue, which has
an alarm; the reconciler still sees the state it left (a pending trigger is paged again).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from alertbridge.handlers import imports_loaded
from alertbridge.models.delivery import parse_delivery_message
from alertbridge.models.settings import settings
from alertbridge.observability import logger, metrics, metrics_counter
from alertbridge.wiring import delivery as delivery_wiring

# Leave this much of the invocation for the partial batch response and the metrics flush.
SAFETY_MARGIN_SECONDS = 2.0


def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    now = datetime.now(UTC)
    pipeline = delivery_wiring.delivery_pipeline(metrics_counter)
    body = record.body
    try:
        message = parse_delivery_message(body)
        logger.set_correlation_id(message.dedup_key)
        outcome = pipeline.deliver(message, now=now, deadline=_record_deadline(lambda_context))
    except Exception as exc:
        # The record (and the rest of its group in this batch) returns to the queue, in order.
        metrics_counter.add("Failed")
        logger.warning(
            "record failed; it returns to the delivery queue",
            extra={"error": type(exc).__name__, "detail": str(exc)[:500], "message_id": record.message_id},
        )
        raise
    if outcome.fallback:  # paged, but without the details responders need: someone should fix the body
        logger.warning(
            "PagerDuty rejected the event; paged with the minimal body", extra=outcome.model_dump(mode="json")
        )
        return
    logger.info("alert processed", extra=outcome.model_dump(mode="json", exclude={"dedup_key"}))


def _record_deadline(context: LambdaContext | None) -> float:
    """This record's budget, within what is left of the invocation (a `time.monotonic()` value)."""
    budget = time.monotonic() + settings().record_budget_seconds
    if context is None:
        return budget
    remaining = context.get_remaining_time_in_millis() / 1000.0 - SAFETY_MARGIN_SECONDS
    return min(budget, time.monotonic() + remaining)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # A processor per invocation: it holds the batch's state (local runs play several containers at once).
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    delivery_wiring.delivery_pipeline(metrics_counter).begin_batch()
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


imports_loaded()  # last: collection resumes (handlers/__init__.py)
