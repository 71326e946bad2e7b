"""`render_event`: the Events API v2 bodies one Lambda event turns into, exactly what `alertbridge render`
prints (the CLI is this function plus file reading and JSON printing).

    from alertbridge import render_event
    bodies = render_event(lambda_event)                    # built-in default configuration
    bodies = render_event(lambda_event, BridgeConfig.from_file("config.json"))

Stateless: an OK renders as a resolve (the deployed bridge resolves only what it opened), INSUFFICIENT_DATA
follows the configuration's policy, a multi-time-series alarm's level the configuration does not page
renders nothing, and `routing_key` holds the route's name (the bridge substitutes the
real key at send time). A document that is not a Lambda event shape raises `InvalidInput`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from alertbridge.logic.events import build_event, event_action_for
from alertbridge.logic.graph import GraphSigning
from alertbridge.logic.parsers import parse_lambda_event
from alertbridge.logic.policy import pages_for, route_alert
from alertbridge.models.config import BridgeConfig
from alertbridge.models.pagerduty import EventAction

__all__ = ["render_event"]


def render_event(
    event: dict[str, Any],
    config: BridgeConfig | None = None,
    *,
    received_at: datetime | None = None,
    graph: GraphSigning | None = None,
) -> list[dict[str, Any]]:
    """The bodies the bridge would send for `event` (SQS, SNS, EventBridge or a bare alarm document), in
    record order. `received_at` (default: now) stands in for the arrival time where a record carries none;
    with `graph`, triggers carry their metric graph image as the delivery function would attach it."""
    config = config if config is not None else _default_config()
    arrived = received_at if received_at is not None else datetime.now(UTC)
    bodies = []
    for alert in parse_lambda_event(event, received_at=arrived, max_raw_chars=config.max_raw_message_chars):
        action = event_action_for(alert, config)
        if action is EventAction.TRIGGER and not pages_for(alert, config):
            continue  # a multi-time-series alarm's level that `multi_time_series_pages` does not page
        if action is not None:
            bodies.append(build_event(alert, route_alert(alert, config), action, config, graph).to_body())
    return bodies


@lru_cache(maxsize=1)
def _default_config() -> BridgeConfig:
    return BridgeConfig()
