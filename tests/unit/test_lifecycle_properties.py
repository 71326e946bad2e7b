"""Properties of the state machine under SNS/SQS delivery: at-least-once, any order.

One key's real transitions (distinct timestamps) are delivered as a shuffled multiset with duplicates;
each delivery is decided against the item the previous one wrote. A small PagerDuty model receives what
was sent, with its documented rule that a resolve with another routing key than the trigger is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from alertbridge.logic.lifecycle import decide
from alertbridge.models.alert import AlarmState, Alert, AlertSource
from alertbridge.models.pagerduty import EventAction, Severity
from alertbridge.models.state import KeyStatus, StateItem

T0 = datetime(2024, 5, 1, tzinfo=UTC)
ROUTES = ("payments", "platform", "data")
ACTION_OF = {AlarmState.ALARM: EventAction.TRIGGER, AlarmState.OK: EventAction.RESOLVE}


@dataclass(frozen=True)
class Transition:
    state: AlarmState
    at: datetime


@dataclass
class PagerDutyModel:
    """Open alert per dedup key, with the routing key that opened it."""

    opened_with: str | None = None
    log: list[tuple[EventAction, str]] = field(default_factory=list)

    def receive(self, action: EventAction, key: str) -> None:
        self.log.append((action, key))
        if action == EventAction.TRIGGER and self.opened_with is None:
            self.opened_with = key
        elif action == EventAction.RESOLVE and key == self.opened_with:
            self.opened_with = None


@st.composite
def transitions(draw: st.DrawFn) -> list[Transition]:
    gaps = draw(st.lists(st.integers(min_value=1, max_value=600), min_size=1, max_size=8))
    states = draw(st.lists(st.sampled_from(list(ACTION_OF)), min_size=len(gaps), max_size=len(gaps)))
    moments = [T0 + timedelta(seconds=sum(gaps[: index + 1])) for index in range(len(gaps))]
    return [Transition(state, at) for state, at in zip(states, moments, strict=True)]


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Transition], list[tuple[Transition, str]]]:
    """Every transition at least once, some several times, in any order; each with the route it maps to
    at delivery time (routes may change between deliveries, as when configuration is redeployed)."""
    real = draw(transitions())
    extra = draw(st.lists(st.sampled_from(real), max_size=2 * len(real)))
    delivered = draw(st.permutations(real + extra))
    routes = draw(st.lists(st.sampled_from(ROUTES), min_size=len(delivered), max_size=len(delivered)))
    return real, list(zip(delivered, routes, strict=True))


def as_alert(transition: Transition) -> Alert:
    return Alert(
        source=AlertSource.CLOUDWATCH_SNS,
        dedup_key="arn:aws:cloudwatch:us-east-1:123456789012:alarm:prop",
        alarm_name="prop",
        state=transition.state,
        state_changed_at=transition.at,
    )


@dataclass
class Run:
    item: StateItem | None = None
    pd: PagerDutyModel = field(default_factory=PagerDutyModel)
    sends_per_transition: dict[Transition, int] = field(default_factory=dict)
    newest_applied: datetime | None = None


def deliver_all(delivered: list[tuple[Transition, str]]) -> Run:
    run = Run()
    for step, (transition, route) in enumerate(delivered):
        deliver(run, transition, route, now=T0 + timedelta(hours=1, seconds=step))
    return run


def deliver(run: Run, transition: Transition, route: str, now: datetime) -> None:
    was_open = run.item is not None and run.item.is_open
    opening_key = run.item.routing_key_id if run.item is not None and was_open else None
    decision = decide(
        run.item,
        as_alert(transition),
        action=ACTION_OF[transition.state],
        route=route,
        routing_key_id=f"key-{route}",
        severity=Severity.ERROR,
        summary="prop",
        suppressed_by=None,
        now=now,
        ttl_days=30,
    )
    if decision.send is not None:
        sent_key = decision.routing_key_id_for_send
        assert sent_key is not None
        assert run.newest_applied is None or transition.at >= run.newest_applied, "sent for a stale change"
        if decision.send == EventAction.RESOLVE:
            assert was_open, "resolve for a key that is not open"
            assert sent_key == opening_key, "resolve with another key than the opening one"
        if decision.send == EventAction.TRIGGER and was_open:
            assert sent_key == opening_key, "re-trigger with another key than the opening one"
        run.pd.receive(decision.send, sent_key)
        run.sends_per_transition[transition] = run.sends_per_transition.get(transition, 0) + 1
    if decision.new_item is not None:
        assert decision.new_item.version == (run.item.version if run.item else 0) + 1
        run.item = decision.new_item
        run.newest_applied = transition.at


def newest(real: list[Transition]) -> Transition:
    return max(real, key=lambda transition: transition.at)


@settings(max_examples=200, deadline=None)
@given(deliveries())
def test_final_state_is_the_newest_transition(
    case: tuple[list[Transition], list[tuple[Transition, str]]],
) -> None:
    real, delivered = case
    run = deliver_all(delivered)
    final = newest(real)
    assert run.item is not None
    assert (run.item.alarm_state, run.item.state_changed_at) == (final.state, final.at)
    expected = KeyStatus.OPEN if final.state == AlarmState.ALARM else KeyStatus.RESOLVED
    assert run.item.status == expected


@settings(max_examples=200, deadline=None)
@given(deliveries())
def test_at_most_one_event_per_real_transition(
    case: tuple[list[Transition], list[tuple[Transition, str]]],
) -> None:
    _, delivered = case
    run = deliver_all(delivered)
    assert all(count == 1 for count in run.sends_per_transition.values())
    assert len(run.pd.log) <= len({transition for transition, _ in delivered})


@settings(max_examples=200, deadline=None)
@given(deliveries())
def test_pagerduty_ends_open_exactly_when_the_newest_transition_is_alarm(
    case: tuple[list[Transition], list[tuple[Transition, str]]],
) -> None:
    real, delivered = case
    run = deliver_all(delivered)
    assert (run.pd.opened_with is not None) == (newest(real).state == AlarmState.ALARM)


@settings(max_examples=100, deadline=None)
@given(deliveries(), st.randoms(use_true_random=False))
def test_outcome_does_not_depend_on_delivery_order(
    case: tuple[list[Transition], list[tuple[Transition, str]]], shuffler: object
) -> None:
    _, delivered = case
    reordered = list(delivered)
    shuffler.shuffle(reordered)  # type: ignore[attr-defined]
    first, second = deliver_all(delivered).item, deliver_all(reordered).item
    assert first is not None
    assert second is not None
    assert (first.status, first.alarm_state, first.state_changed_at) == (
        second.status,
        second.alarm_state,
        second.state_changed_at,
    )
