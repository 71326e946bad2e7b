"""Incident events out to EventBridge: the bounded put of what logic/incident_events.py builds.

PagerDuty waits 5 s for a delivery's answer (https://developer.pagerduty.com/docs/webhooks-overview), so a
failed put is tried again at most `attempts` times within `budget` seconds, and never after the delivery's
deadline (logic/webhook.py: the REST lookup before it shares that deadline); when it still fails the
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
    # The longest one try can take (the client's connect plus read timeouts): a try starts only when it
    # can end before the deadline.
    try_seconds: float = 0.0

    def time_for_a_try(self, deadline: float | None) -> bool:
        """Whether a try started now would end before `deadline` (on `clock`; None: no deadline)."""
        return deadline is None or self.clock() + self.try_seconds < deadline

    def publish(
        self, event: WebhookEvent, item: StateItem, *, delivery_id: str | None, deadline: float | None = None
    ) -> bool:
        """True once the bus accepted the event; False when every try failed (logged, no secrets) or no
        try could start: a try starts only when it can end (`try_seconds`) before the sooner of `budget`
        from now and `deadline` (the delivery's, on `clock`)."""
        built = build_event(event, item, delivery_id=delivery_id, config=self.config)
        until = self.clock() + self.budget
        if deadline is not None:
            until = min(until, deadline)
        for attempt in range(1, self.attempts + 1):
            if not self.time_for_a_try(until):
                logger.warning(
                    "no time left to put the incident event",
                    extra={"attempt": attempt, "delivery_id": delivery_id},
                )
                break
            try:
                self.port.put(built)
                return True
            except Exception as exc:  # any failure: retried, then the delivery is answered 5xx
                logger.warning(
                    "putting the incident event failed",
                    extra={"attempt": attempt, "error": type(exc).__name__, "delivery_id": delivery_id},
                )
            wait = _BACKOFF_SECONDS[min(attempt - 1, len(_BACKOFF_SECONDS) - 1)]
            if attempt == self.attempts or self.clock() + wait + self.try_seconds >= until:
                break
            self.sleep(wait)
        return False
