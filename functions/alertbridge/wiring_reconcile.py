"""Builds the reconciler's adapters once per container from the settings (the ingest Lambda's live in
wiring.py). Tests build `Reconciler` with fakes, or call `build_reconciler` inside moto."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from alertbridge.models.settings import Settings, settings

if TYPE_CHECKING:
    from alertbridge.logic.reconcile import AlarmHome, Reconciler
    from alertbridge.ports import Counter, IncidentsApi


@lru_cache(maxsize=1)
def reconciler(counter: Counter, home: AlarmHome) -> Reconciler:
    return build_reconciler(settings(), counter, home)


def build_reconciler(
    current: Settings, counter: Counter, home: AlarmHome, *, cloudwatch_client: Any = None
) -> Reconciler:
    from alertbridge.adapters.cloudwatch import CloudWatchAlarms
    from alertbridge.adapters.dynamo_state import DynamoMaintenanceStore, DynamoStateStore
    from alertbridge.adapters.pagerduty_events import PagerDutyEventsAdapter
    from alertbridge.adapters.secrets import SecretsRoutingKeys
    from alertbridge.logic.reconcile import Reconciler

    config = current.config
    store = DynamoStateStore(current.table_name)
    return Reconciler(
        config=config,
        state=store,
        suppressed=store,
        unconfirmed=store,
        alarms=CloudWatchAlarms(cloudwatch_client),
        maintenance=DynamoMaintenanceStore(current.table_name),
        events=PagerDutyEventsAdapter(
            current.events_url,
            connect_timeout=current.connect_timeout,
            read_timeout=current.read_timeout,
            max_attempts=current.max_attempts,
        ),
        keys=SecretsRoutingKeys(current.routing_keys_secret, config, max_age=current.secrets_max_age),
        counter=counter,
        home=home,
        incidents=incidents_api(current),
    )


def incidents_api(current: Settings) -> IncidentsApi | None:
    """The REST adapter when the webhook secret holds a REST token and From e-mail; else None (the
    reconciler then skips what needs PagerDuty's REST API: notes and dropped-resolve detection)."""
    from alertbridge.adapters.pagerduty_rest import PagerDutyRestAdapter
    from alertbridge.adapters.secrets import SecretsWebhookCredentials
    from alertbridge.errors import ConfigError

    credentials = SecretsWebhookCredentials(current.webhook_secret_id, max_age=current.secrets_max_age)
    try:
        found = credentials.credentials()
    except ConfigError:  # an unreadable webhook secret must not stop the resolves (doctor reports it)
        return None
    if not found.rest_token or not found.from_email:
        return None
    return PagerDutyRestAdapter(
        found.rest_token,
        found.from_email,
        base_url=current.rest_url,
        connect_timeout=current.connect_timeout,
        read_timeout=current.read_timeout,
    )


def reset() -> None:
    """Forget the container's settings and adapters (tests start new 'containers')."""
    settings.cache_clear()
    reconciler.cache_clear()
