"""`GET /graph/<token>.png` on the webhook function's URL: the metric graph image of an incident, drawn by
CloudWatch (`GetMetricWidgetImage`) when a responder's device first loads it, with Cache-Control so the
device (and any cache between) keeps it. The webhook handler hands these requests here.

403 for a bad or tampered token, 404 for an expired one, a placeholder PNG when CloudWatch cannot draw or
the key cannot be read (logic/graph.py), never a 5xx (the webhook function's 5xx alarm is about PagerDuty's
deliveries). Each answer is logged and counted with its reason, never with the token.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from alertbridge.logic.graph import ROUTE_PREFIX, GraphAnswer, answer, token_from_path
from alertbridge.observability import logger, metrics

_METHODS = frozenset({"GET", "HEAD"})
_COUNTS = {200: "GraphServed", 403: "GraphRefused", 404: "GraphExpired"}
# Answered with a placeholder image: CloudWatch could not draw, the key could not be read, or a bug.
_PLACEHOLDERS = {"render-failed": "GraphPlaceholder", "no-key": "GraphKeyUnavailable", "error": "GraphFailed"}


def is_graph_request(event: Any) -> bool:
    """A GET or HEAD of `/graph/...`; False for anything else, however malformed."""
    if not isinstance(event, dict):
        return False
    path = event.get("rawPath")
    return _method(event) in _METHODS and isinstance(path, str) and path.startswith(ROUTE_PREFIX)


def _method(event: dict[str, Any]) -> str | None:
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, dict) else None
    method = http.get("method") if isinstance(http, dict) else None
    return method if isinstance(method, str) else None


def handle(event: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """One Function URL request (payload 2.0) -> its response."""
    from aws_lambda_powertools.metrics import MetricUnit

    from alertbridge.wiring import graph as graph_wiring

    token = token_from_path(str(event.get("rawPath") or "")) or ""
    try:
        parts = graph_wiring.graph_route_parts()
        result = answer(token, parts.keys.verifying_keys(), parts.images, now or datetime.now(UTC))
    except Exception:  # never an error page in place of the image
        logger.exception("graph route failed")
        from alertbridge.logic.graph import placeholder_png

        result = GraphAnswer(
            503, "image/png", placeholder_png("Graph", "internal error"), "no-store", "error"
        )
    logger.info("graph image", extra={"status": result.status, "reason": result.reason})
    metrics.add_metric(name=_COUNTS.get(result.status, "GraphFailed"), unit=MetricUnit.Count, value=1)
    if result.reason in _PLACEHOLDERS:
        metrics.add_metric(name=_PLACEHOLDERS[result.reason], unit=MetricUnit.Count, value=1)
    return to_function_url(result, head=_method(event) == "HEAD")


def to_function_url(result: GraphAnswer, *, head: bool = False) -> dict[str, Any]:
    return {
        "statusCode": result.status,
        "headers": {
            "content-type": result.content_type,
            "cache-control": result.cache_control,
            "x-content-type-options": "nosniff",
            **result.headers,
        },
        "body": "" if head else base64.b64encode(result.body).decode("ascii"),
        "isBase64Encoded": not head,
    }
