"""PagerDuty Events API v2 over httpx: the `EventsApi` port.

One httpx client per container, created on the first send (creating it loads the CA bundle, which an import
should not pay). Every request has explicit connect/read timeouts, clamped to the caller's deadline.

Retries: 429, 5xx and network failures are retried with exponential backoff and full jitter, honouring
Retry-After, bounded by `max_attempts` and by `deadline` (a time.monotonic() value): we never sleep past it.
PagerDuty advises backing off for minutes after a 429; inside a Lambda we cannot, so after the bounded retries
the error goes up and the record returns to the queue (its visibility timeout is the long back-off).
A 400 is raised at once as Rejected (never retried as is). Messages and logs never carry the routing key.
"""

from __future__ import annotations

import logging
import random as random_module
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from alertbridge.errors import (
    ConfigError,
    ConnectionFailed,
    DeadlineExceeded,
    PagerDutyError,
    RateLimited,
    Rejected,
    RequestTimeout,
    ServerError,
)
from alertbridge.logic.retry import RetryPolicy, next_wait, parse_retry_after, remaining
from alertbridge.models.settings import US_EVENTS_URL
from alertbridge.ports import EventsResponse

USER_AGENT = "alertbridge/0.1 (+https://github.com/alertbridge)"
_MIN_USEFUL_TIMEOUT = 0.05  # seconds; less than this left before the deadline and a request cannot succeed
_TIMEOUT_SLACK = 0.01  # seconds a request may run past its deadline rather than build a clamped Timeout
_LOOPBACK = ("127.0.0.1", "localhost", "::1")

logger = logging.getLogger(__name__)
T = TypeVar("T")


def checked_base_url(base_url: str, *, strip: Iterable[str] = ()) -> str:
    """The base URL without trailing slash or a pasted endpoint path; https only, except on loopback."""
    url = base_url.strip().rstrip("/")
    for suffix in strip:
        url = url.removesuffix(suffix)
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        raise ConfigError(
            "the PagerDuty URL must be https (plain http only for a local emulator on loopback)"
        )
    return url


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


