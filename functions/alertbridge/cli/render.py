"""`alertbridge render EVENT_FILE [--config FILE] [--graph-base-url URL]`: the Events API v2 bodies a Lambda
event turns into.

Prints `alertbridge.render_event(event, config)` (see alertbridge/render.py): stateless, an OK renders as a
resolve, INSUFFICIENT_DATA follows the configured policy, a multi-time-series alarm's level that
`multi_time_series_pages` does not page renders nothing, and a trigger a mute rule or a maintenance window
would hold back renders as it would be sent once the hold ends. `routing_key` holds the route's name (real
keys are resolved at send time). Exit 2 with one line on stderr when the file is not JSON, not a Lambda
event shape, or the configuration is invalid.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from alertbridge.errors import InvalidInput
from alertbridge.logic.graph import GraphSigning
from alertbridge.models.config import BridgeConfig
from alertbridge.render import render_event

EXIT_BAD_INPUT = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "event_file", metavar="EVENT_FILE", help="a Lambda event (SQS, SNS, EventBridge, ...)"
    )
    parser.add_argument(
        "--config", metavar="FILE", help="bridge configuration JSON (default: built-in defaults)"
    )
    parser.add_argument(  # graph images (issue 13)
        "--graph-base-url",
        metavar="URL",
        help="public https base of the graph route (default: graph.base_url)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        config = _config(args.config)
        event = _event(args.event_file)
        graph = _graph_signing(args.graph_base_url or config.graph.base_url)
        bodies = render_event(event, config, graph=graph)
    except (InvalidInput, OSError) as exc:
        print(f"alertbridge render: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(bodies, indent=2, ensure_ascii=False))
    return 0


def render_bodies(
    event: Any, config: BridgeConfig, *, received_at: datetime, graph: GraphSigning | None = None
) -> list[dict[str, Any]]:
    """The exact bodies the bridge would send for one Lambda event, in order (`alertbridge.render_event`)."""
    return render_event(event, config, received_at=received_at, graph=graph)


class _RenderOnlyKey:
    """Graph tokens signed offline with a fixed key: the `images` entry shows its shape, but a deployed
    bridge (whose key is a generated secret) answers 403 to these tokens."""

    KEY = b"alertbridge-render-only-graph-key"

    def signing_key(self) -> bytes:
        return self.KEY

    def verifying_keys(self) -> list[bytes]:
        return [self.KEY]


def _graph_signing(base_url: str | None) -> GraphSigning | None:
    if base_url is None:
        return None
    if not base_url.startswith("https://"):
        raise InvalidInput(
            f"--graph-base-url must be https (PagerDuty loads images only over HTTPS): {base_url}"
        )
    return GraphSigning(base_url=base_url, keys=_RenderOnlyKey())


def _event(path: str) -> Any:
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{path} is not JSON ({exc})") from exc


def _config(path: str | None) -> BridgeConfig:
    if path is None:
        return BridgeConfig()
    try:
        return BridgeConfig.from_file(path)
    except ValueError as exc:  # JSON errors and pydantic's ValidationError
        first = exc.errors()[0] if isinstance(exc, ValidationError) else None
        where = ".".join(str(p) for p in first["loc"]) + ": " + first["msg"] if first else str(exc)
        raise InvalidInput(f"invalid configuration {path}: {where}") from exc
