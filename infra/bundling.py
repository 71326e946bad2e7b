"""One shared Lambda code asset, bundled locally (no Docker): pip for the target platform + our package.

The asset carries, for python3.13 on arm64:
- every package of `infra/lambda-requirements.txt`, exactly those versions, installed with `--no-deps`
  (pydantic and pydantic-core included: the runtime searches the code root /var/task before the layers'
  /opt/python, so these copies win over the ones inside the Powertools layer; AWS Lambda Developer Guide,
  "Working with .zip file archives for Python Lambda functions", dependency search path);
- `functions/alertbridge` without `cli/`, `sandbox/` and `operator/` (tools for operators, not for Lambda);
- `alertbridge/deployed-config.json`, the configuration validated at synth (too large for the environment);
- bytecode compiled by a python3.13 interpreter for every module: /var/task is read-only, so a module
  without a matching `.pyc` is compiled again on every cold start. No python3.13, no bundle (the error says
  how to name one), unless bytecode is turned off on purpose.

Every wheel's tags are checked against the target before the asset is accepted. The asset hash covers the
lock file, the pip arguments, the package source and the configuration, so a dependency bump or a rule
change always makes a new asset.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from alertbridge.models.settings import DEPLOYED_CONFIG_FILE
from infra.settings import REPO_ROOT, InfraConfigError, runtime_requirements

PACKAGE_DIR = REPO_ROOT / "functions" / "alertbridge"
LOCK_FILE = REPO_ROOT / "infra" / "lambda-requirements.txt"
PYTHON_VERSION = "3.13"
ARCH = "aarch64"
# Lambda's python3.13 runtime is Amazon Linux 2023 (glibc 2.34): manylinux wheels up to glibc 2.34 load.
MAX_GLIBC = (2, 34)
PLATFORMS = ("manylinux_2_34_aarch64", "manylinux_2_28_aarch64", "manylinux2014_aarch64")
# Shipped by the Powertools managed layer of exactly the pinned version; never bundled twice.
FROM_LAYER = ("aws-lambda-powertools",)
EXCLUDED_SUBPACKAGES = ("cli", "sandbox", "operator")
IGNORED = ("__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache")
PYTHON_ENV = "ALERTBRIDGE_PYTHON313"
BYTECODE_CONTEXT_KEY = "alertbridge:bytecode"


def locked_requirements(lock_file: Path = LOCK_FILE) -> list[str]:
    """`name==version` lines of the lock file (comments and blank lines skipped)."""
    lines = (line.split("#", 1)[0].strip() for line in lock_file.read_text(encoding="utf-8").splitlines())
    pins = [line for line in lines if line]
    unpinned = [pin for pin in pins if not re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.+-]+", pin)]
    if unpinned:
        raise InfraConfigError(f"{lock_file.name}: every line must be name==version, got {unpinned}")
    return pins


def bundled_requirements(requirements: list[str] | None = None) -> list[str]:
    """Runtime requirements of pyproject.toml minus what the layer provides (all of them are in the lock)."""
    pins = runtime_requirements() if requirements is None else requirements
    return [pin for pin in pins if distribution(pin) not in FROM_LAYER]


def pip_command(target: Path, requirements: list[str]) -> list[str]:
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *platforms,
        "--implementation", "cp", "--python-version", PYTHON_VERSION, "--only-binary=:all:", "--no-deps",
        "--no-compile", "--target", str(target), *requirements,
    ]  # fmt: skip


def source_files(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """The package files that go into the asset, in a stable order."""
    return sorted(path for path in package_dir.rglob("*") if path.is_file() and _shipped(path, package_dir))


# --- the target interpreter ------------------------------------------------------------------------------


def target_python() -> str:
    """The python3.13 that compiles the bundle's bytecode: $ALERTBRIDGE_PYTHON313, else `python3.13`."""
    candidate = os.environ.get(PYTHON_ENV) or shutil.which("python3.13") or "python3.13"
    problem = _python_problem(candidate)
    if problem is not None:
        raise InfraConfigError(
            f"bytecode for the Lambda runtime needs a Python {PYTHON_VERSION} interpreter, and {candidate!r} "
            f"{problem}. Install Python {PYTHON_VERSION} and set {PYTHON_ENV} to its path (with pyenv: "
            f"PYENV_VERSION=3.13.x), or synthesize with context {BYTECODE_CONTEXT_KEY}=false to ship "
            "without .pyc (every cold start then compiles every module)"
        )
    return candidate


