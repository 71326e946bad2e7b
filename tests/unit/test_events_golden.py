"""Golden bodies: every event file under tests/events/ renders byte for byte to tests/golden/<name>.

The goldens were generated once by this module and reviewed by hand. After an intended change of the
bodies, regenerate them and review the diff:

    ALERTBRIDGE_REGENERATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_events_golden.py -q
    git diff tests/golden/

Rendering uses functions/alertbridge/models/config.example.json and a fixed arrival time, so the goldens do
not depend on the clock.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from alertbridge import render_event
from alertbridge.models.config import BridgeConfig
from tests.unit.conftest import EXAMPLE_CONFIG, GOLDEN_DIR, RECEIVED_AT, event_files

REGENERATE = os.environ.get("ALERTBRIDGE_REGENERATE_GOLDEN") == "1"


def rendered(path: Path) -> str:
    bodies = render_event(
        json.loads(path.read_text("utf-8")), BridgeConfig.from_file(EXAMPLE_CONFIG), received_at=RECEIVED_AT
    )
    return json.dumps(bodies, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("path", event_files(), ids=lambda p: p.name)
def test_rendered_bodies_match_the_golden_file(path: Path) -> None:
    golden = GOLDEN_DIR / path.name
    text = rendered(path)
    if REGENERATE:
        GOLDEN_DIR.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), (
        f"no golden for {path.name}: run ALERTBRIDGE_REGENERATE_GOLDEN=1 pytest {__file__}"
    )
    assert text == golden.read_text("utf-8")  # byte for byte: key order and escaping included


def test_every_golden_has_its_event_file() -> None:
    events = {path.name for path in event_files()}
    orphans = sorted(path.name for path in GOLDEN_DIR.glob("*.json") if path.name not in events)
    assert orphans == []
