"""The local bundler: what goes into the asset and when its hash changes."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from infra.bundling import (
    PACKAGE_DIR,
    LocalPipBundling,
    asset_hash,
    bundled_requirements,
    pip_command,
    source_files,
)

PINS = ["aws-lambda-powertools[parser]==3.37.0", "httpx==0.28.1", "pydantic==2.14.3"]


@pytest.fixture
def package(tmp_path: Path) -> Path:
    root = tmp_path / "alertbridge"
    for relative in (
        "__init__.py",
        "handlers/ingest.py",
        "cli/main.py",
        "local/emulator.py",
        "models/x.json",
    ):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(f"# {relative}\n")
    (root / "handlers/__pycache__").mkdir()
    (root / "handlers/__pycache__/ingest.cpython-311.pyc").write_bytes(b"\0")
    return root


def test_layer_provides_powertools_and_pydantic_so_only_httpx_is_bundled() -> None:
    assert bundled_requirements(PINS) == ["httpx==0.28.1"]
    assert bundled_requirements() == ["httpx==0.28.1"]  # from pyproject.toml


def test_pip_targets_lambda_arm64_python_313_wheels_only(tmp_path: Path) -> None:
    command = " ".join(pip_command(tmp_path, ["httpx==0.28.1"]))
    for flag in (
        "--platform manylinux2014_aarch64",
        "--implementation cp",
        "--python-version 3.13",
        "--only-binary=:all:",
        "--no-compile",
        f"--target {tmp_path}",
    ):
        assert flag in command


def test_cli_local_and_caches_stay_out(package: Path) -> None:
    shipped = {p.relative_to(package).as_posix() for p in source_files(package)}
    assert shipped == {"__init__.py", "handlers/ingest.py", "models/x.json"}
    real = {p.relative_to(PACKAGE_DIR).parts[0] for p in source_files()}
    assert "cli" not in real and "local" not in real and "models" in real


def test_hash_follows_dependencies_and_shipped_source_only(package: Path) -> None:
    base = asset_hash(["httpx==0.28.1"], package)
    assert asset_hash(["httpx==0.28.1"], package) == base
    assert asset_hash(["httpx==0.28.0"], package) != base
    assert asset_hash(["httpx==0.28.1"], package, compiled=True) != base
    (package / "cli/main.py").write_text("# changed, but not shipped\n")
    assert asset_hash(["httpx==0.28.1"], package) == base
    (package / "handlers/ingest.py").write_text("# changed\n")
    assert asset_hash(["httpx==0.28.1"], package) != base


def test_package_copy_without_dependencies(package: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert LocalPipBundling([], package).try_bundle(str(out), image=None) is True  # type: ignore[arg-type]
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert files == {"alertbridge/__init__.py", "alertbridge/handlers/ingest.py", "alertbridge/models/x.json"}


@pytest.mark.skipif(os.environ.get("ALERTBRIDGE_SKIP_NETWORK") == "1", reason="needs PyPI")
def test_real_bundle_has_arm64_wheels_and_our_package(tmp_path: Path) -> None:
    """pip really runs (PyPI, or its cache) and the result is importable-shaped for Lambda."""
    out = tmp_path / "asset"
    out.mkdir()
    LocalPipBundling(["httpx==0.28.1"]).try_bundle(str(out), image=None)  # type: ignore[arg-type]
    top = {p.name for p in out.iterdir()}
    assert {"httpx", "httpcore", "h11", "anyio", "idna", "certifi", "alertbridge"} <= top
    assert not {"pydantic", "aws_lambda_powertools", "bin"} & top
    assert not (out / "alertbridge" / "cli").exists()
    archive = shutil.make_archive(str(tmp_path / "asset"), "zip", out)
    assert zipfile.ZipFile(archive).getinfo("alertbridge/handlers/__init__.py")