def _python_problem(executable: str) -> str | None:
    probe = [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    try:
        result = subprocess.run(probe, capture_output=True, text=True, check=False, timeout=60)  # noqa: S603
    except OSError as exc:
        return f"cannot be run ({exc.strerror or exc})"
    if result.returncode != 0:
        return f"fails to start: {(result.stderr or result.stdout).strip()[-300:]}"
    if result.stdout.strip() != PYTHON_VERSION:
        return f"is Python {result.stdout.strip()}"
    return None


def precompile(output_dir: Path, python: str) -> None:
    # unchecked-hash: valid whatever the file mtimes in the zip; -d makes tracebacks show /var/task paths.
    command = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
               "-d", "/var/task", str(output_dir)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise InfraConfigError(f"compiling the bundle with {python} failed:\n{result.stdout[-2000:]}")
    missing = [p for p in output_dir.rglob("*.py") if not _compiled(p)]
    if missing:
        raise InfraConfigError(f"{python} left {len(missing)} modules uncompiled, e.g. {missing[0]}")


def _compiled(module: Path) -> bool:
    cache = module.parent / "__pycache__"
    tag = "cpython-" + PYTHON_VERSION.replace(".", "")
    return (cache / f"{module.stem}.{tag}.pyc").is_file()


# --- wheel tags ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WheelTag:
    distribution: str
    tag: str


def installed_wheel_tags(target: Path) -> list[WheelTag]:
    """The `Tag:` lines of every `*.dist-info/WHEEL` pip wrote into `target`."""
    tags = []
    for wheel in sorted(target.glob("*.dist-info/WHEEL")):
        name = wheel.parent.name.removesuffix(".dist-info")
        for line in wheel.read_text(encoding="utf-8").splitlines():
            if line.startswith("Tag:"):
                tags.append(WheelTag(name, line.split(":", 1)[1].strip()))
    return tags


def tag_fits_target(tag: str) -> bool:
    """Whether a wheel tag loads on Lambda's python3.13 arm64 runtime (CPython 3.13, glibc 2.34)."""
    python, abi, platform = tag.split("-")
    if platform == "any":
        return python in {"py3", "py2.py3"} or python in {"cp313", "py313"}
    if not _platform_fits(platform):
        return False
    if abi == "cp313" and python == "cp313":
        return True
    if abi == "abi3" and (match := re.fullmatch(r"cp3(\d+)", python)):
        return int(match.group(1)) <= 13
    return False


def _platform_fits(platform: str) -> bool:
    legacy = {"manylinux2014": (2, 17), "manylinux2010": (2, 12), "manylinux1": (2, 5)}
    for prefix, glibc in legacy.items():
        if platform == f"{prefix}_{ARCH}":
            return glibc <= MAX_GLIBC
    match = re.fullmatch(rf"manylinux_(\d+)_(\d+)_{ARCH}", platform)
    return bool(match) and (int(match.group(1)), int(match.group(2))) <= MAX_GLIBC  # type: ignore[union-attr]


def check_wheel_tags(target: Path, requirements: list[str]) -> None:
    tags = installed_wheel_tags(target)
    wrong = [f"{t.distribution} ({t.tag})" for t in tags if not tag_fits_target(t.tag)]
    if wrong:
        raise InfraConfigError(f"wheels that do not load on python{PYTHON_VERSION} arm64 Lambda: {wrong}")
    found = {distribution(t.distribution.rsplit("-", 1)[0]) for t in tags}
    absent = [pin for pin in requirements if distribution(pin) not in found]
    if absent:
        raise InfraConfigError(f"pip installed no wheel for {absent}")


# --- the asset -------------------------------------------------------------------------------------------


def asset_hash(
    requirements: list[str], package_dir: Path = PACKAGE_DIR, compiled: bool = True, config_text: str = ""
) -> str:
    digest = hashlib.sha256()
    for line in (*requirements, *pip_command(Path("<out>"), [])[3:], f"precompiled={compiled}"):
        digest.update(line.encode() + b"\0")
    digest.update(b"config\0" + config_text.encode() + b"\0")
    for path in source_files(package_dir):
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def copy_package(output_dir: Path, package_dir: Path = PACKAGE_DIR) -> None:
    for path in source_files(package_dir):
        destination = output_dir / package_dir.name / path.relative_to(package_dir)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)


def write_config(output_dir: Path, config_text: str) -> Path:
    path = output_dir / DEPLOYED_CONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_text, encoding="utf-8")
    return path


@jsii.implements(ILocalBundling)
class LocalPipBundling:
    """Bundles on this machine; CDK never calls Docker because `try_bundle` returns True."""

    def __init__(
        self,
        requirements: list[str],
        package_dir: Path = PACKAGE_DIR,
        *,
        config_text: str | None = None,
        bytecode: bool = True,
    ) -> None:
        self._requirements = requirements
        self._package_dir = package_dir
        self._config_text = config_text
        self._bytecode = bytecode

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        out = Path(output_dir)
        python = target_python() if self._bytecode else None  # before pip: fail fast without one
        if self._requirements:
            result = subprocess.run(  # noqa: S603
                pip_command(out, self._requirements), capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                raise InfraConfigError(f"bundling the Lambda dependencies failed:\n{result.stderr[-4000:]}")
            check_wheel_tags(out, self._requirements)
        shutil.rmtree(out / "bin", ignore_errors=True)  # console scripts: useless in a Lambda
        copy_package(out, self._package_dir)
        if self._config_text is not None:
            write_config(out, self._config_text)
        if python is not None:
            precompile(out, python)
        return True


def lambda_code(
    config_text: str | None = None,
    *,
    requirements: list[str] | None = None,
    package_dir: Path = PACKAGE_DIR,
    bytecode: bool = True,
) -> lambda_.Code:
    """The one code asset shared by every bridge function, carrying `config_text` as its configuration."""
    pins = locked_requirements() if requirements is None else requirements
    return lambda_.Code.from_asset(
        str(package_dir.parent),
        asset_hash=asset_hash(pins, package_dir, compiled=bytecode, config_text=config_text or ""),
        asset_hash_type=AssetHashType.CUSTOM,
        bundling=BundlingOptions(
            image=DockerImage.from_registry("unused-local-bundling-only"),
            local=LocalPipBundling(pins, package_dir, config_text=config_text, bytecode=bytecode),
        ),
    )


def distribution(requirement: str) -> str:
    name = requirement.split("==", maxsplit=1)[0].split("[", maxsplit=1)[0].strip().lower()
    return re.sub(r"[-_.]+", "-", name)


def _shipped(path: Path, package_dir: Path) -> bool:
    parts = path.relative_to(package_dir).parts
    if parts[0] in EXCLUDED_SUBPACKAGES or any(part in IGNORED for part in parts):
        return False
    if path.relative_to(package_dir.parent).as_posix() == DEPLOYED_CONFIG_FILE:
        return False  # a stale local copy never replaces the validated configuration
    return not path.name.endswith((".pyc", ".pyo"))
