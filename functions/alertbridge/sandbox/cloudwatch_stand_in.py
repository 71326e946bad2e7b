"""CloudWatch's 2025-2026 APIs that moto 5.2.5 does not implement, answered in-process: DescribeAlarmContributors
and the alarm mute rule calls (PutAlarmMuteRule, GetAlarmMuteRule, ListAlarmMuteRules, DeleteAlarmMuteRule).

`CloudWatchStandIn.install()` registers botocore `before-call` handlers on the adapters' botocore session
(`adapters/aws.py`) and on boto3's default session, so every client created afterwards from either (the
reconciler's adapter, the operator commands) gets these answers instead of
moto's "not implemented", in the request and response shapes of the botocore service model. The demo and
the integration tests set the contributors a multi-time-series alarm has in ALARM with `set_contributors`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

from alertbridge.sandbox.bridge import ACCOUNT, REGION


def _emitters(session: Any = None) -> list[Any]:
    """The event emitters to register on: a given boto3 session's, else the adapters' botocore session's and
    boto3's default session's."""
    if session is not None:
        return [session.events]
    from alertbridge.adapters import aws

    default = boto3.DEFAULT_SESSION or boto3.setup_default_session() or boto3.DEFAULT_SESSION
    return [aws.session().get_component("event_emitter"), default.events]


_OPERATIONS = (
    "DescribeAlarmContributors",
    "PutAlarmMuteRule",
    "GetAlarmMuteRule",
    "ListAlarmMuteRules",
    "DeleteAlarmMuteRule",
)


_PARAMS = "alertbridge_stand_in_params"


def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """The call's own parameters (`before-call` sees the serialized request only)."""
    context[_PARAMS] = dict(params)


class _Http:
    """What botocore reads of an HTTP response a before-call handler stands in for."""

    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}


@dataclass
class CloudWatchStandIn:
    region: str = REGION
    account: str = ACCOUNT
    contributors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # alarm -> in ALARM
    mute_rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> GetAlarmMuteRule answer
    calls: list[str] = field(default_factory=list)

    def install(self, session: Any = None) -> CloudWatchStandIn:
        for emitter in _emitters(session):
            for operation in _OPERATIONS:
                emitter.register(
                    f"before-parameter-build.cloudwatch.{operation}",
                    _keep_params,
                    unique_id=f"keep-{operation}",
                )
                emitter.register(f"before-call.cloudwatch.{operation}", self._answer, unique_id=operation)
        return self

    def uninstall(self, session: Any = None) -> None:
        for emitter in _emitters(session):
            for operation in _OPERATIONS:
                emitter.unregister(
                    f"before-parameter-build.cloudwatch.{operation}", unique_id=f"keep-{operation}"
                )
                emitter.unregister(f"before-call.cloudwatch.{operation}", unique_id=operation)

    def set_contributors(self, alarm_name: str, in_alarm: dict[str, dict[str, str]]) -> None:
        """The contributors (id -> attributes) CloudWatch lists in ALARM for `alarm_name` from now on."""
        now = datetime.now(UTC)
        self.contributors[alarm_name] = [
            {
                "ContributorId": ident,
                "ContributorAttributes": dict(attributes),
                "StateReason": "Threshold Crossed",
                "StateTransitionedTimestamp": now,
            }
            for ident, attributes in in_alarm.items()
        ]

    def rule_arn(self, name: str) -> str:
        return f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm-mute-rule:{name}"

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[_Http, dict[str, Any]]:
        operation = model.name
        params = context.get(_PARAMS, {})
        self.calls.append(operation)
        handler = getattr(self, f"_{operation}")
        try:
            return _Http(200), handler(params)
        except KeyError as missing:
            error = {"Code": "ResourceNotFoundException", "Message": f"{missing} not found"}
            return _Http(404), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 404}}

    def _DescribeAlarmContributors(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"AlarmContributors": list(self.contributors.get(params["AlarmName"], []))}

    def _PutAlarmMuteRule(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        self.mute_rules[name] = {
            "Name": name,
            "AlarmMuteRuleArn": self.rule_arn(name),
            "Description": params.get("Description"),
            "Rule": params["Rule"],
            "MuteTargets": params.get("MuteTargets", {"AlarmNames": []}),
            "StartDate": params.get("StartDate"),
            "ExpireDate": params.get("ExpireDate"),
            "Status": "ACTIVE",
            "MuteType": "SCHEDULED",
            "LastUpdatedTimestamp": datetime.now(UTC),
        }
        return {}

    def _GetAlarmMuteRule(self, params: dict[str, Any]) -> dict[str, Any]:
        rule = self.mute_rules[params["AlarmMuteRuleName"]]
        return {key: value for key, value in rule.items() if value is not None}

    def _ListAlarmMuteRules(self, params: dict[str, Any]) -> dict[str, Any]:
        alarm = params.get("AlarmName")
        rules = [
            rule
            for rule in self.mute_rules.values()
            if alarm is None or alarm in rule["MuteTargets"].get("AlarmNames", [])
        ]
        summaries = [
            {
                key: rule[key]
                for key in ("AlarmMuteRuleArn", "ExpireDate", "Status", "MuteType", "LastUpdatedTimestamp")
                if rule.get(key) is not None
            }
            for rule in rules
        ]
        return {"AlarmMuteRuleSummaries": summaries}

    def _DeleteAlarmMuteRule(self, params: dict[str, Any]) -> dict[str, Any]:
        del self.mute_rules[params["AlarmMuteRuleName"]]
        return {}
