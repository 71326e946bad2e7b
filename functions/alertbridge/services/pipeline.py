"""The delivery lane's work for one message: decide against fresh state, send, commit.

The delivery function is the only code that sends Events API requests for alarms, and the FIFO delivery
queue hands it one batch per dedup key at a time, in order. So no other sender can race a decision made
here; the only concurrent writer of an item is the webhook mirror (which never sends), and a commit that
loses to it is decided again on fresh state.

- A notification (`AlertNotice`) is routed and decided by `lifecycle.decide`.
- A reconciler observation is decided on fresh state too: one about CloudWatch's own state ("OK since
  T", "deleted") as the state change it stands for, through `lifecycle.decide`; the others by
  `lifecycle.decide_observation`. An observation that newer state has overtaken changes nothing.

A trigger's intent is committed before the send (`_trigger_with_intent`), so a trigger PagerDuty applied
but whose answer was lost still finds the key open for its resolve. A resolve is sent before its commit:
if the send fails nothing is written and the redelivery sends it again.

Takes ports only (no boto3, no httpx, no environment), so every rule is testable with fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from alertbridge.errors import AlertBridgeError, PagerDutyError, Rejected
from alertbridge.logic.dedup import account_from_arn, routing_key_fingerprint
from alertbridge.logic.events import (
    build_event,
    event_action_for,
    minimal_event,
    summary_for,
    trigger_from_item,
)
from alertbridge.logic.graph import GraphSigning
from alertbridge.logic.lifecycle import (
    Decision,
    DecisionReason,
    decide,
    decide_observation,
    live_item,
    needs_no_window,
    note_due,
    note_settled,
    observed_alarm_change,
    trigger_accepted,
    with_resolve_note,
)
from alertbridge.logic.maintenance import active_window_for, window_for
from alertbridge.logic.notes import resolve_note
from alertbridge.logic.policy import Routing, pages_for, route_alert
from alertbridge.models.alert import AlarmState, Alert
from alertbridge.models.config import BridgeConfig
from alertbridge.models.delivery import AlertNotice, Observation, ObservationKind
from alertbridge.models.maintenance import MaintenanceWindow
from alertbridge.models.pagerduty import EventAction, EventV2
from alertbridge.models.state import StateItem
from alertbridge.ports import (
    AlarmTags,
    Counter,
    DeliveryQueue,
    EventsApi,
    IncidentLinks,
    MaintenanceStore,
    Notes,
    RoutingKeys,
    StateStore,
)

MAX_COMMIT_TRIES = 4
MAX_REJECTION_ERRORS = 10
# Why a trigger comes from the reconciler, in the incident's details.
REBUILT_TRIGGER_NOTES = {
    ObservationKind.TRIGGER_AFTER_MAINTENANCE: (
        "Held back by a maintenance window or a CloudWatch alarm mute rule; the alarm was still firing "
        "when it ended."
    ),
    ObservationKind.RESEND_TRIGGER: (
        "Sent by the reconciler: the original trigger never reached PagerDuty (outage or rate limiting) "
        "and its notification was not redelivered; the alarm is still firing."
    ),
    ObservationKind.RETRIGGER_UNOPENED: (
        "Sent again by the reconciler: PagerDuty showed no incident for this alert (a trigger dropped "
        "during a PagerDuty maintenance window, for instance), and the alarm is still firing."
    ),
}


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
    observation: str | None = None  # the reconciler's observation this outcome decided, if any


@dataclass(frozen=True)
class _Plan:
    """One decision with what carrying it out needs: the bodies (route name in `routing_key`) and the
    note to add after a resolve."""

    decision: Decision
    outcome: Outcome
    event: EventV2 | None = None
    fallback: EventV2 | None = None
    note: str | None = None
    note_at: datetime | None = None


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
        links: IncidentLinks | None = None,
        delivery: DeliveryQueue | None = None,
        graph: GraphSigning | None = None,
    ) -> None:
        self.config = config
        self.delivery = delivery  # the lane itself: an alarm-level OK queues its contributors' resolves
        self.graph = graph  # metric graph images on triggers (logic/graph.py); None: none attached
        self.links = links
        self.alarm_tags = alarm_tags
        self.state = state
        self.events = events
        self.keys = keys
        self.maintenance = maintenance
        self.counter = counter
        self.notes = notes
        # Local runs (demo, soak) watch outcomes here; Lambda has none.
        self.observers: list[Callable[[Outcome], None]] = []
        self._windows: list[MaintenanceWindow] | None = None  # read once per batch (`begin_batch`)

    def begin_batch(self) -> None:
        """A new batch: maintenance windows are read again, at most once for the whole batch."""
        self._windows = None

    def _active_windows(self, now: datetime) -> list[MaintenanceWindow]:
        if self._windows is None:
            self._windows = self.maintenance.list_active(now)
        return [window for window in self._windows if window.is_active(now)]

    def deliver(
        self, message: AlertNotice | Observation, *, now: datetime, deadline: float | None
    ) -> Outcome:
        if isinstance(message, AlertNotice):
            return self.process(message.alert, now=now, deadline=deadline)
        return self.observe(message, now=now, deadline=deadline)

    # --- notifications ------------------------------------------------------------------------------

    def process(self, alert: Alert, *, now: datetime, deadline: float | None) -> Outcome:
        action = event_action_for(alert, self.config)
        if action == EventAction.TRIGGER:
            alert = self._with_alarm_tags(alert)
        routing = route_alert(alert, self.config)

        def plan(stored: StateItem | None) -> _Plan:
            decision = self._decide(stored, alert, routing, action, now)
            return self._alert_plan(decision, alert, routing)

        outcome = self._decided(alert.dedup_key, plan, deadline)
        closes_contributors = alert.is_alarm_level_multi_time_series and action == EventAction.RESOLVE
        if closes_contributors and outcome.reason != DecisionReason.STALE:
            self._close_contributors(alert, now)
        return outcome

    def _close_contributors(self, alert: Alert, now: datetime) -> None:
        """An alarm-level OK closes every contributor incident of the alarm still open. Each contributor key
        has its own lane (message group), so its resolve is not sent from here: one observation per key is
        queued, and the delivery function decides it in that key's lane on fresh state (a contributor that
        fired again after this OK keeps its incident). A duplicate OK queues them again: deciding them twice
        changes nothing."""
        contributors = [
            item
            for item in self.state.list_open()
            if item.contributor_id
            and item.alarm_name == alert.alarm_name
            and item.alarm_arn == alert.alarm_arn
        ]
        if not contributors:
            return
        if self.delivery is None:
            self.counter.add("ContributorResolvesNotQueued", len(contributors))
            return
        when = alert.state_changed_at.isoformat(timespec="seconds")
        why = f"the alarm {alert.alarm_name} returned to OK at {when}" + (
            f": {alert.reason}" if alert.reason else ""
        )
        for item in contributors:
            self.delivery.send(
                Observation(
                    what=ObservationKind.RESOLVE_CONTRIBUTOR_ALARM_OK,
                    dedup_key=item.dedup_key,
                    observed_at=now,
                    why=why,
                    state_changed_at=item.state_changed_at,
                    opened_at=item.opened_at,
                    as_of=alert.state_changed_at,
                    alarm_state=AlarmState.OK,
                )
            )
        self.counter.add("ContributorResolvesQueued", len(contributors))

    def _with_alarm_tags(self, alert: Alert) -> Alert:
        """Tags for tag-matching rules: those the notification carries when CloudWatch retrieved them
        (AlarmTagsPropagation), else read from CloudWatch for an alarm that arrived without any. Only a
        trigger is routed anew (re-triggers and resolves keep the opening route), so only it asks."""
        if alert.tags_retrieved:
            self.counter.add("AlarmTagsFromPayload")
            return alert
        if self.alarm_tags is None or alert.tags or not alert.alarm_arn:
            return alert
        tags = self.alarm_tags.tags(alert.alarm_arn)
        if tags is None:
            self.counter.add("AlarmTagsUnavailable")  # routed without them: rules on tags cannot match
            return alert
        return alert.model_copy(update={"tags": tags})

    def _decide(
        self,
        stored: StateItem | None,
        alert: Alert,
        routing: Routing,
        action: EventAction | None,
        now: datetime,
    ) -> Decision:
        window = None
        if action == EventAction.TRIGGER and not needs_no_window(stored, alert, now):
            window = window_for(alert, routing.route, self._active_windows(now), now)
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
            pages=pages_for(alert, self.config),
        )

    def _alert_plan(self, decision: Decision, alert: Alert, routing: Routing) -> _Plan:
        route = decision.route_for_send or routing.route
        outcome = Outcome(
            dedup_key=alert.dedup_key,
            alarm_name=alert.alarm_name,
            alarm_state=alert.state.value,
            reason=decision.reason,
            route=route,
        )
        if decision.send is None:
            return _Plan(decision, outcome)
        sending = routing.model_copy(update={"route": route})
        event = build_event(alert, sending, decision.send, self.config, self.graph)
        trigger = decision.send == EventAction.TRIGGER
        fallback = minimal_event(alert, sending, self.config) if trigger else None
        when = alert.state_changed_at.isoformat(timespec="seconds")
        note = f"the alarm returned to {alert.state.value} at {when}" + (
            f": {alert.reason}" if alert.reason else ""
        )
        return _Plan(decision, outcome, event, fallback, note=note, note_at=alert.state_changed_at)

    # --- the reconciler's observations ------------------------------------------------------------------

    def observe(self, observation: Observation, *, now: datetime, deadline: float | None) -> Outcome:
        if observation.incident is not None and self.links is not None:
            # The reconciler found this key's incident: webhooks about it map without a REST lookup.
            self.links.link(observation.incident.id, observation.dedup_key)

        def plan(stored: StateItem | None) -> _Plan:
            current = live_item(stored, now)
            change = observed_alarm_change(current, observation) if current is not None else None
            if current is not None and change is not None:
                return self._observed_change_plan(stored, current, change, observation, now)
            decision = decide_observation(
                stored,
                observation,
                now=now,
                ttl_days=self.config.closed_item_ttl_days,
                covering=self._covering(current, observation, now),
            )
            return self._observation_plan(decision, current, observation)

        outcome = self._decided(observation.dedup_key, plan, deadline)
        self._add_resolve_note(observation)
        return outcome

    def _add_resolve_note(self, observation: Observation) -> None:
        """The reconciler saw the episode's incident closed: add the resolve note its resolve committed,
        then clear it on fresh state. A failure worth retrying keeps it for the next confirmation."""
        if self.notes is None or observation.what != ObservationKind.CONFIRM_RESOLVED:
            return  # only a confirmation can make a note due: no read for any other observation
        item = self.state.get(observation.dedup_key)
        if item is None or item.resolve_note is None or not note_due(item, observation):
            return
        incident = observation.incident
        incident_id = item.incident_id or (incident.id if incident is not None else None)
        if incident_id is None:
            self.counter.add("NoteNoIncident")  # PagerDuty never opened one: nothing to note
        else:
            try:
                self.notes.add_note(incident_id, item.resolve_note)
                self.counter.add("NoteAdded")
            except Exception as exc:
                self.counter.add("NoteFailed")
                if isinstance(exc, PagerDutyError) and exc.retryable:
                    return
        self._settle_note(item)

    def _settle_note(self, item: StateItem) -> None:
        fresh: StateItem | None = item
        for _ in range(MAX_COMMIT_TRIES):
            settled = note_settled(fresh, item.opened_at)
            if settled is None or self.state.save(settled, expected_version=settled.version - 1):
                return
            fresh = self.state.get(item.dedup_key)

    def _observed_change_plan(
        self,
        stored: StateItem | None,
        current: StateItem,
        change: Alert,
        observation: Observation,
        now: datetime,
    ) -> _Plan:
        """CloudWatch's own state, decided exactly like the notification that was lost."""
        decision = decide(
            stored,
            change,
            action=EventAction.RESOLVE,
            route=current.route,
            routing_key_id=current.routing_key_id,
            severity=current.severity or self.config.default_severity,
            summary=current.summary,
            suppressed_by=None,
            now=now,
            ttl_days=self.config.closed_item_ttl_days,
        )
        if decision.reason == DecisionReason.RESOLVED:
            decision = decision.model_copy(update={"reason": observation.what.value})
        plan = self._observation_plan(decision, current, observation)
        return _Plan(plan.decision, plan.outcome, plan.event, note=observation.why, note_at=now)

    def _covering(
        self, current: StateItem | None, observation: Observation, now: datetime
    ) -> MaintenanceWindow | None:
        """A window active now for the key: only a maintenance-ended observation needs to know."""
        if current is None or observation.what != ObservationKind.TRIGGER_AFTER_MAINTENANCE:
            return None
        return active_window_for(
            self._active_windows(now),
            route=current.route,
            alarm_name=current.alarm_name,
            account=current.account_id or account_from_arn(current.alarm_arn),
            now=now,
        )

    def _observation_plan(
        self, decision: Decision, current: StateItem | None, observation: Observation
    ) -> _Plan:
        outcome = Outcome(
            dedup_key=observation.dedup_key,
            alarm_name=current.alarm_name if current is not None else "",
            alarm_state=current.alarm_state.value if current is not None else "",
            reason=decision.reason,
            route=decision.route_for_send or (current.route if current is not None else ""),
            observation=observation.what.value,
        )
        if decision.send is None or current is None:
            return _Plan(decision, outcome)
        if decision.send == EventAction.TRIGGER:
            item = decision.new_item or current
            note = REBUILT_TRIGGER_NOTES.get(observation.what, observation.why)
            rebuilt = trigger_from_item(
                item, self.config, note=note, graph=self.graph, held_back_by=current.maintenance_window_id
            )
            return _Plan(decision, outcome, rebuilt)
        event = EventV2(routing_key=current.route, event_action=decision.send, dedup_key=current.dedup_key)
        return _Plan(decision, outcome, event, note=observation.why, note_at=observation.observed_at)

    # --- carrying a decision out ----------------------------------------------------------------------

    def _decided(
        self, dedup_key: str, plan: Callable[[StateItem | None], _Plan], deadline: float | None
    ) -> Outcome:
        for _ in range(MAX_COMMIT_TRIES):
            planned = plan(self.state.get(dedup_key))
            outcome = self._apply(planned, deadline)
            if outcome is not None:
                self._finish(planned, outcome)
                return outcome
            self.counter.add("StateConflict")
        raise StateConflict(f"state for {dedup_key!r} kept changing; will retry")

    def _apply(self, plan: _Plan, deadline: float | None) -> Outcome | None:
        """Send and commit; None when another writer got there first (decide again on fresh state)."""
        decision = plan.decision
        if decision.send == EventAction.TRIGGER and decision.new_item is not None:
            return self._trigger_with_intent(plan, decision.new_item, deadline)
        outcome = self._carry_out(plan, deadline)
        item = decision.new_item
        if item is None:
            return outcome
        if outcome.sent == EventAction.RESOLVE and plan.note and self.notes is not None:
            item = self._noted(item, plan.note, plan.note_at)
        return outcome if self.state.save(item, expected_version=decision.expected_version) else None

    @staticmethod
    def _noted(item: StateItem, why: str, at: datetime | None) -> StateItem:
        """The resolved item with its note (a resend keeps the note of the first resolve)."""
        if item.resolve_note is not None:
            return item
        return with_resolve_note(item, resolve_note(item, why, at or item.last_seen))

    def _trigger_with_intent(self, plan: _Plan, item: StateItem, deadline: float | None) -> Outcome | None:
        """Commit the open key before sending: PagerDuty may apply a trigger whose answer timed out, and a
        later OK must then find the key open to send its resolve. A failed send leaves the intent, so the
        redelivered message sends the trigger again."""
        intent = item.model_copy(update={"trigger_pending": True})
        if not self.state.save(intent, expected_version=plan.decision.expected_version):
            return None
        outcome = self._carry_out(plan, deadline)
        self._clear_intent(intent)
        return outcome

    def _clear_intent(self, intent: StateItem) -> None:
        """PagerDuty accepted the trigger: clear its intent, on fresh state if a webhook mirrored the new
        incident in the meantime (a pending flag left behind would make the reconciler send it again)."""
        sent = intent.model_copy(update={"trigger_pending": False, "version": intent.version + 1})
        if self.state.save(sent, expected_version=intent.version):
            return
        for _ in range(MAX_COMMIT_TRIES):
            fresh = self.state.get(intent.dedup_key)
            cleared = trigger_accepted(fresh, intent)
            if cleared is None or self.state.save(cleared, expected_version=cleared.version - 1):
                return
        self.counter.add("IntentNotCleared")

    def _finish(self, plan: _Plan, outcome: Outcome) -> None:
        self.counter.add(f"Outcome.{plan.decision.reason}")
        for observe in self.observers:
            observe(outcome)

    def _fingerprint(self, route: str) -> str:
        return routing_key_fingerprint(self.keys.routing_key(route))

    def _carry_out(self, plan: _Plan, deadline: float | None) -> Outcome:
        decision, outcome = plan.decision, plan.outcome
        if decision.send is None or plan.event is None:
            return outcome
        key = self._key_for_send(outcome.route, opened_with=decision.routing_key_id_for_send)
        return self._send(plan, key, deadline)

    def _key_for_send(self, route: str, *, opened_with: str | None) -> str:
        """The key that opened the incident for its re-triggers and resolve (see lifecycle), else the
        route's current key."""
        key = self.keys.routing_key(route, opened_with=opened_with or None)
        if opened_with and routing_key_fingerprint(key) != opened_with:
            # The opening key left the secret before its incident closed: PagerDuty will drop this resolve.
            self.counter.add("OpeningKeyRetired")
        return key

    def _send(self, plan: _Plan, key: str, deadline: float | None) -> Outcome:
        assert plan.event is not None
        event, outcome = plan.event, plan.outcome
        try:
            response = self.events.send(event.with_routing_key(key).to_body(), deadline=deadline)
        except Rejected as rejection:
            if plan.fallback is None:
                raise
            # A human must still be paged: PagerDuty refused the rich body, so send the minimal safe one once.
            self.counter.add("Rejected")
            response = self.events.send(plan.fallback.with_routing_key(key).to_body(), deadline=deadline)
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
