"""Settings: the only place that reads the environment. Read once per container, validated."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alertbridge.errors import ConfigError
from alertbridge.models.config import BridgeConfig

US_EVENTS_URL = "https://events.pagerduty.com"
EU_EVENTS_URL = "https://events.eu.pagerduty.com"
US_REST_URL = "https://api.pagerduty.com"

# Environment variable -> field. Names are the contract with infra/ (the CDK stack sets them).
ENV_FIELDS = {
    "ALERTBRIDGE_TABLE_NAME": "table_name",
    "ALERTBRIDGE_ROUTING_KEYS_SECRET": "routing_keys_secret",
    "ALERTBRIDGE_WEBHOOK_SECRET": "webhook_secret_id",
    "ALERTBRIDGE_CONFIG": "config_json",
    "ALERTBRIDGE_EVENTS_URL": "events_url",
    "ALERTBRIDGE_REST_URL": "rest_url",
    "ALERTBRIDGE_CONNECT_TIMEOUT": "connect_timeout",
    "ALERTBRIDGE_READ_TIMEOUT": "read_timeout",
    "ALERTBRIDGE_MAX_ATTEMPTS": "max_attempts",
    "ALERTBRIDGE_RECORD_BUDGET_SECONDS": "record_budget_seconds",
    "ALERTBRIDGE_SECRETS_MAX_AGE": "secrets_max_age",
    "ALERTBRIDGE_ALLOW_UNSIGNED_WEBHOOKS": "allow_unsigned_webhooks",
    "ALERTBRIDGE_ALARM_TOPIC_ARN": "alarm_topic_arn",
    "ALERTBRIDGE_DLQ_URL": "dlq_url",
    "ALERTBRIDGE_QUEUE_URL": "queue_url",
    "ALERTBRIDGE_DELIVERY_QUEUE_URL": "delivery_queue_url",
    "ALERTBRIDGE_DELIVERY_DLQ_URL": "delivery_dlq_url",
    "ALERTBRIDGE_GRAPH_BASE_URL": "graph_base_url",
    "ALERTBRIDGE_GRAPH_SECRET": "graph_secret_id",
}


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    table_name: str = "alertbridge-state"
    routing_keys_secret: str = "alertbridge/routing-keys"
    webhook_secret_id: str = "alertbridge/webhook"
    config_json: str = "{}"
    events_url: str = US_EVENTS_URL
    rest_url: str = US_REST_URL
    connect_timeout: float = Field(default=3.05, gt=0, le=30)
    read_timeout: float = Field(default=5.0, gt=0, le=60)
    max_attempts: int = Field(default=5, ge=1, le=20)
    record_budget_seconds: float = Field(default=20.0, gt=0, le=900)
    secrets_max_age: int = Field(default=300, ge=0)
    allow_unsigned_webhooks: bool = False
    alarm_topic_arn: str | None = None
    dlq_url: str | None = None
    queue_url: str | None = None
    delivery_queue_url: str | None = None  # the FIFO delivery queue (intake and reconciler send to it)
    delivery_dlq_url: str | None = None
    # Metric graph images (logic/graph.py): the public base of `/graph/<token>` (the webhook function's
    # URL) and the secret holding the tokens' HMAC key. Without both, no image is attached.
    graph_base_url: str | None = None
    graph_secret_id: str | None = None

    @field_validator("events_url", "rest_url")
    @classmethod
    def _no_trailing_slash(cls, url: str) -> str:
        if not url.startswith(("https://", "http://127.", "http://localhost")):
            raise ValueError("must be https (plain http only for a local emulator on loopback)")
        return url.rstrip("/")

    @field_validator("graph_base_url")
    @classmethod
    def _graph_base_is_https(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith("https://"):
            raise ValueError("must be https: PagerDuty loads images[].src only over HTTPS")
        return url.rstrip("/") if url else None

    @property
    def config(self) -> BridgeConfig:
        return _parse_config(self.config_json)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {field: env[name] for name, field in ENV_FIELDS.items() if env.get(name, "") != ""}
        try:
            settings = cls.model_validate(values)
            settings.config  # noqa: B018 - validate the configuration document up front
        except ValidationError as exc:
            raise ConfigError(f"invalid alertbridge settings: {exc}") from exc
        return settings


@lru_cache(maxsize=8)
def _parse_config(text: str) -> BridgeConfig:
    try:
        return BridgeConfig.from_json_text(text)
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"invalid ALERTBRIDGE_CONFIG: {exc}") from exc


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The container's settings, read once."""
    return Settings.from_env()
