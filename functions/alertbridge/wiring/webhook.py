"""The webhook function's container: the state mirror, the signing secrets, the REST lookups (with
timeouts that fit PagerDuty's 5 s) and the incident event publisher."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from alertbridge.models.settings import Settings, settings
from alertbridge.observability import logger
from alertbridge.ports import IncidentsApi
from alertbridge.services.incident_events import IncidentEventPublisher
from alertbridge.services.webhook import SigningSecretsCache, WebhookParts
from alertbridge.wiring import register

# PagerDuty waits 5 s for an answer: a slow DynamoDB call must fail fast (and be retried by PagerDuty)
# rather than use botocore's 60 s defaults.
_CONNECT_TIMEOUT_SECONDS = 1.0
_READ_TIMEOUT_SECONDS = 1.5
_MAX_ATTEMPTS = 2
# The REST lookup of an incident's alerts shares those 5 s with DynamoDB: one call, retries and 429 waits
# included, gets at most this long.
_REST_CALL_BUDGET_SECONDS = 2.5
_REST_READ_TIMEOUT_SECONDS = 2.0
_REST_MAX_RETRY_AFTER_SECONDS = 1.0
# One PutEvents try, one botocore attempt: at most connect + read
_PUT_CONNECT_TIMEOUT_SECONDS = 0.5
_PUT_READ_TIMEOUT_SECONDS = 0.5

NO_REST_TOKEN_MESSAGE = (
    "two-way sync is off: the webhook secret has no rest_token and from_email, so deliveries about "
    "incidents opened through the Events API (whose incident_key PagerDuty leaves null) cannot be mapped "
    "to their dedup key; they are verified, counted and answered 503 until a REST API token is added"
)


@lru_cache(maxsize=1)
def webhook_handler_parts() -> WebhookParts:
    return build_webhook_parts(settings())


def build_webhook_parts(current: Settings, *, dynamodb_client: Any = None) -> WebhookParts:
    from alertbridge.adapters.dynamo_state import (
        DynamoIncidentLinks,
        DynamoStateStore,
        DynamoWebhookDeliveries,
    )

    client = dynamodb_client if dynamodb_client is not None else _fast_dynamodb_client()
    return WebhookParts(
        state=DynamoStateStore(current.table_name, client),
        deliveries=DynamoWebhookDeliveries(current.table_name, client),
        secrets=SigningSecretsCache(
            _secret_loader(current.webhook_secret_id), max_age=current.secrets_max_age
        ),
        allow_unsigned=current.allow_unsigned_webhooks,
        ttl_days=current.config.closed_item_ttl_days,
        links=DynamoIncidentLinks(current.table_name, client),
        rest=LazyRestIncidents(lambda: webhook_rest_adapter(current), recheck_after=current.secrets_max_age),
        incident_events=incident_event_publisher(current),
    )


def incident_event_publisher(
    current: Settings, *, events_client: Any = None
) -> IncidentEventPublisher | None:
    """Incident events on `ALERTBRIDGE_EVENT_BUS_NAME`; None (no events) when it is not set."""
    if not current.event_bus_name:
        return None
    from alertbridge.adapters.eventbridge import EventBridgeIncidentEvents

    # one short attempt per call: the publisher retries (3 tries, ~2 s in all) within PagerDuty's 5 s
    client = (
        events_client
        if events_client is not None
        else _fast_client(
            "events",
            retries={"total_max_attempts": 1},
            connect_timeout=_PUT_CONNECT_TIMEOUT_SECONDS,
            read_timeout=_PUT_READ_TIMEOUT_SECONDS,
        )
    )
    port = EventBridgeIncidentEvents(current.event_bus_name, client)
    return IncidentEventPublisher(
        port,
        current.config.incident_events,
        try_seconds=_PUT_CONNECT_TIMEOUT_SECONDS + _PUT_READ_TIMEOUT_SECONDS,
    )


class LazyRestIncidents:
    """The REST adapter, built at the first delivery that needs it and kept for the container. Without a
    token it logs why it cannot mirror once per container, and reads the secret again after
    `recheck_after` seconds (a token added later is picked up without a new container)."""

    def __init__(
        self,
        build: Callable[[], IncidentsApi | None],
        *,
        recheck_after: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._build, self._recheck_after, self._clock = build, recheck_after, clock
        self._api: IncidentsApi | None = None
        self._checked_at: float | None = None
        self._warned = False
        self._lock = threading.Lock()

    def incidents(self) -> IncidentsApi | None:
        with self._lock:
            due = self._checked_at is None or self._clock() - self._checked_at >= self._recheck_after
            if self._api is None and due:
                self._api = self._build()
                self._checked_at = self._clock()
                if self._api is None and not self._warned:
                    logger.warning(NO_REST_TOKEN_MESSAGE)
                    self._warned = True
            return self._api


def webhook_rest_adapter(current: Settings) -> IncidentsApi | None:
    """The REST adapter from the webhook secret's `rest_token` and `from_email`, with timeouts that fit
    PagerDuty's 5 s; None without them (or when the secret cannot be read)."""
    from alertbridge.wiring.shared import rest_incidents

    return rest_incidents(
        current,
        connect_timeout=_CONNECT_TIMEOUT_SECONDS,
        read_timeout=_REST_READ_TIMEOUT_SECONDS,
        max_attempts=_MAX_ATTEMPTS,
        max_retry_after=_REST_MAX_RETRY_AFTER_SECONDS,
        call_budget=_REST_CALL_BUDGET_SECONDS,
    )


def _secret_loader(secret_id: str) -> Callable[[], Sequence[str]]:
    from alertbridge.adapters.secrets import SecretsWebhookCredentials

    # max_age=0: SigningSecretsCache does the caching, so that a refresh really reads Secrets Manager
    source = SecretsWebhookCredentials(secret_id, max_age=0)

    def load() -> Sequence[str]:
        return source.credentials().webhook_secrets

    return load


def _fast_dynamodb_client() -> Any:
    return _fast_client("dynamodb")


def _fast_client(
    service: str,
    *,
    retries: dict[str, Any] | None = None,
    connect_timeout: float = _CONNECT_TIMEOUT_SECONDS,
    read_timeout: float = _READ_TIMEOUT_SECONDS,
) -> Any:
    from botocore.config import Config

    from alertbridge.adapters import aws

    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", **(retries or {"max_attempts": _MAX_ATTEMPTS})},
    )
    return aws.client(service, config=config)


register("webhook", webhook_handler_parts.cache_clear)
