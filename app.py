#!/usr/bin/env python3
"""CDK entry point: `python app.py` or `npx aws-cdk@2 synth|deploy`. Everything lives in infra/."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]  # run from a clone without installing the package

from aws_cdk import App  # noqa: E402

from infra.app import build_app  # noqa: E402
from infra.settings import InfraConfigError  # noqa: E402


def main() -> int:
    # The CLI names the output directory and passes cdk.json's context; `python app.py` alone writes to
    # ./cdk.out and reads cdk.json's context itself, so both synthesize the same stacks.
    if "CDK_OUTDIR" in os.environ:
        app = App()
    else:
        context = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8")).get("context", {})
        app = App(outdir=str(ROOT / "cdk.out"), context=context)
    try:
        build_app(app)
    except InfraConfigError as exc:
        print(f"alertbridge: {exc}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
