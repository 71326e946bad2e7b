"""Deployment settings, read from cdk.json context and validated at synth.

Two documents feed a deploy:
- `alertbridge:config`: the bridge configuration (routes, rules, ...), validated by the same `BridgeConfig`
  the Lambdas use. A path to a JSON file (relative to the app directory) or an inline object.
- `alertbridge:settings`: how the infrastructure is sized and wired (`DeploySettings` below).
A bad value in either fails `cdk synth` with `InfraConfigError`, which names the document and the field.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from alertbridge.models.config import BridgeConfig, DuplicateKey, loads_without_duplicates
from alertbridge.models.settings import EU_EVENTS_URL, EU_REST_URL, US_EVENTS_URL, US_REST_URL

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_CONTEXT_KEY = "alertbridge:config"
SETTINGS_CONTEXT_KEY = "alertbridge:settings"
EXAMPLE_ALARMS_CONTEXT_KEY = "alertbridge:example-alarms"
DEFAULT_CONFIG_PATH = "functions/alertbridge/models/config.example.json"
# PagerDuty's service regions (PagerDuty docs, "Service Regions"): Events API and REST API base URLs.
PAGERDUTY_URLS = {"us": (US_EVENTS_URL, US_REST_URL), "eu": (EU_EVENTS_URL, EU_REST_URL)}

TOPIC_ARN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192}


class InfraConfigError(ValueError):
    """A deployment document is invalid: synth stops with this message."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestSettings(_Strict):
    batch_size: int = Field(default=10, ge=1, le=10_000)
    max_batching_window_seconds: int = Field(default=0, ge=0, le=300)
    # SQS event source maximum concurrency: 2..1000, or None for no cap.
    max_concurrency: int | None = Field(default=10, ge=2, le=1000)
    timeout_seconds: int = Field(default=60, ge=5, le=900)
    memory_mb: int = Field(default=256, ge=128, le=10_240)
    max_receive_count: int = Field(default=5, ge=1, le=1000)
    dlq_retention_days: int = Field(default=14, ge=1, le=14)

    @model_validator(mode="after")
    def _batch_needs_window(self) -> IngestSettings:
        # SQS rule: batches above 10 records need a batching window.
        if self.batch_size > 10 and self.max_batching_window_seconds == 0:
            raise ValueError("batch_size above 10 needs max_batching_window_seconds >= 1 (an SQS rule)")
        return self

    @property
    def visibility_timeout_seconds(self) -> int:
        # AWS: at least six times the function timeout for an SQS event source (plus the window).
        return 6 * self.timeout_seconds + self.max_batching_window_seconds


class DeliverySettings(_Strict):
    """The FIFO delivery queue and the delivery function (the only PagerDuty Events API sender)."""

    batch_size: int = Field(default=10, ge=1, le=10)  # Lambda's FIFO event source takes at most 10
    # SQS event source maximum concurrency: 2..1000, or None for no cap. Keys beyond it wait their turn.
    max_concurrency: int | None = Field(default=10, ge=2, le=1000)
    timeout_seconds: int = Field(default=60, ge=5, le=900)
    memory_mb: int = Field(default=256, ge=128, le=10_240)
    max_receive_count: int = Field(default=10, ge=1, le=1000)
    dlq_retention_days: int = Field(default=14, ge=1, le=14)

    @property
    def visibility_timeout_seconds(self) -> int:
        # AWS: at least six times the function timeout for an SQS event source.
        return 6 * self.timeout_seconds


class WebhookSettings(_Strict):
    """The webhook function (PagerDuty Webhooks V3 -> state table).

    Two-way sync needs a PagerDuty REST API token: put `rest_token` and `from_email` in the webhook secret
    next to `webhook_secrets`. PagerDuty leaves `incident_key` null on incidents opened through the Events
    API, so the function maps a delivery to its dedup key by incident id, reading the incident's alerts
    (`GET /incidents/{id}/alerts`) once and keeping the link in the state table. Without a token it still
    verifies and counts deliveries, logs why it cannot mirror once per cold start, and answers 503 to the
    deliveries it cannot map (PagerDuty retries them for up to 48 h). Nothing here is set at synth time:
    the secret's value is read by the function.
    """

    timeout_seconds: int = Field(default=10, ge=3, le=30)  # PagerDuty waits 5 s; stay bounded
    memory_mb: int = Field(default=256, ge=128, le=10_240)
    # The URL is public (auth NONE): reserved concurrency caps what a flood can take from the account's pool,
    # so the delivery function keeps running. None opts out (accounts whose concurrency quota is too small
    # to reserve from: Lambda keeps 100 unreserved).
    reserved_concurrency: int | None = Field(default=10, ge=1, le=1000)
    allow_unsigned: bool = False
    url_4xx_threshold: int = Field(default=5, ge=1)


