"""Reconciler Lambda (scheduled): plans the corrections (incidents whose alarm is gone or already OK, timed-out
application alerts, what a maintenance window held back once it ends, stuck or dropped triggers, dropped
resolves) and hands each to the delivery lane as an observation; it never sends to PagerDuty. The work is in
services/reconcile.py (the plan in logic/reconcile.py); this only wires it and bounds it by the invocation's
time."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from alertbridge.handlers import imports_loaded
from alertbridge.logic.reconcile import AlarmHome
from alertbridge.observability import logger, metrics, metrics_counter
from alertbridge.wiring import reconcile as reconcile_wiring

# Leave this much of the invocation for the last send's answer, the log line and the metrics flush.
SAFETY_MARGIN_SECONDS = 5.0


def _log(message: str, fields: dict[str, Any]) -> None:
    logger.info(message, extra=fields)


def home_of(context: LambdaContext) -> AlarmHome:
    """The function's own account and region (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`): the only
    alarms DescribeAlarms can see."""
    parts = str(getattr(context, "invoked_function_arn", "") or "").split(":")
    region = parts[3] if len(parts) > 4 and parts[3] else None
    account = parts[4] if len(parts) > 4 and parts[4] else None
    return AlarmHome(region=region, account=account)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000.0 - SAFETY_MARGIN_SECONDS
    reconciler = reconcile_wiring.reconciler(metrics_counter, home_of(context), _log)
    metrics_counter.add("Reconcile.Run")  # a heartbeat: a run that had nothing to do still shows
    rekeyed = reconcile_wiring.rekey_older_windows()
    if rekeyed:
        logger.info("maintenance windows rekeyed", extra={"windows": rekeyed})
    report = reconciler.run(now=datetime.now(UTC), deadline=deadline)
    summary = report.model_dump(mode="json")
    logger.info("reconcile run", extra=summary)
    return summary


imports_loaded()  # last: collection resumes (handlers/__init__.py)