class Retrying:
    """Runs one request function with the retry rules above; knows nothing about the API behind it."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = random_module.random,
    ) -> None:
        self.policy = policy
        self.sleep, self.clock, self.random = sleep, clock, random

    def run(
        self,
        attempt_once: Callable[[float | None], T],
        *,
        deadline: float | None,
        retryable: Callable[[PagerDutyError], bool] = lambda exc: exc.retryable,
    ) -> tuple[T, int]:
        """(result, attempts). `attempt_once` gets the seconds left before the deadline (None: no deadline)."""
        attempt, last = 0, None
        while True:
            left = remaining(self.clock(), deadline)
            if left is not None and left < _MIN_USEFUL_TIMEOUT:
                message = "no time left in the record's budget to call PagerDuty"
                raise _attempted(DeadlineExceeded(message), attempt) from last
            attempt += 1
            try:
                return attempt_once(left), attempt
            except PagerDutyError as exc:
                last = _attempted(exc, attempt)
                if not retryable(exc):
                    raise
                self.sleep(self._wait_or_raise(exc, attempt, deadline))

    def _wait_or_raise(self, exc: PagerDutyError, attempt: int, deadline: float | None) -> float:
        retry_after = getattr(exc, "retry_after", None)
        wait = next_wait(
            attempt, retry_after=retry_after, now=self.clock(), deadline=deadline, policy=self.policy,
            rand=self.random(),
        )  # fmt: skip
        if wait is not None:
            logger.warning(
                "PagerDuty request failed; retrying",
                extra={"error": type(exc).__name__, "attempt": attempt, "wait_seconds": round(wait, 3)},
            )
            return wait
        logger.warning(
            "PagerDuty request failed; giving up", extra={"error": type(exc).__name__, "attempt": attempt}
        )
        out_of_attempts = attempt >= self.policy.max_attempts
        too_long = retry_after is not None and retry_after > self.policy.max_wait
        if out_of_attempts or too_long:
            raise exc
        raise _attempted(
            DeadlineExceeded(f"retries stopped at the record's deadline: {exc}"), attempt
        ) from exc


def _attempted(exc: PagerDutyError, attempts: int) -> PagerDutyError:
    exc.attempts = attempts
    return exc


class HttpTransport:
    """A lazily created, shared httpx.Client plus the mapping of httpx failures to our error taxonomy."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self.base_url = base_url
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self._full = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
        )
        self._longest = max(connect_timeout, read_timeout)
        self._headers = {"User-Agent": USER_AGENT, **(headers or {})}
        self._transport = transport
        self._secrets = [s for s in secrets if s]
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def client(self) -> httpx.Client:
        client = self._client
        if client is not None:  # created: no lock needed to read it
            return client
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    base_url=self.base_url,
                    headers=self._headers,
                    timeout=self._full,
                    transport=self._transport,
                    verify=self.base_url.startswith(
                        "https://"
                    ),  # plain http (loopback): no CA bundle to load
                    follow_redirects=False,
                )
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def timeout(self, left: float | None) -> httpx.Timeout:
        """The configured timeouts (built once, the client's default), clamped to `left` seconds when less
        is left. Within `_TIMEOUT_SLACK` of the longest timeout they are used as they are: a deadline
        computed just before the call must not cost a new Timeout on every request."""
        if left is None or left >= self._longest - _TIMEOUT_SLACK:
            return self._full
        connect, read = min(self.connect_timeout, left), min(self.read_timeout, left)
        return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)

    def request(self, method: str, path: str, *, left: float | None, **kwargs: Any) -> httpx.Response:
        timeout = self.timeout(left)
        if timeout is not self._full:
            kwargs["timeout"] = timeout
        try:
            return self.client().request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            connecting = isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            limit = timeout.connect if connecting else timeout.read
            raise RequestTimeout(self._describe_timeout(exc, timeout), timeout_seconds=limit) from None
        except httpx.TransportError as exc:
            detail = redact(str(exc) or type(exc).__name__, self._secrets)
            raise ConnectionFailed(f"cannot reach PagerDuty at {self.base_url}: {detail}") from None

    def _describe_timeout(self, exc: httpx.TimeoutException, timeout: httpx.Timeout) -> str:
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            return f"PagerDuty at {self.base_url} did not accept a connection within {timeout.connect:.2f}s"
        return f"PagerDuty at {self.base_url} did not answer within {timeout.read:.2f}s"


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

        def once(left: float | None) -> EventsResponse:
            return events_result(self._http.request("POST", path, left=left, json=body), secrets)

        response, attempts = self._retrying.run(once, deadline=deadline)
        response.attempts = attempts  # a fresh object per answer: set in place rather than copied
        return response


def events_result(response: httpx.Response, secrets: Iterable[str] = ()) -> EventsResponse:
    """The EventsResponse of a 2xx, or the typed error for anything else."""
    status = response.status_code
    if 200 <= status < 300:
        data = _json_object(response)
        dedup_key = data.get("dedup_key")
        return EventsResponse(
            status=str(data.get("status", "success")),
            message=str(data.get("message", "")),
            dedup_key=dedup_key if isinstance(dedup_key, str) else None,
        )
    if status == 429:
        raise RateLimited(retry_after=parse_retry_after(response.headers.get("Retry-After")))
    if status >= 500:
        raise ServerError(status)
    raise Rejected([redact(error, secrets) for error in pagerduty_errors(response)], status=status)


def pagerduty_errors(response: httpx.Response) -> list[str]:
    """PagerDuty's error strings from an Events API error body (`errors`, else `message`, else the status)."""
    data = _json_object(response)
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        return [str(error) for error in errors]
    message = data.get("message")
    return [str(message)] if message else [f"HTTP {response.status_code} {response.reason_phrase}".strip()]


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