class ReconcilerSettings(_Strict):
    schedule_minutes: int = Field(default=5, ge=1, le=1440)
    timeout_seconds: int = Field(default=120, ge=10, le=900)
    memory_mb: int = Field(default=256, ge=128, le=10_240)


class EventBridgeSettings(_Strict):
    """Opt-in EventBridge intake (default bus of the stack's account and region)."""

    state_changes: bool = False  # "CloudWatch Alarm State Change" into the ingest queue
    alarm_deletions: bool = True  # "CloudWatch Alarm Configuration Change" (delete) into the ingest queue
    alarm_name_prefixes: list[str] = Field(default_factory=list)  # empty: every alarm
    accounts: list[str] = Field(default_factory=list)  # empty: this account only (the default bus)

    @field_validator("alarm_name_prefixes")
    @classmethod
    def _prefixes_not_blank(cls, prefixes: list[str]) -> list[str]:
        if any(not prefix.strip() for prefix in prefixes):
            raise ValueError("alarm name prefixes must not be blank")
        return prefixes

    @field_validator("accounts")
    @classmethod
    def _accounts_are_ids(cls, accounts: list[str]) -> list[str]:
        bad = [account for account in accounts if not re.fullmatch(r"\d{12}", account)]
        if bad:
            raise ValueError(f"accounts must be 12-digit AWS account ids: {bad}")
        return accounts

    @property
    def any_rule(self) -> bool:
        return self.state_changes or self.alarm_deletions


class MonitoringSettings(_Strict):
    """Where health alarms go. Paging through the bridge cannot report a broken bridge, so at least one
    destination outside it is required: `health_email`, `health_topic_arn` (an existing SNS topic, e.g. the
    one your other alerting already watches) or `pagerduty_email` (a PagerDuty e-mail integration address,
    which opens incidents without the Events API). `out_of_band_waiver` (a reason) accepts running without."""

    health_email: str | None = None
    health_topic_arn: str | None = Field(default=None, pattern=TOPIC_ARN)
    pagerduty_email: str | None = None
    out_of_band_waiver: str | None = Field(default=None, min_length=10)
    oldest_message_age_seconds: int = Field(default=600, ge=60)
    page_through_bridge: bool = True  # health alarms also notify the alarm topic, so they page

    @field_validator("health_email", "pagerduty_email")
    @classmethod
    def _email_shape(cls, email: str | None) -> str | None:
        if email is not None and not re.fullmatch(EMAIL, email):
            raise ValueError(f"not an e-mail address: {email!r}")
        return email

    @model_validator(mode="after")
    def _out_of_band(self) -> MonitoringSettings:
        if not self.out_of_band_destinations and not self.out_of_band_waiver:
            raise ValueError(
                "health alarms need a destination that does not depend on the bridge: set "
                "monitoring.health_email, monitoring.health_topic_arn or monitoring.pagerduty_email (a PagerDuty "
                'e-mail integration address), or waive it with monitoring.out_of_band_waiver: "<why>"'
            )
        return self

    @property
    def out_of_band_destinations(self) -> list[str]:
        return [value for value in (self.health_email, self.health_topic_arn, self.pagerduty_email) if value]


class DeploySettings(_Strict):
    stack_name: str = Field(default="AlertBridge", pattern=r"^[A-Za-z][A-Za-z0-9-]{0,100}$")
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    reconciler: ReconcilerSettings = Field(default_factory=ReconcilerSettings)
    eventbridge: EventBridgeSettings = Field(default_factory=EventBridgeSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    # An EventBridge bus for incident events (after each mirrored PagerDuty webhook); None: none, unless
    # a consumer is wired with `AlertBridge.on_incident`.
    incident_event_bus_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,256}$")
    subscribe_topic_arns: list[str] = Field(default_factory=list)
    # PagerDuty service region: sets both the Events API and the REST API base URLs.
    pagerduty_region: Literal["us", "eu"] = "us"
    log_retention_days: int = 30
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    # None: resolve the Powertools layer from the public SSM parameter at deploy time.
    powertools_layer_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$"
    )
    example_alarms: bool = False

    @field_validator("subscribe_topic_arns")
    @classmethod
    def _topic_arns(cls, arns: list[str]) -> list[str]:
        bad = [arn for arn in arns if not re.fullmatch(TOPIC_ARN, arn)]
        if bad:
            raise ValueError(f"not SNS topic ARNs: {bad}")
        if len(set(arns)) != len(arns):
            raise ValueError("subscribe_topic_arns lists a topic twice")
        return arns

    @property
    def events_url(self) -> str:
        return PAGERDUTY_URLS[self.pagerduty_region][0]

    @property
    def rest_url(self) -> str:
        return PAGERDUTY_URLS[self.pagerduty_region][1]

    @field_validator("log_retention_days")
    @classmethod
    def _retention_allowed(cls, days: int) -> int:
        if days not in LOG_RETENTION_DAYS:
            raise ValueError(f"CloudWatch Logs retention must be one of {sorted(LOG_RETENTION_DAYS)}")
        return days


