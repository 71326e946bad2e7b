"""One shared Lambda code asset, bundled locally (no Docker): pip for the target platform + our package.

The asset carries httpx and its dependencies plus `functions/alertbridge` without `cli/` and `local/`.
Powertools and pydantic come from the managed Powertools layer, so they are not bundled. The asset hash is
computed from the pinned requirements, the pip arguments and the package source, so a dependency bump
changes the asset even though the source directory did not change.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from infra.settings import REPO_ROOT, InfraConfigError, runtime_requirements

PACKAGE_DIR = REPO_ROOT / "functions" / "alertbridge"
PYTHON_VERSION = "3.13"
PLATFORM = "manylinux2014_aarch64"
# Shipped by the Powertools layer (which includes pydantic and its core); never bundled twice.
FROM_LAYER = ("aws-lambda-powertools", "pydantic")
EXCLUDED_SUBPACKAGES = ("cli", "local")
IGNORED = ("__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache")


def bundled_requirements(requirements: list[str] | None = None) -> list[str]:
    """Runtime requirements minus what the layer provides."""
    pins = runtime_requirements() if requirements is None else requirements
    return [pin for pin in pins if _distribution(pin) not in FROM_LAYER]


def pip_command(target: Path, requirements: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--platform", PLATFORM, "--implementation", "cp", "--python-version", PYTHON_VERSION,
        "--only-binary=:all:", "--no-compile", "--target", str(target), *requirements,
    ]  # fmt: skip


def source_files(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """The package files that go into the asset, in a stable order."""
    return sorted(path for path in package_dir.rglob("*") if path.is_file() and _shipped(path, package_dir))


def target_python() -> str | None:
    """A local python3.13 to precompile the bundle with (set ALERTBRIDGE_PYTHON313 to choose one).

    /var/task is read-only, so a bundle without matching .pyc recompiles every module on each cold start.
    """
    for candidate in (os.environ.get("ALERTBRIDGE_PYTHON313"), shutil.which("python3.13")):
        if candidate and _is_python_313(candidate):
            return candidate
    return None


def _is_python_313(executable: str) -> bool:
    probe = [executable, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 13))"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0  # noqa: S603


def precompile(output_dir: Path, python: str) -> None:
    # unchecked-hash: valid whatever the file mtimes in the zip; -d makes tracebacks show /var/task paths.
    command = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
               "-d", "/var/task", str(output_dir)]  # fmt: skip
    subprocess.run(command, capture_output=True, check=True)  # noqa: S603


def asset_hash(requirements: list[str], package_dir: Path = PACKAGE_DIR, compiled: bool = False) -> str:
    digest = hashlib.sha256()
    for line in (*requirements, *pip_command(Path("<out>"), [])[3:], f"precompiled={compiled}"):
        digest.update(line.encode() + b"\0")
    for path in source_files(package_dir):
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def copy_package(output_dir: Path, package_dir: Path = PACKAGE_DIR) -> None:
    for path in source_files(package_dir):
        destination = output_dir / package_dir.name / path.relative_to(package_dir)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)


@jsii.implements(ILocalBundling)
class LocalPipBundling:
    """Bundles on this machine; CDK never calls Docker because `try_bundle` returns True."""

    def __init__(
        self, requirements: list[str], package_dir: Path = PACKAGE_DIR, python: str | None = None
    ) -> None:
        self._requirements = requirements
        self._package_dir = package_dir
        self._python = python

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        out = Path(output_dir)
        if self._requirements:
            result = subprocess.run(  # noqa: S603
                pip_command(out, self._requirements), capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                raise InfraConfigError(f"bundling the Lambda dependencies failed:\n{result.stderr[-4000:]}")
        shutil.rmtree(out / "bin", ignore_errors=True)  # console scripts: useless in a Lambda
        copy_package(out, self._package_dir)
        if self._python:
            precompile(out, self._python)
        return True


def lambda_code(requirements: list[str] | None = None, package_dir: Path = PACKAGE_DIR) -> lambda_.Code:
    """The one code asset shared by every bridge function."""
    pins = bundled_requirements(requirements)
    python = target_python()
    return lambda_.Code.from_asset(
        str(package_dir.parent),
        asset_hash=asset_hash(pins, package_dir, compiled=python is not None),
        asset_hash_type=AssetHashType.CUSTOM,
        bundling=BundlingOptions(
            image=DockerImage.from_registry("unused-local-bundling-only"),
            local=LocalPipBundling(pins, package_dir, python),
        ),
    )


def _distribution(requirement: str) -> str:
    return requirement.split("==", maxsplit=1)[0].split("[", maxsplit=1)[0].strip().lower()


def _shipped(path: Path, package_dir: Path) -> bool:
    parts = path.relative_to(package_dir).parts
    if parts[0] in EXCLUDED_SUBPACKAGES or any(part in IGNORED for part in parts):
        return False
    return not path.name.endswith((".pyc", ".pyo"))
