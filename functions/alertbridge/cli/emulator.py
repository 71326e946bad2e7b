"""`alertbridge emulator`: the local PagerDuty in the foreground, until Ctrl-C."""

from __future__ import annotations

import argparse
import threading

from alertbridge.sandbox.emulator import DEFAULT_TOKEN, DEFAULT_USER, PagerDutyEmulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--rate-limit", type=int, default=120, help="events per routing key per window")
    parser.add_argument("--window", type=float, default=60.0, help="rate-limit window in seconds")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="REST API token the emulator accepts")
    parser.add_argument(
        "--user-email", action="append", default=None, help="a PagerDuty user's e-mail for From (repeatable)"
    )


def run(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    users = args.user_email or [DEFAULT_USER]
    emulator = PagerDutyEmulator(
        port=args.port, rate_limit=args.rate_limit, window_seconds=args.window, token=args.token, users=users
    )
    with emulator:
        try:
            print(f"PagerDuty emulator listening on {emulator.url}", flush=True)
            print(
                f"  Events API: {emulator.url}/v2/enqueue  (limit {args.rate_limit} per {args.window:g}s per key)"
            )
            print(f"  REST API:   {emulator.url}/incidents  (From: {', '.join(users)})")
            print("  Ctrl-C to stop", flush=True)
            (stop or threading.Event()).wait()
        except KeyboardInterrupt:
            print("\nstopped", flush=True)
    return 0
