"""Builders more than one function's wiring uses: the delivery queue (intake, delivery, reconciler) and the
REST adapter (delivery's resolve notes, the reconciler, the webhook function)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alertbridge.errors import ConfigError
from alertbridge.models.settings import Settings

if TYPE_CHECKING:
    from alertbridge.ports import DeliveryQueue, IncidentsApi


def delivery_queue(current: Settings) -> DeliveryQueue:
    from alertbridge.adapters.queues import SqsDeliveryQueue

    if not current.delivery_queue_url:
        raise ConfigError("ALERTBRIDGE_DELIVERY_QUEUE_URL is not set: the FIFO delivery queue is unknown")
    return SqsDeliveryQueue(current.delivery_queue_url)


def rest_incidents(current: Settings, **options: Any) -> IncidentsApi | None:
    """The REST adapter when the webhook secret holds a REST token and a From e-mail; None otherwise
    (notes, dropped-resolve detection and two-way sync are then skipped; an unreadable secret must not
    stop resolves). `options` override the adapter's timeouts and retry limits."""
    from alertbridge.adapters.pagerduty_rest import PagerDutyRestAdapter
    from alertbridge.adapters.secrets import SecretsWebhookCredentials

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
