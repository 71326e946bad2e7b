"""`alertbridge.render_event`: the public function behind `alertbridge render`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import alertbridge
from alertbridge import InvalidInput, render_event
from alertbridge.cli.main import main
from alertbridge.models.config import BridgeConfig
from tests.unit.conftest import EVENTS_DIR, EXAMPLE_CONFIG, RECEIVED_AT, REPO_ROOT, load_event


def test_prints_exactly_what_the_cli_prints(capsys: pytest.CaptureFixture[str]) -> None:
    name = "sqs-sns-lambda-errors-alarm-then-ok.json"  # SQS records carry their own arrival time
    assert main(["render", str(EVENTS_DIR / name), "--config", str(EXAMPLE_CONFIG)]) == 0
    printed = capsys.readouterr().out
    bodies = render_event(load_event(name), BridgeConfig.from_file(EXAMPLE_CONFIG))
    assert printed == json.dumps(bodies, indent=2, ensure_ascii=False) + "\n"


def test_default_configuration_and_fixed_arrival_time() -> None:
    event = load_event("sns-insufficient-data.json")
    assert render_event(event) == render_event(event, BridgeConfig()) == []  # INSUFFICIENT_DATA: ignore
    trigger = BridgeConfig(insufficient_data="trigger")  # type: ignore[arg-type]
    first = render_event(event, trigger, received_at=RECEIVED_AT)
    assert first == render_event(event, trigger, received_at=RECEIVED_AT)
    assert first[0]["payload"]["severity"] == "warning"


def test_not_a_lambda_event_raises_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="not a Lambda event"):
        render_event({"hello": "world"})


def test_exported_lazily() -> None:
    assert "render_event" in alertbridge.__all__
    code = "import sys, alertbridge; assert 'alertbridge.render' not in sys.modules; alertbridge.render_event"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)
