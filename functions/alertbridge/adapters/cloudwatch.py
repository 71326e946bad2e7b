"""CloudWatch alarms: the `Alarms` port (current state by name, deleted alarms absent), the `AlarmTags`
port (tags by ARN, cached) and, for `doctor`, every alarm with its actions.

DescribeAlarms takes at most 100 names per call; metric and composite alarms are both asked for, or a
composite alarm would look deleted and its incident would be closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from alertbridge.models.alert import AlarmState
from alertbridge.ports import MuteRule, ObservedAlarm, ObservedContributor

NAMES_PER_CALL = 100
ALARM_TYPES = ["MetricAlarm", "CompositeAlarm"]
# Answers that will not change on a retry soon: cached like tags. Throttling and outages are not cached.
SETTLED_ERRORS = frozenset(
    {"ResourceNotFound", "ResourceNotFoundException", "AccessDenied", "AccessDeniedException"}
)


class AlarmSummary(BaseModel):
    """One alarm as `doctor` needs it: where its state changes go."""

    model_config = ConfigDict(frozen=True)

    name: str
    arn: str
    kind: str  # "metric" | "composite"
    state: AlarmState
    actions_enabled: bool
    alarm_actions: tuple[str, ...] = ()
    ok_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    state_updated_at: datetime | None = None

    def notifies(self, target_arn: str) -> bool:
        return target_arn in self.alarm_actions or target_arn in self.ok_actions

    def lacks_ok_action_for(self, target_arn: str) -> bool:
        """Pages through `target_arn` but never tells it the alarm recovered: incidents never close."""
        return target_arn in self.alarm_actions and target_arn not in self.ok_actions


class _CloudWatchClient:
    """The region's CloudWatch client, created on first use (or the one given)."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from alertbridge.adapters import aws

            self._client = aws.client("cloudwatch")
        return self._client


class CloudWatchAlarms(_CloudWatchClient):
    """ports.Alarms on one region's CloudWatch (the client's region)."""

    @property
    def region(self) -> str:
        return str(self.client.meta.region_name)

    def states(self, alarm_names: Sequence[str]) -> dict[str, AlarmState]:
        """Current state per existing alarm; names of deleted alarms are absent from the result."""
        return {name: alarm.state for name, alarm in self.observed(alarm_names).items()}

    def observed(self, alarm_names: Sequence[str]) -> dict[str, ObservedAlarm]:
        """State and state update time per existing alarm; deleted alarms are absent."""
        names = sorted(set(alarm_names))
        found: dict[str, ObservedAlarm] = {}
        for start in range(0, len(names), NAMES_PER_CALL):
            chunk = names[start : start + NAMES_PER_CALL]
            for alarm in self._describe(AlarmNames=chunk):
                found[alarm.name] = ObservedAlarm(state=alarm.state, updated_at=alarm.state_updated_at)
        return found

    def list_alarms(self) -> list[AlarmSummary]:
        """Every alarm of the region (for `doctor`)."""
        return list(self._describe())

    def _describe(self, **request: Any) -> Iterator[AlarmSummary]:
        paginator = self.client.get_paginator("describe_alarms")
        for page in paginator.paginate(AlarmTypes=ALARM_TYPES, **request):
            yield from (_summary(alarm, "metric") for alarm in page.get("MetricAlarms", []))
            yield from (_summary(alarm, "composite") for alarm in page.get("CompositeAlarms", []))


def _summary(alarm: dict[str, Any], kind: str) -> AlarmSummary:
    return AlarmSummary(
        name=alarm["AlarmName"],
        arn=alarm.get("AlarmArn", ""),
        kind=kind,
        state=AlarmState(alarm.get("StateValue", "INSUFFICIENT_DATA")),
        actions_enabled=bool(alarm.get("ActionsEnabled", True)),
        alarm_actions=tuple(alarm.get("AlarmActions", [])),
        ok_actions=tuple(alarm.get("OKActions", [])),
        insufficient_data_actions=tuple(alarm.get("InsufficientDataActions", [])),
        state_updated_at=alarm.get("StateUpdatedTimestamp"),
    )


