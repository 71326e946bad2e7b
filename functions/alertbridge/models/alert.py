"""The normalized alert: what every inbound shape is parsed into before policy and lifecycle."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alertbridge.models.pagerduty import Link


class AlarmState(StrEnum):
    ALARM = "ALARM"
    OK = "OK"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class AlertSource(StrEnum):
    CLOUDWATCH_SNS = "cloudwatch-sns"
    EVENTBRIDGE = "eventbridge"
    LAMBDA_ACTION = "lambda-action"
    GENERIC = "generic"  # an application's AlertMessage (models/generic.py)
    PAGERDUTY_EVENT = "pagerduty-event"  # an SNS message that already is an Events v2 body
    RAW = "raw"  # anything unrecognized: still pages


class AlarmKind(StrEnum):
    METRIC = "metric"
    METRIC_MATH = "metric-math"
    ANOMALY_DETECTION = "anomaly-detection"
    COMPOSITE = "composite"
    MULTI_TIME_SERIES = "multi-time-series"  # a Metrics Insights query alarm (SELECT ... GROUP BY ...)
    GENERIC = "generic"
    UNKNOWN = "unknown"


class MetricRef(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str | None = None
    namespace: str | None = None
    name: str | None = None
    stat: str | None = None
    unit: str | None = None
    period: int | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)
    expression: str | None = None
    label: str | None = None
    return_data: bool | None = None


class Evaluation(BaseModel):
    model_config = ConfigDict(frozen=True)
    period: int | None = None
    evaluation_periods: int | None = None
    datapoints_to_alarm: int | None = None
    treat_missing_data: str | None = None


class TriggeringChild(BaseModel):
    model_config = ConfigDict(frozen=True)
    arn: str
    name: str
    state: str | None = None
    timestamp: str | None = None


class Contributor(BaseModel):
    """One time series of a multi-time-series alarm: its id and its GROUP BY dimensions."""

    model_config = ConfigDict(frozen=True)
    id: str
    attributes: dict[str, str] = Field(default_factory=dict)


class MuteDetail(BaseModel):
    """An alarm mute rule that muted this state change's actions (CloudWatch `muteDetail`)."""

    model_config = ConfigDict(frozen=True)
    muted_by_arn: str
    window_start: datetime | None = None
    window_end: datetime | None = None


class Alert(BaseModel):
    """One state change of one alarm (or one generic alert), source-independent.

    `dedup_key` is computed by the parser from the alarm ARN (or the alert's idempotency id), so the same
    alarm gets the same key whichever way it arrives.
    """

    model_config = ConfigDict(frozen=True)

    source: AlertSource
    dedup_key: str
    alarm_name: str
    state: AlarmState
    state_changed_at: datetime
    kind: AlarmKind = AlarmKind.UNKNOWN
    alarm_arn: str | None = None
    account_id: str | None = None
    region: str | None = None  # a region code (from the ARN), never a display name
    previous_state: AlarmState | None = None
    reason: str | None = None
    reason_data: dict[str, Any] | None = None
    description: str | None = None
    metrics: tuple[MetricRef, ...] = ()
    threshold: float | None = None
    threshold_metric_id: str | None = None
    comparison: str | None = None
    evaluation: Evaluation | None = None
    alarm_rule: str | None = None
    triggering_children: tuple[TriggeringChild, ...] = ()
    topic_arn: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    tags_retrieved: bool = False  # the notification carried the alarm's tags (status SUCCESS)
    contributor: Contributor | None = None  # a contributor-level notification of a multi-time-series alarm
    mute: MuteDetail | None = None  # an alarm mute rule muted this change's actions
    # Application alert fields (models/generic.py)
    severity_hint: str | None = (
        None  # as sent (critical/error/warning/info, HIGH/LOW, P1-P5, ...); policy maps it
    )
    metric_value: float | None = None
    environment: str | None = None
    recommendations: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    auto_resolve_after_seconds: int | None = None
    component: str | None = None
    ignored_fields: tuple[str, ...] = ()  # fields of the wrong type the parser dropped
    # Unrecognized input: a bounded copy of the raw message, and its subject when SNS gave one
    raw_message: str | None = None
    subject: str | None = None
    # An SNS message that already is an Events v2 body is forwarded as-is (routing key replaced)
    passthrough: dict[str, Any] | None = None

    @property
    def primary_metric(self) -> MetricRef | None:
        return self.metrics[0] if self.metrics else None

    @property
    def is_alarm_level_multi_time_series(self) -> bool:
        """The alarm-level notification of a multi-time-series alarm ("6 out of 6 time series ...")."""
        return self.kind is AlarmKind.MULTI_TIME_SERIES and self.contributor is None
