"""The CloudWatch `Alarms` adapter against moto: states by name in chunks, deleted alarms absent, actions."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from alertbridge.adapters.cloudwatch import NAMES_PER_CALL, CloudWatchAlarms, CloudWatchAlarmTags
from alertbridge.models.alert import AlarmState
from tests.integration.aws_fixtures import AwsContext

TOPIC = "arn:aws:sns:us-east-1:123456789012:alertbridge-alarms"


def put_alarm(
    cw: Any,
    name: str,
    *,
    ok_action: bool = True,
    state: str | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    cw.put_metric_alarm(
        AlarmName=name, Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[TOPIC], OKActions=[TOPIC] if ok_action else [],
        Tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()],
    )  # fmt: skip
    if state:
        cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")
    return str(cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"])


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
    names = [f"alarm-{index:03d}" for index in range(NAMES_PER_CALL + 30)]
    for name in names[::10]:
        put_alarm(cw, name, state="ALARM")
    calls: list[int] = []
    cw.meta.events.register(
        "provide-client-params.cloudwatch.DescribeAlarms",
        lambda params, **_: calls.append(len(params.get("AlarmNames", []))),
    )
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


# --- AlarmTags ---------------------------------------------------------------------------------------------


class CountingClient:
    """moto's client, counting ListTagsForResource calls (and failing them on demand)."""

    def __init__(self, client: Any, error: Exception | None = None) -> None:
        self.client, self.error, self.calls = client, error, 0

    def list_tags_for_resource(self, **request: Any) -> Any:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.client.list_tags_for_resource(**request)


def tags_adapter(client: CountingClient, clock: list[float]) -> CloudWatchAlarmTags:
    return CloudWatchAlarmTags(max_age=300, client_for_region=lambda region: client, clock=lambda: clock[0])


def test_alarm_tags_are_read_once_per_max_age(cw: Any) -> None:
    arn = put_alarm(cw, "tagged", tags={"team": "payments"})
    client, clock = CountingClient(cw), [0.0]
    tags = tags_adapter(client, clock)
    assert tags.tags(arn) == {"team": "payments"}
    assert tags.tags(arn) == {"team": "payments"} and client.calls == 1
    clock[0] = 301.0
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "team", "Value": "search"}])
    assert tags.tags(arn) == {"team": "search"} and client.calls == 2


def test_the_regional_client_follows_the_alarms_region(aws: AwsContext) -> None:
    eu = boto3.client("cloudwatch", region_name="eu-west-1")
    arn = put_alarm(eu, "eu-alarm", tags={"team": "eu"})
    assert CloudWatchAlarmTags().tags(arn) == {"team": "eu"}


@pytest.mark.parametrize(
    ("code", "cached"),
    [("AccessDenied", True), ("ResourceNotFoundException", True), ("Throttling", False)],
)
def test_unreadable_tags_are_none_and_only_settled_answers_are_cached(
    cw: Any, code: str, cached: bool
) -> None:
    error = ClientError({"Error": {"Code": code, "Message": "no"}}, "ListTagsForResource")
    client, clock = CountingClient(cw, error), [0.0]
    tags = tags_adapter(client, clock)
    arn = "arn:aws:cloudwatch:us-east-1:999999999999:alarm:theirs"
    assert tags.tags(arn) is None and tags.tags(arn) is None
    assert client.calls == (1 if cached else 2)


def test_an_arn_that_is_not_a_cloudwatch_alarm_asks_nothing(cw: Any) -> None:
    client = CountingClient(cw)
    assert tags_adapter(client, [0.0]).tags("arn:aws:sns:us-east-1:123456789012:topic") is None
    assert client.calls == 0