class CloudWatchAlarmTags:
    """ports.AlarmTags: ListTagsForResource in the alarm's region, cached per container for `max_age`
    seconds (tags change rarely; a storm of one alarm's flaps costs one call)."""

    def __init__(
        self,
        *,
        max_age: float = 300.0,
        client_for_region: Callable[[str], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age = max_age
        self._client_for_region = client_for_region or _regional_client
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, str] | None]] = {}
        self._clients: dict[str, Any] = {}

    def tags(self, alarm_arn: str) -> dict[str, str] | None:
        cached = self._cache.get(alarm_arn)
        if cached is not None and self._clock() - cached[0] < self._max_age:
            return cached[1]
        found, settled = self._read(alarm_arn)
        if settled:
            self._cache[alarm_arn] = (self._clock(), found)
        return found

    def _read(self, alarm_arn: str) -> tuple[dict[str, str] | None, bool]:
        """(tags or None, whether the answer may be cached)."""
        from botocore.exceptions import BotoCoreError, ClientError

        parts = alarm_arn.split(":")
        if len(parts) < 7 or parts[2] != "cloudwatch" or not parts[3]:
            return None, True
        try:
            listed = self._client(parts[3]).list_tags_for_resource(ResourceARN=alarm_arn)
        except ClientError as exc:
            return None, exc.response.get("Error", {}).get("Code", "") in SETTLED_ERRORS
        except BotoCoreError:
            return None, False
        return {tag["Key"]: tag["Value"] for tag in listed.get("Tags", [])}, True

    def _client(self, region: str) -> Any:
        if region not in self._clients:
            self._clients[region] = self._client_for_region(region)
        return self._clients[region]


def _regional_client(region: str) -> Any:
    from alertbridge.adapters import aws

    return aws.client("cloudwatch", region=region)


class CloudWatchAlarmContributors(_CloudWatchClient):
    """ports.AlarmContributors: DescribeAlarmContributors (the contributors of a multi-time-series alarm
    currently in ALARM), in the client's region. moto does not implement it: local runs answer it with
    `alertbridge.sandbox.cloudwatch_stand_in`."""

    def in_alarm(self, alarm_name: str) -> dict[str, ObservedContributor] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        found: dict[str, ObservedContributor] = {}
        request: dict[str, Any] = {"AlarmName": alarm_name}
        try:
            while True:
                page = self.client.describe_alarm_contributors(**request)
                for entry in page.get("AlarmContributors", []):
                    contributor = ObservedContributor(
                        id=str(entry["ContributorId"]),
                        attributes={
                            str(k): str(v) for k, v in (entry.get("ContributorAttributes") or {}).items()
                        },
                        reason=entry.get("StateReason"),
                        since=entry.get("StateTransitionedTimestamp"),
                    )
                    found[contributor.id] = contributor
                if not page.get("NextToken"):
                    return found
                request["NextToken"] = page["NextToken"]
        except (ClientError, BotoCoreError):
            return None  # not a multi-time-series alarm, no permission, throttled: decide nothing now


class CloudWatchMuteRules:
    """ports.MuteRules: ListAlarmMuteRules / GetAlarmMuteRule / PutAlarmMuteRule (API of 2026-02-24)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def list_rules(self, alarm_name: str | None = None) -> list[MuteRule]:
        request: dict[str, Any] = {"AlarmName": alarm_name} if alarm_name else {}
        rules: list[MuteRule] = []
        while True:
            page = self.client.list_alarm_mute_rules(**request)
            for summary in page.get("AlarmMuteRuleSummaries", []):
                arn = summary["AlarmMuteRuleArn"]
                rules.append(self._get(arn, summary))
            if not page.get("NextToken"):
                return rules
            request["NextToken"] = page["NextToken"]

    def _get(self, arn: str, summary: dict[str, Any]) -> MuteRule:
        detail = self.client.get_alarm_mute_rule(AlarmMuteRuleName=arn.rsplit(":", 1)[-1])
        schedule = (detail.get("Rule") or {}).get("Schedule") or {}
        return MuteRule(
            arn=arn,
            name=str(detail.get("Name") or arn.rsplit(":", 1)[-1]),
            status=detail.get("Status") or summary.get("Status"),
            schedule=schedule.get("Expression"),
            duration=schedule.get("Duration"),
            alarm_names=tuple((detail.get("MuteTargets") or {}).get("AlarmNames") or ()),
            description=detail.get("Description"),
            starts_at=detail.get("StartDate"),
            expires_at=detail.get("ExpireDate") or summary.get("ExpireDate"),
        )

    def put_rule(self, rule: MuteRule) -> MuteRule:
        request: dict[str, Any] = {
            "Name": rule.name,
            "Rule": {"Schedule": {"Expression": rule.schedule, "Duration": rule.duration}},
            "MuteTargets": {"AlarmNames": list(rule.alarm_names)},
        }
        if rule.description:
            request["Description"] = rule.description
        if rule.starts_at:
            request["StartDate"] = rule.starts_at
        if rule.expires_at:
            request["ExpireDate"] = rule.expires_at
        self.client.put_alarm_mute_rule(**request)
        stored = [found for found in self.list_rules() if found.name == rule.name]
        return stored[0] if stored else rule
