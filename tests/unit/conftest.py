"""Fixtures for the parser / policy / event-builder tests: the real-shaped events under tests/events/."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alertbridge.models.config import BridgeConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
# PagerDuty's published OpenAPI description of the Events API v2 (github.com/PagerDuty/api-schema). It
# declares no license, so it is not copied into this repository: name a copy with PAGERDUTY_OPENAPI_FILE;
# the contract tests that read it are skipped without one.
PAGERDUTY_OPENAPI = Path(
    os.environ.get(
        "PAGERDUTY_OPENAPI_FILE",
        REPO_ROOT.parent / "shared" / "vendor" / "pagerduty-events-v2.openapi.json",
    )
)
EVENTS_DIR = REPO_ROOT / "tests" / "events"
GOLDEN_DIR = REPO_ROOT / "tests" / "golden"
EXAMPLE_CONFIG = REPO_ROOT / "functions" / "alertbridge" / "models" / "config.example.json"
RECEIVED_AT = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def load_event(name: str) -> Any:
    return json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))


def event_files() -> list[Path]:
    return sorted(EVENTS_DIR.glob("*.json"))


@pytest.fixture
def received_at() -> datetime:
    return RECEIVED_AT


@pytest.fixture
def example_config() -> BridgeConfig:
    return BridgeConfig.from_file(EXAMPLE_CONFIG)
