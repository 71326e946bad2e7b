"""The CloudWatch `Alarms` adapter against moto: states by name in chunks, deleted alarms absent, actions."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from alertbridge.adapters.cloudwatch import NAMES_PER_CALL, CloudWatchAlarms
from alertbridge.models.alert import AlarmState
from tests.integration.aws_fixtures import AwsContext

TOPIC = "arn:aws:sns:us-east-1:123456789012:alertbridge-alarms"


def put_alarm(cw: Any, name: str, *, ok_action: bool = True, state: str | None = None) -> None:
    cw.put_metric_alarm(
        AlarmName=name, Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[TOPIC], OKActions=[TOPIC] if ok_action else [],
    )  # fmt: skip
    if state:
        cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


@pytest.fixture
def cw(aws: AwsContext) -> Any:
    return boto3.client("cloudwatch", region_name=aws.region)


def test_states_of_existing_alarms_and_deleted_ones_absent(cw: Any) -> None:
    put_alarm(cw, "firing", state="ALARM")
    put_alarm(cw, "fine", state="OK")
    put_alarm(cw, "doomed", state="ALARM")
    cw.delete_alarms(AlarmNames=["doomed"])
    states = CloudWatchAlarms(cw).states(["firing", "fine", "doomed", "never-existed"])
    assert states == {"firing": AlarmState.ALARM, "fine": AlarmState.OK}


def test_more_than_a_hundred_names_are_asked_in_chunks(cw: Any) -> None:
    calls: list[int] = []
    cw.meta.events.register(
        "provide-client-params.cloudwatch.DescribeAlarms",
        lambda params, **_: calls.append(len(params.get("AlarmNames", []))),
    )
    names = [f"alarm-{index:03d}" for index in range(NAMES_PER_CALL + 30)]
    for name in names[::10]:
        put_alarm(cw, name, state="ALARM")
    states = CloudWatchAlarms(cw).states(names)
    assert sorted(states) == names[::10]
    assert max(calls) <= NAMES_PER_CALL and sum(calls) == len(names)


def test_no_names_asks_nothing(cw: Any) -> None:
    assert CloudWatchAlarms(cw).states([]) == {}


def test_list_alarms_reports_missing_ok_actions(cw: Any) -> None:
    put_alarm(cw, "wired")
    put_alarm(cw, "half-wired", ok_action=False)
    alarms = {alarm.name: alarm for alarm in CloudWatchAlarms(cw).list_alarms()}
    assert alarms["wired"].notifies(TOPIC) and not alarms["wired"].lacks_ok_action_for(TOPIC)
    assert alarms["half-wired"].lacks_ok_action_for(TOPIC)
    assert alarms["wired"].kind == "metric"


def test_the_region_is_the_clients(cw: Any) -> None:
    assert CloudWatchAlarms(cw).region == "us-east-1"
