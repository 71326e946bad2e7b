"""The `alertbridge` command. Each subcommand lives in its own module, imported only when used."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module, help). Each module defines `add_arguments(parser)` and `run(args) -> int`.
COMMANDS: dict[str, tuple[str, str]] = {
    "render": ("alertbridge.cli.render", "print the Events API v2 bodies a Lambda event file turns into"),
    "emulator": ("alertbridge.cli.emulator", "run the local PagerDuty emulator"),
    "demo": ("alertbridge.cli.demo", "run the whole bridge locally on moto and the emulator"),
    "serve-webhook": ("alertbridge.cli.serve_webhook", "serve the webhook handler on 127.0.0.1"),
    "soak": (
        "alertbridge.cli.soak",
        "run the concurrent fault-injection soak locally and check the trust figures",
    ),
    "active": ("alertbridge.cli.operator", "list open incidents of a deployed bridge"),
    "ack": ("alertbridge.cli.operator", "acknowledge an incident by dedup key"),
    "resolve": ("alertbridge.cli.operator", "resolve an incident by dedup key"),
    "note": ("alertbridge.cli.operator", "add a note to an incident by dedup key"),
    "maintenance": ("alertbridge.cli.operator", "start, list or end maintenance windows"),
    "redrive": ("alertbridge.cli.operator", "move dead-lettered messages back to their queues"),
    "send-test": ("alertbridge.cli.operator", "trigger then resolve a test event on a route"),
    "doctor": ("alertbridge.cli.operator", "check a deployed bridge's configuration"),
}


def _load(name: str) -> object:
    module_name, _ = COMMANDS[name]
    return importlib.import_module(module_name)


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alertbridge", description="CloudWatch alarms to PagerDuty.")
    parser.add_argument("--version", action="version", version=f"alertbridge {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, (_, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text)
        if name == wanted:  # only the chosen command's module is imported
            module = _load(name)
            add = getattr(module, "add_arguments", None)
            if add is not None:
                add(sub, name) if _takes_name(add) else add(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("alertbridge")
    except PackageNotFoundError:  # run from a source tree that was not installed
        return "unknown"


def _takes_name(func: object) -> bool:
    code = getattr(func, "__code__", None)
    return code is not None and code.co_argcount >= 2


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(args_list).parse_args(args_list)
    module = _load(args.command)
    run = module.run  # type: ignore[attr-defined]
    return int(run(args))


if __name__ == "__main__":
    sys.exit(main())
