"""Builds the adapters once per container from the settings. The only module that knows which adapter
serves which port; tests build pipelines with fakes instead."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from alertbridge.models.settings import Settings, settings

if TYPE_CHECKING:
    from alertbridge.logic.pipeline import Pipeline
    from alertbridge.ports import Counter


@lru_cache(maxsize=1)
def ingest_pipeline(counter: Counter) -> Pipeline:
    return build_ingest_pipeline(settings(), counter)


def build_ingest_pipeline(current: Settings, counter: Counter) -> Pipeline:
    from alertbridge.adapters.dynamo_state import DynamoMaintenanceStore, DynamoStateStore
    from alertbridge.adapters.pagerduty_events import PagerDutyEventsAdapter
    from alertbridge.adapters.secrets import SecretsRoutingKeys
    from alertbridge.logic.pipeline import Pipeline

    config = current.config
    return Pipeline(
        config=config,
        state=DynamoStateStore(current.table_name),
        events=PagerDutyEventsAdapter(
            current.events_url,
            connect_timeout=current.connect_timeout,
            read_timeout=current.read_timeout,
            max_attempts=current.max_attempts,
        ),
        keys=SecretsRoutingKeys(current.routing_keys_secret, config, max_age=current.secrets_max_age),
        maintenance=DynamoMaintenanceStore(current.table_name),
        counter=counter,
    )


def reset() -> None:
    """Forget the container's settings and adapters (the local demo and tests start new 'containers')."""
    settings.cache_clear()
    ingest_pipeline.cache_clear()
