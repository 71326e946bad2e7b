"""PagerDuty Events API v2 over httpx: the `EventsApi` port.

The HTTP plumbing (one lazily created client, timeouts clamped to the caller's deadline, retries, redaction)
is `adapters/http.py`. Retries here: 429, 5xx and network failures, honouring Retry-After, bounded by
`max_attempts` and by `deadline`. PagerDuty advises backing off for minutes after a 429; inside a Lambda we
cannot, so after the bounded retries the error goes up and the record returns to the queue (its visibility
timeout is the long back-off). A 400 is raised at once as Rejected (never retried as is). Messages and logs
never carry the routing key.
"""

from __future__ import annotations

import random as random_module
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from alertbridge.adapters.http import HttpTransport, Retrying, checked_base_url, json_object, redact
from alertbridge.errors import RateLimited, Rejected, ServerError
from alertbridge.logic.retry import RetryPolicy, parse_retry_after
from alertbridge.models.settings import US_EVENTS_URL
from alertbridge.ports import EventsResponse


class PagerDutyEventsAdapter:
    """`EventsApi` over httpx. `sleep`, `clock`, `random` and `transport` are injectable for tests."""

    def __init__(
        self,
        base_url: str = US_EVENTS_URL,
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 5.0,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        max_retry_after: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = random_module.random,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = checked_base_url(base_url, strip=("/v2/enqueue", "/v2/change/enqueue", "/v2"))
        self._http = HttpTransport(
            url, connect_timeout=connect_timeout, read_timeout=read_timeout, transport=transport
        )
        policy = RetryPolicy(max_attempts, backoff_base, backoff_cap, max_retry_after)
        self._retrying = Retrying(policy, sleep=sleep, clock=clock, random=random)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def send(self, body: dict[str, Any], *, deadline: float | None = None) -> EventsResponse:
        return self._post("/v2/enqueue", body, deadline)

    def send_change(self, body: dict[str, Any], *, deadline: float | None = None) -> EventsResponse:
        return self._post("/v2/change/enqueue", body, deadline)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PagerDutyEventsAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, path: str, body: dict[str, Any], deadline: float | None) -> EventsResponse:
        secrets = [body["routing_key"]] if isinstance(body.get("routing_key"), str) else []
        attempts = 0

        def once(left: float | None) -> EventsResponse:
            nonlocal attempts
            attempts += 1  # counted here, so the answer is built once with its attempt count
            answer = self._http.request("POST", path, left=left, json=body)
            return events_result(answer, secrets, attempts=attempts)

        return self._retrying.run(once, deadline=deadline)[0]


def events_result(
    response: httpx.Response, secrets: Iterable[str] = (), *, attempts: int = 1
) -> EventsResponse:
    """The EventsResponse of a 2xx, or the typed error for anything else."""
    status = response.status_code
    if 200 <= status < 300:
        data = json_object(response)
        dedup_key = data.get("dedup_key")
        return EventsResponse(
            status=str(data.get("status", "success")),
            message=str(data.get("message", "")),
            dedup_key=dedup_key if isinstance(dedup_key, str) else None,
            attempts=attempts,
        )
    if status == 429:
        raise RateLimited(retry_after=parse_retry_after(response.headers.get("Retry-After")))
    if status >= 500:
        raise ServerError(status)
    raise Rejected([redact(error, secrets) for error in pagerduty_errors(response)], status=status)


def pagerduty_errors(response: httpx.Response) -> list[str]:
    """PagerDuty's error strings from an Events API error body (`errors`, else `message`, else the status)."""
    data = json_object(response)
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        return [str(error) for error in errors]
    message = data.get("message")
    return [str(message)] if message else [f"HTTP {response.status_code} {response.reason_phrase}".strip()]
