"""cfn-lint passes on every synthesized template.

One check is ignored: W3005 (a DependsOn already implied by a GetAtt). CDK always makes a function
depend on its role next to `Role: !GetAtt`; the duplicate is harmless and not ours to remove.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.infrastructure.conftest import Synth


def test_templates_pass_cfn_lint(synth: Synth) -> None:
    templates = sorted(str(path) for path in Path(synth.outdir).glob("*.template.json"))
    assert len(templates) == 2  # the bridge and the example alarms
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), "--regions", "us-east-1", "eu-west-1", "--ignore-checks", "W3005", "--", *templates],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