def load_deploy_settings(context: Any, example_alarms_override: Any = None) -> DeploySettings:
    """Validate the `alertbridge:settings` context value (an object, a JSON string or None)."""
    document = _as_object(context, SETTINGS_CONTEXT_KEY) or {}
    if example_alarms_override is not None:
        document = {**document, "example_alarms": _as_bool(example_alarms_override)}
    try:
        return DeploySettings.model_validate(document)
    except ValidationError as exc:
        raise InfraConfigError(
            f"{SETTINGS_CONTEXT_KEY} (cdk.json context) is invalid:\n{_describe(exc)}"
        ) from exc


def load_bridge_config(context: Any, base_dir: Path = REPO_ROOT) -> BridgeConfig:
    """Validate the bridge configuration named by `alertbridge:config` (path or inline object)."""
    value = DEFAULT_CONFIG_PATH if context is None else context
    source, document = _config_document(value, base_dir)
    try:
        config = BridgeConfig.model_validate(document)
    except ValidationError as exc:
        raise InfraConfigError(f"alertbridge configuration ({source}) is invalid:\n{_describe(exc)}") from exc
    return config


def _config_document(value: Any, base_dir: Path) -> tuple[str, Any]:
    if isinstance(value, dict):
        return "inline cdk.json context", value
    if not isinstance(value, str):
        raise InfraConfigError(f"{CONFIG_CONTEXT_KEY} must be a file path or an object, got {value!r}")
    if value.lstrip().startswith("{"):
        return "inline cdk.json context", _parse_json(value, CONFIG_CONTEXT_KEY)
    path = Path(value) if Path(value).is_absolute() else base_dir / value
    if not path.is_file():
        raise InfraConfigError(f"{CONFIG_CONTEXT_KEY}: configuration file not found: {path}")
    return str(path), _parse_json(path.read_text(encoding="utf-8"), str(path))


def _describe(exc: ValidationError) -> str:
    """One line per problem: where it is and what is wrong (no echo of the whole document)."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(document)"
        lines.append(f"  - {where}: {error['msg']}")
    return "\n".join(lines)


def _as_object(value: Any, label: str) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, str):
        parsed = _parse_json(value, label)
        if isinstance(parsed, dict):
            return parsed
    raise InfraConfigError(f"{label} must be a JSON object, got {value!r}")


def _parse_json(text: str, label: str) -> Any:
    """JSON text of either document; a key given twice (two routes of one name) fails synth, as
    json.loads would silently keep the last one."""
    try:
        return loads_without_duplicates(text)
    except DuplicateKey as exc:
        raise InfraConfigError(f"{label}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InfraConfigError(f"{label} is not valid JSON: {exc}") from exc


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in {"true", "1", "yes"}:
        return True
    if str(value).lower() in {"false", "0", "no"}:
        return False
    raise InfraConfigError(f"{EXAMPLE_ALARMS_CONTEXT_KEY} must be true or false, got {value!r}")


def runtime_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The Lambda's runtime dependencies as pinned in pyproject.toml (`name==version`)."""
    dependencies: list[str] = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    unpinned = [dep for dep in dependencies if "==" not in dep]
    if unpinned:
        raise InfraConfigError(
            f"runtime dependencies must be pinned with == for a reproducible bundle: {unpinned}"
        )
    return dependencies


def pinned_version(package: str, requirements: list[str]) -> str:
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        if name.split("[")[0].strip().lower() == package:
            return version.strip()
    raise InfraConfigError(f"{package} is not a pinned runtime dependency in pyproject.toml")
