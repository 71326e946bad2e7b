"""`alertbridge render` shows the trigger's graph image with a base URL from `--graph-base-url` or the
configuration's `graph.base_url`, and none without one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alertbridge.cli.main import main
from tests.unit.conftest import EVENTS_DIR

EVENT = str(EVENTS_DIR / "sqs-sns-lambda-errors-alarm-then-ok.json")
BASE = "https://abc.lambda-url.eu-west-1.on.aws"


def render(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]] | str]:
    code = main(["render", EVENT, *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else err)


def test_graph_base_url_option_adds_the_image(capsys: pytest.CaptureFixture[str]) -> None:
    code, bodies = render(capsys, "--graph-base-url", BASE + "/")
    assert code == 0 and isinstance(bodies, list)
    trigger, resolve = bodies
    (image,) = trigger["images"]  # type: ignore[index]
    assert image["src"].startswith(BASE + "/graph/")
    assert "images" not in resolve


def test_configured_base_url_adds_the_image_and_none_without_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"graph": {"base_url": BASE}}))
    code, bodies = render(capsys, "--config", str(config))
    assert code == 0 and isinstance(bodies, list) and "images" in bodies[0]
    code, bodies = render(capsys)
    assert code == 0 and isinstance(bodies, list) and "images" not in bodies[0]


def test_plain_http_base_url_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = render(capsys, "--graph-base-url", "http://example.com")
    assert code == 2 and "https" in str(err)
