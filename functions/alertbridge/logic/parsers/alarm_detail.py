"""EventBridge "CloudWatch Alarm State Change" events and the direct Lambda alarm action (`alarmData`).

Both carry the same camelCase detail: `state`/`previousState` (value, reason, reasonData as a JSON string,
timestamp) and `configuration` (description, metrics with dimensions as a map, or `alarmRule` for
composites, whose triggering children sit in `reasonData.triggeringAlarms`).

"CloudWatch Alarm Contributor State Change" (a multi-time-series alarm's contributor: `alarmContributor`
{id, attributes}, a state with no reasonData and no previousState) takes the same path, as does the
Lambda action's contributor notification (inferred: AWS shows no example; `alarmData.alarmContributor`).
`muteDetail` (an alarm mute rule muted the actions) and `alarmTags`/`alarmTagsStatus` are read when present.

A "CloudWatch Alarm Configuration Change" with `detail.operation == "delete"` (same source, same ARN) becomes
an OK for the alarm's key with reason "alarm deleted": a deleted alarm never sends its OK, so without this
its incident would stay open forever.
"""

from __future__ import annotations

from datetime import datetime, timedelta
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
    is_multi_time_series,
    lower_keys,
    metric_query,
    mute_detail,
    optional_state,
    parse_time,
    reason_data,
    triggering_children,
)
from alertbridge.models.alert import AlarmKind, AlarmState, Alert, AlertSource, Evaluation, MetricRef

STATE_CHANGE = "CloudWatch Alarm State Change"
CONTRIBUTOR_STATE_CHANGE = "CloudWatch Alarm Contributor State Change"
CONFIG_CHANGE = "CloudWatch Alarm Configuration Change"
DELETED_REASON = "alarm deleted"


def is_eventbridge(doc: dict[str, Any]) -> bool:
    return isinstance(doc.get("detail"), dict) and (
        doc.get("detail-type") in (STATE_CHANGE, CONTRIBUTOR_STATE_CHANGE) or is_deletion(doc)
    )


def is_deletion(doc: dict[str, Any]) -> bool:
    detail = doc.get("detail")
    return (
        doc.get("detail-type") == CONFIG_CHANGE
        and isinstance(detail, dict)
        and detail.get("operation") == "delete"
    )


def is_lambda_action(doc: dict[str, Any]) -> bool:
    return isinstance(doc.get("alarmData"), dict) and ("alarmArn" in doc or "source" in doc)


def parse_eventbridge(doc: dict[str, Any], ctx: Context) -> Alert:
    resources = [item for item in as_list(doc.get("resources")) if isinstance(item, str)]
    arn = resources[0] if resources else None
    if not is_deletion(doc):
        return _alert(AlertSource.EVENTBRIDGE, doc, doc["detail"], arn, ctx)
    return _as_deleted(_alert(AlertSource.EVENTBRIDGE, doc, _with_state(doc["detail"]), arn, ctx), doc)


def _with_state(detail: dict[str, Any]) -> dict[str, Any]:
    """A deletion event without a readable last state still closes the key."""
    state = as_dict(detail.get("state"))
    return detail if optional_state(state.get("value")) else {**detail, "state": {**state, "value": "OK"}}


def _as_deleted(alert: Alert, doc: dict[str, Any]) -> Alert:
    """The deletion as the alarm's last transition, to OK. Its time is the event's, and at least just after
    the last recorded state change, so the lifecycle never takes it for an older (stale) notification."""
    last_change = alert.state_changed_at + timedelta(milliseconds=1)
    deleted_at = parse_time(doc.get("time"))
    changed_at = max(last_change, deleted_at) if isinstance(deleted_at, datetime) else last_change
    return alert.model_copy(
        update={
            "state": AlarmState.OK,
            "previous_state": alert.state,
            "state_changed_at": changed_at,
            "reason": DELETED_REASON,
            "reason_data": None,
        }
    )


def parse_lambda_action(doc: dict[str, Any], ctx: Context) -> Alert:
    return _alert(AlertSource.LAMBDA_ACTION, doc, doc["alarmData"], as_str(doc.get("alarmArn")), ctx)


def _alert(
    source: AlertSource, doc: dict[str, Any], detail: dict[str, Any], arn: str | None, ctx: Context
) -> Alert:
    state = as_dict(detail.get("state"))
    previous = as_dict(detail.get("previousState"))
    config = as_dict(detail.get("configuration"))
    data = reason_data(state.get("reasonData"))
    account = account_from_arn(arn) or as_str(doc.get("account")) or as_str(doc.get("accountId"))
    region = region_from_arn(arn) or as_str(doc.get("region"))
    name = as_str(detail.get("alarmName")) or _name(arn)
    metrics = tuple(metric_query(item) for item in as_list(config.get("metrics")))
    lowered = (lower_keys(detail), lower_keys(doc))  # once: contributor, tags and mute detail, any case
    found = contributor(*lowered)
    reason = as_str(state.get("reason"))
    tags, retrieved = alarm_tags(*lowered)
    kind = _kind(config, metrics)
    if kind is not AlarmKind.COMPOSITE and (found is not None or is_multi_time_series(metrics, reason)):
        kind = AlarmKind.MULTI_TIME_SERIES
    return Alert(
        source=source,
        dedup_key=cloudwatch_dedup_key(arn, account, region, name, found),
        alarm_name=name,
        state=alarm_state(state.get("value")),
        previous_state=optional_state(previous.get("value")),
        state_changed_at=parse_time(state.get("timestamp"))
        or parse_time(doc.get("time"))
        or ctx.arrived_at(),
        kind=kind,
        alarm_arn=arn,
        account_id=account,
        region=region,
        reason=reason,
        reason_data=data,
        description=as_str(config.get("description")),
        metrics=metrics,
        threshold=as_float(as_dict(data).get("threshold", config.get("threshold"))),
        threshold_metric_id=as_str(config.get("thresholdMetricId")),
        comparison=as_str(config.get("comparisonOperator")),
        evaluation=_evaluation(config, metrics),
        alarm_rule=as_str(config.get("alarmRule")),
        triggering_children=triggering_children(as_dict(data).get("triggeringAlarms")),
        topic_arn=ctx.topic_arn,
        tags=tags,
        tags_retrieved=retrieved,
        contributor=found,
        mute=mute_detail(*lowered),
    )


def _name(arn: str | None) -> str:
    if not arn or ":alarm:" not in arn:
        raise ValueError("alarm state change without alarm name or ARN")
    return arn.split(":alarm:", 1)[1]


def _kind(config: dict[str, Any], metrics: tuple[MetricRef, ...]) -> AlarmKind:
    if config.get("alarmRule"):
        return AlarmKind.COMPOSITE
    expressions = [metric.expression or "" for metric in metrics]
    if config.get("thresholdMetricId") or any("ANOMALY_DETECTION_BAND" in e for e in expressions):
        return AlarmKind.ANOMALY_DETECTION
    if any(expressions) or len(metrics) > 1:
        return AlarmKind.METRIC_MATH
    return AlarmKind.METRIC if metrics else AlarmKind.UNKNOWN


def _evaluation(config: dict[str, Any], metrics: tuple[MetricRef, ...]) -> Evaluation | None:
    evaluation = Evaluation(
        period=as_int(config.get("period")) or next((m.period for m in metrics if m.period), None),
        evaluation_periods=as_int(config.get("evaluationPeriods")),
        datapoints_to_alarm=as_int(config.get("datapointsToAlarm")),
        treat_missing_data=as_str(config.get("treatMissingData")),
    )
    return evaluation if any(evaluation.model_dump().values()) else None
