"""`alertbridge render`: prints the bodies as JSON, exit 2 with one line for bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alertbridge.cli.main import main
from tests.unit.conftest import EVENTS_DIR, EXAMPLE_CONFIG, REPO_ROOT


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["render", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_renders_alarm_then_ok_as_trigger_then_resolve(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(EVENTS_DIR / "sqs-sns-lambda-errors-alarm-then-ok.json"))
    assert (code, err) == (0, "")
    bodies = json.loads(out)
    assert [b["event_action"] for b in bodies] == ["trigger", "resolve"]
    assert bodies[0]["dedup_key"] == bodies[1]["dedup_key"]
    assert bodies[0]["routing_key"] == "default"


def test_config_file_picks_route_and_insufficient_data_policy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(
        capsys, str(EVENTS_DIR / "sqs-raw-delivery-alb-5xx-directive.json"), "--config", str(EXAMPLE_CONFIG)
    )
    assert code == 0 and json.loads(out)[0]["routing_key"] == "payments"
    config = tmp_path / "c.json"
    config.write_text('{"insufficient_data": "trigger"}')
    code, out, _ = run(capsys, str(EVENTS_DIR / "sns-insufficient-data.json"), "--config", str(config))
    assert code == 0 and json.loads(out)[0]["payload"]["severity"] == "warning"
    code, out, _ = run(capsys, str(EVENTS_DIR / "sns-insufficient-data.json"))
    assert (code, json.loads(out)) == (0, [])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("this is not json", "is not JSON"),
        ('{"hello": "world"}', "not a Lambda event"),
        ("[1, 2, 3]", "not a Lambda event"),
        ('{"Records": [{"eventSource": "aws:kinesis"}]}', "Records[0]"),
    ],
)
def test_bad_files_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "event.json"
    path.write_text(content)
    code, out, err = run(capsys, str(path))
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1


def test_missing_file_and_bad_config_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, str(tmp_path / "nope.json"))
    assert code == 2 and err.count("\n") == 1
    config = tmp_path / "c.json"
    config.write_text('{"default_route": "missing"}')
    code, _, err = run(capsys, str(EVENTS_DIR / "lambda-action-sqs-age.json"), "--config", str(config))
    assert code == 2 and "invalid configuration" in err and err.count("\n") == 1


def test_installed_console_script_renders() -> None:
    script = Path(sys.executable).parent / "alertbridge"
    if not script.exists():
        pytest.skip("alertbridge console script not installed in this environment")
    result = subprocess.run(
        [str(script), "render", "tests/events/lambda-action-sqs-age.json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["payload"]["group"] == "AWS/SQS"
