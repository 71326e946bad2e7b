"""Incident events out to EventBridge: the bounded put of what logic/incident_events.py builds.

PagerDuty waits 5 s for a delivery's answer (https://developer.pagerduty.com/docs/webhooks-overview), so a
failed put is tried again at most `attempts` times within `budget` seconds; when it still fails the
delivery is answered 5xx, PagerDuty delivers it again, and since the delivery id is recorded only after
success the retry mirrors idempotently and puts the event again. Consumers deduplicate on
`detail.delivery_id`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from alertbridge.logic.incident_events import build_event
from alertbridge.models.config import IncidentEventsConfig
from alertbridge.models.state import StateItem
from alertbridge.models.webhook import WebhookEvent
from alertbridge.observability import logger
from alertbridge.ports import IncidentEvents

PUT_ATTEMPTS = 3
PUT_BUDGET_SECONDS = 2.0
_BACKOFF_SECONDS = (0.2, 0.5)


@dataclass(frozen=True)
class IncidentEventPublisher:
    """Puts incident events on the bus, retried within PagerDuty's answer window."""

    port: IncidentEvents
    config: IncidentEventsConfig = field(default_factory=IncidentEventsConfig)
    attempts: int = PUT_ATTEMPTS
    budget: float = PUT_BUDGET_SECONDS
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def publish(self, event: WebhookEvent, item: StateItem, *, delivery_id: str | None) -> bool:
        """True once the bus accepted the event; False when every try failed (logged, no secrets)."""
        built = build_event(event, item, delivery_id=delivery_id, config=self.config)
        deadline = self.clock() + self.budget
        for attempt in range(1, self.attempts + 1):
            try:
                self.port.put(built)
                return True
            except Exception as exc:  # any failure: retried, then the delivery is answered 5xx
                logger.warning(
                    "putting the incident event failed",
                    extra={"attempt": attempt, "error": type(exc).__name__, "delivery_id": delivery_id},
                )
            wait = _BACKOFF_SECONDS[min(attempt - 1, len(_BACKOFF_SECONDS) - 1)]
            if attempt == self.attempts or self.clock() + wait >= deadline:
                break
            self.sleep(wait)
        return False
