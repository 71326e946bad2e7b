"""A CloudWatch alarm notification as SNS writes it (`Message` of the envelope, or the raw-delivered body).

Covers metric, metric math (`Trigger.Metrics`), anomaly detection (`Trigger.ThresholdMetricId`),
composite alarms (`AlarmRule`, `TriggeringChildren`) and multi-time-series (Metrics Insights) alarms, at
alarm level and, inferred (AWS documents no SNS example), at contributor level; tags when the message
carries them (`AlarmTagsStatus`) and a mute rule's `MuteDetail` (inferred spelling). The region code comes from the ARN: `Region` is a
display name that changed over the years.
"""

from __future__ import annotations

from typing import Any

from alertbridge.logic.dedup import account_from_arn, region_from_arn
from alertbridge.logic.parsers._common import (
    Context,
    alarm_state,
    alarm_tags,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_str,
    cloudwatch_dedup_key,
    contributor,
    dimensions,
    is_multi_time_series,
    lower_keys,
    metric_query,
    mute_detail,
    optional_state,
    parse_time,
    reason_data,
    triggering_children,
)
from alertbridge.models.alert import AlarmKind, Alert, AlertSource, Evaluation, MetricRef


def matches(doc: dict[str, Any]) -> bool:
    return isinstance(doc.get("AlarmName"), str) and "NewStateValue" in doc


def parse(doc: dict[str, Any], ctx: Context) -> Alert:
    name: str = doc["AlarmName"]
    arn = as_str(doc.get("AlarmArn"))
    account = as_str(doc.get("AWSAccountId")) or account_from_arn(arn)
    region = region_from_arn(arn)
    trigger = as_dict(doc.get("Trigger"))
    lowered = lower_keys(doc)  # once: contributor, tags and mute detail are read in any case
    found = contributor(lowered)
    metrics = _metrics(trigger)
    reason = as_str(doc.get("NewStateReason"))
    tags, retrieved = alarm_tags(lowered)
    return Alert(
        source=AlertSource.CLOUDWATCH_SNS,
        dedup_key=cloudwatch_dedup_key(arn, account, region, name, found),
        alarm_name=name,
        state=alarm_state(doc["NewStateValue"]),
        previous_state=optional_state(doc.get("OldStateValue")),
        state_changed_at=parse_time(doc.get("StateChangeTime")) or ctx.arrived_at(),
        kind=_kind(doc, trigger, metrics, reason, multi=found is not None),
        alarm_arn=arn,
        account_id=account,
        region=region,
        reason=reason,
        reason_data=reason_data(doc.get("NewStateReasonData")),
        description=as_str(doc.get("AlarmDescription")),
        metrics=metrics,
        threshold=as_float(trigger.get("Threshold")),
        threshold_metric_id=as_str(trigger.get("ThresholdMetricId")),
        comparison=as_str(trigger.get("ComparisonOperator")),
        evaluation=_evaluation(trigger) if trigger else None,
        alarm_rule=as_str(doc.get("AlarmRule")),
        triggering_children=triggering_children(doc.get("TriggeringChildren")),
        topic_arn=ctx.topic_arn,
        tags=tags,
        tags_retrieved=retrieved,
        contributor=found,
        mute=mute_detail(lowered),
    )


def _kind(
    doc: dict[str, Any],
    trigger: dict[str, Any],
    metrics: tuple[MetricRef, ...],
    reason: str | None,
    *,
    multi: bool,
) -> AlarmKind:
    if not trigger and "AlarmRule" in doc:
        return AlarmKind.COMPOSITE
    if multi or is_multi_time_series(metrics, reason):
        return AlarmKind.MULTI_TIME_SERIES
    if trigger.get("ThresholdMetricId"):
        return AlarmKind.ANOMALY_DETECTION
    if trigger.get("Metrics"):
        return AlarmKind.METRIC_MATH
    return AlarmKind.METRIC if trigger else AlarmKind.UNKNOWN


def _metrics(trigger: dict[str, Any]) -> tuple[MetricRef, ...]:
    if trigger.get("Metrics"):
        return tuple(metric_query(item) for item in as_list(trigger["Metrics"]))
    if not trigger.get("MetricName"):
        return ()
    single = MetricRef(
        namespace=as_str(trigger.get("Namespace")),
        name=as_str(trigger.get("MetricName")),
        stat=as_str(trigger.get("Statistic")) or as_str(trigger.get("ExtendedStatistic")),
        unit=as_str(trigger.get("Unit")),
        period=as_int(trigger.get("Period")),
        dimensions=dimensions(trigger.get("Dimensions")),
    )
    return (single,)


def _evaluation(trigger: dict[str, Any]) -> Evaluation:
    return Evaluation(
        period=as_int(trigger.get("Period")),
        evaluation_periods=as_int(trigger.get("EvaluationPeriods")),
        datapoints_to_alarm=as_int(trigger.get("DatapointsToAlarm")),
        treat_missing_data=_treat_missing(trigger.get("TreatMissingData")),
    )


def _treat_missing(value: object) -> str | None:
    """Seen as "missing", "" and "- TreatMissingData: missing"."""
    text = as_str(value)
    return text.rsplit(":", 1)[-1].strip() or None if text else None
