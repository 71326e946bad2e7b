"""The DynamoDB adapters against moto: serialization, conditional writes, the sparse index, TTL in code,
maintenance windows and webhook delivery dedupe."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alertbridge.adapters.dynamo_state import (
    DynamoMaintenanceStore,
    DynamoStateStore,
    DynamoWebhookDeliveries,
    state_item_from_dynamo,
    state_item_to_dynamo,
    window_to_dynamo,
)
from alertbridge.logic.lifecycle import Decision, apply_incident_update, decide, resolved_by_person
from alertbridge.models.alert import AlarmState, Alert, AlertSource
from alertbridge.models.maintenance import MaintenanceWindow
from alertbridge.models.pagerduty import EventAction, Severity
from alertbridge.models.state import KeyStatus, StateItem
from alertbridge.models.table import (
    INDEX_PARTITION_KEY,
    INDEX_SORT_KEY,
    KEY_PREFIX,
    PARTITION_KEY,
    RESOLVED_FIRING_INDEX_VALUE,
    UNCONFIRMED_INDEX_VALUE,
)
from tests.integration import aws_fixtures
from tests.integration.aws_fixtures import AwsContext

aws = aws_fixtures.aws

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(seconds=20)


def alert(key: str, state: AlarmState = AlarmState.ALARM, at: datetime = T0) -> Alert:
    return Alert(
        source=AlertSource.CLOUDWATCH_SNS,
        dedup_key=key,
        alarm_name=key.rsplit(":", 1)[-1],
        alarm_arn=key,
        state=state,
        state_changed_at=at,
    )


def decided(stored: StateItem | None, new: Alert, now: datetime = NOW) -> Decision:
    action = {AlarmState.ALARM: EventAction.TRIGGER, AlarmState.OK: EventAction.RESOLVE}.get(new.state)
    return decide(
        stored,
        new,
        action=action,
        route="payments",
        routing_key_id="fp-payments",
        severity=Severity.CRITICAL,
        summary=f"{new.alarm_name} {new.state.value}",
        suppressed_by=None,
        now=now,
        ttl_days=30,
    )


def apply(store: DynamoStateStore, new: Alert, now: datetime = NOW) -> Decision:
    """What the pipeline does: read, decide, write conditionally."""
    stored = store.get(new.dedup_key)
    decision = decided(stored, new, now)
    if decision.new_item is not None:
        assert store.save(decision.new_item, expected_version=decision.expected_version)
    return decision


def key(name: str) -> str:
    return f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{name}"


def full_item() -> StateItem:
    return StateItem(
        dedup_key=key("api-5xx ☃ ünïcode"),
        status=KeyStatus.OPEN,
        alarm_state=AlarmState.ALARM,
        state_changed_at=T0,
        route="payments",
        routing_key_id="0123456789ab",
        alarm_name="api-5xx ☃ ünïcode",
        alarm_arn=key("api-5xx"),
        source="cloudwatch-sns",
        summary="API 5xx > 10",
        severity=Severity.CRITICAL,
        first_seen=T0,
        last_seen=NOW,
        version=7,
        auto_resolve_at=T0 + timedelta(minutes=10),
        opened_at=NOW,
        account_id="123456789012",
        incident_id="PINC1",
        incident_number=42,
        incident_url="https://example.pagerduty.com/incidents/PINC1",
        pd_status="acknowledged",
        assignees=("Ana", "Bo"),
        last_actor="Ana",
        pd_updated_at=NOW,
        notes=("looking",),
    )


@pytest.fixture
def store(aws: AwsContext) -> DynamoStateStore:
    """The store's clock agrees with the decisions' `now`, or closed 2024 items would read as expired."""
    return DynamoStateStore(aws.table_name, client=aws.dynamodb, clock=NOW.timestamp)


@pytest.fixture
def calls(aws: AwsContext) -> Iterator[list[str]]:
    """Every DynamoDB operation the client makes, recorded by a botocore event hook."""
    seen: list[str] = []

    def record(model: Any, **_: Any) -> None:
        seen.append(model.name)

    aws.dynamodb.meta.events.register("before-call.dynamodb", record)
    yield seen
    aws.dynamodb.meta.events.unregister("before-call.dynamodb", record)


def raw(aws: AwsContext, dedup_key: str) -> dict[str, Any]:
    response = aws.dynamodb.get_item(
        TableName=aws.table_name, Key={PARTITION_KEY: {"S": KEY_PREFIX + dedup_key}}
    )
    return dict(response["Item"])


# --- Serialization and conditional writes --------------------------------------------------------------


def test_state_item_round_trips_through_dynamodb(store: DynamoStateStore) -> None:
    item = full_item()
    assert state_item_from_dynamo(state_item_to_dynamo(item)) == item
    assert store.save(item, expected_version=None)
    assert store.get(item.dedup_key) == item


def test_none_fields_are_not_stored_as_null(store: DynamoStateStore, aws: AwsContext) -> None:
    item = full_item().model_copy(update={"incident_id": None, "auto_resolve_at": None})
    store.save(item, expected_version=None)
    stored = raw(aws, item.dedup_key)
    assert "incident_id" not in stored
    assert "auto_resolve_at" not in stored
    assert all("NULL" not in value for value in stored.values())


def test_get_of_an_unknown_key_is_none(store: DynamoStateStore) -> None:
    assert store.get("nope") is None


def test_create_only_write_fails_when_the_key_exists(store: DynamoStateStore) -> None:
    item = full_item()
    assert store.save(item, expected_version=None)
    assert not store.save(item.model_copy(update={"summary": "other"}), expected_version=None)
    assert store.get(item.dedup_key) == item


def test_write_with_a_stale_expected_version_is_refused(store: DynamoStateStore) -> None:
    item = full_item()
    store.save(item, expected_version=None)
    newer = item.model_copy(update={"version": 8, "summary": "first writer"})
    assert store.save(newer, expected_version=7)
    loser = item.model_copy(update={"version": 8, "summary": "second writer"})
    assert not store.save(loser, expected_version=7)
    stored = store.get(item.dedup_key)
    assert stored is not None
    assert (stored.version, stored.summary) == (8, "first writer")


def test_concurrent_deciders_one_wins_and_the_loser_re_decides_to_a_duplicate(
    store: DynamoStateStore,
) -> None:
    new = alert(key("race"))
    first, second = decided(None, new), decided(None, new)
    assert first.new_item is not None
    assert second.new_item is not None
    assert store.save(first.new_item, expected_version=first.expected_version)
    assert not store.save(second.new_item, expected_version=second.expected_version)
    assert decided(store.get(new.dedup_key), new).reason == "duplicate"


def test_stale_state_change_is_refused_through_decide_and_save(store: DynamoStateStore) -> None:
    name = key("reordered")
    ok = apply(store, alert(name, AlarmState.OK, T0 + timedelta(minutes=5)))
    assert ok.send is None
    late_alarm = apply(store, alert(name, AlarmState.ALARM, T0))
    assert (late_alarm.reason, late_alarm.send, late_alarm.new_item) == ("stale", None, None)
    stored = store.get(name)
    assert stored is not None
    assert (stored.status, stored.alarm_state, stored.version) == (KeyStatus.RESOLVED, AlarmState.OK, 1)


# --- The sparse index ----------------------------------------------------------------------------------


def test_list_open_queries_the_index_and_never_scans(aws: AwsContext, calls: list[str]) -> None:
    store = DynamoStateStore(aws.table_name, client=aws.dynamodb, page_size=2, clock=NOW.timestamp)
    for index in range(5):
        apply(store, alert(key(f"open-{index}")))
    apply(store, alert(key("closed"), AlarmState.OK))
    calls.clear()
    names = sorted(item.alarm_name for item in store.list_open())
    assert names == [f"open-{index}" for index in range(5)]
    assert "Scan" not in calls
    assert calls.count("Query") >= 3  # five items in pages of two: the pages were followed


def test_closing_removes_the_item_from_the_index(store: DynamoStateStore, aws: AwsContext) -> None:
    name = key("flapping")
    apply(store, alert(name))
    assert INDEX_PARTITION_KEY in raw(aws, name)
    resolve = apply(store, alert(name, AlarmState.OK, T0 + timedelta(minutes=1)))
    assert resolve.send == EventAction.RESOLVE
    stored = raw(aws, name)
    # It leaves the open partition; it waits under UNCONFIRMED until PagerDuty is seen closing the incident.
    assert stored[INDEX_PARTITION_KEY] == {"S": UNCONFIRMED_INDEX_VALUE}
    assert list(store.list_open()) == []
    confirmed = resolve.new_item.model_copy(update={"pd_status": "resolved", "version": 3})  # type: ignore[union-attr]
    assert store.save(confirmed, expected_version=2)
    stored = raw(aws, name)
    assert INDEX_PARTITION_KEY not in stored
    assert INDEX_SORT_KEY not in stored


def test_suppressed_keys_have_their_own_index_partition(store: DynamoStateStore) -> None:
    suppressed = full_item().model_copy(
        update={"status": KeyStatus.SUPPRESSED, "maintenance_window_id": "mw"}
    )
    store.save(suppressed, expected_version=None)
    opened = full_item().model_copy(update={"dedup_key": key("other")})
    store.save(opened, expected_version=None)
    assert [item.dedup_key for item in store.list_suppressed()] == [suppressed.dedup_key]
    assert [item.dedup_key for item in store.list_open()] == [opened.dedup_key]


def test_a_key_a_person_resolved_while_firing_is_listed_until_its_episode_ends(
    store: DynamoStateStore, aws: AwsContext, calls: list[str]
) -> None:
    by_webhook, by_operator, by_bridge = key("by-webhook"), key("by-operator"), key("by-bridge")
    for name in (by_webhook, by_operator, by_bridge):
        apply(store, alert(name))
    opened = store.get(by_webhook)
    assert opened is not None
    resolved = apply_incident_update(
        opened, event_type="incident.resolved", incident_id="PINC1", number=1, url=None, status="resolved",
        assignees=None, actor="Ada", actor_type="user_reference", occurred_at=NOW, now=NOW, ttl_days=30,
    )  # fmt: skip
    assert store.save(resolved, expected_version=opened.version)
    operator_open = store.get(by_operator)
    assert operator_open is not None
    closed = resolved_by_person(operator_open, actor="oncall@example.com", now=NOW, ttl_days=30)
    assert closed is not None and store.save(closed, expected_version=operator_open.version)
    apply(store, alert(by_bridge, AlarmState.OK, T0 + timedelta(minutes=1)))  # the alarm's own OK
    assert raw(aws, by_webhook)[INDEX_PARTITION_KEY] == {"S": RESOLVED_FIRING_INDEX_VALUE}
    calls.clear()
    listed = {item.dedup_key: item.last_actor for item in store.list_resolved_firing()}
    assert listed == {by_webhook: "Ada", by_operator: "oncall@example.com"}
    assert calls == ["Query"]
    assert list(store.list_open()) == []
    # A later ALARM of the same episode pages nothing and keeps the key listed; the alarm's OK ends it.
    assert apply(store, alert(by_webhook, at=T0 + timedelta(minutes=2))).send is None
    assert by_webhook in {item.dedup_key for item in store.list_resolved_firing()}
    apply(store, alert(by_webhook, AlarmState.OK, T0 + timedelta(minutes=3)))
    assert INDEX_PARTITION_KEY not in raw(aws, by_webhook)
    # A new episode (an ALARM after OK) opens a new incident: listed as open, no longer as resolved.
    apply(store, alert(by_operator, AlarmState.OK, T0 + timedelta(minutes=3)))
    assert apply(store, alert(by_operator, at=T0 + timedelta(minutes=4))).send == EventAction.TRIGGER
    assert [item.dedup_key for item in store.list_resolved_firing()] == []
    assert [item.dedup_key for item in store.list_open()] == [by_operator]


# --- TTL in code --------------------------------------------------------------------------------------


def test_expired_item_reads_as_absent_and_can_be_written_again(aws: AwsContext) -> None:
    name = key("old")
    clock = {"now": NOW.timestamp()}
    store = DynamoStateStore(aws.table_name, client=aws.dynamodb, clock=lambda: clock["now"])
    apply(store, alert(name))
    apply(store, alert(name, AlarmState.OK, T0 + timedelta(minutes=1)))
    assert store.get(name) is not None
    later = NOW + timedelta(days=31)
    clock["now"] = later.timestamp()
    assert store.get(name) is None  # moto never deletes it: the code checks
    reopened = apply(store, alert(name, AlarmState.ALARM, T0), now=later)  # older than the expired OK
    assert reopened.send == EventAction.TRIGGER
    stored = store.get(name)
    assert stored is not None
    assert (stored.status, stored.version, stored.first_seen) == (KeyStatus.OPEN, 1, later)


def test_create_only_write_still_fails_on_a_live_closed_item(aws: AwsContext) -> None:
    name = key("closed-recently")
    store = DynamoStateStore(aws.table_name, client=aws.dynamodb, clock=NOW.timestamp)
    apply(store, alert(name, AlarmState.OK))
    fresh = decided(None, alert(name, AlarmState.ALARM, T0 - timedelta(minutes=1)))
    assert fresh.new_item is not None
    assert not store.save(fresh.new_item, expected_version=None)


# --- Maintenance windows ------------------------------------------------------------------------------


def window(window_id: str, start: datetime, end: datetime, **fields: Any) -> MaintenanceWindow:
    return MaintenanceWindow(id=window_id, start=start, end=end, reason="upgrade", **fields)


def test_maintenance_windows_are_listed_by_query(aws: AwsContext, calls: list[str]) -> None:
    windows = DynamoMaintenanceStore(aws.table_name, client=aws.dynamodb, clock=NOW.timestamp)
    past = window("past", T0 - timedelta(hours=3), T0 - timedelta(hours=1))
    current = window(
        "now", T0 - timedelta(minutes=5), T0 + timedelta(hours=1), route="payments", created_by="ana"
    )
    future = window("later", T0 + timedelta(hours=5), T0 + timedelta(hours=6), alarm_name_prefix="db-")
    for each in (future, current, past):
        windows.put(each)
    DynamoStateStore(aws.table_name, client=aws.dynamodb).save(full_item(), expected_version=None)
    calls.clear()
    assert windows.list_all() == [past, current, future]  # ordered by start
    assert windows.list_active(NOW) == [current]
    assert "Scan" not in calls
    assert windows.get("now") == current


class _CountingClient:
    """The DynamoDB client, counting the items each Query reads (what DynamoDB bills and waits for)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.items_read = 0

    def query(self, **request: Any) -> Any:
        response = self._client.query(**request)
        self.items_read += int(response.get("ScannedCount", response.get("Count", 0)))
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_the_active_window_lookup_does_not_read_ended_windows(aws: AwsContext) -> None:
    counting = _CountingClient(aws.dynamodb)
    windows = DynamoMaintenanceStore(aws.table_name, client=counting, clock=NOW.timestamp)
    for index in range(60):
        start = T0 - timedelta(days=20) + timedelta(hours=index)
        windows.put(window(f"ended-{index:02d}", start, start + timedelta(minutes=30)))
    current = window("now", T0 - timedelta(minutes=5), T0 + timedelta(hours=1))
    later = window("later", T0 + timedelta(hours=5), T0 + timedelta(hours=6))
    ends_now = window("ends-now", T0 - timedelta(hours=1), NOW)  # end is exclusive: over at NOW
    for each in (current, later, ends_now):
        windows.put(each)
    counting.items_read = 0
    assert windows.list_active(NOW) == [current]
    assert counting.items_read <= 2  # the current and the scheduled window, none of the 61 ended ones
    assert len(windows.list_all()) == 63 and windows.list_all()[0].id == "ended-00"  # by start


