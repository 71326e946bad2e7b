"""Settings: the only place that reads the environment. Read once per container, validated.

The configuration document travels either inline (`ALERTBRIDGE_CONFIG`, for local runs and tests) or, as
the stack deploys it, as a file inside the code asset (`ALERTBRIDGE_CONFIG_FILE`, relative to the function's
code root `LAMBDA_TASK_ROOT`) with its SHA-256 in `ALERTBRIDGE_CONFIG_SHA256`. Lambda caps a function's
environment variables at 4 KB in total, so a configuration with many rules cannot live there.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from alertbridge.errors import ConfigError
from alertbridge.models.config import BridgeConfig

US_EVENTS_URL = "https://events.pagerduty.com"
EU_EVENTS_URL = "https://events.eu.pagerduty.com"
US_REST_URL = "https://api.pagerduty.com"
EU_REST_URL = "https://api.eu.pagerduty.com"
# Where the stack puts the validated configuration inside the code asset (relative to the code root).
DEPLOYED_CONFIG_FILE = "alertbridge/deployed-config.json"

# Environment variable -> field. Names are the contract with infra/ (the CDK stack sets them).
ENV_FIELDS = {
    "ALERTBRIDGE_TABLE_NAME": "table_name",
    "ALERTBRIDGE_ROUTING_KEYS_SECRET": "routing_keys_secret",
    "ALERTBRIDGE_WEBHOOK_SECRET": "webhook_secret_id",
    "ALERTBRIDGE_CONFIG": "config_json",
    "ALERTBRIDGE_CONFIG_FILE": "config_file",
    "ALERTBRIDGE_CONFIG_SHA256": "config_sha256",
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
    "ALERTBRIDGE_EVENT_BUS_NAME": "event_bus_name",
}


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    table_name: str = "alertbridge-state"
    routing_keys_secret: str = "alertbridge/routing-keys"
    webhook_secret_id: str = "alertbridge/webhook"
    config_json: str = "{}"
    config_file: str | None = None  # relative to LAMBDA_TASK_ROOT (the code root), or absolute
    config_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    code_root: str | None = None  # LAMBDA_TASK_ROOT; None: the directory holding the alertbridge package
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
    event_bus_name: str | None = None  # incident events go to this EventBridge bus; None: no events

    @field_validator("events_url", "rest_url")
    @classmethod
    def _no_trailing_slash(cls, url: str) -> str:
        if not url.startswith(("https://", "http://127.", "http://localhost")):
            raise ValueError("must be https (plain http only for a local emulator on loopback)")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _one_config_source(self) -> Settings:
        if self.config_file is not None and self.config_json != "{}":
            raise ValueError("set ALERTBRIDGE_CONFIG or ALERTBRIDGE_CONFIG_FILE, not both")
        return self

    @property
    def config_path(self) -> Path | None:
        if self.config_file is None:
            return None
        path = Path(self.config_file)
        if path.is_absolute():
            return path
        root = Path(self.code_root) if self.code_root else Path(__file__).resolve().parents[2]
        return root / path

    @property
    def config_text(self) -> str:
        """The configuration document: the file in the code asset when one is named, else the inline one."""
        path = self.config_path
        return self.config_json if path is None else _read_config_file(str(path), self.config_sha256)

    @field_validator("graph_base_url")
    @classmethod
    def _graph_base_is_https(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith("https://"):
            raise ValueError("must be https: PagerDuty loads images[].src only over HTTPS")
        return url.rstrip("/") if url else None

    @property
    def config(self) -> BridgeConfig:
        return _parse_config(self.config_text)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {field: env[name] for name, field in ENV_FIELDS.items() if env.get(name, "") != ""}
        if env.get("LAMBDA_TASK_ROOT"):
            values["code_root"] = env["LAMBDA_TASK_ROOT"]
        try:
            settings = cls.model_validate(values)
            settings.config  # noqa: B018 - validate the configuration document up front
        except ValidationError as exc:
            raise ConfigError(f"invalid alertbridge settings: {exc}") from exc
        return settings


def config_digest(text: str) -> str:
    """What `ALERTBRIDGE_CONFIG_SHA256` holds: the SHA-256 of the configuration file's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=8)
def _read_config_file(path: str, expected_sha256: str | None) -> str:
    """The configuration file, checked against the digest the stack recorded: a cold start with another
    file than the one validated at synth fails here, loudly."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"ALERTBRIDGE_CONFIG_FILE {path!r} cannot be read: {exc.strerror or exc}") from None
    if expected_sha256 is not None and config_digest(text) != expected_sha256:
        raise ConfigError(
            f"ALERTBRIDGE_CONFIG_FILE {path!r} has SHA-256 {config_digest(text)}, but the stack deployed "
            f"{expected_sha256}: the code asset and the function's environment disagree"
        )
    return text


@lru_cache(maxsize=8)
def _parse_config(text: str) -> BridgeConfig:
    try:
        return BridgeConfig.from_json_text(text)
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"invalid alertbridge configuration: {exc}") from exc


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The container's settings, read once."""
    return Settings.from_env()
