"""The soak as a test: `alertbridge soak`'s own code (alertbridge.sandbox.soak) with several concurrent consumers
per stage, reconciler runs interleaved with the traffic, people acting through signed webhooks, sends held
in flight and every Events API fault, checked against an independent model of what PagerDuty should show.

Size and seed: ALERTBRIDGE_SOAK_ALARMS, ALERTBRIDGE_SOAK_TRANSITIONS, ALERTBRIDGE_SOAK_CONSUMERS and
ALERTBRIDGE_SOAK_SEED (defaults: the command's). Loopback only.
"""

from __future__ import annotations

import os

import pytest

from alertbridge.sandbox.soak import SoakOptions, run_soak, summary

pytestmark = pytest.mark.soak
DEFAULTS = SoakOptions()


def test_every_trust_figure_is_zero_under_concurrency_and_faults() -> None:
    options = SoakOptions(
        seed=int(os.environ.get("ALERTBRIDGE_SOAK_SEED", DEFAULTS.seed)),
        alarms=int(os.environ.get("ALERTBRIDGE_SOAK_ALARMS", DEFAULTS.alarms)),
        transitions=int(os.environ.get("ALERTBRIDGE_SOAK_TRANSITIONS", DEFAULTS.transitions)),
        consumers=int(os.environ.get("ALERTBRIDGE_SOAK_CONSUMERS", DEFAULTS.consumers)),
    )
    report = run_soak(options)
    print("\n" + summary(report))
    assert report.consumers >= 4 and report.reconciler_runs >= options.rounds
    assert report.people > 0 and report.faults > 0 and report.held_sends > 0
    assert report.outcomes.get("dropped-maintenance", 0) > 0  # PagerDuty's maintenance window dropped events
    assert report.decisions, "the delivery pipeline decided nothing"
    assert report.clean, summary(report)
