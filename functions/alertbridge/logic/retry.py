"""When to try a PagerDuty request again: exponential backoff with full jitter, bounded by attempts, by the
longest wait we accept and by the caller's deadline. Pure: the clock reading and the random draw are passed in.

PagerDuty advises backing off for minutes after a 429. A Lambda holding a batch cannot wait that long, so we
retry a few times within the record's budget and then give up: the record returns to the queue, and SQS's
visibility timeout becomes the long back-off PagerDuty asks for.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base: float = 0.5  # seconds; the first retry waits up to this much
    cap: float = 8.0  # no single backoff wait is longer than this
    max_wait: float = 30.0  # a Retry-After beyond this is not honoured by waiting: we give up instead

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.base < 0 or self.cap < 0 or self.max_wait < 0:
            raise ValueError("base, cap and max_wait must be >= 0")


def backoff_delay(attempt: int, *, base: float, cap: float, rand: float) -> float:
    """Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2**(attempt-1))).

    `attempt` is the number of attempts already made (>= 1); `rand` a draw in [0, 1).
    """
    if attempt < 1:
        raise ValueError("attempt counts the tries already made and starts at 1")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 62))
    return ceiling * min(max(rand, 0.0), 1.0)


def next_wait(
    attempt: int,
    *,
    retry_after: float | None,
    now: float,
    deadline: float | None,
    policy: RetryPolicy,
    rand: float,
) -> float | None:
    """Seconds to sleep before the next try, or None when we must stop now.

    Stops when the attempts are used up, when the server's Retry-After exceeds `policy.max_wait`, or when
    sleeping would reach the deadline (a retry that starts at the deadline could not finish anyway).
    """
    if attempt >= policy.max_attempts:
        return None
    wait = _honoured_wait(attempt, retry_after, policy, rand)
    if wait is None or not fits_before(now + wait, deadline):
        return None
    return wait


def _honoured_wait(attempt: int, retry_after: float | None, policy: RetryPolicy, rand: float) -> float | None:
    jitter = backoff_delay(attempt, base=policy.base, cap=policy.cap, rand=rand)
    if retry_after is None:
        return jitter
    if retry_after > policy.max_wait:
        return None
    return max(retry_after, 0.0)


def fits_before(moment: float, deadline: float | None) -> bool:
    return deadline is None or moment < deadline


def remaining(now: float, deadline: float | None) -> float | None:
    """Seconds left before the deadline (never negative), None when there is no deadline."""
    return None if deadline is None else max(deadline - now, 0.0)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds. HTTP dates are rare for PagerDuty and would need the wall clock: ignored."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
