"""Builds the adapters once per container from the settings. The only module that knows which adapter
serves which port; tests build pipelines with fakes instead.

The intake function needs the configuration and the delivery queue; the delivery function the whole
pipeline (state, Events API, routing keys, maintenance windows, notes, alarm tags)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from alertbridge.errors import ConfigError
from alertbridge.models.config import BridgeConfig
from alertbridge.models.settings import Settings, settings

if TYPE_CHECKING:
    from alertbridge.adapters.cloudwatch import CloudWatchAlarmTags
    from alertbridge.adapters.pagerduty_events import PagerDutyEventsAdapter
    from alertbridge.adapters.secrets import SecretsRoutingKeys
    from alertbridge.logic.pipeline import Pipeline
    from alertbridge.ports import Counter, DeliveryQueue, IncidentsApi


@dataclass(frozen=True)
class IntakeParts:
    config: BridgeConfig
    delivery: DeliveryQueue


@lru_cache(maxsize=1)
def intake_parts() -> IntakeParts:
    current = settings()
    return IntakeParts(config=current.config, delivery=delivery_queue(current))


def delivery_queue(current: Settings) -> DeliveryQueue:
    from alertbridge.adapters.queues import SqsDeliveryQueue

    if not current.delivery_queue_url:
        raise ConfigError("ALERTBRIDGE_DELIVERY_QUEUE_URL is not set: the FIFO delivery queue is unknown")
    return SqsDeliveryQueue(current.delivery_queue_url)


@lru_cache(maxsize=1)
def delivery_pipeline(counter: Counter) -> Pipeline:
    return build_delivery_pipeline(settings(), counter)


def build_delivery_pipeline(current: Settings, counter: Counter) -> Pipeline:
    from alertbridge.adapters.dynamo_state import (
        DynamoIncidentLinks,
        DynamoMaintenanceStore,
        DynamoStateStore,
    )
    from alertbridge.logic.pipeline import Pipeline
    from alertbridge.wiring_graph import graph_signing

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
        graph=graph_signing(current),  # metric graph images on triggers (wiring_graph.py)
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
            raise ConfigError("no PagerDuty REST token and From e-mail in the webhook secret: no notes")
        self._incidents.add_note(incident_id, content)


def rest_incidents(current: Settings, **options: Any) -> IncidentsApi | None:
    """The REST adapter when the webhook secret holds a REST token and a From e-mail; None otherwise
    (notes, dropped-resolve detection and two-way sync are then skipped; an unreadable secret must not
    stop resolves). `options` override the adapter's timeouts and retry limits."""
    from alertbridge.adapters.pagerduty_rest import PagerDutyRestAdapter
    from alertbridge.adapters.secrets import SecretsWebhookCredentials
    from alertbridge.errors import ConfigError

    try:
        credentials = SecretsWebhookCredentials(
            current.webhook_secret_id, max_age=current.secrets_max_age
        ).credentials()
    except ConfigError:
        return None  # no webhook secret value yet: notes are optional
    if not (credentials.rest_token and credentials.from_email):
        return None
    settings: dict[str, Any] = {
        "connect_timeout": current.connect_timeout,
        "read_timeout": current.read_timeout,
        **options,
    }
    return PagerDutyRestAdapter(
        credentials.rest_token, credentials.from_email, base_url=current.rest_url, **settings
    )


def reset() -> None:
    """Forget the container's settings and adapters (the local demo and tests start new 'containers')."""
    from alertbridge import wiring_graph

    settings.cache_clear()
    intake_parts.cache_clear()
    delivery_pipeline.cache_clear()
    wiring_graph.reset()
