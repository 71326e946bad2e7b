"""The local bundler: what goes into the asset, for which interpreter and platform, and when its hash changes."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from alertbridge.models.settings import DEPLOYED_CONFIG_FILE
from infra.bundling import (
    PACKAGE_DIR,
    LocalPipBundling,
    asset_hash,
    bundled_requirements,
    check_wheel_tags,
    distribution,
    locked_requirements,
    pip_command,
    source_files,
    tag_fits_target,
    target_python,
)
from infra.settings import InfraConfigError, runtime_requirements

PINS = ["aws-lambda-powertools[parser]==3.37.0", "httpx==0.28.1", "pydantic==2.14.3"]


@pytest.fixture
def package(tmp_path: Path) -> Path:
    root = tmp_path / "alertbridge"
    for relative in (
        "__init__.py",
        "handlers/ingest.py",
        "cli/main.py",
        "sandbox/emulator.py",
        "operator/doctor.py",
        "models/x.json",
        "deployed-config.json",
    ):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(f"# {relative}\n")
    (root / "handlers/__pycache__").mkdir()
    (root / "handlers/__pycache__/ingest.cpython-311.pyc").write_bytes(b"\0")
    return root


def test_only_powertools_comes_from_the_layer_and_every_other_pin_is_locked() -> None:
    assert bundled_requirements(PINS) == ["httpx==0.28.1", "pydantic==2.14.3"]
    locked = set(locked_requirements())
    for pin in bundled_requirements():  # from pyproject.toml
        assert pin in locked, f"{pin} is pinned in pyproject.toml but not bundled as that version"


def test_the_lock_is_what_the_tests_run_with() -> None:
    """The code that runs in Lambda is the code these tests ran: same versions as this environment."""
    for pin in locked_requirements():
        name, version = pin.split("==")
        assert importlib.metadata.version(name) == version, f"{name}: tests run another version than {pin}"
    assert {distribution(pin) for pin in locked_requirements()} >= {"pydantic", "pydantic-core"}


def test_pip_targets_lambda_arm64_python_313_wheels_only(tmp_path: Path) -> None:
    command = " ".join(pip_command(tmp_path, ["httpx==0.28.1"]))
    for flag in (
        "--platform manylinux_2_34_aarch64",
        "--platform manylinux_2_28_aarch64",
        "--platform manylinux2014_aarch64",
        "--implementation cp",
        "--python-version 3.13",
        "--only-binary=:all:",
        "--no-deps",
        "--no-compile",
        f"--target {tmp_path}",
    ):
        assert flag in command


@pytest.mark.parametrize(
    ("tag", "fits"),
    [
        ("py3-none-any", True),
        ("cp313-cp313-manylinux_2_17_aarch64", True),
        ("cp313-cp313-manylinux2014_aarch64", True),
        ("cp313-cp313-manylinux_2_28_aarch64", True),  # AL2023 has glibc 2.34
        ("cp313-cp313-manylinux_2_34_aarch64", True),
        ("cp39-abi3-manylinux_2_17_aarch64", True),
        ("cp313-cp313-manylinux_2_35_aarch64", False),
        ("cp313-cp313-manylinux_2_17_x86_64", False),
        ("cp312-cp312-manylinux_2_17_aarch64", False),
        ("cp313-cp313t-manylinux_2_17_aarch64", False),
        ("cp313-cp313-musllinux_1_2_aarch64", False),
        ("cp313-cp313-macosx_11_0_arm64", False),
    ],
)
def test_wheel_tags_are_checked_against_the_target(tag: str, fits: bool) -> None:
    assert tag_fits_target(tag) is fits


def test_a_wheel_for_another_platform_fails_the_bundle(tmp_path: Path) -> None:
    info = tmp_path / "pydantic_core-2.50.4.dist-info"
    info.mkdir()
    (info / "WHEEL").write_text("Wheel-Version: 1.0\nTag: cp313-cp313-manylinux_2_17_x86_64\n")
    with pytest.raises(
        InfraConfigError, match=r"pydantic_core-2\.50\.4 \(cp313-cp313-manylinux_2_17_x86_64\)"
    ):
        check_wheel_tags(tmp_path, ["pydantic-core==2.50.4"])
    with pytest.raises(InfraConfigError, match="no wheel for"):
        check_wheel_tags(tmp_path / "nothing", ["pydantic-core==2.50.4"])


def test_cli_sandbox_operator_caches_and_stale_configurations_stay_out(package: Path) -> None:
    shipped = {p.relative_to(package).as_posix() for p in source_files(package)}
    assert shipped == {"__init__.py", "handlers/ingest.py", "models/x.json"}
    real = {p.relative_to(PACKAGE_DIR).parts[0] for p in source_files()}
    assert not {"cli", "sandbox", "operator"} & real and "models" in real


def test_hash_follows_dependencies_configuration_and_shipped_source_only(package: Path) -> None:
    base = asset_hash(["httpx==0.28.1"], package)
    assert asset_hash(["httpx==0.28.1"], package) == base
    assert asset_hash(["httpx==0.28.0"], package) != base
    assert asset_hash(["httpx==0.28.1"], package, compiled=False) != base
    assert asset_hash(["httpx==0.28.1"], package, config_text='{"rules":[]}') != base
    (package / "cli/main.py").write_text("# changed, but not shipped\n")
    assert asset_hash(["httpx==0.28.1"], package) == base
    (package / "handlers/ingest.py").write_text("# changed\n")
    assert asset_hash(["httpx==0.28.1"], package) != base


def test_package_copy_with_the_configuration_and_without_dependencies(package: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    bundling = LocalPipBundling([], package, config_text='{"default_route":"x"}', bytecode=False)
    assert bundling.try_bundle(str(out), image=None) is True  # type: ignore[arg-type]
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert files == {
        "alertbridge/__init__.py",
        "alertbridge/handlers/ingest.py",
        "alertbridge/models/x.json",
        DEPLOYED_CONFIG_FILE,
    }
    assert (out / DEPLOYED_CONFIG_FILE).read_text() == '{"default_route":"x"}'


def test_a_missing_target_interpreter_fails_the_bundle_saying_what_to_do(
    package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTBRIDGE_PYTHON313", str(tmp_path / "no-such-python3.13"))
    with pytest.raises(InfraConfigError, match=r"needs a Python 3\.13 interpreter.*ALERTBRIDGE_PYTHON313"):
        LocalPipBundling([], package).try_bundle(str(tmp_path), image=None)  # type: ignore[arg-type]
    monkeypatch.setenv("ALERTBRIDGE_PYTHON313", shutil.which("python3") or "python3")
    with pytest.raises(InfraConfigError, match=r"is Python 3\.(?!13)"):
        target_python()


@pytest.mark.skipif(os.environ.get("ALERTBRIDGE_SKIP_NETWORK") == "1", reason="needs PyPI")
def test_real_bundle_has_target_wheels_bytecode_and_our_package(tmp_path: Path) -> None:
    """pip really runs (PyPI, or its cache), python3.13 compiles everything, the tags fit the target."""
    try:
        python = target_python()
    except InfraConfigError as exc:  # the bundle itself fails loudly; here say why the check cannot run
        pytest.skip(str(exc))
    out = tmp_path / "asset"
    out.mkdir()
    LocalPipBundling(locked_requirements(), config_text="{}").try_bundle(str(out), image=None)  # type: ignore[arg-type]
    top = {p.name for p in out.iterdir()}
    assert {"httpx", "httpcore", "h11", "anyio", "idna", "certifi", "pydantic", "pydantic_core"} <= top
    assert "alertbridge" in top and not {"aws_lambda_powertools", "bin"} & top
    assert not (out / "alertbridge" / "cli").exists() and not (out / "alertbridge" / "operator").exists()
    assert any(p.name.endswith("aarch64-linux-gnu.so") for p in (out / "pydantic_core").iterdir())
    assert (out / "alertbridge/handlers/__pycache__/delivery.cpython-313.pyc").is_file()
    assert (out / "pydantic/__pycache__/main.cpython-313.pyc").is_file()
    assert python
    archive = shutil.make_archive(str(tmp_path / "asset"), "zip", out)
    assert zipfile.ZipFile(archive).getinfo(DEPLOYED_CONFIG_FILE)


def test_runtime_pins_come_from_pyproject() -> None:
    assert "pydantic==2.14.3" in runtime_requirements()
