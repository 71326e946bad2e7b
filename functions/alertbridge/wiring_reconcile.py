"""Builds the reconciler's adapters once per container from the settings (the intake and delivery Lambdas' live
in wiring.py). Tests build `Reconciler` with fakes, or call `build_reconciler` inside moto."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from alertbridge.models.settings import Settings, settings
from alertbridge.wiring import delivery_queue, rest_incidents

if TYPE_CHECKING:
    from alertbridge.logic.reconcile import AlarmHome, Reconciler
    from alertbridge.ports import Counter


@lru_cache(maxsize=1)
def reconciler(counter: Counter, home: AlarmHome) -> Reconciler:
    return build_reconciler(settings(), counter, home)


def build_reconciler(
    current: Settings, counter: Counter, home: AlarmHome, *, cloudwatch_client: Any = None
) -> Reconciler:
    from alertbridge.adapters.cloudwatch import CloudWatchAlarmContributors, CloudWatchAlarms
    from alertbridge.adapters.dynamo_state import DynamoMaintenanceStore, DynamoStateStore
    from alertbridge.logic.reconcile import Reconciler

    store = DynamoStateStore(current.table_name)
    return Reconciler(
        config=current.config,
        state=store,
        suppressed=store,
        unconfirmed=store,
        resolved_firing=store,
        alarms=CloudWatchAlarms(cloudwatch_client),
        maintenance=DynamoMaintenanceStore(current.table_name),
        delivery=delivery_queue(current),
        counter=counter,
        home=home,
        incidents=rest_incidents(current),
        contributors=CloudWatchAlarmContributors(cloudwatch_client),
    )


def reset() -> None:
    """Forget the container's settings and adapters (tests start new 'containers')."""
    settings.cache_clear()
    reconciler.cache_clear()
