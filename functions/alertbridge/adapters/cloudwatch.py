"""CloudWatch alarms: the `Alarms` port (current state by name, deleted alarms absent) and, for `doctor`,
every alarm with its actions.

DescribeAlarms takes at most 100 names per call; metric and composite alarms are both asked for, or a
composite alarm would look deleted and its incident would be closed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from alertbridge.models.alert import AlarmState

NAMES_PER_CALL = 100
ALARM_TYPES = ["MetricAlarm", "CompositeAlarm"]


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

    def notifies(self, target_arn: str) -> bool:
        return target_arn in self.alarm_actions or target_arn in self.ok_actions

    def lacks_ok_action_for(self, target_arn: str) -> bool:
        """Pages through `target_arn` but never tells it the alarm recovered: incidents never close."""
        return target_arn in self.alarm_actions and target_arn not in self.ok_actions


class CloudWatchAlarms:
    """ports.Alarms on one region's CloudWatch (the client's region)."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("cloudwatch")
        return self._client

    @property
    def region(self) -> str:
        return str(self.client.meta.region_name)

    def states(self, alarm_names: Sequence[str]) -> dict[str, AlarmState]:
        """Current state per existing alarm; names of deleted alarms are absent from the result."""
        names = sorted(set(alarm_names))
        found: dict[str, AlarmState] = {}
        for start in range(0, len(names), NAMES_PER_CALL):
            chunk = names[start : start + NAMES_PER_CALL]
            for alarm in self._describe(AlarmNames=chunk):
                found[alarm.name] = alarm.state
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
    )
