"""The local stand-in for CloudWatch's GetMetricWidgetImage (moto does not draw): a real PNG showing the
widget's title, a made-up line over the window, the threshold (red) or the anomaly band (blue) and the
state change (grey), with the title, region and widget JSON in tEXt chunks. It records what it drew."""

from __future__ import annotations

import hashlib
import json
import math
import threading
from datetime import datetime
from typing import Any

from alertbridge.logic.png import BAND, BLUE, GREY, LIGHT, RED, Canvas

WIDTH, HEIGHT = 600, 300
_PLOT = (40, 40, 580, 260)  # left, top, right, bottom


class LocalMetricImages:
    """MetricImages port, drawn locally. `fail=True` answers like CloudWatch refusing to draw."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.rendered: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def render(self, region: str, widget: dict[str, Any]) -> bytes:
        with self._lock:
            self.rendered.append((region, widget))
        if self.fail:
            raise RuntimeError("local stand-in told to fail, as CloudWatch might (throttling, bad widget)")
        return draw_widget(region, widget)


def draw_widget(region: str, widget: dict[str, Any]) -> bytes:
    title = str(widget.get("title", "metric"))
    canvas = Canvas(WIDTH, HEIGHT)
    left, top, right, bottom = _PLOT
    canvas.rect(left, top, right, bottom, (250, 250, 250))
    for y in range(top, bottom, 44):
        canvas.line(left, y, right, y, LIGHT)
    canvas.line(left, bottom, right, bottom, GREY)
    canvas.line(left, top, left, bottom, GREY)
    canvas.text(left, 14, title[:88], (40, 40, 40), scale=1)
    values = _made_up_series(title, right - left)
    annotations = widget.get("annotations") or {}
    has_band = any("ANOMALY_DETECTION_BAND" in str(line) for line in widget.get("metrics", []))
    if has_band:
        for x, value in enumerate(values):
            canvas.line(left + x, _y(value + 0.18), left + x, _y(value - 0.12), BAND)
    for line in annotations.get("horizontal") or []:
        canvas.line(left, _y(0.62), right, _y(0.62), RED)
        canvas.text(right - 120, _y(0.62) - 10, str(line.get("label", ""))[:20], RED)
    for line in annotations.get("vertical") or []:
        at = round(left + _fraction(widget, str(line.get("value", ""))) * (right - left))
        canvas.line(at, top, at, bottom, GREY)
        canvas.text(at + 3, top + 3, str(line.get("label", ""))[:16], GREY)
    previous = None
    for x, value in enumerate(values):
        point = (left + x, _y(value))
        if previous is not None:
            canvas.line(*previous, *point, BLUE)
        previous = point
    canvas.text(left, bottom + 12, f"{widget.get('start', '')} .. {widget.get('end', '')}", GREY)
    canvas.text(left, bottom + 24, f"{region}  period {widget.get('period', '')}s  (local stand-in)", GREY)
    return canvas.png({"Title": title, "Region": region, "Widget": json.dumps(widget, separators=(",", ":"))})


def _made_up_series(seed: str, points: int) -> list[float]:
    phase = int(hashlib.sha256(seed.encode()).hexdigest()[:6], 16) % 628 / 100
    rise = int(points * 0.85)
    return [
        0.3 + 0.08 * math.sin(phase + x / 17) + (0.45 if x >= rise else 0.45 * max(0, x - rise + 40) / 40)
        for x in range(points)
    ]


def _y(value: float) -> int:
    _, top, _, bottom = _PLOT
    return round(bottom - max(0.0, min(1.0, value)) * (bottom - top))


def _fraction(widget: dict[str, Any], moment: str) -> float:
    try:
        start, end, at = (
            datetime.fromisoformat(str(text).replace("Z", "+00:00"))
            for text in (widget["start"], widget["end"], moment)
        )
        return max(0.0, min(1.0, (at - start) / (end - start)))
    except (KeyError, ValueError, ZeroDivisionError):
        return 0.85


# --- the demo's graph step -------------------------------------------------------------------------

DEMO_PUBLIC_BASE = "https://alertbridge-graphs.example.com"  # as a deployed function URL would be
DEMO_GRAPH_KEY = "local-graph-key-" + "0123456789abcdef" * 3


def graph_environment(name: str = "alertbridge") -> dict[str, str]:
    """Create the graph key secret (in moto) and return the settings that turn images on."""
    import boto3

    arn = boto3.client("secretsmanager").create_secret(Name=f"{name}/graph", SecretString=DEMO_GRAPH_KEY)[
        "ARN"
    ]
    return {"ALERTBRIDGE_GRAPH_SECRET": str(arn), "ALERTBRIDGE_GRAPH_BASE_URL": DEMO_PUBLIC_BASE}


def loopback_path(src: str, base_url: str = DEMO_PUBLIC_BASE) -> str:
    """The path of an image URL on the public base, to fetch from the loopback server instead."""
    return src.removeprefix(base_url.rstrip("/"))


def expired_twin(path: str, key: bytes, now: datetime) -> str:
    """The same graph's path with a token that expired a minute ago (signed with the real key)."""
    from dataclasses import replace

    from alertbridge.logic import graph

    token = graph.token_from_path(path) or ""
    spec = graph.verify(token, [key], now)
    stale = replace(spec, expires=int(now.timestamp()) - 60)
    return f"{graph.ROUTE_PREFIX}{graph.sign(stale, key)}{graph.IMAGE_SUFFIX}"


