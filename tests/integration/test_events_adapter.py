"""The Events API adapter against the emulator: retries, timeouts, deadline and the error taxonomy."""

# ruff: noqa: F811  (the `emulator` fixture is imported, then named as a test parameter)

from __future__ import annotations

import json
import logging
import socket
import time
from typing import Any

import httpx
import pytest

from alertbridge.adapters.pagerduty_events import PagerDutyEventsAdapter
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
from alertbridge.models.settings import EU_EVENTS_URL
from alertbridge.sandbox.emulator import Fault, PagerDutyEmulator
from tests.integration.emulator_fixtures import (
    ROUTING_KEY,
    emulator,  # noqa: F401
)
from tests.unit.conftest import PAGERDUTY_OPENAPI

VENDOR_OPENAPI = PAGERDUTY_OPENAPI


class FakeTime:
    """A clock that only moves when the adapter sleeps: retries run instantly and deterministically."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def adapter(emulator: PagerDutyEmulator, fake_time: FakeTime, **options: Any) -> PagerDutyEventsAdapter:
    settings: dict[str, Any] = {
        "connect_timeout": 1.0,
        "read_timeout": 1.0,
        "max_attempts": 4,
        "sleep": fake_time.sleep,
        "clock": fake_time.clock,
        "random": lambda: 0.5,
        **options,
    }
    return PagerDutyEventsAdapter(emulator.url, **settings)


def trigger(dedup_key: str = "cpu-high", **payload: Any) -> dict[str, Any]:
    return {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": "CPU high", "source": "web-1", "severity": "error", **payload},
    }


def test_send_returns_pagerduty_answer_after_one_attempt(
    emulator: PagerDutyEmulator, fake_time: FakeTime
) -> None:
    with adapter(emulator, fake_time) as pd:
        response = pd.send(trigger())
    assert (response.status, response.message, response.dedup_key, response.attempts) == (
        "success",
        "Event processed",
        "cpu-high",
        1,
    )
    assert emulator.open_alert("cpu-high") is not None and fake_time.sleeps == []


def test_send_change(emulator: PagerDutyEmulator, fake_time: FakeTime) -> None:
    body = {"routing_key": ROUTING_KEY, "payload": {"summary": "deploy 42", "source": "ci"}}
    with adapter(emulator, fake_time) as pd:
        assert pd.send_change(body).status == "success"
    assert emulator.change_events == [body]


def test_server_errors_are_retried_with_growing_jittered_backoff(
    emulator: PagerDutyEmulator, fake_time: FakeTime
) -> None:
    emulator.inject(Fault.server_error(500), Fault.server_error(502), Fault.server_error(503))
    with adapter(emulator, fake_time) as pd:
        response = pd.send(trigger())
    assert response.attempts == 4
    assert fake_time.sleeps == [0.25, 0.5, 1.0]  # base 0.5 * 2**n, full jitter drawn at 0.5
    assert len(emulator.alerts) == 1


def test_server_error_after_max_attempts(emulator: PagerDutyEmulator, fake_time: FakeTime) -> None:
    emulator.inject(Fault.server_error(503), times=10)
    with adapter(emulator, fake_time, max_attempts=3) as pd, pytest.raises(ServerError) as caught:
        pd.send(trigger())
    assert caught.value.status == 503 and caught.value.attempts == 3
    assert len(emulator.requests) == 3 and len(fake_time.sleeps) == 2


def test_429_honours_retry_after(emulator: PagerDutyEmulator, fake_time: FakeTime) -> None:
    emulator.inject(Fault.rate_limited(retry_after=7))
    with adapter(emulator, fake_time) as pd:
        assert pd.send(trigger()).attempts == 2
    assert fake_time.sleeps == [7.0]


def test_429_without_retry_after_backs_off(emulator: PagerDutyEmulator, fake_time: FakeTime) -> None:
    emulator.inject(Fault.rate_limited(), Fault.rate_limited())
    with adapter(emulator, fake_time) as pd:
        assert pd.send(trigger()).attempts == 3
    assert fake_time.sleeps == [0.25, 0.5]


def test_real_rate_limit_429_ends_as_rate_limited(emulator: PagerDutyEmulator, fake_time: FakeTime) -> None:
    emulator.set_rate_limit(1, 3600.0)
    with adapter(emulator, fake_time, max_attempts=2) as pd:
        pd.send(trigger("first"))
        with pytest.raises(RateLimited) as caught:
            pd.send(trigger("second"))
    assert caught.value.retry_after is None and caught.value.attempts == 2
    assert emulator.open_alert("second") is None


def test_retry_after_beyond_what_we_wait_gives_up_at_once(
    emulator: PagerDutyEmulator, fake_time: FakeTime
) -> None:
    emulator.inject(Fault.rate_limited(retry_after=300))
    with adapter(emulator, fake_time) as pd, pytest.raises(RateLimited) as caught:
        pd.send(trigger())
    assert caught.value.retry_after == 300.0 and caught.value.attempts == 1 and fake_time.sleeps == []


def test_400_is_rejected_at_once_with_pagerduty_errors(
    emulator: PagerDutyEmulator, fake_time: FakeTime
) -> None:
    with adapter(emulator, fake_time) as pd, pytest.raises(Rejected) as caught:
        pd.send(trigger(severity="urgent"))
    assert caught.value.status == 400 and caught.value.attempts == 1
    assert any("'payload.severity' is invalid" in error for error in caught.value.errors)
    assert not caught.value.retryable and len(emulator.requests) == 1


def test_413_is_rejected(emulator: PagerDutyEmulator, fake_time: FakeTime) -> None:
    with adapter(emulator, fake_time) as pd, pytest.raises(Rejected) as caught:
        pd.send(trigger(custom_details={"blob": "x" * 600_000}))
    assert caught.value.status == 413


def test_connection_reset_is_retried(emulator: PagerDutyEmulator, fake_time: FakeTime) -> None:
    emulator.inject(Fault.reset())
    with adapter(emulator, fake_time) as pd:
        assert pd.send(trigger()).attempts == 2
    assert emulator.outcomes() == ["fault:reset", "opened"]


def test_connection_reset_every_time_is_connection_failed(
    emulator: PagerDutyEmulator, fake_time: FakeTime
) -> None:
    emulator.inject(Fault.reset(), times=5)
    with adapter(emulator, fake_time, max_attempts=2) as pd, pytest.raises(ConnectionFailed):
        pd.send(trigger())


def test_nothing_listening_is_connection_failed(fake_time: FakeTime) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nobody listens there
    pd = PagerDutyEventsAdapter(f"http://127.0.0.1:{port}", max_attempts=2, sleep=fake_time.sleep)
    with pd, pytest.raises(ConnectionFailed) as caught:
        pd.send(trigger())
    assert caught.value.attempts == 2


def test_slow_answer_times_out_then_the_retry_updates_the_same_alert(
    emulator: PagerDutyEmulator, fake_time: FakeTime
) -> None:
    emulator.inject(Fault.slow(0.5))
    with adapter(emulator, fake_time, read_timeout=0.1) as pd:
        assert pd.send(trigger()).attempts == 2
    assert len(emulator.alerts) == 1 and emulator.outcomes() == ["opened", "updated"]


def test_slow_answer_every_time_is_request_timeout(emulator: PagerDutyEmulator, fake_time: FakeTime) -> None:
    emulator.inject(Fault.slow(0.4), times=2)
    with (
        adapter(emulator, fake_time, read_timeout=0.1, max_attempts=2) as pd,
        pytest.raises(RequestTimeout) as caught,
    ):
        pd.send(trigger())
    assert "0.10s" in str(caught.value)


def test_retries_stop_before_the_deadline(emulator: PagerDutyEmulator, fake_time: FakeTime) -> None:
    emulator.inject(Fault.rate_limited(retry_after=2), times=10)
    deadline = fake_time.now + 5.0
    with adapter(emulator, fake_time, max_attempts=10) as pd, pytest.raises(DeadlineExceeded) as caught:
        pd.send(trigger(), deadline=deadline)
    assert fake_time.sleeps == [2.0, 2.0]  # a third wait would end at the deadline
    assert fake_time.now < deadline and caught.value.attempts == 3
    assert isinstance(caught.value.__cause__, RateLimited)


def test_deadline_already_passed_sends_nothing(emulator: PagerDutyEmulator, fake_time: FakeTime) -> None:
    with adapter(emulator, fake_time) as pd, pytest.raises(DeadlineExceeded) as caught:
        pd.send(trigger(), deadline=fake_time.now - 1)
    assert emulator.requests == [] and caught.value.attempts == 0


def test_request_timeout_is_clamped_to_the_deadline(emulator: PagerDutyEmulator) -> None:
    emulator.inject(Fault.slow(30.0))  # unclamped, the request would wait out the 5 s read timeout
    pd = PagerDutyEventsAdapter(emulator.url, read_timeout=5.0, max_attempts=1)
    started = time.monotonic()
    with pd, pytest.raises(PagerDutyError):
        pd.send(trigger(), deadline=started + 0.3)
    assert time.monotonic() - started < 3.0  # cut at the 0.3 s deadline, with room for a loaded machine


def test_client_is_created_lazily_and_once(emulator: PagerDutyEmulator, fake_time: FakeTime) -> None:
    pd = adapter(emulator, fake_time)
    assert pd._http._client is None  # constructing the adapter paid nothing
    pd.send(trigger())
    client = pd._http._client
    pd.send(trigger())
    assert client is not None and pd._http._client is client
    pd.close()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://events.pagerduty.com/v2/enqueue", "https://events.pagerduty.com"),
        (EU_EVENTS_URL + "/", EU_EVENTS_URL),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
    ],
)
def test_base_url_is_normalised(given: str, expected: str) -> None:
    assert PagerDutyEventsAdapter(given).base_url == expected


def test_plain_http_is_refused_off_loopback() -> None:
    with pytest.raises(ConfigError):
        PagerDutyEventsAdapter("http://events.pagerduty.com")


FAULTS = [
    pytest.param([Fault.server_error(500)], ServerError, id="server-error"),
    pytest.param([Fault.rate_limited(1)], RateLimited, id="rate-limited"),
    pytest.param([Fault.reset()], ConnectionFailed, id="reset"),
    pytest.param([Fault.slow(0.3)], RequestTimeout, id="timeout"),
    pytest.param([], Rejected, id="rejected"),
]


@pytest.mark.parametrize(("faults", "error"), FAULTS)
def test_routing_key_never_appears_in_errors_or_logs(
    emulator: PagerDutyEmulator,
    fake_time: FakeTime,
    caplog: pytest.LogCaptureFixture,
    faults: list[Fault],
    error: type[PagerDutyError],
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.set_routing_keys([] if error is Rejected else None)  # unknown key: PagerDuty's 400
    if faults:
        emulator.inject(*faults, times=3)
    with adapter(emulator, fake_time, read_timeout=0.1, max_attempts=2) as pd, pytest.raises(error) as caught:
        pd.send(trigger())
    texts = [str(caught.value), repr(caught.value), caplog.text, *(r.getMessage() for r in caplog.records)]
    texts += [json.dumps(r.__dict__, default=str) for r in caplog.records]
    cause = caught.value.__cause__ or caught.value.__context__
    texts += [str(cause), repr(cause)]
    assert all(ROUTING_KEY not in text for text in texts)
    if error is not Rejected:
        assert "retrying" in caplog.text  # the retry was logged, without the key


def test_pagerduty_errors_echoing_the_key_are_redacted(fake_time: FakeTime) -> None:
    # PagerDuty does not echo keys today; a server that does must still not leak one into our errors
    def echo(request: httpx.Request) -> httpx.Response:
        key = json.loads(request.content)["routing_key"]
        return httpx.Response(400, json={"status": "invalid event", "errors": [f"Invalid routing key {key}"]})

    pd = PagerDutyEventsAdapter("https://events.pagerduty.com", transport=httpx.MockTransport(echo))
    with pd, pytest.raises(Rejected) as caught:
        pd.send(trigger())
    assert ROUTING_KEY not in str(caught.value) and ROUTING_KEY not in "".join(caught.value.errors)
    assert "Invalid routing key [redacted]" in caught.value.errors


@pytest.mark.skipif(not VENDOR_OPENAPI.exists(), reason="vendor OpenAPI file not available")
def test_an_accepted_body_matches_the_vendor_openapi(
    emulator: PagerDutyEmulator, fake_time: FakeTime
) -> None:
    import jsonschema

    spec = json.loads(VENDOR_OPENAPI.read_text())
    schema = spec["paths"]["/enqueue"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    body = {
        **trigger(timestamp="2024-01-01T00:00:00.000+0000", custom_details={"a": {"b": 1}}),
        "links": [{"href": "https://example.com", "text": "runbook"}],
        "images": [{"src": "https://example.com/g.png"}],
    }
    with adapter(emulator, fake_time) as pd:
        pd.send(body)
    accepted = emulator.requests[0].body
    assert emulator.requests[0].status == 202
    jsonschema.validate(accepted, {**schema, "components": spec["components"]})