def test_the_active_window_lookup_is_one_query_and_older_windows_are_rekeyed(aws: AwsContext) -> None:
    calls: list[str] = []
    aws.dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    windows = DynamoMaintenanceStore(aws.table_name, client=aws.dynamodb, clock=NOW.timestamp)
    current = window("older", T0 - timedelta(minutes=5), T0 + timedelta(hours=1))
    older = window_to_dynamo(current, 30)
    older[INDEX_SORT_KEY] = {"S": f"{current.start.isoformat()}#{current.id}"}  # an earlier version's key
    aws.dynamodb.put_item(TableName=aws.table_name, Item=older)
    calls.clear()
    assert windows.list_active(NOW) == []  # not seen until rekeyed: its alarms page (the safe side)
    assert calls == ["Query"]
    assert windows.rekey_older_windows() == 1
    assert windows.list_active(NOW) == [current]
    assert windows.rekey_older_windows() == 0 and windows.list_all() == [current]


def test_ending_a_window_brings_its_end_forward_or_cancels_it(aws: AwsContext) -> None:
    windows = DynamoMaintenanceStore(aws.table_name, client=aws.dynamodb, clock=NOW.timestamp)
    windows.put(window("now", T0, T0 + timedelta(hours=1)))
    windows.put(window("later", T0 + timedelta(hours=5), T0 + timedelta(hours=6)))
    ended = windows.end("now", NOW)
    assert ended is not None
    assert (ended.start, ended.end) == (T0, NOW)
    cancelled = windows.end("later", NOW)
    assert cancelled is not None
    assert cancelled.start == cancelled.end == NOW
    assert windows.list_active(NOW) == []
    assert windows.get("now") == ended
    assert windows.end("missing", NOW) is None


