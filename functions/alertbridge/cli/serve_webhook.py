"""`alertbridge serve-webhook`: the webhook Lambda behind a real HTTP server on 127.0.0.1, state in moto.

For trying a PagerDuty webhook subscription end to end before deploying: expose the port through a tunnel
(ngrok, cloudflared), subscribe the tunnel's https URL in PagerDuty, and watch each delivery's answer and
the state item it changed. Nothing reaches AWS: credentials are replaced by moto's dummy ones.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
from datetime import UTC, datetime
from typing import Any

DEFAULT_PORT = 8788
_UNUSED_EVENTS_URL = "http://127.0.0.1:9"  # this command never sends events


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument(
        "--secret",
        action="append",
        default=None,
        help="the subscription's signing secret, as PagerDuty showed it (repeat during a rotation)",
    )
    parser.add_argument(
        "--allow-unsigned", action="store_true", help="accept deliveries without a secret (local tests only)"
    )
    parser.add_argument(
        "--seed-key",
        action="append",
        default=[],
        metavar="DEDUP_KEY",
        help="start with an open state item for this dedup key, so webhooks about it are mirrored",
    )
    parser.add_argument(
        "--rest-token",
        default=None,
        help="a PagerDuty REST API token: deliveries about incidents opened through the Events API carry a "
        "null incident_key, and are mapped to their dedup key by reading the incident's alerts",
    )
    parser.add_argument("--from-email", default=None, help="a PagerDuty user's e-mail, sent as From:")
    parser.add_argument("--rest-url", default=None, help="PagerDuty's REST API (default the US one)")
    parser.add_argument("--quiet-logs", action="store_true", help="hide the handler's JSON log lines")


def run(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    secrets = [secret for secret in (args.secret or []) if secret]
    if not secrets and not args.allow_unsigned:
        print("serve-webhook: pass --secret S (the signing secret PagerDuty shows for the subscription)")
        print("               or --allow-unsigned to accept unsigned deliveries for a local test")
        return 2
    from moto import mock_aws

    from alertbridge.sandbox.bridge import use_fake_credentials

    use_fake_credentials()
    _quiet_powertools(args.quiet_logs)
    with mock_aws():
        return _serve(args, secrets, stop or threading.Event())


def _serve(args: argparse.Namespace, secrets: list[str], stop: threading.Event) -> int:
    from alertbridge.sandbox.webhook_server import WebhookServer

    bridge = _local_bridge(secrets, args)
    for key in args.seed_key:
        _seed_open_key(bridge.table_name, key)
    printer = _RequestPrinter(bridge.table_name)
    try:
        server = WebhookServer(port=args.port, observer=printer)
    except OSError as exc:
        print(f"serve-webhook: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}")
        return 1
    with server:
        _print_banner(server.port, server.url, secrets, args)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    print("\nstopped", flush=True)
    return 0


def _local_bridge(secrets: list[str], args: argparse.Namespace) -> Any:
    import boto3

    from alertbridge import wiring
    from alertbridge.adapters.dynamo_state import reset_default_client
    from alertbridge.models.config import BridgeConfig
    from alertbridge.models.settings import US_REST_URL
    from alertbridge.sandbox.bridge import REGION, LocalBridge

    reset_default_client()
    bridge = LocalBridge.create(BridgeConfig(), _UNUSED_EVENTS_URL, webhook_secrets=tuple(secrets))
    hook = {"webhook_secrets": secrets, "rest_token": args.rest_token, "from_email": args.from_email}
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=bridge.webhook_secret, SecretString=json.dumps(hook)
    )
    bridge.activate(
        ALERTBRIDGE_ALLOW_UNSIGNED_WEBHOOKS=str(args.allow_unsigned).lower(),
        ALERTBRIDGE_REST_URL=args.rest_url or US_REST_URL,
        **_graph_route(),
    )
    wiring.reset()
    return bridge


# --- graph images (issue 13): GET /graph/<token>.png, drawn by the local stand-in ---


def _graph_route() -> dict[str, str]:
    from alertbridge.sandbox.graph_images import LocalMetricImages, graph_environment
    from alertbridge.wiring import graph as graph_wiring

    graph_wiring.use_images(LocalMetricImages())
    return graph_environment()


def _print_graph_sample(url: str) -> None:
    from alertbridge.sandbox.graph_images import sample_graph_path

    sample = sample_graph_path(datetime.now(UTC))
    print(
        f"  Graph images: GET {url.rstrip('/')}/graph/<token>.png (local stand-in for GetMetricWidgetImage)"
    )
    print(f"    a sample: {url.rstrip('/')}{sample}", flush=True)


# --- end graph images ---


def _seed_open_key(table_name: str, dedup_key: str) -> None:
    from alertbridge.adapters.dynamo_state import DynamoStateStore
    from alertbridge.models.alert import AlarmState
    from alertbridge.models.state import KeyStatus, StateItem

    now = datetime.now(UTC)
    item = StateItem(
        dedup_key=dedup_key,
        status=KeyStatus.OPEN,
        alarm_state=AlarmState.ALARM,
        state_changed_at=now,
        route="default",
        summary="seeded by serve-webhook",
        first_seen=now,
        last_seen=now,
        opened_at=now,
        version=1,
    )
    DynamoStateStore(table_name).save(item, expected_version=None)


def _print_banner(port: int, url: str, secrets: list[str], args: argparse.Namespace) -> None:
    signing = f"{len(secrets)} signing secret(s)" if secrets else "UNSIGNED deliveries accepted"
    print(f"PagerDuty webhook handler listening on {url}  ({signing}; state in moto)", flush=True)
    print("  Expose it to PagerDuty through a tunnel, for example:")
    print(f"    ngrok http {port}")
    print(f"    cloudflared tunnel --url http://127.0.0.1:{port}")
    print("  then add a Generic Webhook (v3) subscription with the tunnel's https URL, events incident.*")
    if args.seed_key:
        print(f"  Open state items: {', '.join(args.seed_key)}")
    if not (args.rest_token and args.from_email):
        print("  No --rest-token/--from-email: deliveries with a null incident_key cannot be mapped (503)")
    _print_graph_sample(url)
    print("  Ctrl-C to stop", flush=True)


class _RequestPrinter:
    """One line per delivery: the answer, and the state item it concerns."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def __call__(self, event: dict[str, Any], response: dict[str, Any]) -> None:
        reason = _json(response.get("body")).get("reason", "")
        method = event["requestContext"]["http"]["method"]
        line = f"{method} {event['rawPath']} -> {response.get('statusCode')} {reason}"
        key = self._dedup_key(event) if reason in {"mirrored", "unchanged", "replay"} else None
        print(line + (self._state_of(key) if key else ""), flush=True)

    def _dedup_key(self, event: dict[str, Any]) -> str | None:
        """The delivery's incident_key, else the link the handler learned for its incident id."""
        from alertbridge.adapters.dynamo_state import DynamoIncidentLinks

        data = _event_data(event)
        key = data.get("incident_key")
        if isinstance(key, str) and key:
            return key
        incident = data.get("incident") if data.get("type") == "incident_note" else data
        incident_id = incident.get("id") if isinstance(incident, dict) else None
        if not isinstance(incident_id, str):
            return None
        return DynamoIncidentLinks(self.table_name).dedup_key_for(incident_id)

    def _state_of(self, dedup_key: str) -> str:
        from alertbridge.adapters.dynamo_state import DynamoStateStore

        item = DynamoStateStore(self.table_name).get(dedup_key)
        if item is None:
            return f"  key={dedup_key} (no state)"
        return (
            f"  key={dedup_key} status={item.status} pd_status={item.pd_status} "
            f"incident={item.incident_number} by={item.last_actor} human_resolved={item.resolved_by_human}"
        )


def _event_data(event: dict[str, Any]) -> dict[str, Any]:
    """Only called after the handler accepted the delivery (so the body is a signed envelope)."""
    import base64

    body = event.get("body") or ""
    text = base64.b64decode(body).decode("utf-8") if event.get("isBase64Encoded") else body
    data = _json(text).get("event", {}).get("data", {})
    return data if isinstance(data, dict) else {}


def _json(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _quiet_powertools(quiet_logs: bool) -> None:
    import os

    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # EMF blobs mean nothing on a terminal
    if quiet_logs:
        os.environ["POWERTOOLS_LOG_LEVEL"] = "CRITICAL"
