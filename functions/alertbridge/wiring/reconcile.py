"""The reconciler's container. Tests build `Reconciler` with fakes, or call `build_reconciler` inside moto."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from alertbridge.models.settings import Settings, settings
from alertbridge.services.reconcile import RunLog, no_log
from alertbridge.wiring import register
from alertbridge.wiring.shared import delivery_queue, rest_incidents

if TYPE_CHECKING:
    from alertbridge.logic.reconcile import AlarmHome
    from alertbridge.ports import Counter
    from alertbridge.services.reconcile import Reconciler


@lru_cache(maxsize=1)
def reconciler(counter: Counter, home: AlarmHome, log: RunLog = no_log) -> Reconciler:
    return build_reconciler(settings(), counter, home, log=log)


def build_reconciler(
    current: Settings,
    counter: Counter,
    home: AlarmHome,
    *,
    log: RunLog = no_log,
    cloudwatch_client: Any = None,
) -> Reconciler:
    """`log` gets the reconciler's per-action failures (message, fields)."""
    from alertbridge.adapters.cloudwatch import CloudWatchAlarmContributors, CloudWatchAlarms
    from alertbridge.adapters.dynamo_state import DynamoMaintenanceStore, DynamoStateStore
    from alertbridge.services.reconcile import Reconciler

    store = DynamoStateStore(current.table_name)
    return Reconciler(
        config=current.config,
        state=store,
        suppressed=store,
        unconfirmed=store,
        resolved_firing=store,
        recorded=store,
        alarms=CloudWatchAlarms(cloudwatch_client),
        maintenance=DynamoMaintenanceStore(current.table_name),
        delivery=delivery_queue(current),
        counter=counter,
        home=home,
        incidents=rest_incidents(current),
        contributors=CloudWatchAlarmContributors(cloudwatch_client),
        log=log,
    )


def rekey_older_windows() -> int:
    """Maintenance windows an earlier version stored are rewritten in the current index layout."""
    from alertbridge.adapters.dynamo_state import DynamoMaintenanceStore

    return DynamoMaintenanceStore(settings().table_name).rekey_older_windows()


register("reconcile", reconciler.cache_clear)
