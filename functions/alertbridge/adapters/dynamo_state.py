"""DynamoDB adapters for the state table (layout in models/table.py): state items, maintenance windows,
webhook delivery ids and incident links (PagerDuty incident id -> dedup key). Conditional writes only; listing goes through the sparse index, never a Scan
(except `all_items`, for local display). DynamoDB's TTL is lazy and moto never expires, so every read
checks `expires_at` itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from alertbridge.logic.dedup import bounded_key
from alertbridge.logic.lifecycle import awaits_reconciler
from alertbridge.models.maintenance import MaintenanceWindow
from alertbridge.models.state import KeyStatus, StateItem
from alertbridge.models.table import (
    INCIDENT_PREFIX,
    INDEX_NAME,
    INDEX_PARTITION_KEY,
    INDEX_SORT_KEY,
    KEY_PREFIX,
    MAINTENANCE_INDEX_VALUE,
    MAINTENANCE_PREFIX,
    OPEN_INDEX_VALUE,
    PARTITION_KEY,
    RECORDED_INDEX_VALUE,
    RESOLVED_FIRING_INDEX_VALUE,
    SUPPRESSED_INDEX_VALUE,
    TTL_ATTRIBUTE,
    UNCONFIRMED_INDEX_VALUE,
    WEBHOOK_PREFIX,
)

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
_TABLE_KEYS = (PARTITION_KEY, INDEX_PARTITION_KEY, INDEX_SORT_KEY)
_INDEX_VALUE_BY_STATUS = {
    KeyStatus.OPEN: OPEN_INDEX_VALUE,
    KeyStatus.SUPPRESSED: SUPPRESSED_INDEX_VALUE,
    KeyStatus.RECORDED: RECORDED_INDEX_VALUE,
}
_CONDITION_FAILED = "ConditionalCheckFailedException"
# Only written when absent, or present but past its TTL (DynamoDB may not have deleted it yet).
_ABSENT_OR_EXPIRED = "attribute_not_exists(#pk) OR #ttl <= :now"
_MAINTENANCE_RETENTION_DAYS = 30
_LINK_RETENTION_DAYS = 90  # refreshed whenever learned again; an expired link is learned again from REST

Clock = Callable[[], float]


@lru_cache(maxsize=1)
def default_client() -> Any:
    """The container's DynamoDB client, created on first use."""
    from alertbridge.adapters import aws

    return aws.client("dynamodb")


def reset_default_client() -> None:
    """Forget the cached client (tests and the local demo start new mocked 'containers')."""
    default_client.cache_clear()


