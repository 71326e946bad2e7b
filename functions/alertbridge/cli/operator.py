"""Operator commands against a deployed stack: active, ack, resolve, note, maintenance, redrive, send-test,
doctor. The stack's outputs (CloudFormation DescribeStacks, or --outputs-file) give the resource names;
boto3 uses the user's credentials, --region and --endpoint-url (or AWS_ENDPOINT_URL).

Exit codes: 0 done; 1 `doctor` found a check that failed or could not run; 2 an expected failure (no
stack, no credentials, a bad token, an option to fix...), printed as `error: ...` with what to fix.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from alertbridge.models.settings import US_EVENTS_URL, US_REST_URL

EXPECTED_FAILURE = 2


COMMON_DEFAULTS: dict[str, str | None] = {
    "stack": "AlertBridge",
    "region": None,
    "endpoint_url": None,
    "outputs_file": None,
    "events_url": US_EVENTS_URL,
    "rest_url": US_REST_URL,
}


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    _common(parser)
    _ARGUMENTS[name](parser)


def _common(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """The options every operator command takes. `suppress` (for an action's own parser, e.g. `maintenance
    start`) leaves an option out of the result unless given, so it may stand before or after the action."""

    def default(name: str) -> str | None:
        return argparse.SUPPRESS if suppress else COMMON_DEFAULTS[name]

    parser.add_argument(
        "--stack", default=default("stack"), help="CloudFormation stack name (default AlertBridge)"
    )
    parser.add_argument(
        "--region", default=default("region"), help="AWS region of the stack (default: your AWS config)"
    )
    parser.add_argument(
        "--endpoint-url", default=default("endpoint_url"), help="AWS endpoint (e.g. a moto server)"
    )
    parser.add_argument(
        "--outputs-file", default=default("outputs_file"),
        help="stack outputs as JSON: `cdk deploy --outputs-file` or `aws cloudformation describe-stacks`",
    )  # fmt: skip
    parser.add_argument("--events-url", default=default("events_url"), help="PagerDuty Events API base URL")
    parser.add_argument("--rest-url", default=default("rest_url"), help="PagerDuty REST API base URL")


def _incident_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dedup_key", help="the alert's dedup key (see `alertbridge active`)")
    parser.add_argument("--message", "-m", default=None, help="resolution text / note content")


def _maintenance_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    start = actions.add_parser("start", help="start (or schedule) a maintenance window")
    _common(start, suppress=True)
    start.add_argument(
        "--duration", required=True, help="e.g. 30m, 2h, 1h30m, 1d; at most 30d without --force"
    )
    start.add_argument("--reason", required=True)
    start.add_argument("--start", default=None, help="ISO 8601 start time with a time zone (default: now)")
    start.add_argument("--route", default=None, help="only alarms on this (configured) route")
    start.add_argument("--alarm-prefix", default=None, help="only alarms whose name starts with this")
    start.add_argument("--account", default=None, help="only alarms of this 12-digit AWS account")
    start.add_argument(
        "--cloudwatch", nargs="+", default=None, metavar="ALARM",
        help="create a CloudWatch alarm mute rule for these alarms (1 minute to 15 days) instead",
    )  # fmt: skip
    start.add_argument(
        "--force", action="store_true",
        help="allow a window longer than 30 days, or a --route the deployed configuration cannot confirm",
    )  # fmt: skip
    _common(actions.add_parser("list", help="list maintenance windows"), suppress=True)
    end = actions.add_parser("end", help="end a window now (cancel it if it has not begun)")
    _common(end, suppress=True)
    end.add_argument("window_id")


def _send_test_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--route", required=True, help="the route whose PagerDuty service gets the test")
    parser.add_argument(
        "--secret-field", default=None, help="key in the routing-keys secret (default: route)"
    )
    parser.add_argument("--no-resolve", action="store_true", help="leave the test incident open")


def _doctor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", default=None, help="bridge configuration JSON (default: the deployed one)"
    )


def _redrive_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-messages", type=int, default=None,
        help="move at most this many, by receive/send/delete (SQS's move task takes no count)",
    )  # fmt: skip
    parser.add_argument(
        "--queue", default=None, help="only this queue (its name or stack output key); default: every queue"
    )


def _nothing(parser: argparse.ArgumentParser) -> None:
    pass


_ARGUMENTS = {
    "active": _nothing,
    "ack": _incident_arguments,
    "resolve": _incident_arguments,
    "note": _incident_arguments,
    "maintenance": _maintenance_arguments,
    "redrive": _redrive_arguments,
    "send-test": _send_test_arguments,
    "doctor": _doctor_arguments,
}


def run(args: argparse.Namespace) -> int:
    for name, value in COMMON_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    try:
        text, code = _dispatch(args)
    except Exception as exc:
        message = _explain(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return EXPECTED_FAILURE
    print(text)
    return code


def _dispatch(args: argparse.Namespace) -> tuple[str, int]:
    from alertbridge.operator import commands
    from alertbridge.operator.doctor import doctor

    target = _target(args)
    command = args.command
    if command == "active":
        return commands.active(target), 0
    if command in ("ack", "resolve", "note"):
        return commands.incident_action(target, command, args.dedup_key, args.message), 0
    if command == "maintenance":
        return _maintenance(target, args), 0
    if command == "redrive":
        return commands.redrive(target, max_messages=args.max_messages, queue=args.queue), 0
    if command == "send-test":
        return commands.send_test(
            target, args.route, secret_field=args.secret_field, resolve=not args.no_resolve
        ), 0
    return doctor(target, args.config)


def _target(args: argparse.Namespace) -> Any:
    from alertbridge.operator.commands import Target
    from alertbridge.operator.stack import Aws, load_outputs

    aws = Aws(region=args.region, endpoint_url=args.endpoint_url)
    outputs = load_outputs(aws, args.stack, args.outputs_file)
    return Target(aws=aws, outputs=outputs, events_url=args.events_url, rest_url=args.rest_url)


def _maintenance(target: Any, args: argparse.Namespace) -> str:
    from alertbridge.operator import commands
    from alertbridge.operator.stack import OperatorError
    from alertbridge.operator.table import parse_duration

    if args.action == "list":
        return commands.maintenance_list(target)
    if args.action == "end":
        return commands.maintenance_end(target, args.window_id)
    try:
        duration = parse_duration(args.duration)
        start = datetime.fromisoformat(args.start) if args.start else None
    except ValueError as exc:
        raise OperatorError(str(exc)) from None
    if start is not None and start.tzinfo is None:
        raise OperatorError("--start needs a time zone, e.g. 2025-06-01T22:00:00+00:00")
    return commands.maintenance_start(
        target, duration=duration, reason=args.reason, start=start, route=args.route,
        alarm_prefix=args.alarm_prefix, account=args.account, force=args.force,
        cloudwatch_alarms=tuple(args.cloudwatch or ()),
    )  # fmt: skip


def _explain(exc: Exception) -> str | None:
    """What to tell the user for an expected failure; None lets anything else surface with its traceback."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
    from pydantic import ValidationError

    from alertbridge.errors import AlertBridgeError

    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found: run `aws configure`, `aws sso login` or set AWS_PROFILE"
    if isinstance(exc, NoRegionError):
        return "no AWS region: pass --region REGION or set AWS_REGION"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"AWS refused {exc.operation_name}: {error.get('Code')}: {error.get('Message')}"
    if isinstance(exc, BotoCoreError | AlertBridgeError):
        return str(exc)
    if isinstance(exc, ValidationError):  # a value the commands did not check first: name the fields
        problems = "; ".join(".".join(map(str, e["loc"])) + ": " + e["msg"] for e in exc.errors())
        return f"invalid {exc.title}: {problems}"
    return None
