"""One alert's journey: route, decide against the stored state, send, commit.

Takes ports only (no boto3, no httpx, no environment), so every reliability rule is testable with fakes.
A resolve is sent before its commit: if the send fails nothing is written and the redelivery sends it
again. A trigger's intent is committed before the send (see `_trigger_with_intent`). When a commit loses
a race the decision is made again on fresh state (PagerDuty's dedup absorbs a repeated trigger).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, Field

from alertbridge.errors import AlertBridgeError, Rejected
from alertbridge.logic.events import build_event, event_action_for, minimal_event, summary_for
from alertbridge.logic.lifecycle import Decision, decide, routing_key_fingerprint
from alertbridge.logic.maintenance import window_for
from alertbridge.logic.policy import Routing, route_alert
from alertbridge.models.alert import Alert
from alertbridge.models.config import BridgeConfig
from alertbridge.models.pagerduty import EventAction, EventV2
from alertbridge.models.state import StateItem
from alertbridge.ports import (
    AlarmTags,
    Counter,
    EventsApi,
    MaintenanceStore,
    Notes,
    RoutingKeys,
    StateStore,
)

MAX_COMMIT_TRIES = 4
MAX_REJECTION_ERRORS = 10


class StateConflict(AlertBridgeError):
    """Concurrent writers kept winning; the record returns to the queue and is decided again."""


class Outcome(BaseModel):
    dedup_key: str
    alarm_name: str
    alarm_state: str
    reason: str
    route: str
    sent: EventAction | None = None
    fallback: bool = False
    rejected: list[str] = Field(default_factory=list)  # PagerDuty's reasons when it refused the rich body
    attempts: int = 0


class Pipeline:
    def __init__(
        self,
        *,
        config: BridgeConfig,
        state: StateStore,
        events: EventsApi,
        keys: RoutingKeys,
        maintenance: MaintenanceStore,
        counter: Counter,
        notes: Notes | None = None,
        alarm_tags: AlarmTags | None = None,
    ) -> None:
        self.config = config
        self.alarm_tags = alarm_tags
        self.state = state
        self.events = events
        self.keys = keys
        self.maintenance = maintenance
        self.counter = counter
        self.notes = notes
        # Local runs (demo, soak) watch outcomes here; Lambda has none.
        self.observers: list[Callable[[Outcome], None]] = []

    def process(self, alert: Alert, *, now: datetime, deadline: float | None) -> Outcome:
        action = event_action_for(alert, self.config)
        if action == EventAction.TRIGGER:
            alert = self._with_alarm_tags(alert)
        routing = route_alert(alert, self.config)
        for _ in range(MAX_COMMIT_TRIES):
            stored = self.state.get(alert.dedup_key)
            decision = self._decide(stored, alert, routing, action, now)
            outcome = self._apply(decision, alert, routing, deadline)
            if outcome is not None:
                self._finish(decision, alert, outcome)
                return outcome
            self.counter.add("StateConflict")
        raise StateConflict(f"state for {alert.dedup_key!r} kept changing; will retry")

    def _with_alarm_tags(self, alert: Alert) -> Alert:
        """Tags for tag-matching rules, read from CloudWatch for an alarm that arrived without any. Only a
        trigger is routed anew (re-triggers and resolves keep the opening route), so only it asks."""
        if self.alarm_tags is None or alert.tags or not alert.alarm_arn:
            return alert
        tags = self.alarm_tags.tags(alert.alarm_arn)
        if tags is None:
            self.counter.add("AlarmTagsUnavailable")  # routed without them: rules on tags cannot match
            return alert
        return alert.model_copy(update={"tags": tags})

    def _apply(
        self, decision: Decision, alert: Alert, routing: Routing, deadline: float | None
    ) -> Outcome | None:
        """Send and commit; None when another writer got there first (decide again on fresh state)."""
        if decision.send == EventAction.TRIGGER and decision.new_item is not None:
            return self._trigger_with_intent(decision, decision.new_item, alert, routing, deadline)
        outcome = self._carry_out(decision, alert, routing, deadline)
        if decision.new_item is None or self.state.save(
            decision.new_item, expected_version=decision.expected_version
        ):
            return outcome
        return None

    def _trigger_with_intent(
        self, decision: Decision, item: StateItem, alert: Alert, routing: Routing, deadline: float | None
    ) -> Outcome | None:
        """Commit the open key before sending: PagerDuty may apply a trigger whose answer timed out, and a
        later OK must then find the key open to send its resolve. A failed send leaves the intent, so the
        redelivered ALARM sends the trigger again."""
        intent = item.model_copy(update={"trigger_pending": True})
        if not self.state.save(intent, expected_version=decision.expected_version):
            return None
        outcome = self._carry_out(decision, alert, routing, deadline)
        sent = intent.model_copy(update={"trigger_pending": False, "version": intent.version + 1})
        self.state.save(sent, expected_version=intent.version)  # a newer change may already have moved on
        return outcome

    def _finish(self, decision: Decision, alert: Alert, outcome: Outcome) -> None:
        self.counter.add(f"Outcome.{decision.reason}")
        self._note_resolve(decision, alert, outcome)
        for observe in self.observers:
            observe(outcome)

    def _decide(
        self,
        stored: StateItem | None,
        alert: Alert,
        routing: Routing,
        action: EventAction | None,
        now: datetime,
    ) -> Decision:
        window = None
        if action == EventAction.TRIGGER:
            window = window_for(alert, routing.route, self.maintenance.list_active(now), now)
        return decide(
            stored,
            alert,
            action=action,
            route=routing.route,
            routing_key_id=self._fingerprint(routing.route) if action == EventAction.TRIGGER else "",
            severity=routing.severity,
            summary=_summary_of(stored, alert, action),
            suppressed_by=window,
            now=now,
            ttl_days=self.config.closed_item_ttl_days,
        )

    def _note_resolve(self, decision: Decision, alert: Alert, outcome: Outcome) -> None:
        """Tell the responders why the incident closed (only when a REST token is configured)."""
        if self.notes is None or outcome.sent != EventAction.RESOLVE or decision.new_item is None:
            return
        when = alert.state_changed_at.isoformat(timespec="seconds")
        reason = f"{alert.state.value} at {when}" + (f": {alert.reason}" if alert.reason else "")
        self.notes.after_resolve(
            decision.new_item, f"the alarm returned to {reason}", at=alert.state_changed_at
        )

    def _fingerprint(self, route: str) -> str:
        return routing_key_fingerprint(self.keys.routing_key(route))

    def _carry_out(
        self, decision: Decision, alert: Alert, routing: Routing, deadline: float | None
    ) -> Outcome:
        outcome = Outcome(
            dedup_key=alert.dedup_key,
            alarm_name=alert.alarm_name,
            alarm_state=alert.state.value,
            reason=decision.reason,
            route=decision.route_for_send or routing.route,
        )
        if decision.send is None:
            return outcome
        route = decision.route_for_send or routing.route
        sending = routing.model_copy(update={"route": route})
        event = build_event(alert, sending, decision.send, self.config)
        key = self._key_for_send(route, opened_with=decision.routing_key_id_for_send)
        return self._send(event, key, alert, sending, outcome, deadline)

    def _key_for_send(self, route: str, *, opened_with: str | None) -> str:
        """The key that opened the incident for its re-triggers and resolve (see lifecycle), else the
        route's current key."""
        key = self.keys.routing_key(route, opened_with=opened_with)
        if opened_with and routing_key_fingerprint(key) != opened_with:
            # The opening key left the secret before its incident closed: PagerDuty will drop this resolve.
            self.counter.add("OpeningKeyRetired")
        return key

    def _send(
        self,
        event: EventV2,
        key: str,
        alert: Alert,
        routing: Routing,
        outcome: Outcome,
        deadline: float | None,
    ) -> Outcome:
        try:
            response = self.events.send(event.with_routing_key(key).to_body(), deadline=deadline)
        except Rejected as rejection:
            if event.event_action != EventAction.TRIGGER:
                raise
            # A human must still be paged: PagerDuty refused the rich body, so send the minimal safe one once.
            self.counter.add("Rejected")
            fallback = minimal_event(alert, routing, self.config).with_routing_key(key)
            response = self.events.send(fallback.to_body(), deadline=deadline)
            rejected = rejection.errors[:MAX_REJECTION_ERRORS]
            outcome = outcome.model_copy(update={"fallback": True, "rejected": rejected})
        self.counter.add(f"Sent.{event.event_action.value}")
        if response.attempts > 1:
            self.counter.add("Retried", response.attempts - 1)
        return outcome.model_copy(update={"sent": event.event_action, "attempts": response.attempts})


def _summary_of(stored: StateItem | None, alert: Alert, action: EventAction | None) -> str:
    """A resolve carries no summary: the incident table keeps the one the trigger sent."""
    if action != EventAction.TRIGGER and stored is not None and stored.summary:
        return stored.summary
    return summary_for(alert)
