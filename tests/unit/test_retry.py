"""Backoff and retry-stop rules (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertbridge.logic.retry import (
    RetryPolicy,
    backoff_delay,
    fits_before,
    next_wait,
    parse_retry_after,
    remaining,
)

POLICY = RetryPolicy(max_attempts=5, base=0.5, cap=8.0, max_wait=30.0)


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    ceilings = [backoff_delay(attempt, base=0.5, cap=8.0, rand=0.999999) for attempt in range(1, 8)]
    assert ceilings == pytest.approx([0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0], rel=1e-5)


def test_full_jitter_can_be_zero() -> None:
    assert backoff_delay(3, base=0.5, cap=8.0, rand=0.0) == 0.0


def test_attempt_must_count_tries_already_made() -> None:
    with pytest.raises(ValueError):
        backoff_delay(0, base=0.5, cap=8.0, rand=0.5)


@given(attempt=st.integers(1, 10_000), rand=st.floats(0, 1, exclude_max=True))
def test_backoff_always_within_zero_and_cap(attempt: int, rand: float) -> None:
    assert 0.0 <= backoff_delay(attempt, base=0.5, cap=8.0, rand=rand) <= 8.0


def test_no_wait_when_attempts_are_used_up() -> None:
    assert next_wait(5, retry_after=None, now=0.0, deadline=None, policy=POLICY, rand=0.5) is None
    assert next_wait(4, retry_after=None, now=0.0, deadline=None, policy=POLICY, rand=0.5) is not None


def test_retry_after_is_honoured_instead_of_jitter() -> None:
    assert next_wait(1, retry_after=3.0, now=0.0, deadline=None, policy=POLICY, rand=0.0) == 3.0


def test_retry_after_longer_than_max_wait_stops_retrying() -> None:
    assert next_wait(1, retry_after=120.0, now=0.0, deadline=None, policy=POLICY, rand=0.0) is None


def test_never_sleeps_up_to_or_past_the_deadline() -> None:
    assert next_wait(1, retry_after=2.0, now=10.0, deadline=12.0, policy=POLICY, rand=0.0) is None
    assert next_wait(1, retry_after=2.0, now=10.0, deadline=12.5, policy=POLICY, rand=0.0) == 2.0


@given(
    attempt=st.integers(1, 20),
    now=st.floats(0, 1000),
    budget=st.floats(0, 60),
    retry_after=st.none() | st.floats(0, 100),
    rand=st.floats(0, 1, exclude_max=True),
)
def test_a_wait_always_ends_before_the_deadline(
    attempt: int, now: float, budget: float, retry_after: float | None, rand: float
) -> None:
    wait = next_wait(
        attempt, retry_after=retry_after, now=now, deadline=now + budget, policy=POLICY, rand=rand
    )
    if wait is not None:
        assert 0.0 <= wait <= POLICY.max_wait
        assert now + wait < now + budget
        assert attempt < POLICY.max_attempts


def test_remaining_and_fits_before() -> None:
    assert remaining(5.0, None) is None
    assert remaining(5.0, 7.5) == 2.5
    assert remaining(9.0, 7.5) == 0.0
    assert fits_before(1.0, None)
    assert not fits_before(2.0, 2.0)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("5", 5.0),
        (" 2.5 ", 2.5),
        (None, None),
        ("soon", None),
        ("-1", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