def test_windows_past_their_retention_are_gone(aws: AwsContext) -> None:
    clock = {"now": NOW.timestamp()}
    windows = DynamoMaintenanceStore(
        aws.table_name, client=aws.dynamodb, retention_days=1, clock=lambda: clock["now"]
    )
    windows.put(window("old", T0, T0 + timedelta(hours=1)))
    assert [each.id for each in windows.list_all()] == ["old"]
    clock["now"] = (T0 + timedelta(days=2)).timestamp()
    assert windows.list_all() == []
    assert windows.get("old") is None


# --- Webhook deliveries -------------------------------------------------------------------------------


def test_webhook_delivery_is_first_only_once_until_it_expires(aws: AwsContext) -> None:
    deliveries = DynamoWebhookDeliveries(aws.table_name, client=aws.dynamodb)
    assert deliveries.first_delivery("wh-1", NOW)
    assert not deliveries.first_delivery("wh-1", NOW + timedelta(minutes=5))
    assert deliveries.first_delivery("wh-2", NOW)
    assert deliveries.first_delivery("wh-1", NOW + timedelta(hours=49))  # past its TTL: moto kept it
    assert not deliveries.first_delivery("wh-1", NOW + timedelta(hours=50))


def test_an_oversized_webhook_id_is_bounded_not_rejected(aws: AwsContext) -> None:
    deliveries = DynamoWebhookDeliveries(aws.table_name, client=aws.dynamodb)
    huge = "x" * 5000
    assert deliveries.first_delivery(huge, NOW)
    assert not deliveries.first_delivery(huge, NOW)
    assert deliveries.first_delivery(huge[:-1] + "y", NOW)


def test_default_client_is_created_lazily_once(aws: AwsContext) -> None:
    store = DynamoStateStore(aws.table_name)
    other = DynamoMaintenanceStore(aws.table_name)
    assert store.get("nope") is None
    assert other.list_all() == []
    assert store._table.client is other._table.client
