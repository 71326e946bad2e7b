"""The `emulator` fixture: one PagerDuty emulator per test process on 127.0.0.1 (random port), reset before
each test. Import it where needed: `from tests.integration.emulator_fixtures import emulator  # noqa: F401`.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator

import pytest

from alertbridge.sandbox.emulator import DEFAULT_TOKEN, DEFAULT_USER, PagerDutyEmulator

ROUTING_KEY = "R0UT1NGKEY0000000000000000000001"  # 32 characters, as PagerDuty requires
OTHER_ROUTING_KEY = "R0UT1NGKEY0000000000000000000002"
REST_TOKEN = DEFAULT_TOKEN
USER_EMAIL = DEFAULT_USER

_lock = threading.Lock()
_running: list[PagerDutyEmulator] = []


def running_emulator() -> PagerDutyEmulator:
    """The process's emulator, started on first use (one server for the whole session: ~ms per test)."""
    with _lock:
        if not _running:
            server = PagerDutyEmulator().start()
            atexit.register(server.stop)
            _running.append(server)
        return _running[0]


@pytest.fixture
def emulator() -> Iterator[PagerDutyEmulator]:
    server = running_emulator()
    server.reset()
    yield server
    server.reset()
