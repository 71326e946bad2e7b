"""`alertbridge soak`: the whole bridge under concurrent load and faults on this machine (moto server and the
PagerDuty emulator on loopback), checked against an independent model of what PagerDuty should show.

Exits 0 when every trust figure is zero (lost pages, orphaned incidents, misrouted resolves, extra pages,
dead letters), 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from alertbridge.sandbox.soak import SoakOptions

    defaults = SoakOptions()
    parser.add_argument("--seed", type=int, default=defaults.seed, help=f"default {defaults.seed}")
    parser.add_argument("--alarms", type=int, default=defaults.alarms, help=f"default {defaults.alarms}")
    parser.add_argument(
        "--transitions", type=int, default=defaults.transitions, help=f"default {defaults.transitions}"
    )
    parser.add_argument(
        "--consumers", type=int, default=defaults.consumers, help=f"per stage (default {defaults.consumers})"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from alertbridge.sandbox.soak import SoakOptions, run_soak, summary

    if args.alarms < 1 or args.transitions < 2 * args.alarms or args.consumers < 1:
        print("alertbridge soak: need --alarms >= 1, --transitions >= 2 x alarms and --consumers >= 1")
        return 2
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "CRITICAL")  # the soak prints its own summary
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    options = SoakOptions(
        seed=args.seed, alarms=args.alarms, transitions=args.transitions, consumers=args.consumers
    )
    # Powertools prints metric blobs to stdout (it flushes every 100 values even when metrics are off):
    # keep them out of the report, which is the only thing this command prints.
    with contextlib.redirect_stdout(io.StringIO()):
        report = run_soak(options)
    print(report.model_dump_json() if args.json else summary(report))
    return 0 if report.clean else 1
