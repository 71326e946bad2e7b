"""PagerDuty Webhooks V3 deliveries mirrored into the state table, through the ports (`now` passed in);
the pure rules are logic/webhook.py.

Order of checks, each answering before the next costs anything:
method (405) -> size (413, before any HMAC) -> base64 (400) -> signing secret configured (500, unless
unsigned deliveries are explicitly allowed) -> signature (401) -> JSON envelope (400) -> event type
(unknown: 200) -> incident id (none: 200) -> replayed `X-Webhook-Id` (200, nothing written) -> the dedup
key -> mirror (conditional save, retried on conflict) -> record the link -> the incident event on the
event bus when one is configured (incident_events.py; 503 when it cannot be put) -> the delivery id. The
whole delivery has one deadline (logic/webhook.py, `DELIVERY_BUDGET_SECONDS`).

The dedup key is found by incident id: PagerDuty leaves `incident_key` null on incidents opened through
the Events API v2 (its REST reference: "Incidents with child alerts do not have an incident key"); the key
is their alert's `alert_key`. In order: the link kept in the state table (`IncidentLinks`), the delivery's
`incident_key` when PagerDuty fills it, then `GET /incidents/{id}/alerts` (the first alert key with a
state item; an incident PagerDuty answers 404 for is not the bridge's). When that lookup cannot be made (no REST token, PagerDuty unreachable or refusing) the answer
is 503, so PagerDuty delivers again; an incident none of whose alert keys has a state item was not opened
by the bridge: 200, reason `not-ours`.

The delivery id is recorded only after the state write succeeded: if processing fails PagerDuty's retry
(same `X-Webhook-Id`) is processed again instead of being mistaken for a replay. Status codes follow
PagerDuty's delivery rules: 2xx stops retries, 5xx and 429 are retried for 48 h, other 4xx are dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from alertbridge.errors import AlertBridgeError, ConfigError, NotFound
from alertbridge.logic.lifecycle import webhook_event_mark
from alertbridge.logic.signature import SIGNATURE_HEADER
from alertbridge.logic.webhook import (
    DELIVERY_TTL_HOURS,
    MIRRORED_EVENT_TYPES,
    WEBHOOK_ID_HEADER,
    WebhookReason,
    WebhookResult,
    incident_update,
    mirror,
    parse_envelope,
    result_for,
    signature_problem,
    transport_problem,
)
from alertbridge.models.webhook import FunctionUrlRequest, IncidentUpdate, WebhookEvent
from alertbridge.ports import (
    IncidentLinks,
    RestIncidents,
    SigningSecrets,
    StateStore,
    WebhookDeliveries,
)
from alertbridge.services.incident_events import IncidentEventPublisher

MAX_SAVE_TRIES = 4
# A step cannot start, and a failed one was cut by the deadline, with less than this left before it (the
# REST adapter clamps its requests to the time left and starts none with under 0.05 s).
_DEADLINE_SLACK_SECONDS = 0.1


class MirrorConflict(AlertBridgeError):
    """Concurrent writers kept winning: answer 5xx so PagerDuty delivers again."""


class LinkUnavailable(AlertBridgeError):
    """The incident's dedup key cannot be learned now: answer 5xx so PagerDuty delivers again."""

    def __init__(self, reason: WebhookReason, detail: str = "") -> None:
        super().__init__(detail or reason.value)
        self.reason = reason


@dataclass(frozen=True)
class WebhookParts:
    """Everything a delivery needs; built once per container (wiring/webhook.py) or from fakes in tests."""

    state: StateStore
    deliveries: WebhookDeliveries
    secrets: SigningSecrets
    allow_unsigned: bool
    ttl_days: int
    links: IncidentLinks | None = None  # None: nothing remembered, every unmapped delivery asks PagerDuty
    rest: RestIncidents | None = None  # None: no REST API, only deliveries with a known link are mirrored
    incident_events: IncidentEventPublisher | None = None  # None: no incident events are put
    clock: Callable[[], float] = time.monotonic  # what a delivery's `deadline` is measured on


# --- The delivery ---------------------------------------------------------------------------------------


def handle_function_url_event(
    event: Mapping[str, Any], parts: WebhookParts, *, now: datetime, deadline: float | None = None
) -> WebhookResult:
    """`deadline` (on `parts.clock`; None: none) bounds the REST lookup and the event put."""
    try:
        request = FunctionUrlRequest.model_validate(event)
    except ValidationError:
        return result_for(WebhookReason.MALFORMED)
    return handle_delivery(request, parts, now=now, deadline=deadline)


