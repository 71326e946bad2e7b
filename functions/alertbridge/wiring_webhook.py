"""Builds the webhook function's parts once per container from the settings (the ingest side lives in
wiring.py). Tests and local runs call `reset()` (and `wiring.reset()`) to start a new 'container'."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from alertbridge.logic.webhook import SigningSecretsCache, WebhookParts
from alertbridge.models.settings import Settings, settings

# PagerDuty waits 5 s for an answer: a slow DynamoDB call must fail fast (and be retried by PagerDuty)
# rather than use botocore's 60 s defaults.
_CONNECT_TIMEOUT_SECONDS = 1.0
_READ_TIMEOUT_SECONDS = 1.5
_MAX_ATTEMPTS = 2


@lru_cache(maxsize=1)
def webhook_handler_parts() -> WebhookParts:
    return build_webhook_parts(settings())


def build_webhook_parts(current: Settings, *, dynamodb_client: Any = None) -> WebhookParts:
    from alertbridge.adapters.dynamo_state import DynamoStateStore, DynamoWebhookDeliveries

    client = dynamodb_client if dynamodb_client is not None else _fast_dynamodb_client()
    return WebhookParts(
        state=DynamoStateStore(current.table_name, client),
        deliveries=DynamoWebhookDeliveries(current.table_name, client),
        secrets=SigningSecretsCache(
            _secret_loader(current.webhook_secret_id), max_age=current.secrets_max_age
        ),
        allow_unsigned=current.allow_unsigned_webhooks,
        ttl_days=current.config.closed_item_ttl_days,
    )


def _secret_loader(secret_id: str) -> Callable[[], Sequence[str]]:
    from alertbridge.adapters.secrets import SecretsWebhookCredentials

    # max_age=0: SigningSecretsCache does the caching, so that a refresh really reads Secrets Manager
    source = SecretsWebhookCredentials(secret_id, max_age=0)

    def load() -> Sequence[str]:
        return source.credentials().webhook_secrets

    return load


def _fast_dynamodb_client() -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=_CONNECT_TIMEOUT_SECONDS,
        read_timeout=_READ_TIMEOUT_SECONDS,
        retries={"max_attempts": _MAX_ATTEMPTS, "mode": "standard"},
    )
    return boto3.client("dynamodb", config=config)


def reset() -> None:
    """Forget the container's webhook parts (and the settings they were built from)."""
    settings.cache_clear()
    webhook_handler_parts.cache_clear()
