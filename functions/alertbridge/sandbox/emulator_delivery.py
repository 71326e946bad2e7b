"""A webhook subscription of the emulator: every incident change goes out as a signed Webhooks V3 delivery,
from one background thread, with PagerDuty's documented delivery rules:

- a 2xx answer within the timeout (PagerDuty waits 5 s) is a delivery;
- a timeout, a connection failure, a 5xx or a 429 is retried with backoff, with the same `X-Webhook-Id`,
  for up to 48 hours;
- any other answer (other 4xx) drops the delivery; three drops in a row disable the subscription, and
  nothing more is sent to it.
Assumed (PagerDuty documents the 48 h, not the intervals): retries wait 10 s, doubling up to 1 h.
`time_scale` shrinks every interval and the 48 h (0.001 turns 10 s into 10 ms) so tests can watch retries.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from alertbridge.sandbox.emulator_webhooks import signed_delivery

FIRST_RETRY_SECONDS = 10.0
MAX_RETRY_INTERVAL_SECONDS = 3600.0
RETRY_PERIOD_SECONDS = 48 * 3600.0
DROPS_BEFORE_DISABLE = 3

DELIVERED = "delivered"
RETRYING = "retrying"
DROPPED = "dropped"
GAVE_UP = "gave-up"  # retried for the whole retry period
DISABLED = "disabled"  # not sent: the subscription was disabled


@dataclass(frozen=True)
class DeliveryAttempt:
    webhook_id: str
    event_type: str
    attempt: int
    status: int  # the receiver's HTTP status; 0 for a timeout or a connection failure
    outcome: str


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    webhook_id: str = field(compare=False)
    envelope: dict[str, Any] = field(compare=False)
    attempt: int = field(default=1, compare=False)
    first_at: float = field(default=0.0, compare=False)

    @property
    def event_type(self) -> str:
        return str(self.envelope.get("event", {}).get("event_type", ""))


class WebhookSubscription:
    """`enqueue(envelope)` schedules a delivery; `wait_until(condition)` waits on what was attempted."""

    def __init__(
        self,
        url: str,
        *,
        secrets: Sequence[str] = (),
        timeout: float = 5.0,
        time_scale: float = 1.0,
    ) -> None:
        self.url = url
        self.secrets = tuple(secrets)
        self.timeout = timeout
        self.time_scale = time_scale
        self.enabled = True
        self.attempts: list[DeliveryAttempt] = []
        self._drops_in_a_row = 0
        self._queue: list[_Pending] = []
        self._in_flight = 0
        self._seq = itertools.count()
        self._changed = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="pd-emulator-webhooks", daemon=True)
        self._thread.start()

    def enqueue(self, envelope: dict[str, Any]) -> str:
        """Schedule one delivery now; its `X-Webhook-Id`."""
        webhook_id = str(uuid.uuid4())
        now = time.monotonic()
        with self._changed:
            pending = _Pending(now, next(self._seq), webhook_id, envelope, first_at=now)
            heapq.heappush(self._queue, pending)
            self._changed.notify_all()
        return webhook_id

    def wait_until(self, condition: Callable[[list[DeliveryAttempt]], bool], timeout: float = 10.0) -> bool:
        """Block until `condition(attempts)` holds (True) or `timeout` seconds pass (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: condition(list(self.attempts)), timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or being sent."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._queue and not self._in_flight, timeout)

    def outcomes(self) -> list[tuple[str, int, str]]:
        with self._changed:
            return [(a.event_type, a.status, a.outcome) for a in self.attempts]

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._thread.join(timeout=self.timeout + 1)

    # the delivery thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._changed:
                pending = self._next_due()
                if pending is None:
                    return
                self._in_flight += 1
            status = self._post(pending) if self.enabled else -1
            with self._changed:
                self._in_flight -= 1
                self._settle(pending, status)
                self._changed.notify_all()

    def _next_due(self) -> _Pending | None:
        """The next delivery once it is due (the lock is held); None when stopping."""
        while not self._stopping:
            if self._queue:
                wait = self._queue[0].due - time.monotonic()
                if wait <= 0:
                    return heapq.heappop(self._queue)
                self._changed.wait(wait)
            else:
                self._changed.wait()
        return None

    def _post(self, pending: _Pending) -> int:
        import httpx

        raw, headers = signed_delivery(pending.envelope, secrets=self.secrets, webhook_id=pending.webhook_id)
        try:
            return httpx.post(self.url, content=raw, headers=headers, timeout=self.timeout).status_code
        except httpx.HTTPError:
            return 0  # a timeout or a connection failure: retried like a 5xx

    def _settle(self, pending: _Pending, status: int) -> None:
        if status == -1:
            self._record(pending, 0, DISABLED)
        elif 200 <= status < 300:
            self._drops_in_a_row = 0
            self._record(pending, status, DELIVERED)
        elif status in {0, 429} or status >= 500:
            self._retry(pending, status)
        else:
            self._drops_in_a_row += 1
            self.enabled = self._drops_in_a_row < DROPS_BEFORE_DISABLE
            self._record(pending, status, DROPPED)

    def _retry(self, pending: _Pending, status: int) -> None:
        interval = min(FIRST_RETRY_SECONDS * 2.0 ** (pending.attempt - 1), MAX_RETRY_INTERVAL_SECONDS)
        due = time.monotonic() + interval * self.time_scale
        if due - pending.first_at > RETRY_PERIOD_SECONDS * self.time_scale:
            self._record(pending, status, GAVE_UP)
            return
        self._record(pending, status, RETRYING)
        pending.due, pending.seq, pending.attempt = due, next(self._seq), pending.attempt + 1
        heapq.heappush(self._queue, pending)

    def _record(self, pending: _Pending, status: int, outcome: str) -> None:
        self.attempts.append(
            DeliveryAttempt(pending.webhook_id, pending.event_type, pending.attempt, status, outcome)
        )