def handle_delivery(
    request: FunctionUrlRequest, parts: WebhookParts, *, now: datetime, deadline: float | None = None
) -> WebhookResult:
    webhook_id = request.header(WEBHOOK_ID_HEADER)
    problem = transport_problem(request)
    if problem is not None:
        return result_for(problem, webhook_id=webhook_id)
    raw = request.raw_body()
    problem = verified_problem(request.header(SIGNATURE_HEADER), raw, parts)
    if problem is not None:
        return result_for(problem, webhook_id=webhook_id)
    try:
        event = parse_envelope(raw).event
        update = incident_update(event) if event.event_type in MIRRORED_EVENT_TYPES else None
    except ValueError:  # pydantic's ValidationError included: bad JSON, or a field of the wrong type
        return result_for(WebhookReason.MALFORMED, webhook_id=webhook_id)
    context = {"webhook_id": webhook_id, "event_id": event.id, "event_type": event.event_type}
    if update is None:
        return result_for(WebhookReason.UNKNOWN_TYPE, **context)
    return _mirror_delivery(update, webhook_id, parts, now, context, event, deadline)


def _out_of_time(parts: WebhookParts, deadline: float | None) -> bool:
    return deadline is not None and deadline - parts.clock() < _DEADLINE_SLACK_SECONDS


def _mirror_delivery(
    update: IncidentUpdate,
    webhook_id: str | None,
    parts: WebhookParts,
    now: datetime,
    context: dict[str, Any],
    event: WebhookEvent | None = None,
    deadline: float | None = None,
) -> WebhookResult:
    if update.dedup_key is None and update.incident_id is None:
        return result_for(WebhookReason.NO_INCIDENT_KEY, **context)
    if webhook_id and parts.deliveries.seen(webhook_id, now):
        return result_for(WebhookReason.REPLAY, **context, dedup_key=update.dedup_key)
    try:
        mapped = dedup_key_of(update, parts, now, deadline)
    except LinkUnavailable as exc:
        return result_for(exc.reason, **context)
    if mapped is None:
        reason = WebhookReason.NOT_OURS
    else:
        context["dedup_key"] = mapped.dedup_key
        try:
            reason = mirror_update(
                update.model_copy(update={"dedup_key": mapped.dedup_key}), parts.state, now=now,
                ttl_days=parts.ttl_days,
            )  # fmt: skip
        except MirrorConflict:
            return result_for(WebhookReason.CONFLICT, **context)
        if mapped.learned and reason in {WebhookReason.MIRRORED, WebhookReason.UNCHANGED}:
            _remember(parts, update.incident_id, mapped.dedup_key)
        if reason == WebhookReason.MIRRORED:
            unpublished = _unpublished(parts, event, mapped.dedup_key, webhook_id, deadline)
            if unpublished is not None:  # delivery id not recorded: PagerDuty retries
                return result_for(unpublished, **context)
    if webhook_id:
        parts.deliveries.first_delivery(webhook_id, now, DELIVERY_TTL_HOURS)
    return result_for(reason, **context)


def _unpublished(
    parts: WebhookParts,
    event: WebhookEvent | None,
    dedup_key: str,
    webhook_id: str | None,
    deadline: float | None,
) -> WebhookReason | None:
    """Put the mirrored delivery's incident event on the bus: None once it is (or when no bus is
    configured), else why not (no time left before the deadline, or every try failed)."""
    if parts.incident_events is None or event is None:
        return None
    item = parts.state.get(dedup_key)
    if item is None:
        return None  # gone since the mirror (expired): nothing left to describe
    if not parts.incident_events.time_for_a_try(deadline):
        return WebhookReason.OUT_OF_TIME
    if parts.incident_events.publish(event, item, delivery_id=webhook_id, deadline=deadline):
        return None
    return WebhookReason.EVENT_UNPUBLISHED


# --- Dedup key by incident id -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MappedKey:
    dedup_key: str
    learned: bool  # not read from the links store: record the link once the state item is found


