"""The webhook delivery logic with fakes at the ports: signature decision, envelope parsing, replay,
mirroring of every incident event type, conflict retries, and state unchanged after every refusal."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alertbridge.errors import ConfigError
from alertbridge.logic.signature import signature_header
from alertbridge.logic.webhook import (
    MAX_BODY_BYTES,
    MIRRORED_EVENT_TYPES,
    WebhookReason,
    incident_update,
    parse_envelope,
    signature_problem,
)
from alertbridge.models.alert import AlarmState
from alertbridge.models.state import KeyStatus, StateItem
from alertbridge.services.webhook import SigningSecretsCache, WebhookParts, handle_function_url_event
from tests.fakes import FakeAlertKeys, FakeIncidentLinks, FakeStateStore
from tests.webhook_events import (
    INCIDENT_ID,
    KEY,
    OLD_SECRET,
    SECRET,
    delivery,
    envelope_of,
    load,
    with_body,
)

NOW = datetime(2025, 6, 1, 12, 5, tzinfo=UTC)


def open_item(**fields: Any) -> StateItem:
    values: dict[str, Any] = {
        "dedup_key": KEY,
        "status": KeyStatus.OPEN,
        "alarm_state": AlarmState.ALARM,
        "state_changed_at": NOW - timedelta(minutes=10),
        "route": "default",
        "routing_key_id": "abc123",
        "first_seen": NOW - timedelta(minutes=10),
        "last_seen": NOW - timedelta(minutes=10),
        "opened_at": NOW - timedelta(minutes=10),
        "version": 3,
    }
    values.update(fields)
    return StateItem(**values)


class FakeDeliveries:
    def __init__(self) -> None:
        self.recorded: set[str] = set()

    def seen(self, webhook_id: str, now: datetime) -> bool:
        return webhook_id in self.recorded

    def first_delivery(self, webhook_id: str, now: datetime, ttl_hours: int = 48) -> bool:
        first = webhook_id not in self.recorded
        self.recorded.add(webhook_id)
        return first


class FakeSecrets:
    def __init__(self, *secrets: str, fresh: Sequence[str] | None = None, error: bool = False) -> None:
        self.secrets = list(secrets)
        self.fresh = list(fresh) if fresh is not None else None
        self.error = error
        self.reads = 0

    def current(self) -> Sequence[str]:
        self.reads += 1
        if self.error:
            raise ConfigError("cannot read secret 'alertbridge/webhook': ResourceNotFoundException")
        return self.secrets

    def refreshed(self) -> Sequence[str]:
        self.reads += 1
        return self.fresh if self.fresh is not None else self.secrets


class ConflictingStore(FakeStateStore):
    """Loses the first `conflicts` saves, as if another writer always got there first."""

    def __init__(self, conflicts: int) -> None:
        super().__init__()
        self.conflicts = conflicts
        self.save_calls = 0

    def save(self, item: StateItem, *, expected_version: int | None) -> bool:
        self.save_calls += 1
        if self.conflicts > 0:
            self.conflicts -= 1
            return False
        return super().save(item, expected_version=expected_version)


def parts_with(
    store: FakeStateStore | None = None,
    *,
    secrets: FakeSecrets | None = None,
    allow_unsigned: bool = False,
    deliveries: FakeDeliveries | None = None,
    links: FakeIncidentLinks | None = None,
    rest: FakeAlertKeys | None = None,
) -> WebhookParts:
    """By default PagerDuty's REST API knows the event files' incident (its alert key is KEY) and no link
    is kept yet, as for the first delivery about an incident."""
    if store is None:
        store = FakeStateStore()
        store.items[KEY] = open_item()
    return WebhookParts(
        state=store,
        deliveries=deliveries or FakeDeliveries(),
        secrets=secrets or FakeSecrets(SECRET),
        allow_unsigned=allow_unsigned,
        ttl_days=30,
        links=links if links is not None else FakeIncidentLinks(),
        rest=rest if rest is not None else FakeAlertKeys({INCIDENT_ID: [KEY]}),
    )


def stored(parts: WebhookParts) -> StateItem | None:
    return parts.state.get(KEY)


# --- signature decision ------------------------------------------------------------------------------------


BODY = b'{"event": {}}'


def test_a_signature_made_with_the_secret_passes() -> None:
    assert signature_problem(signature_header([SECRET], BODY), BODY, [SECRET], allow_unsigned=False) is None


def test_a_forged_signature_is_refused() -> None:
    forged = signature_header(["attacker-guess"], BODY)
    assert signature_problem(forged, BODY, [SECRET], allow_unsigned=False) == WebhookReason.BAD_SIGNATURE


def test_a_signature_of_another_body_is_refused() -> None:
    header = signature_header([SECRET], b'{"event": {"x": 1}}')
    assert signature_problem(header, BODY, [SECRET], allow_unsigned=False) == WebhookReason.BAD_SIGNATURE


@pytest.mark.parametrize("header", [None, "", "v0=abc", "sha256=" + "0" * 64, "v1="])
def test_a_missing_or_unusable_header_is_refused(header: str | None) -> None:
    assert signature_problem(header, BODY, [SECRET], allow_unsigned=False) == WebhookReason.MISSING_SIGNATURE


@pytest.mark.parametrize("signed_with", [[SECRET], [OLD_SECRET], [OLD_SECRET, SECRET], ["other", SECRET]])
def test_during_a_rotation_either_secret_is_accepted(signed_with: list[str]) -> None:
    header = signature_header(signed_with, BODY)
    assert signature_problem(header, BODY, [OLD_SECRET, SECRET], allow_unsigned=False) is None


@pytest.mark.parametrize("secrets", [[], [""]])
def test_without_a_secret_the_handler_refuses_to_run(secrets: list[str]) -> None:
    header = signature_header(["anything"], BODY)
    assert signature_problem(header, BODY, secrets, allow_unsigned=False) == WebhookReason.NOT_CONFIGURED
    assert signature_problem(None, BODY, secrets, allow_unsigned=False) == WebhookReason.NOT_CONFIGURED


def test_allow_unsigned_accepts_deliveries_only_when_no_secret_is_configured() -> None:
    assert signature_problem(None, BODY, [], allow_unsigned=True) is None
    assert signature_problem(None, BODY, [SECRET], allow_unsigned=True) == WebhookReason.MISSING_SIGNATURE
    forged = signature_header(["attacker-guess"], BODY)
    assert signature_problem(forged, BODY, [SECRET], allow_unsigned=True) == WebhookReason.BAD_SIGNATURE


# --- secrets cache ---------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_secrets_cache_reads_once_per_max_age() -> None:
    reads: list[int] = []

    def load() -> list[str]:
        reads.append(1)
        return [SECRET]

    clock = Clock()
    cache = SigningSecretsCache(load, max_age=300, clock=clock)
    assert list(cache.current()) == [SECRET]
    clock.now += 299
    cache.current()
    assert len(reads) == 1
    clock.now += 1
    cache.current()
    assert len(reads) == 2


def test_a_refresh_reads_again_but_at_most_once_per_min_refresh() -> None:
    values = [[OLD_SECRET], [SECRET], ["third"]]
    clock = Clock()
    cache = SigningSecretsCache(lambda: values.pop(0), max_age=300, min_refresh=30, clock=clock)
    assert list(cache.current()) == [OLD_SECRET]
    clock.now += 30
    assert list(cache.refreshed()) == [SECRET]
    assert list(cache.refreshed()) == [SECRET]  # a flood of forged requests causes no more reads
    assert list(cache.current()) == [SECRET]  # the refreshed value is the cached one from now on
    assert values == [["third"]]


def test_the_cache_drops_empty_secrets() -> None:
    cache = SigningSecretsCache(lambda: ["", SECRET], max_age=300)
    assert list(cache.current()) == [SECRET]


# --- envelope -------------------------------------------------------------------------------------------------


def test_the_acknowledged_event_file_becomes_an_incident_update() -> None:
    envelope = parse_envelope(load("function-url-incident-acknowledged.json")["body"].encode())
    update = incident_update(envelope.event)
    assert update.dedup_key is None  # PagerDuty's incident_key is null: the key is the alert's
    assert update.incident_id == "Q2AEN3LD5KFJ9S"
    assert update.number == 4211
    assert update.status == "acknowledged"
    assert update.assignees == ("Ada Lovelace",)
    assert (update.actor, update.actor_type) == ("Ada Lovelace", "user_reference")
    assert update.occurred_at == datetime(2025, 6, 1, 12, 3, 0, 123000, tzinfo=UTC)


def test_an_annotation_takes_the_incident_from_the_note() -> None:
    envelope = parse_envelope(json.dumps(envelope_of(load("function-url-incident-annotated.json"))).encode())
    update = incident_update(envelope.event)
    assert update.incident_id == "Q2AEN3LD5KFJ9S"
    assert update.dedup_key is None  # PagerDuty's note carries a reference without incident_key


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"event": {}}', b'{"event": {"event_type": 1}}'])
def test_anything_but_an_envelope_is_malformed(raw: bytes) -> None:
    with pytest.raises(ValueError):
        parse_envelope(raw)


# --- deliveries: mirrored types ---------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(MIRRORED_EVENT_TYPES))
def test_every_mirrored_type_updates_the_state_item(event_type: str) -> None:
    parts = parts_with()
    before = stored(parts)
    result = handle_function_url_event(delivery(event_type), parts, now=NOW)
    after = stored(parts)
    assert (result.status_code, result.reason) == (200, WebhookReason.MIRRORED)
    assert after is not None and before is not None
    assert after.version == before.version + 1
    assert after.incident_id == "Q2AEN3LD5KFJ9S"
    assert after.incident_number == 4211
    assert after.incident_url == "https://acme.pagerduty.com/incidents/Q2AEN3LD5KFJ9S"
    assert after.assignees == ("Ada Lovelace",)
    assert after.last_actor == "Ada Lovelace"
    assert after.pd_updated_at == datetime(2025, 6, 1, 12, 3, 0, 123000, tzinfo=UTC)
    assert (result.dedup_key, result.event_type, result.webhook_id) == (KEY, event_type, "wh-1")


def test_a_human_resolve_closes_the_key_and_marks_it() -> None:
    parts = parts_with()
    result = handle_function_url_event(
        delivery("incident.resolved", data={"status": "resolved"}), parts, now=NOW
    )
    item = stored(parts)
    assert result.reason == WebhookReason.MIRRORED
    assert item is not None
    assert (item.status, item.pd_status, item.resolved_by_human) == (KeyStatus.RESOLVED, "resolved", True)
    assert item.expires_at is not None


def test_a_resolve_by_a_service_agent_is_not_a_human_resolve() -> None:
    parts = parts_with()
    agent = {"id": "PSVC01", "type": "service_reference", "summary": "Auto-resolve"}
    handle_function_url_event(delivery("incident.resolved", event={"agent": agent}), parts, now=NOW)
    item = stored(parts)
    assert item is not None and item.status == KeyStatus.RESOLVED and not item.resolved_by_human


def test_acknowledged_status_is_mirrored() -> None:
    parts = parts_with()
    handle_function_url_event(delivery("incident.acknowledged"), parts, now=NOW)
    item = stored(parts)
    assert item is not None and (item.status, item.pd_status) == (KeyStatus.OPEN, "acknowledged")


def test_an_older_update_than_the_newest_applied_changes_nothing() -> None:
    store = FakeStateStore()
    store.items[KEY] = open_item(pd_updated_at=datetime(2025, 6, 1, 12, 4, tzinfo=UTC), version=7)
    parts = parts_with(store)
    result = handle_function_url_event(delivery("incident.resolved"), parts, now=NOW)
    assert (result.status_code, result.reason) == (200, WebhookReason.UNCHANGED)
    assert store.writes == 0


# --- deliveries: accepted without a write ------------------------------------------------------------------


def test_an_unknown_type_gets_200_and_changes_nothing() -> None:
    parts = parts_with()
    before = stored(parts)
    ping = load("function-url-pagey-ping.json")
    result = handle_function_url_event(with_body(ping, ping["body"].encode()), parts, now=NOW)
    assert (result.status_code, result.reason, result.event_type) == (
        200,
        WebhookReason.UNKNOWN_TYPE,
        "pagey.ping",
    )
    assert stored(parts) == before


def test_an_incident_type_not_mirrored_gets_200() -> None:
    parts = parts_with()
    result = handle_function_url_event(delivery("incident.status_update_published"), parts, now=NOW)
    assert (result.status_code, result.reason) == (200, WebhookReason.UNKNOWN_TYPE)


def test_an_incident_without_state_item_gets_200() -> None:
    parts = parts_with(FakeStateStore())
    result = handle_function_url_event(delivery("incident.acknowledged"), parts, now=NOW)
    assert (result.status_code, result.reason) == (200, WebhookReason.NOT_OURS)
    assert parts.state.get(KEY) is None


def test_an_incident_key_without_state_item_gets_200() -> None:
    parts = parts_with(FakeStateStore())
    result = handle_function_url_event(delivery(data={"incident_key": "other"}), parts, now=NOW)
    assert (result.status_code, result.reason) == (200, WebhookReason.NO_STATE)


def test_an_expired_state_item_counts_as_absent() -> None:
    store = FakeStateStore()
    store.items[KEY] = open_item(status=KeyStatus.RESOLVED, expires_at=int(NOW.timestamp()) - 1)
    links = FakeIncidentLinks({INCIDENT_ID: KEY})
    result = handle_function_url_event(delivery("incident.reopened"), parts_with(store, links=links), now=NOW)
    assert result.reason == WebhookReason.NO_STATE
    assert store.writes == 0


def test_a_real_annotation_is_mirrored_by_incident_id() -> None:
    note = load("function-url-incident-annotated.json")
    parts = parts_with()
    result = handle_function_url_event(with_body(note, note["body"].encode()), parts, now=NOW)
    item = stored(parts)
    assert (result.status_code, result.reason, result.dedup_key) == (200, WebhookReason.MIRRORED, KEY)
    assert item is not None
    assert (item.pd_note_count, item.last_actor, item.incident_id) == (1, "Ada Lovelace", INCIDENT_ID)
    assert (item.status, item.pd_status) == (KeyStatus.OPEN, None)  # a note carries no status


def test_an_annotation_whose_incident_cannot_be_mapped_yet_gets_503() -> None:
    note = load("function-url-incident-annotated.json")
    parts = parts_with(rest=FakeAlertKeys({}, available=False))
    assert refused(with_body(note, note["body"].encode()), parts) == (503, WebhookReason.NO_REST_TOKEN)


# --- deliveries: the dedup key by incident id -----------------------------------------------------------


def test_the_first_delivery_learns_the_link_from_the_incidents_alerts() -> None:
    links = FakeIncidentLinks()
    rest = FakeAlertKeys({INCIDENT_ID: ["someone-elses-key", KEY]})
    parts = parts_with(links=links, rest=rest)
    result = handle_function_url_event(delivery(webhook_id="first"), parts, now=NOW)
    assert (result.reason, result.dedup_key) == (WebhookReason.MIRRORED, KEY)
    assert links.links == {INCIDENT_ID: KEY}
    handle_function_url_event(delivery("incident.resolved", webhook_id="second"), parts, now=NOW)
    assert rest.lookups == [INCIDENT_ID]  # the second delivery reads the link, not PagerDuty
    item = stored(parts)
    assert item is not None and item.status == KeyStatus.RESOLVED


def test_a_known_link_needs_no_rest_api() -> None:
    parts = parts_with(links=FakeIncidentLinks({INCIDENT_ID: KEY}), rest=FakeAlertKeys({}, available=False))
    assert handle_function_url_event(delivery(), parts, now=NOW).reason == WebhookReason.MIRRORED


def test_an_incident_key_filled_by_pagerduty_is_used_and_linked() -> None:
    links = FakeIncidentLinks()
    rest = FakeAlertKeys({}, available=False)
    parts = parts_with(links=links, rest=rest)
    result = handle_function_url_event(delivery(data={"incident_key": KEY}), parts, now=NOW)
    assert (result.reason, links.links) == (WebhookReason.MIRRORED, {INCIDENT_ID: KEY})


@pytest.mark.parametrize("failure", [RuntimeError("connection reset"), TimeoutError("read timeout")])
def test_a_rest_failure_answers_503_and_the_retry_is_applied(failure: Exception) -> None:
    rest = FakeAlertKeys({INCIDENT_ID: [KEY]})
    rest.failures.append(failure)
    parts = parts_with(rest=rest)
    assert refused(delivery(), parts) == (503, WebhookReason.LINK_UNAVAILABLE)
    assert handle_function_url_event(delivery(), parts, now=NOW).reason == WebhookReason.MIRRORED


def test_without_a_rest_token_an_unmapped_delivery_answers_503() -> None:
    parts = parts_with(rest=FakeAlertKeys({INCIDENT_ID: [KEY]}, available=False))
    assert refused(delivery(), parts) == (503, WebhookReason.NO_REST_TOKEN)


def test_an_incident_whose_alert_keys_have_no_state_is_not_ours() -> None:
    links = FakeIncidentLinks()
    parts = parts_with(links=links, rest=FakeAlertKeys({INCIDENT_ID: ["someone-elses-key"]}))
    result = handle_function_url_event(delivery(), parts, now=NOW)
    assert (result.status_code, result.reason) == (200, WebhookReason.NOT_OURS)
    assert links.links == {}  # nothing to remember about someone else's incident


@pytest.mark.parametrize(
    ("name", "human"),
    [
        ("function-url-incident-resolved-base64.json", True),
        ("function-url-incident-resolved-by-integration.json", False),
    ],
)
def test_only_a_person_resolving_marks_the_key_human_resolved(name: str, human: bool) -> None:
    event = load(name)
    raw = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
    parts = parts_with()
    result = handle_function_url_event(with_body(event, raw), parts, now=NOW + timedelta(hours=1))
    item = stored(parts)
    assert result.reason == WebhookReason.MIRRORED
    assert item is not None and (item.status, item.resolved_by_human) == (KeyStatus.RESOLVED, human)


def test_an_acknowledgement_timeout_has_no_agent_and_is_mirrored() -> None:
    event = load("function-url-incident-unacknowledged-timeout.json")
    parts = parts_with(store=None)
    parts.state.save(open_item(pd_status="acknowledged", version=4), expected_version=3)
    result = handle_function_url_event(with_body(event, event["body"].encode()), parts, now=NOW)
    item = stored(parts)
    assert result.reason == WebhookReason.MIRRORED
    assert item is not None and (item.pd_status, item.status) == ("triggered", KeyStatus.OPEN)


def test_a_null_agent_resolve_is_not_a_human_resolve() -> None:
    parts = parts_with()
    handle_function_url_event(delivery("incident.resolved", event={"agent": None}), parts, now=NOW)
    item = stored(parts)
    assert item is not None and item.status == KeyStatus.RESOLVED and not item.resolved_by_human


def test_an_occurred_at_without_utc_offset_is_read_as_utc() -> None:
    parts = parts_with()
    naive = delivery(event={"occurred_at": "2025-06-01T12:03:00.123"})
    result = handle_function_url_event(naive, parts, now=NOW)
    item = stored(parts)
    assert result.reason == WebhookReason.MIRRORED
    assert item is not None and item.pd_updated_at == datetime(2025, 6, 1, 12, 3, 0, 123000, tzinfo=UTC)


# --- deliveries: replay and recording order ------------------------------------------------------------------


def test_a_replayed_webhook_id_answers_200_and_writes_nothing() -> None:
    parts = parts_with()
    first = handle_function_url_event(delivery("incident.acknowledged", webhook_id="same"), parts, now=NOW)
    after_first = stored(parts)
    second = handle_function_url_event(delivery("incident.resolved", webhook_id="same"), parts, now=NOW)
    assert (first.reason, second.status_code, second.reason) == (
        WebhookReason.MIRRORED,
        200,
        WebhookReason.REPLAY,
    )
    assert stored(parts) == after_first


def test_a_delivery_that_failed_is_not_recorded_so_the_retry_is_processed() -> None:
    class FailingOnce(FakeStateStore):
        failed = False

        def save(self, item: StateItem, *, expected_version: int | None) -> bool:
            if not self.failed:
                self.failed = True
                raise RuntimeError("DynamoDB unavailable")
            return super().save(item, expected_version=expected_version)

    store = FailingOnce()
    store.items[KEY] = open_item()
    deliveries = FakeDeliveries()
    parts = parts_with(store, deliveries=deliveries)
    with pytest.raises(RuntimeError):
        handle_function_url_event(delivery(webhook_id="retry-me"), parts, now=NOW)
    assert deliveries.recorded == set()
    result = handle_function_url_event(delivery(webhook_id="retry-me"), parts, now=NOW)
    assert result.reason == WebhookReason.MIRRORED
    assert deliveries.recorded == {"retry-me"}


def test_a_lost_race_is_retried_on_fresh_state() -> None:
    store = ConflictingStore(conflicts=2)
    store.items[KEY] = open_item()
    result = handle_function_url_event(delivery(), parts_with(store), now=NOW)
    assert result.reason == WebhookReason.MIRRORED
    assert store.save_calls == 3


def test_a_key_that_keeps_changing_answers_500_and_is_not_recorded() -> None:
    store = ConflictingStore(conflicts=100)
    store.items[KEY] = open_item()
    deliveries = FakeDeliveries()
    result = handle_function_url_event(delivery(), parts_with(store, deliveries=deliveries), now=NOW)
    assert (result.status_code, result.reason) == (500, WebhookReason.CONFLICT)
    assert deliveries.recorded == set()
    assert store.items[KEY] == open_item()


# --- deliveries: refused, state unchanged ------------------------------------------------------------------


def refused(event: dict[str, Any], parts: WebhookParts) -> tuple[int, WebhookReason]:
    before = stored(parts)
    result = handle_function_url_event(event, parts, now=NOW)
    assert stored(parts) == before, "a refused delivery must not touch state"
    assert not parts.deliveries.seen("wh-1", NOW), "a refused delivery must not be recorded"  # type: ignore[attr-defined]
    return result.status_code, result.reason


def test_forged_signature_gets_401() -> None:
    assert refused(delivery(secrets=["attacker-guess"]), parts_with()) == (401, WebhookReason.BAD_SIGNATURE)


def test_missing_signature_gets_401() -> None:
    assert refused(delivery(secrets=()), parts_with()) == (401, WebhookReason.MISSING_SIGNATURE)


def test_a_tampered_body_with_a_valid_signature_of_the_original_gets_401() -> None:
    event = delivery("incident.acknowledged")
    event["body"] = event["body"].replace("acknowledged", "resolved")
    assert refused(event, parts_with()) == (401, WebhookReason.BAD_SIGNATURE)


def test_no_secret_configured_gets_500_without_state_change() -> None:
    parts = parts_with(secrets=FakeSecrets())
    assert refused(delivery(secrets=["whatever"]), parts) == (500, WebhookReason.NOT_CONFIGURED)


def test_an_unreadable_secret_gets_500() -> None:
    parts = parts_with(secrets=FakeSecrets(error=True))
    assert refused(delivery(), parts) == (500, WebhookReason.SECRET_UNREADABLE)


def test_allow_unsigned_processes_an_unsigned_delivery_when_no_secret_is_set() -> None:
    parts = parts_with(secrets=FakeSecrets(), allow_unsigned=True)
    result = handle_function_url_event(delivery(secrets=()), parts, now=NOW)
    assert result.reason == WebhookReason.MIRRORED


def test_a_secret_rotated_after_the_cache_was_filled_is_accepted_after_a_refresh() -> None:
    secrets = FakeSecrets(OLD_SECRET, fresh=[SECRET])
    result = handle_function_url_event(delivery(secrets=[SECRET]), parts_with(secrets=secrets), now=NOW)
    assert result.reason == WebhookReason.MIRRORED


def test_an_oversized_body_gets_413_before_any_secret_is_read() -> None:
    secrets = FakeSecrets(SECRET)
    envelope = envelope_of(delivery())
    envelope["event"]["data"]["title"] = "x" * MAX_BODY_BYTES
    event = delivery()
    event = with_body(event, json.dumps(envelope).encode())
    assert refused(event, parts_with(secrets=secrets)) == (413, WebhookReason.TOO_LARGE)
    assert secrets.reads == 0


def test_an_oversized_base64_body_gets_413() -> None:
    event = with_body(delivery(), b"{" + b" " * MAX_BODY_BYTES + b"}", b64=True)
    assert refused(event, parts_with()) == (413, WebhookReason.TOO_LARGE)


def test_a_body_at_the_limit_is_processed() -> None:
    envelope = envelope_of(delivery())
    text = json.dumps(envelope)
    envelope["event"]["data"]["title"] += "x" * (MAX_BODY_BYTES - len(text.encode()))
    body = json.dumps(envelope).encode()
    assert len(body) == MAX_BODY_BYTES
    result = handle_function_url_event(with_body(delivery(), body), parts_with(), now=NOW)
    assert result.reason == WebhookReason.MIRRORED


def test_a_base64_body_is_decoded_before_verifying() -> None:
    event = load("function-url-incident-resolved-base64.json")
    raw = base64.b64decode(event["body"])
    parts = parts_with()
    result = handle_function_url_event(with_body(event, raw, b64=True), parts, now=NOW)
    item = stored(parts)
    assert result.reason == WebhookReason.MIRRORED
    assert item is not None and item.status == KeyStatus.RESOLVED


def test_a_signature_over_the_base64_text_instead_of_the_bytes_is_refused() -> None:
    event = load("function-url-incident-resolved-base64.json")
    signed_text = with_body(event, event["body"].encode())  # signed over the base64 text...
    event = {**signed_text, "body": event["body"], "isBase64Encoded": True}  # ...delivered as base64
    assert refused(event, parts_with()) == (401, WebhookReason.BAD_SIGNATURE)


def test_invalid_base64_gets_400() -> None:
    event = {**delivery(), "body": "not base64 at all!", "isBase64Encoded": True}
    assert refused(event, parts_with()) == (400, WebhookReason.BAD_ENCODING)


@pytest.mark.parametrize("raw", [b"{not json", b'{"event": {"event_type": "incident.acknowledged"}}', b"[]"])
def test_malformed_json_with_a_valid_signature_gets_400(raw: bytes) -> None:
    assert refused(with_body(delivery(), raw), parts_with()) == (400, WebhookReason.MALFORMED)


def test_a_wrongly_typed_incident_field_gets_400() -> None:
    event = delivery(data={"number": "not a number"})
    assert refused(event, parts_with()) == (400, WebhookReason.MALFORMED)


def test_a_get_gets_405() -> None:
    event = delivery()
    event["requestContext"] = {**event["requestContext"], "http": {"method": "GET", "path": "/"}}
    assert refused(event, parts_with()) == (405, WebhookReason.METHOD)


def test_header_names_are_matched_in_any_case() -> None:
    event = delivery()
    event["headers"] = {
        ("X-PagerDuty-Signature" if k == "x-pagerduty-signature" else k.upper()): v
        for k, v in event["headers"].items()
    }
    parts = parts_with()
    result = handle_function_url_event(event, parts, now=NOW)
    assert (result.reason, result.webhook_id) == (WebhookReason.MIRRORED, "wh-1")


def test_a_response_says_why_and_nothing_more() -> None:
    result = handle_function_url_event(delivery(secrets=["attacker-guess"]), parts_with(), now=NOW)
    response = result.response().to_lambda()
    assert response["statusCode"] == 401
    assert json.loads(response["body"]) == {"status": "rejected", "reason": "bad-signature"}


def test_an_incident_pagerduty_does_not_know_is_not_ours() -> None:
    from alertbridge.errors import NotFound

    rest = FakeAlertKeys({})
    rest.failures.append(NotFound("PagerDuty has no such incident (404)"))
    result = handle_function_url_event(delivery(), parts_with(rest=rest), now=NOW)
    assert (result.status_code, result.reason) == (200, WebhookReason.NOT_OURS)
