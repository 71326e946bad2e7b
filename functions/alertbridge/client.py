"""`EventsClient`: PagerDuty Events API v2 straight from application code .

    from alertbridge import EventsClient, RateLimited

    with EventsClient(routing_key) as pd:
        key = pd.trigger("Database connection pool exhausted", source="db-prod-01",
                         severity="critical", dedup_key="db-pool-exhausted-001")
        pd.acknowledge(key)
        pd.resolve(key)

Every call is retried on 429, 5xx and network failures (bounded by `max_attempts`, honouring Retry-After up
to 30 s), within one time limit for the whole call, retries and waits included: `deadline` seconds, else
`timeout` (which also bounds each request). A wait that would pass the limit is not taken: the last failure
is raised at once. The typed errors: RateLimited (`.retry_after`), RequestTimeout, ConnectionFailed,
Rejected (`.errors`, PagerDuty's messages; never retried) or ServerError (`.status`). Invalid fields raise
pydantic's ValidationError (a ValueError) before anything is sent; a blank dedup key for acknowledge or
resolve raises InvalidInput; a malformed routing key, URL or timeout raises ConfigError. All but
ValidationError are AlertBridgeError. The routing key never appears in errors.

A trigger without `dedup_key` gets a random one generated here rather than by PagerDuty, so a retry after a
timeout updates the same alert instead of opening a second one; the key is returned either way.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from alertbridge.errors import ConfigError, DeadlineExceeded, InvalidInput, PagerDutyError
from alertbridge.models.pagerduty import (
    MAX_SUMMARY_CHARS,
    ROUTING_KEY_CHARS,
    ChangeEvent,
    EventAction,
    EventV2,
    Image,
    Link,
    Severity,
)
from alertbridge.models.settings import US_EVENTS_URL

if TYPE_CHECKING:
    import httpx

LinkLike = Link | Mapping[str, str]
ImageLike = Image | Mapping[str, str]
M = TypeVar("M", Link, Image)
T = TypeVar("T")


class EventsClient:
    def __init__(
        self,
        routing_key: str,
        *,
        base_url: str = US_EVENTS_URL,
        timeout: float = 10.0,
        max_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        deadline: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`timeout`: seconds for each request, and for the whole call unless `deadline` (seconds for the
        whole call, retries included) is given. `transport`: an httpx transport to send through instead of
        the network (tests: `httpx.MockTransport`)."""
        check_routing_key(routing_key)
        for name, value in (("timeout", timeout), ("deadline", deadline)):
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be a positive number of seconds, not {value!r}")
        from alertbridge.adapters.pagerduty_events import PagerDutyEventsAdapter  # httpx only when used

        self._routing_key = routing_key
        self._budget = float(deadline if deadline is not None else timeout)
        self._adapter = PagerDutyEventsAdapter(
            base_url, connect_timeout=timeout, read_timeout=timeout, max_attempts=max_attempts, sleep=sleep,
            transport=transport,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"EventsClient(base_url={self._adapter.base_url!r})"  # never the key

    def __enter__(self) -> EventsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._adapter.close()

    def trigger(
        self,
        summary: str,
        *,
        source: str,
        severity: Severity | str = Severity.ERROR,
        dedup_key: str | None = None,
        component: str | None = None,
        group: str | None = None,
        class_: str | None = None,
        custom_details: Mapping[str, Any] | None = None,
        links: Sequence[LinkLike] | None = None,
        images: Sequence[ImageLike] | None = None,
        timestamp: datetime | str | None = None,
    ) -> str:
        """Open an alert, or update the open one with this dedup key. Returns the dedup key."""
        payload: dict[str, Any] = {"summary": summary, "source": source, "severity": severity}
        if timestamp is not None:
            payload["timestamp"] = _iso(timestamp)
        if component is not None:
            payload["component"] = component
        if group is not None:
            payload["group"] = group
        if class_ is not None:
            payload["class"] = class_
        if custom_details is not None:
            payload["custom_details"] = dict(custom_details)
        key = dedup_key or uuid.uuid4().hex
        event = EventV2.model_validate(  # one validation of the whole body, payload included
            {
                "routing_key": "",  # the key joins the body only at send time: validation errors cannot show it
                "event_action": EventAction.TRIGGER,
                "dedup_key": key,
                "payload": payload,
                "links": [_model(Link, link) for link in links] if links else [],
                "images": [_model(Image, image) for image in images] if images else [],
            }
        )
        if custom_details is not None or links or images:
            return self._send(event)
        # Validated strings only: the body is what `event.to_body()` would write, without dumping the model.
        assert event.payload is not None  # validated from the payload above
        payload["severity"] = event.payload.severity.value
        body = {"routing_key": "", "event_action": "trigger", "dedup_key": key, "payload": payload}
        return self._send_body(body, key)

    def acknowledge(self, dedup_key: str) -> str:
        _check_dedup_key(dedup_key)
        return self._send(EventV2(routing_key="", event_action=EventAction.ACKNOWLEDGE, dedup_key=dedup_key))

    def resolve(self, dedup_key: str) -> str:
        _check_dedup_key(dedup_key)
        return self._send(EventV2(routing_key="", event_action=EventAction.RESOLVE, dedup_key=dedup_key))

    def change(
        self,
        summary: str,
        *,
        source: str | None = None,
        custom_details: Mapping[str, Any] | None = None,
        links: Sequence[LinkLike] | None = None,
        timestamp: datetime | str | None = None,
    ) -> None:
        """A change event (a deploy, a config change): shown on the service, never pages."""
        if not summary.strip() or len(summary) > MAX_SUMMARY_CHARS:
            raise ValueError(f"summary must be 1 to {MAX_SUMMARY_CHARS} characters")
        fields = {
            "summary": summary,
            "source": source,
            "timestamp": _iso(timestamp),
            "custom_details": custom_details,
        }
        payload = {name: value for name, value in fields.items() if value is not None}
        event = ChangeEvent(
            routing_key="", payload=payload, links=[_model(Link, link) for link in links or ()]
        )
        body = {**event.to_body(), "routing_key": self._routing_key}
        self._within_budget(lambda deadline: self._adapter.send_change(body, deadline=deadline))

    def _send(self, event: EventV2) -> str:
        return self._send_body(event.to_body(), event.dedup_key)

    def _send_body(self, body: dict[str, Any], dedup_key: str | None) -> str:
        body["routing_key"] = self._routing_key  # in place: the key stays first, as in the model
        try:  # the call inline, not through _within_budget: this is every trigger's path
            response = self._adapter.send(body, deadline=time.monotonic() + self._budget)
        except DeadlineExceeded as exc:
            raise _cause_of(exc) from None
        return response.dedup_key or dedup_key or ""

    def _within_budget(self, call: Callable[[float], T]) -> T:
        """Run one call against a deadline `self._budget` seconds from now. When the budget runs out between
        retries, the failure that made us retry is raised (a RateLimited keeps its retry_after)."""
        try:
            return call(time.monotonic() + self._budget)
        except DeadlineExceeded as exc:
            raise _cause_of(exc) from None


def _cause_of(exc: DeadlineExceeded) -> PagerDutyError:
    """The failure that made the call retry until its budget ran out (with the attempts made), else the
    DeadlineExceeded itself."""
    cause = exc.__cause__
    if isinstance(cause, PagerDutyError) and not isinstance(cause, DeadlineExceeded):
        cause.attempts = exc.attempts
        return cause
    return exc


def _check_dedup_key(dedup_key: object) -> None:
    if not isinstance(dedup_key, str) or not dedup_key.strip():
        raise InvalidInput(
            "dedup_key must be the non-blank key trigger returned: PagerDuty would answer a blank one with "
            "an error, or act on no alert"
        )


def check_routing_key(routing_key: object) -> None:
    """A clear error for a key that PagerDuty would refuse, without echoing it."""
    if not isinstance(routing_key, str) or len(routing_key) != ROUTING_KEY_CHARS:
        length = len(routing_key) if isinstance(routing_key, str) else type(routing_key).__name__
        raise ConfigError(
            f"routing_key must be the {ROUTING_KEY_CHARS}-character Integration Key of an Events API v2 "
            f"integration (got {length}); a REST API key or a v1 service key will not work"
        )


def _iso(timestamp: datetime | str | None) -> str | None:
    return timestamp.isoformat() if isinstance(timestamp, datetime) else timestamp


def _model(kind: type[M], value: M | Mapping[str, str]) -> M:
    return value if isinstance(value, kind) else kind.model_validate(dict(value))
