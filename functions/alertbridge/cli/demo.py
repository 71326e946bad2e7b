"""`alertbridge demo`: the whole bridge on this machine, with moto for AWS and the PagerDuty emulator.

With no arguments it plays the built-in scenario and checks that PagerDuty ends where the alarms ended.
With `--events FILE... --json` it replays Lambda event files as they would arrive in AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEMO_RATE_LIMIT = 8  # events per routing key per window: low, so the storm meets PagerDuty's 429
DEMO_RATE_WINDOW_SECONDS = 1.0
SCENARIO_SPAN = timedelta(hours=1)
TWO_WAY_LEAD = timedelta(minutes=5)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", nargs="+", metavar="FILE", help="Lambda event files to replay, in order")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the timeline")
    parser.add_argument("--config", help="configuration JSON file (default: the example configuration)")
    parser.add_argument("--storm", type=int, default=20, help="alarms in the built-in storm (default 20)")
    parser.add_argument("--verbose", action="store_true", help="show the Lambda's own log lines")


def run(args: argparse.Namespace) -> int:
    _quiet_lambda_runtime(verbose=args.verbose)
    from moto import mock_aws

    from alertbridge.sandbox.bridge import use_fake_credentials

    use_fake_credentials()
    with mock_aws():
        from alertbridge.sandbox.demo_run import DemoRun

        graph_env = {} if args.events else _graph_environment()
        with DemoRun.start(
            _config(args.config), rate_limit=DEMO_RATE_LIMIT, window=DEMO_RATE_WINDOW_SECONDS, **graph_env
        ) as demo:
            if args.events:
                return _replay(demo, args.events, as_json=args.json)
            return _scenario(demo, storm=args.storm, as_json=args.json)


def _config(path: str | None) -> Any:
    from alertbridge.models.config import BridgeConfig

    return BridgeConfig.from_file(path) if path else BridgeConfig.model_validate(BridgeConfig.example())


# --- graph images (issue 13): every trigger carries a graph; one is fetched from the route on loopback ---


def _graph_environment() -> dict[str, str]:
    from alertbridge.sandbox.graph_images import graph_environment

    return graph_environment()


def _graph_step(demo: Any, *, echo: bool) -> list[str]:
    from alertbridge.sandbox.graph_images import show_graph_images

    if echo:
        print(
            "\n== a metric graph in the incident: the image URL, served on first view by the webhook function"
        )
    sent = [request.body for request in demo.emulator.requests if request.path.startswith("/v2/")]
    return show_graph_images([body for body in sent if isinstance(body, dict)], echo=echo)


# --- end graph images ---


def _remediation_step(demo: Any, at: datetime, *, echo: bool) -> list[str]:
    from alertbridge.sandbox.remediation import show_remediation

    if echo:
        print(
            "\n== after the page: incident events on the bus drive a remediation consumer (IncidentsClient)"
        )
    return show_remediation(demo.bridge, demo.emulator, at, echo=echo)


def _quiet_lambda_runtime(*, verbose: bool) -> None:
    """The demo prints its own timeline; Lambda's JSON logs and metric blobs would drown it."""
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "alertbridge")
    if not verbose:
        os.environ["POWERTOOLS_LOG_LEVEL"] = "CRITICAL"


def _replay(demo: Any, files: list[str], *, as_json: bool) -> int:
    for name in files:
        try:
            demo.replay_event(json.loads(Path(name).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            print(f"alertbridge demo: cannot replay {name}: {exc}", file=sys.stderr)
            return 2
        demo.drain()
    report = demo.report()
    print(json.dumps(report, indent=None if as_json else 2, ensure_ascii=False))
    return 0


def _scenario(demo: Any, *, storm: int, as_json: bool) -> int:
    from alertbridge.sandbox.scenario import builtin_scenario

    started = time.monotonic()
    # CloudWatch's state change times precede the notification; the bridge clamps any later one to the
    # transport's time. The scenario's alarms changed state during the last hour.
    now = datetime.now(UTC).replace(microsecond=0)
    for phase in builtin_scenario(now - SCENARIO_SPAN, burst=storm):
        if not as_json:
            print(f"\n== {phase.title}")
        demo.play(phase.steps, echo=not as_json)
    if not as_json:
        print("\n== two-way sync: a responder acknowledges in PagerDuty; an alarm's OK is lost")
    demo.two_way_sync(now - TWO_WAY_LEAD, echo=not as_json)
    graph_problems = _graph_step(demo, echo=not as_json)
    remediation_problems = _remediation_step(demo, now - TWO_WAY_LEAD, echo=not as_json)
    mismatches = demo.verify() + graph_problems + remediation_problems
    if as_json:
        print(json.dumps({**demo.report(), "mismatches": mismatches}, ensure_ascii=False))
    else:
        demo.print_summary(mismatches, elapsed=time.monotonic() - started)
    return 1 if mismatches else 0
