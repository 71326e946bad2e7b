"""Contributors and mute rules end to end in moto: the real delivery pipeline and reconciler handler, the
operator commands, and the in-process stand-in for the CloudWatch APIs moto lacks
(DescribeAlarmContributors, the alarm mute rules)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from alertbridge.adapters.cloudwatch import CloudWatchMuteRules
from alertbridge.models.state import KeyStatus
from alertbridge.operator import commands
from alertbridge.sandbox.cloudwatch_stand_in import CloudWatchStandIn
from alertbridge.sandbox.scenario import (
    INSIGHTS_ALARM,
    insights_alarm_level,
    insights_contributor,
    muted_alarm,
)
from tests.integration.deployed_bridge import REGION, Deployed, deployed_fixture  # noqa: F401 - the fixture
from tests.integration.test_operator_cli import cli

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
ORDERS, CARTS = "6d442278dba546f6", "a1b2c3d4e5f60718"


@pytest.fixture
def stack(deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    deployed.create_stack()
    stand_in = CloudWatchStandIn().install()
    # The operator builds its clients from a session of its own; give it one the stand-in answers for.
    monkeypatch.setattr(
        commands.Target,
        "mute_rules",
        lambda self: CloudWatchMuteRules(boto3.client("cloudwatch", region_name=REGION)),
    )
    deployed.stand_in = stand_in  # type: ignore[attr-defined]
    yield deployed
    stand_in.uninstall()


def test_the_reconciler_closes_a_contributor_describe_alarm_contributors_no_longer_lists(
    stack: Deployed,
) -> None:
    stack.put_alarm(INSIGHTS_ALARM, "ALARM")
    for contributor, table in ((ORDERS, "orders"), (CARTS, "carts")):
        assert stack.ingest(insights_contributor(contributor, table, "ALARM", T0)).reason == "opened"
    stand_in: CloudWatchStandIn = stack.stand_in  # type: ignore[attr-defined]
    stand_in.set_contributors(INSIGHTS_ALARM, {CARTS: {"TableName": "carts"}})  # orders's OK was lost
    report = stack.reconcile()
    assert report["done"].get("contributor-ok") == 1 and "DescribeAlarmContributors" in stand_in.calls
    open_keys = {item.contributor_id for item in stack.state.list_open()}
    assert open_keys == {CARTS}


def test_active_and_maintenance_list_show_mutes_and_recorded_levels(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    held = stack.ingest(muted_alarm(T0, T0 - timedelta(minutes=5), T0 + timedelta(hours=2), "search-upgrade"))
    assert held.reason == "suppressed-mute-rule"
    assert stack.ingest(insights_alarm_level("ALARM", "OK", T0, 2)).reason == "recorded-not-paged"
    code, out, _ = cli(capsys, stack, "active")
    assert code == 0
    (row,) = [line for line in out.splitlines() if "search-cluster-cpu" in line]
    assert "alarm-mute-rule:search-upgrade" in row and ".." in row
    (recorded,) = [line for line in out.splitlines() if INSIGHTS_ALARM in line]
    assert "alarm level of a multi-time-series alarm" in recorded and "1 recorded without a page" in out
    code, out, _ = cli(capsys, stack, "maintenance", "start", "--duration", "2h", "--reason", "reindex",
                       "--cloudwatch", "search-cluster-cpu", "unrelated-alarm")  # fmt: skip
    assert code == 0 and "PT2H" in out and "search-cluster-cpu" in out
    (rule,) = CloudWatchMuteRules(boto3.client("cloudwatch", region_name=REGION)).list_rules()
    assert rule.alarm_names == ("search-cluster-cpu", "unrelated-alarm") and rule.schedule.startswith("at(")  # type: ignore[union-attr]
    code, out, _ = cli(capsys, stack, "maintenance", "list")
    assert code == 0 and rule.name in out and "unrelated-alarm" not in out  # only alarms the bridge has seen
    code, out, err = cli(capsys, stack, "maintenance", "start", "--duration", "20d", "--reason", "x",
                         "--cloudwatch", "search-cluster-cpu")  # fmt: skip
    assert code == 2 and "15 days" in err


def test_a_muted_alarm_is_paged_by_the_reconciler_once_its_mute_ended(stack: Deployed) -> None:
    stack.put_alarm("search-cluster-cpu", "ALARM")
    ended = T0 + timedelta(minutes=10)  # before now
    assert (
        stack.ingest(muted_alarm(T0, T0 - timedelta(minutes=5), ended, "short")).reason
        == "suppressed-mute-rule"
    )
    report = stack.reconcile()
    assert report["done"].get("maintenance-ended") == 1
    (item,) = [item for item in stack.state.list_open() if item.alarm_name == "search-cluster-cpu"]
    assert item.status == KeyStatus.OPEN and stack.emulator.open_alert(item.dedup_key) is not None
