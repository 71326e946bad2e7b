"""HTTP plumbing shared by the two PagerDuty adapters (`pagerduty_events.py`, `pagerduty_rest.py`).

`HttpTransport` holds one httpx client per container, created on the first request (creating it loads the CA
bundle, which an import should not pay). Every request has explicit connect/read timeouts, clamped to the
caller's deadline, and httpx failures become the library's RequestTimeout and ConnectionFailed.

`Retrying` retries one request function: retryable errors (429, 5xx and network failures unless the caller
says otherwise) with exponential backoff and full jitter, honouring Retry-After, bounded by `max_attempts`
and by `deadline` (a time.monotonic() value): it never sleeps past it.

`checked_base_url` refuses anything but https (plain http only on loopback); `redact` takes secrets out of
a text before it goes into an error or a log.
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

from alertbridge.errors import ConfigError, ConnectionFailed, DeadlineExceeded, PagerDutyError, RequestTimeout
from alertbridge.logic.retry import RetryPolicy, next_wait, remaining

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


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The JSON body when it is an object, else {} (no body, not JSON, or another JSON type)."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