def dedup_key_of(
    update: IncidentUpdate, parts: WebhookParts, now: datetime, deadline: float | None = None
) -> MappedKey | None:
    """The dedup key this delivery is about; None when the incident is not one the bridge opened.
    Raises LinkUnavailable when it must be read from PagerDuty and cannot be (before `deadline`)."""
    incident_id = update.incident_id
    if incident_id and parts.links is not None:
        known = parts.links.dedup_key_for(incident_id)
        if known:
            return MappedKey(known, learned=False)
    if update.dedup_key:  # PagerDuty fills incident_key only on incidents without child alerts
        return MappedKey(update.dedup_key, learned=bool(incident_id))
    assert incident_id is not None  # _mirror_delivery refuses a delivery with neither
    api = parts.rest.incidents() if parts.rest is not None else None
    if api is None:
        raise LinkUnavailable(WebhookReason.NO_REST_TOKEN)
    if _out_of_time(parts, deadline):
        raise LinkUnavailable(WebhookReason.OUT_OF_TIME)
    try:
        keys = api.alert_keys(incident_id, deadline=deadline)
    except NotFound:
        return None  # PagerDuty has no such incident (404): not one the bridge opened
    except Exception as exc:  # any other REST failure: PagerDuty will deliver again
        out_of_time = _out_of_time(parts, deadline)
        reason = WebhookReason.OUT_OF_TIME if out_of_time else WebhookReason.LINK_UNAVAILABLE
        raise LinkUnavailable(reason, f"{type(exc).__name__}: {exc}") from exc
    for key in keys:
        item = parts.state.get(key)
        if item is not None and not item.expired(now):
            return MappedKey(key, learned=True)
    return None


def _remember(parts: WebhookParts, incident_id: str | None, dedup_key: str) -> None:
    if incident_id and parts.links is not None:
        parts.links.link(incident_id, dedup_key)


# --- Signature --------------------------------------------------------------------------------------------


def verified_problem(header: str | None, body: bytes, parts: WebhookParts) -> WebhookReason | None:
    """`signature_problem` with the cached secrets, then once more with freshly read ones: a secret
    rotated in Secrets Manager must not be refused for the cache's lifetime."""
    try:
        problem = signature_problem(
            header, body, parts.secrets.current(), allow_unsigned=parts.allow_unsigned
        )
        if problem in {WebhookReason.BAD_SIGNATURE, WebhookReason.NOT_CONFIGURED}:
            fresh = parts.secrets.refreshed()
            problem = signature_problem(header, body, fresh, allow_unsigned=parts.allow_unsigned)
    except ConfigError:
        return WebhookReason.SECRET_UNREADABLE
    return problem


class SigningSecretsCache:
    """SigningSecrets over a loader: cached `max_age` seconds; `refreshed()` reads again at most once per
    `min_refresh` seconds, so a flood of forged requests cannot turn into a flood of Secrets Manager calls."""

    def __init__(
        self,
        load: Callable[[], Sequence[str]],
        *,
        max_age: float,
        min_refresh: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load, self._max_age, self._min_refresh, self._clock = load, max_age, min_refresh, clock
        self._value: tuple[str, ...] | None = None
        self._loaded_at = 0.0

    def current(self) -> Sequence[str]:
        if self._value is None or self._clock() - self._loaded_at >= self._max_age:
            return self._reload()
        return self._value

    def refreshed(self) -> Sequence[str]:
        if self._value is None or self._clock() - self._loaded_at >= self._min_refresh:
            return self._reload()
        return self._value

    def _reload(self) -> Sequence[str]:
        self._value = tuple(secret for secret in self._load() if secret)
        self._loaded_at = self._clock()
        return self._value


# --- Mirror -----------------------------------------------------------------------------------------------


def mirror_update(
    update: IncidentUpdate, state: StateStore, *, now: datetime, ttl_days: int
) -> WebhookReason:
    """Read, mirror, save conditionally on the version read; on a lost race read again."""
    if update.dedup_key is None:
        return WebhookReason.NO_INCIDENT_KEY
    for _ in range(MAX_SAVE_TRIES):
        stored = state.get(update.dedup_key)
        if stored is None or stored.expired(now):
            return WebhookReason.NO_STATE
        mark = webhook_event_mark(update.event_type, update.event_id, update.occurred_at)
        if mark is not None and mark == stored.pd_last_event:
            # PagerDuty's retry of a delivery already mirrored (its incident event was not put): applying
            # it again would count an annotation twice, but the retry must still put the event.
            return WebhookReason.MIRRORED
        mirrored = mirror(stored, update, now=now, ttl_days=ttl_days)
        if mirrored is stored:
            return WebhookReason.UNCHANGED
        if state.save(mirrored, expected_version=stored.version):
            return WebhookReason.MIRRORED
    raise MirrorConflict(f"state for {update.dedup_key!r} kept changing")
