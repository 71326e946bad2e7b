"""The delivery function's container: the whole pipeline (state, Events API, routing keys, maintenance
windows, notes, alarm tags, graph signing)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from alertbridge.models.settings import Settings, settings
from alertbridge.wiring import register
from alertbridge.wiring.shared import delivery_queue, rest_incidents

if TYPE_CHECKING:
    from alertbridge.adapters.cloudwatch import CloudWatchAlarmTags
    from alertbridge.adapters.pagerduty_events import PagerDutyEventsAdapter
    from alertbridge.adapters.secrets import SecretsRoutingKeys
    from alertbridge.ports import Counter, IncidentsApi
    from alertbridge.services.pipeline import Pipeline


@lru_cache(maxsize=1)
def delivery_pipeline(counter: Counter) -> Pipeline:
    return build_delivery_pipeline(settings(), counter)


def build_delivery_pipeline(current: Settings, counter: Counter) -> Pipeline:
    from alertbridge.adapters.dynamo_state import (
        DynamoIncidentLinks,
        DynamoMaintenanceStore,
        DynamoStateStore,
    )
    from alertbridge.services.pipeline import Pipeline
    from alertbridge.wiring.graph import graph_signing

    return Pipeline(
        config=current.config,
        state=DynamoStateStore(current.table_name),
        events=events_adapter(current),
        keys=routing_keys(current),
        maintenance=DynamoMaintenanceStore(current.table_name),
        counter=counter,
        notes=ConfiguredNotes(current),
        alarm_tags=alarm_tags(current),
        links=DynamoIncidentLinks(current.table_name),
        # An alarm-level OK of a multi-time-series alarm queues its contributors' resolves on the lane.
        delivery=delivery_queue(current) if current.delivery_queue_url else None,
        graph=graph_signing(current),  # metric graph images on triggers (wiring/graph.py)
    )


def alarm_tags(current: Settings) -> CloudWatchAlarmTags | None:
    """Only a configuration with tag-matching rules reads alarm tags (and only it is granted to)."""
    if not current.config.matches_tags:
        return None
    from alertbridge.adapters.cloudwatch import CloudWatchAlarmTags

    return CloudWatchAlarmTags()


def events_adapter(current: Settings) -> PagerDutyEventsAdapter:
    from alertbridge.adapters.pagerduty_events import PagerDutyEventsAdapter

    return PagerDutyEventsAdapter(
        current.events_url,
        connect_timeout=current.connect_timeout,
        read_timeout=current.read_timeout,
        max_attempts=current.max_attempts,
    )


def routing_keys(current: Settings) -> SecretsRoutingKeys:
    from alertbridge.adapters.secrets import SecretsRoutingKeys

    return SecretsRoutingKeys(current.routing_keys_secret, current.config, max_age=current.secrets_max_age)


class ConfiguredNotes:
    """Resolve notes through the REST API, if the webhook secret holds a REST token and a From e-mail.

    The secret is read at the first note, not at start-up: most invocations never need it.
    """

    def __init__(self, current: Settings) -> None:
        self._settings = current
        self._incidents: IncidentsApi | None = None

    def add_note(self, incident_id: str, content: str) -> None:
        if self._incidents is None:
            self._incidents = rest_incidents(self._settings)
        if self._incidents is None:
            from alertbridge.errors import ConfigError

            raise ConfigError("no PagerDuty REST token and From e-mail in the webhook secret: no notes")
        self._incidents.add_note(incident_id, content)


register("delivery", delivery_pipeline.cache_clear)