def create_state_table(dynamodb_client: Any, table_name: str) -> None:
    """Create the table with the layout of models/table.py (moto and local runs; CDK does it in AWS)."""
    strings = [PARTITION_KEY, INDEX_PARTITION_KEY, INDEX_SORT_KEY]
    dynamodb_client.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in strings],
        KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": INDEX_NAME,
                "KeySchema": [
                    {"AttributeName": INDEX_PARTITION_KEY, "KeyType": "HASH"},
                    {"AttributeName": INDEX_SORT_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb_client.get_waiter("table_exists").wait(TableName=table_name)
    dynamodb_client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )


# --- Serialization ------------------------------------------------------------------------------------


def to_attributes(document: dict[str, Any]) -> dict[str, Any]:
    """A JSON-shaped document as DynamoDB attribute values; None values are left out, not stored as NULL."""
    return {name: _SERIALIZER.serialize(value) for name, value in document.items() if value is not None}


def from_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    document = {name: _DESERIALIZER.deserialize(value) for name, value in attributes.items()}
    return {name: value for name, value in document.items() if name not in _TABLE_KEYS}


def state_item_to_dynamo(item: StateItem) -> dict[str, Any]:
    """Open and suppressed items carry the sparse index keys; so does a key the bridge resolved until
    PagerDuty confirms the incident closed (the reconciler re-sends resolves PagerDuty dropped) and its
    resolve note is added, and a key a person resolved while its alarm's last known state is not OK, until
    the episode ends (`alertbridge active` lists them; the reconciler ends the episode once CloudWatch
    says OK). Other closed items carry none, so they leave it."""
    document = item.model_dump(mode="json", exclude_none=True)
    document[PARTITION_KEY] = KEY_PREFIX + item.dedup_key
    index_value = _INDEX_VALUE_BY_STATUS.get(item.status)
    if index_value is not None:
        document[INDEX_PARTITION_KEY] = index_value
        document[INDEX_SORT_KEY] = f"{_sortable(item.opened_at or item.first_seen)}#{item.dedup_key}"
    elif awaits_reconciler(item):
        document[INDEX_PARTITION_KEY] = UNCONFIRMED_INDEX_VALUE
        document[INDEX_SORT_KEY] = f"{_sortable(item.last_seen)}#{item.dedup_key}"
    elif item.resolved_while_firing:
        document[INDEX_PARTITION_KEY] = RESOLVED_FIRING_INDEX_VALUE
        document[INDEX_SORT_KEY] = f"{_sortable(item.last_seen)}#{item.dedup_key}"
    return to_attributes(document)


def state_item_from_dynamo(attributes: dict[str, Any]) -> StateItem:
    return StateItem.model_validate(from_attributes(attributes))


# A window's index sort key is `END#<end, fixed-width UTC>#<id>`, so "windows not ended by now" is one
# key range (`gsi1sk > END#<now>$`: '$' sorts after '#', so a window ending exactly now is left out, its end
# being exclusive) and the lookup never reads ended windows, however many are kept. Windows written by
# earlier versions have `<start>#<id>` keys, which sort below `END#`: the reconciler rewrites them in this
# layout at each run (`rekey_older_windows`, one Query that finds nothing once done). Until it has, such a
# window is not seen and its alarms page: the safe side.
_WINDOW_END_PREFIX = "END#"
_AFTER_TIMESTAMP = "$"


def window_sort_key(window: MaintenanceWindow) -> str:
    return f"{_WINDOW_END_PREFIX}{_fixed_width(window.end)}#{window.id}"


def _fixed_width(moment: datetime) -> str:
    """UTC with microseconds, always the same length, so text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def window_to_dynamo(window: MaintenanceWindow, retention_days: int) -> dict[str, Any]:
    document = window.model_dump(mode="json", exclude_none=True)
    document[PARTITION_KEY] = MAINTENANCE_PREFIX + window.id
    document[INDEX_PARTITION_KEY] = MAINTENANCE_INDEX_VALUE
    document[INDEX_SORT_KEY] = window_sort_key(window)
    document[TTL_ATTRIBUTE] = int((window.end + timedelta(days=retention_days)).timestamp())
    return to_attributes(document)


def window_from_dynamo(attributes: dict[str, Any]) -> MaintenanceWindow:
    document = from_attributes(attributes)
    document.pop(TTL_ATTRIBUTE, None)
    return MaintenanceWindow.model_validate(document)


def _sortable(moment: datetime) -> str:
    """UTC ISO text, so the index sort key orders by time."""
    return moment.astimezone(UTC).isoformat()


def _expired(attributes: dict[str, Any], now: float) -> bool:
    ttl = attributes.get(TTL_ATTRIBUTE)
    return ttl is not None and int(ttl["N"]) <= int(now)


def _is_condition_failure(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == _CONDITION_FAILED)


# --- Shared table access --------------------------------------------------------------------------------


class _Table:
    """One table, one lazily created client, and the two reads every store needs."""

    def __init__(self, table_name: str, client: Any = None, clock: Clock = time.time) -> None:
        self.table_name = table_name
        self._client = client
        self._clock = clock

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = default_client()
        return self._client

    def get_live(self, pk: str) -> dict[str, Any] | None:
        """The item unless absent or past its TTL. Strongly consistent: a stale read would mean a wrong send."""
        response = self.client.get_item(
            TableName=self.table_name, Key={PARTITION_KEY: {"S": pk}}, ConsistentRead=True
        )
        attributes: dict[str, Any] | None = response.get("Item")
        return None if attributes is None or _expired(attributes, self._clock()) else attributes

    def query_index(
        self,
        index_value: str,
        page_size: int | None,
        sort_from: dict[str, Any] | None = None,
        *,
        sort_key: tuple[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every live item under one sparse-index partition, page by page (a Query, never a Scan).
        `sort_from` ({"#isk": name, ":since": value}) keeps only sort keys >= the value; `sort_key`
        (operator, value), e.g. (">", "END#..."), keeps only sort keys that compare so."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": INDEX_NAME,
            "KeyConditionExpression": "#ipk = :value",
            "ExpressionAttributeNames": {"#ipk": INDEX_PARTITION_KEY},
            "ExpressionAttributeValues": {":value": {"S": index_value}},
        }
        if sort_from is not None:
            request["KeyConditionExpression"] += " AND #isk >= :since"
            request["ExpressionAttributeNames"]["#isk"] = sort_from["#isk"]
            request["ExpressionAttributeValues"][":since"] = sort_from[":since"]
        elif sort_key is not None:
            operator, bound = sort_key
            if operator not in ("<", "<=", ">", ">="):
                raise ValueError(f"unsupported sort key operator {operator!r}")
            request["KeyConditionExpression"] += f" AND #isk {operator} :bound"
            request["ExpressionAttributeNames"]["#isk"] = INDEX_SORT_KEY
            request["ExpressionAttributeValues"][":bound"] = {"S": bound}
        if page_size is not None:
            request["Limit"] = page_size
        while True:
            response = self.client.query(**request)
            now = self._clock()
            yield from (item for item in response.get("Items", []) if not _expired(item, now))
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def put_if(
        self, attributes: dict[str, Any], condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> bool:
        """A conditional put; False when the condition does not hold."""
        request: dict[str, Any] = {"ConditionExpression": condition, "ExpressionAttributeNames": names}
        if values:  # DynamoDB refuses an empty ExpressionAttributeValues
            request["ExpressionAttributeValues"] = values
        try:
            self.client.put_item(TableName=self.table_name, Item=attributes, **request)
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def put_absent_or_expired(self, attributes: dict[str, Any], now: float | None = None) -> bool:
        names = {"#pk": PARTITION_KEY, "#ttl": TTL_ATTRIBUTE}
        moment = self._clock() if now is None else now
        return self.put_if(attributes, _ABSENT_OR_EXPIRED, names, {":now": {"N": str(int(moment))}})

    def now(self) -> float:
        return self._clock()


# --- State items ----------------------------------------------------------------------------------------


class DynamoStateStore:
    """ports.StateStore (and ports.SuppressedKeys) on the state table."""

    def __init__(
        self, table_name: str, client: Any = None, *, page_size: int | None = None, clock: Clock = time.time
    ) -> None:
        self._table = _Table(table_name, client, clock)
        self._page_size = page_size

    def get(self, dedup_key: str) -> StateItem | None:
        attributes = self._table.get_live(KEY_PREFIX + dedup_key)
        return None if attributes is None else state_item_from_dynamo(attributes)

    def save(self, item: StateItem, *, expected_version: int | None) -> bool:
        """Replace the whole item (which drops the index keys of a closed one) if the version still holds."""
        attributes = state_item_to_dynamo(item)
        if expected_version is None:
            return self._table.put_absent_or_expired(attributes)
        values = {":expected": {"N": str(expected_version)}}
        return self._table.put_if(attributes, "#version = :expected", {"#version": "version"}, values)

    def list_open(self) -> Iterator[StateItem]:
        return self._list(OPEN_INDEX_VALUE)

    def list_suppressed(self) -> Iterator[StateItem]:
        return self._list(SUPPRESSED_INDEX_VALUE)

    def list_recorded(self) -> Iterator[StateItem]:
        """Keys in ALARM recorded without a page (multi-time-series alarms), for `alertbridge active`."""
        return self._list(RECORDED_INDEX_VALUE)

    def list_resolved_firing(self) -> Iterator[StateItem]:
        """Keys a person resolved while the alarm's last known state is not OK, least recently written
        first (a Query on the index)."""
        return self._list(RESOLVED_FIRING_INDEX_VALUE)

    def list_unconfirmed_resolves(self, since: datetime) -> Iterator[StateItem]:
        """Keys resolved since `since` whose incident PagerDuty has not been seen closing, or whose resolve
        note is still to be added (a Query)."""
        lower = {"#isk": INDEX_SORT_KEY, ":since": {"S": _sortable(since)}}
        for attributes in self._table.query_index(UNCONFIRMED_INDEX_VALUE, self._page_size, lower):
            yield state_item_from_dynamo(attributes)

    def _list(self, index_value: str) -> Iterator[StateItem]:
        for attributes in self._table.query_index(index_value, self._page_size):
            yield state_item_from_dynamo(attributes)

    def all_items(self) -> Iterator[StateItem]:
        """Every live state item, for local display only: this one scans, so no Lambda calls it."""
        paginator = self._table.client.get_paginator("scan")
        prefix = {":prefix": {"S": KEY_PREFIX}}
        pages = paginator.paginate(
            TableName=self._table.table_name,
            FilterExpression="begins_with(#pk, :prefix)",
            ExpressionAttributeNames={"#pk": PARTITION_KEY},
            ExpressionAttributeValues=prefix,
        )
        now = self._table.now()
        for page in pages:
            yield from (state_item_from_dynamo(item) for item in page["Items"] if not _expired(item, now))


# --- Maintenance windows ----------------------------------------------------------------------------------


class DynamoMaintenanceStore:
    """ports.MaintenanceStore: windows live under gsi1pk = MAINT and expire `retention_days` after ending."""

    def __init__(
        self,
        table_name: str,
        client: Any = None,
        *,
        retention_days: int = _MAINTENANCE_RETENTION_DAYS,
        clock: Clock = time.time,
    ) -> None:
        self._table = _Table(table_name, client, clock)
        self._retention_days = retention_days

    def put(self, window: MaintenanceWindow) -> None:
        attributes = window_to_dynamo(window, self._retention_days)
        self._table.client.put_item(TableName=self._table.table_name, Item=attributes)

    def get(self, window_id: str) -> MaintenanceWindow | None:
        attributes = self._table.get_live(MAINTENANCE_PREFIX + window_id)
        return None if attributes is None else window_from_dynamo(attributes)

    def list_all(self) -> list[MaintenanceWindow]:
        """Every window kept, ordered by start (the index orders them by end)."""
        found = [window_from_dynamo(item) for item in self._table.query_index(MAINTENANCE_INDEX_VALUE, None)]
        return sorted(found, key=lambda window: (window.start, window.id))

    def list_active(self, now: datetime) -> list[MaintenanceWindow]:
        """Windows covering `now`: one Query over the windows that end after `now` (scheduled ones
        included, filtered here), so ended windows cost nothing."""
        after_now = (">", f"{_WINDOW_END_PREFIX}{_fixed_width(now)}{_AFTER_TIMESTAMP}")
        found = [
            window_from_dynamo(item)
            for item in self._table.query_index(MAINTENANCE_INDEX_VALUE, None, sort_key=after_now)
        ]
        return sorted((w for w in found if w.is_active(now)), key=lambda window: (window.start, window.id))

    def rekey_older_windows(self) -> int:
        """Rewrite windows an earlier version keyed `<start>#<id>` in the current layout; how many."""
        older = self._table.query_index(MAINTENANCE_INDEX_VALUE, None, sort_key=("<", _WINDOW_END_PREFIX))
        windows = [window_from_dynamo(item) for item in older]
        for window in windows:
            self.put(window)
        return len(windows)

    def end(self, window_id: str, now: datetime) -> MaintenanceWindow | None:
        """Bring the end forward to `now`; a window that has not begun is cancelled (start = end = now)."""
        window = self.get(window_id)
        if window is None or window.end <= now:
            return window
        ended = window.model_copy(update={"start": min(window.start, now), "end": now})
        attributes = window_to_dynamo(ended, self._retention_days)
        self._table.put_if(attributes, "attribute_exists(#pk)", {"#pk": PARTITION_KEY}, {})
        return ended


# --- Webhook deliveries -----------------------------------------------------------------------------------


class DynamoWebhookDeliveries:
    """ports.WebhookDeliveries: one item per `X-Webhook-Id`, kept for PagerDuty's 48 h redelivery period."""

    def __init__(self, table_name: str, client: Any = None, *, clock: Clock = time.time) -> None:
        self._table = _Table(table_name, client, clock)

    def first_delivery(self, webhook_id: str, now: datetime, ttl_hours: int = 48) -> bool:
        expires_at = int((now + timedelta(hours=ttl_hours)).timestamp())
        document = {
            PARTITION_KEY: WEBHOOK_PREFIX + bounded_key(webhook_id),  # the header is untrusted: bound it
            TTL_ATTRIBUTE: expires_at,
            "received_at": now.isoformat(),
        }
        return self._table.put_absent_or_expired(to_attributes(document), now.timestamp())

    def seen(self, webhook_id: str, now: datetime) -> bool:
        """True when this `X-Webhook-Id` was recorded and has not expired (a read: recording comes later)."""
        attributes = self._table.get_live(WEBHOOK_PREFIX + bounded_key(webhook_id))
        return attributes is not None and not _expired(attributes, now.timestamp())


# --- Incident links ---------------------------------------------------------------------------------------


class DynamoIncidentLinks:
    """ports.IncidentLinks: one small item per incident id (pk `INCIDENT#<id>`) holding its dedup key, read
    with a GetItem. The way back is the state item's own `incident_id`, written by the webhook mirror."""

    def __init__(
        self,
        table_name: str,
        client: Any = None,
        *,
        retention_days: int = _LINK_RETENTION_DAYS,
        clock: Clock = time.time,
    ) -> None:
        self._table = _Table(table_name, client, clock)
        self._retention_seconds = retention_days * 86400

    def dedup_key_for(self, incident_id: str) -> str | None:
        attributes = self._table.get_live(INCIDENT_PREFIX + bounded_key(incident_id))
        if attributes is None:
            return None
        value = from_attributes(attributes).get("dedup_key")
        return value if isinstance(value, str) and value else None

    def link(self, incident_id: str, dedup_key: str) -> None:
        """Record (or refresh) the link; an incident belongs to one dedup key, so the last write wins."""
        document = {
            PARTITION_KEY: INCIDENT_PREFIX + bounded_key(incident_id),
            "incident_id": incident_id,
            "dedup_key": dedup_key,
            TTL_ATTRIBUTE: int(self._table.now()) + self._retention_seconds,
        }
        self._table.client.put_item(TableName=self._table.table_name, Item=to_attributes(document))
