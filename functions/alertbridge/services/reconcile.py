"""The reconciler's run, through the ports (the plan itself is logic/reconcile.py).

`Reconciler.run` reads the snapshot, plans it and hands the plan to the delivery lane: each action becomes an `Observation` on the FIFO
delivery queue, in its key's message group, carrying what was seen and when. The reconciler never sends
to PagerDuty itself: the delivery function decides each observation on fresh state, after whatever was
queued for the key before it, so an observation that newer state overtook changes nothing (an alarm seen
OK that fired again meanwhile is not resolved). One failing key never stops the others; the run stops
starting new work when its time budget is spent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from pydantic import BaseModel

from alertbridge.logic.lifecycle import PAGERDUTY_CONFIRMED_CLOSED
from alertbridge.logic.reconcile import (
    DEFAULT_GRACES,
    Action,
    ActionKind,
    AlarmHome,
    Graces,
    alarms_to_look_up,
    contributor_alarms_to_look_up,
    observation_for,
    open_keys_to_look_up,
    plan,
)
from alertbridge.models.alert import AlarmState
from alertbridge.models.config import BridgeConfig
from alertbridge.models.pagerduty import Incident
from alertbridge.models.state import StateItem
from alertbridge.ports import (
    AlarmContributors,
    Alarms,
    Counter,
    DeliveryQueue,
    IncidentsApi,
    MaintenanceStore,
    ObservedContributor,
    RecordedKeys,
    ResolvedFiringKeys,
    StateStore,
    SuppressedKeys,
    UnconfirmedResolves,
)


class RunReport(BaseModel):
    planned: int = 0
    done: dict[str, int] = {}  # observations handed to the delivery lane, by kind
    failed: dict[str, int] = {}
    skipped: int = 0  # left for the next run: the time budget ran out
    lookups_skipped: int = 0  # keys not looked up in PagerDuty this run (lookup budgets)

    def count(self, bucket: dict[str, int], kind: str) -> None:
        bucket[kind] = bucket.get(kind, 0) + 1


@dataclass
class ReconcileLimits:
    max_actions: int = 200  # per run; the rest waits for the next run
    # PagerDuty REST lookups per run (its limit is ~960/min for the account), in two budgets so that many
    # resolves awaiting confirmation never starve the check of a trigger PagerDuty may have dropped.
    max_open_lookups: int = 25
    max_resolve_lookups: int = 25
    unconfirmed_lookback: timedelta = timedelta(hours=24)
    graces: Graces = DEFAULT_GRACES


RunLog = Callable[[str, dict[str, Any]], None]
"""Where the reconciler reports a per-action failure: (message, fields)."""


def no_log(message: str, fields: dict[str, Any]) -> None:
    """The default RunLog: reports nothing."""


@dataclass
class Reconciler:
    """Plans from a snapshot and hands every corrective action to the delivery lane as an observation;
    never sends to PagerDuty itself (only the delivery function does, one key at a time)."""

    config: BridgeConfig
    state: StateStore
    suppressed: SuppressedKeys
    unconfirmed: UnconfirmedResolves
    alarms: Alarms
    maintenance: MaintenanceStore
    delivery: DeliveryQueue
    counter: Counter
    home: AlarmHome
    incidents: IncidentsApi | None = None
    contributors: AlarmContributors | None = None
    resolved_firing: ResolvedFiringKeys | None = None  # None: episodes a person resolved are not checked
    recorded: RecordedKeys | None = None  # None: changes recorded without a page are not checked
    limits: ReconcileLimits = field(default_factory=ReconcileLimits)
    clock: Callable[[], float] = time.monotonic
    log: RunLog = no_log
    _updated_at: dict[str, datetime] = field(default_factory=dict, init=False)  # alarm -> CloudWatch time

    def run(self, *, now: datetime, deadline: float | None = None) -> RunReport:
        report = RunReport()
        actions = self.plan_from_snapshot(now, deadline, report)
        report.planned = len(actions)
        for index, action in enumerate(actions[: self.limits.max_actions]):
            if self._out_of_time(deadline):
                report.skipped = len(actions) - index
                break
            self._hand_over(action, now, report)
        report.skipped += max(0, len(actions) - self.limits.max_actions)
        return report

    def plan_from_snapshot(self, now: datetime, deadline: float | None, report: RunReport) -> list[Action]:
        """Read the snapshot (open and suppressed keys, CloudWatch's alarms and contributors, maintenance
        windows, PagerDuty's incidents within the lookup budgets) and return the module's `plan()` of it."""
        open_items = list(self.state.list_open())
        suppressed = list(self.suppressed.list_suppressed())
        resolved_firing = self._resolved_firing()
        recorded = self._recorded()
        names = alarms_to_look_up([*open_items, *suppressed, *resolved_firing, *recorded], self.home)
        observed = self.alarms.observed(names) if names else {}
        states = {name: alarm.state for name, alarm in observed.items()}
        self._updated_at = {name: alarm.updated_at for name, alarm in observed.items() if alarm.updated_at}
        windows = self.maintenance.list_active(now) if suppressed else []
        contributors = self._contributors([*open_items, *suppressed], states)
        unconfirmed = self._unconfirmed(now, deadline, report)
        to_check = open_keys_to_look_up(open_items, states, now, self.home, self.limits.graces)
        unopened = self._looked_up(to_check, self.limits.max_open_lookups, deadline, report, since=True)
        return plan(
            open_items=open_items,
            suppressed_items=suppressed,
            unconfirmed=unconfirmed,
            unopened=unopened,
            alarm_states=states,
            windows=windows,
            now=now,
            home=self.home,
            graces=self.limits.graces,
            contributors=contributors,
            resolved_firing=resolved_firing,
            recorded=recorded,
        )

    def _recorded(self) -> list[StateItem]:
        """Changes recorded without a page, at most `max_actions` of them (each is one alarm more in the
        run's DescribeAlarms calls)."""
        if self.recorded is None:
            return []
        return list(islice(self.recorded.list_recorded(), self.limits.max_actions))

    def _resolved_firing(self) -> list[StateItem]:
        """Keys a person resolved while the alarm still fired, at most `max_actions` of them (the Query
        stops paging there): each is one alarm more in the run's DescribeAlarms calls."""
        if self.resolved_firing is None:
            return []
        return list(islice(self.resolved_firing.list_resolved_firing(), self.limits.max_actions))

    def _contributors(
        self, items: Sequence[StateItem], states: Mapping[str, AlarmState]
    ) -> dict[str, dict[str, ObservedContributor]]:
        """CloudWatch's contributors in ALARM for each alarm in ALARM that has contributor keys; an alarm
        whose contributors cannot be read is left out (its keys are not touched this run)."""
        if self.contributors is None:
            return {}
        found: dict[str, dict[str, ObservedContributor]] = {}
        for name in contributor_alarms_to_look_up(items, states, self.home):
            try:
                listed = self.contributors.in_alarm(name)
            except Exception as exc:  # one alarm's failure never stops the run
                self.counter.add("Reconcile.Failed")
                self.log("contributors lookup failed", {"alarm_name": name, "error": type(exc).__name__})
                continue
            if listed is not None:
                found[name] = dict(listed)
        return found

    def _unconfirmed(
        self, now: datetime, deadline: float | None, report: RunReport
    ) -> list[tuple[StateItem, Incident | None]]:
        """Each recently resolved key with PagerDuty's incident for it (only with a REST token)."""
        if self.incidents is None:
            return []
        since = now - self.limits.unconfirmed_lookback
        items = self.unconfirmed.list_unconfirmed_resolves(since)
        return self._looked_up(items, self.limits.max_resolve_lookups, deadline, report, since=True)

    def _looked_up(
        self,
        items: Iterable[StateItem],
        budget: int,
        deadline: float | None,
        report: RunReport,
        *,
        since: bool,
    ) -> list[tuple[StateItem, Incident | None]]:
        """Each item with PagerDuty's incident for its current episode, within `budget` lookups."""
        if self.incidents is None:
            return []
        found: list[tuple[StateItem, Incident | None]] = []
        for item in items:
            if budget <= 0 or self._out_of_time(deadline):
                report.lookups_skipped += 1
                continue
            budget -= 1  # a lookup, or the note the delivery function adds (one REST call either way)
            try:
                found.append((item, self._incident_of(item)))
            except Exception as exc:
                self._failed("lookup", item, exc, report)
        return found

    def _incident_of(self, item: StateItem) -> Incident | None:
        """PagerDuty's incident for the item's episode: one created before it opened is another episode's
        (a resolved incident from last week must not count as "found")."""
        assert self.incidents is not None
        if item.pd_status == PAGERDUTY_CONFIRMED_CLOSED and item.incident_id is not None:
            return None  # already seen closed (listed for its resolve note): no lookup needed
        return self.incidents.find_by_dedup_key(item.dedup_key, created_since=item.opened_at)

    def _out_of_time(self, deadline: float | None) -> bool:
        return deadline is not None and self.clock() >= deadline

    def _hand_over(self, action: Action, now: datetime, report: RunReport) -> None:
        as_of = self._updated_at.get(action.item.alarm_name) if action.kind == ActionKind.RESOLVE_OK else None
        if action.kind == ActionKind.RESOLVE_CONTRIBUTOR_OK:
            as_of = now  # the contributor was not in ALARM when looked up, after the run began
        try:
            self.delivery.send(observation_for(action, now=now, as_of=as_of))
        except Exception as exc:
            self._failed(action.kind, action.item, exc, report)
            return
        report.count(report.done, action.kind)
        self.counter.add(f"Reconcile.{action.kind}")
        self.log(
            "observation queued",
            {"action": action.kind.value, "alarm_name": action.item.alarm_name, "why": action.why},
        )

    def _failed(self, kind: str, item: StateItem, exc: Exception, report: RunReport) -> None:
        report.count(report.failed, kind)
        self.counter.add("Reconcile.Failed")
        error = f"{type(exc).__name__}: {exc}"
        self.log("reconcile failed", {"action": kind, "alarm_name": item.alarm_name, "error": error})