def tampered(url: str) -> str:
    """One character of the token's payload changed (its signature no longer matches); `url` is an image
    URL or its path."""
    prefix, marker, token = url.rpartition("/graph/")
    head, dot, rest = token.partition(".")
    return prefix + marker + head[:-1] + ("A" if head[-1] != "A" else "B") + dot + rest


def show_graph_images(sent: list[dict[str, Any]], *, echo: bool) -> list[str]:
    """The demo's graph step: one incident's image URL, then that path and token fetched from the real
    webhook handler on loopback (200 image/png), a tampered token (403) and an expired one (404).
    Returns what went wrong."""
    from datetime import UTC

    import httpx

    from alertbridge.logic.png import png_text
    from alertbridge.sandbox.webhook_server import WebhookServer
    from alertbridge.wiring import graph as graph_wiring

    with_image = [body for body in sent if body.get("images")]
    if not with_image:
        return ["no trigger carried a graph image"]
    image = with_image[-1]["images"][0]
    path = loopback_path(image["src"])
    images = LocalMetricImages()
    graph_wiring.use_images(images)
    problems: list[str] = []
    try:
        with WebhookServer() as server:
            checks = [
                ("the image", path, 200),
                ("a tampered token", tampered(path), 403),
                ("an expired token", expired_twin(path, DEMO_GRAPH_KEY.encode(), datetime.now(UTC)), 404),
            ]
            if echo:
                print(f"  image of {with_image[-1]['payload']['summary'][:60]}…")
                print(f"    src  {image['src'][:110]}…")
                print(f"    alt  {image['alt']}")
            for label, fetched, want in checks:
                answer = httpx.get(server.url.rstrip("/") + fetched, timeout=10)
                kind = answer.headers.get("content-type", "")
                detail = f"{kind}, {len(answer.content)} bytes"
                if want == 200:
                    title = png_text(answer.content).get("Title", "?") if kind == "image/png" else "?"
                    detail += f", titled {title!r}"
                if echo:
                    print(f"    GET {label:<17} -> HTTP {answer.status_code} ({detail})")
                if answer.status_code != want or (want == 200 and kind != "image/png"):
                    problems.append(f"graph route: {label} answered {answer.status_code}, not {want}")
    finally:
        graph_wiring.use_images(None)
    if len(images.rendered) != 1:
        problems.append(f"graph route: {len(images.rendered)} renders for one view")
    return problems


def sample_graph_path(now: datetime, key: str = DEMO_GRAPH_KEY) -> str:
    """A signed `/graph/<token>.png` path for a made-up Lambda errors alarm that fired 10 minutes ago."""
    from datetime import timedelta

    from alertbridge.logic import graph

    at = int((now - timedelta(minutes=10)).timestamp())
    spec = graph.GraphSpec(
        region="us-east-1",
        title="sample-lambda-errors",
        at=at,
        expires=at + 90 * 86400,
        metrics=(
            graph.GraphMetric(
                namespace="AWS/Lambda",
                name="Errors",
                dimensions=(("FunctionName", "checkout"),),
                stat="Sum",
                period=60,
            ),
        ),
        threshold=5.0,
        comparison="GreaterThanOrEqualToThreshold",
    )
    return f"{graph.ROUTE_PREFIX}{graph.sign(spec, key.encode())}{graph.IMAGE_SUFFIX}"
