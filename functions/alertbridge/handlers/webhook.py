"""Webhook Lambda behind a Function URL (payload 2.0): PagerDuty incident changes mirrored into the state
table. The only PagerDuty call on this path is `GET /incidents/{id}/alerts`, once per incident (the link to
its dedup key is then kept in the table), with short timeouts; that lookup and the incident event put share
one deadline per delivery (`delivery_deadline`, logic/webhook.py), so it answers inside PagerDuty's 5 s.

Logs and metrics carry the reason of every answer, never a secret or a signature. A delivery accepted
without being applied (an incident the bridge did not open) is answered 2xx and counted as WebhookRejected
with its reason.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from alertbridge.handlers import graph, imports_loaded
from alertbridge.logic.webhook import (
    DELIVERY_BUDGET_SECONDS,
    EXPLANATIONS,
    WebhookReason,
    WebhookResult,
    result_for,
)
from alertbridge.observability import NAMESPACE, SERVICE, logger, metrics
from alertbridge.services.webhook import handle_function_url_event
from alertbridge.wiring import webhook as webhook_wiring


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if graph.is_graph_request(event):  # GET /graph/<token>.png: metric graph images (handlers/graph.py)
        return graph.handle(event)
    result = _handle(event, deadline=delivery_deadline(context))
    _report(result)
    return result.response().to_lambda()


# Left of the invocation after the deadline, for the answer (the stack allows a 3 s function timeout).
_INVOCATION_MARGIN_SECONDS = 0.5


def delivery_deadline(context: LambdaContext) -> float:
    """The delivery's deadline on time.monotonic(): DELIVERY_BUDGET_SECONDS from receipt, or less when
    the invocation ends sooner."""
    left = context.get_remaining_time_in_millis() / 1000.0 - _INVOCATION_MARGIN_SECONDS
    return time.monotonic() + max(0.0, min(DELIVERY_BUDGET_SECONDS, left))


def _handle(event: dict[str, Any], *, deadline: float) -> WebhookResult:
    try:
        parts = webhook_wiring.webhook_handler_parts()
        return handle_function_url_event(event, parts, now=datetime.now(UTC), deadline=deadline)
    except Exception:  # answer 500 so PagerDuty retries, rather than a bare Function URL 502
        logger.exception("webhook processing failed; PagerDuty will deliver it again")
        return result_for(WebhookReason.ERROR)


def _report(result: WebhookResult) -> None:
    fields = result.model_dump(mode="json", exclude_none=True)
    message = EXPLANATIONS.get(result.reason, f"webhook {result.reason}")
    if result.status_code >= 500:
        logger.error(message, extra=fields)
    elif not result.accepted:
        logger.warning(message, extra=fields)
    else:
        logger.info(message, extra=fields)
    _count(result)


def _count(result: WebhookResult) -> None:
    if result.reason == WebhookReason.REPLAY:
        metrics.add_metric(name="WebhookReplay", unit=MetricUnit.Count, value=1)
    elif result.accepted and result.reason != WebhookReason.NOT_OURS:
        metrics.add_metric(name="WebhookAccepted", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)  # the total, to alarm on
        with single_metric(
            name="WebhookRejected", unit=MetricUnit.Count, value=1, namespace=NAMESPACE,
            default_dimensions={"service": SERVICE},
        ) as metric:  # fmt: skip
            metric.add_dimension(name="reason", value=result.reason.value)


imports_loaded()  # last: collection resumes (handlers/__init__.py)
