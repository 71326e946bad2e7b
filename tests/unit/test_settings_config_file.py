"""The deployed configuration: a file in the code asset, named and fingerprinted by the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertbridge.errors import ConfigError
from alertbridge.models.config import BridgeConfig, Route
from alertbridge.models.settings import DEPLOYED_CONFIG_FILE, Settings, config_digest

CONFIG = BridgeConfig(routes={"default": Route(), "payments": Route()})


def deployed(root: Path, text: str) -> dict[str, str]:
    path = root / DEPLOYED_CONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return {
        "LAMBDA_TASK_ROOT": str(root),
        "ALERTBRIDGE_CONFIG_FILE": DEPLOYED_CONFIG_FILE,
        "ALERTBRIDGE_CONFIG_SHA256": config_digest(text),
    }


def test_the_file_under_the_code_root_is_the_configuration(tmp_path: Path) -> None:
    settings = Settings.from_env(deployed(tmp_path, CONFIG.to_json_text()))
    assert settings.config == CONFIG
    assert settings.config_path == tmp_path / DEPLOYED_CONFIG_FILE


def test_a_file_that_differs_from_the_recorded_digest_fails_the_cold_start(tmp_path: Path) -> None:
    env = deployed(tmp_path, CONFIG.to_json_text())
    (tmp_path / DEPLOYED_CONFIG_FILE).write_text(BridgeConfig().to_json_text(), encoding="utf-8")
    with pytest.raises(ConfigError, match="the code asset and the function's environment disagree"):
        Settings.from_env(env)


def test_a_missing_file_fails_the_cold_start(tmp_path: Path) -> None:
    env = {"LAMBDA_TASK_ROOT": str(tmp_path), "ALERTBRIDGE_CONFIG_FILE": DEPLOYED_CONFIG_FILE}
    with pytest.raises(ConfigError, match="cannot be read"):
        Settings.from_env(env)


def test_inline_and_file_together_are_ambiguous(tmp_path: Path) -> None:
    env = {**deployed(tmp_path, CONFIG.to_json_text()), "ALERTBRIDGE_CONFIG": CONFIG.to_json_text()}
    with pytest.raises(ConfigError, match="not both"):
        Settings.from_env(env)


def test_inline_configuration_still_works_for_local_runs() -> None:
    assert Settings.from_env({"ALERTBRIDGE_CONFIG": CONFIG.to_json_text()}).config == CONFIG
