"""Metric graph images for triggers, pure: what to draw (a `GraphSpec` built from the alert), the signed
token that carries it, the CloudWatch metric widget it becomes at render time, and the route's answers.

- **Nothing is rendered when the page is sent.** A trigger carries `images: [{src, href, alt}]` whose
  `src` is `<base_url>/graph/<token>.png` on the bridge itself; PagerDuty's apps load it from the
  responder's device when the incident is opened, and only then does the rendering function call
  CloudWatch's `GetMetricWidgetImage`.
- **The token** is the graph's inputs (region, metrics, threshold or anomaly band, transition time,
  window) and an expiry, as compact JSON, zlib-compressed and base64url-encoded, followed by an
  HMAC-SHA256 of that text (RFC 2104) under the graph key. The signature is checked (constant time, every
  key of a rotation) before anything is decompressed: a bad or tampered token is a 403, an expired one a
  404.
- **Periods by age:** CloudWatch keeps data points of a period under 60 s for 3 hours, 1-minute points for
  15 days, 5-minute points for 63 days and 1-hour points for 455 days (CloudWatch concepts, "Metrics
  retention"). The widget is built at render time with the finest period still available for the start
  of its window, so an old incident still shows a graph.
- The widget is the console's metric widget source format, which `GetMetricWidgetImage` takes as its
  `MetricWidget` (CloudWatch API reference, "Metric widget object definition").

No boto3, no environment, `now` passed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from alertbridge.models.alert import AlarmKind, Alert, AlertSource
from alertbridge.models.config import BridgeConfig
from alertbridge.models.pagerduty import Image
from alertbridge.ports import GraphKeys, MetricImages

TOKEN_VERSION = 1
ROUTE_PREFIX = "/graph/"
IMAGE_SUFFIX = ".png"
MAX_TOKEN_CHARS = 4096  # well under the 8 KB request line most clients and proxies accept
MAX_SPEC_BYTES = 16 * 1024  # decompressed; a bigger one was never signed by the bridge
MAX_METRICS = 10
MAX_TEXT_CHARS = 120
WIDTH, HEIGHT = 600, 300
_SIGNATURE_CONTEXT = b"alertbridge-graph-token-v1."
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_CLOUDWATCH = frozenset({AlertSource.CLOUDWATCH_SNS, AlertSource.EVENTBRIDGE, AlertSource.LAMBDA_ACTION})
_GRAPHED_KINDS = frozenset({AlarmKind.METRIC, AlarmKind.METRIC_MATH, AlarmKind.ANOMALY_DETECTION})
_STATS = {
    "SUM": "Sum", "AVERAGE": "Average", "MAXIMUM": "Maximum", "MINIMUM": "Minimum",
    "SAMPLECOUNT": "SampleCount",
}  # fmt: skip
_COMPARISONS = {
    "GreaterThanOrEqualToThreshold": ">=", "GreaterThanThreshold": ">",
    "LessThanThreshold": "<", "LessThanOrEqualToThreshold": "<=",
}  # fmt: skip
# (how long CloudWatch keeps points of at least this period, the period): finest first.
RETENTION = (
    (timedelta(hours=3), 1),
    (timedelta(days=15), 60),
    (timedelta(days=63), 300),
    (timedelta(days=455), 3600),
)
DEFAULT_PERIOD = 300
# Cache-Control: a graph whose window is over (plus late data) does not change; one still filling does.
SETTLED_AFTER = timedelta(minutes=15)
SETTLED_MAX_AGE = 24 * 3600
LIVE_MAX_AGE = 60
PLACEHOLDER_MAX_AGE = 30


class InvalidToken(ValueError):
    """Malformed, tampered or signed with an unknown key: 403."""


class ExpiredToken(ValueError):
    """Well signed but past its expiry: 404."""


@dataclass(frozen=True)
class GraphMetric:
    """One line of the widget: a metric (namespace, name, dimensions, stat, period) or an expression."""

    namespace: str | None = None
    name: str | None = None
    dimensions: tuple[tuple[str, str], ...] = ()
    stat: str | None = None
    period: int | None = None
    id: str | None = None
    expression: str | None = None
    label: str | None = None
    hidden: bool = False  # ReturnData false: an input of the expression, not drawn


@dataclass(frozen=True)
class GraphSpec:
    """What a token asks to draw. Times are epoch seconds (UTC)."""

    region: str
    title: str
    at: int  # the state change
    expires: int
    metrics: tuple[GraphMetric, ...]
    threshold: float | None = None
    comparison: str | None = None
    band_id: str | None = None  # the anomaly detection band's expression id (the alarm's ThresholdMetricId)
    state: str = "ALARM"
    minutes_before: int = 180
    minutes_after: int = 30

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC) - timedelta(minutes=self.minutes_before)

    @property
    def end(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC) + timedelta(minutes=self.minutes_after)


@dataclass(frozen=True)
class GraphSigning:
    """What the trigger builder needs to attach an image: the public base URL and the signing key."""

    base_url: str
    keys: GraphKeys


@dataclass(frozen=True)
class GraphAnswer:
    status: int
    content_type: str
    body: bytes
    cache_control: str
    reason: str
    headers: dict[str, str] = field(default_factory=dict)


# --- what to draw ------------------------------------------------------------------------------------


def spec_for(alert: Alert, config: BridgeConfig) -> GraphSpec | None:
    """The graph of a CloudWatch metric, metric math or anomaly detection alarm (or an application alert
    that names a CloudWatch metric and its region); None for anything else (composite alarms, text)."""
    if alert.region is None or not _REGION.match(alert.region) or alert.passthrough is not None:
        return None
    if alert.source in _CLOUDWATCH:
        if alert.kind not in _GRAPHED_KINDS:
            return None
    elif alert.source is not AlertSource.GENERIC:
        return None
    metrics = tuple(_graph_metric(alert, metric) for metric in alert.metrics[:MAX_METRICS])
    if not any(m.expression or (m.namespace and m.name) for m in metrics if not m.hidden):
        return None
    at = int(alert.state_changed_at.timestamp())
    band = alert.threshold_metric_id if alert.kind is AlarmKind.ANOMALY_DETECTION else None
    return GraphSpec(
        region=alert.region,
        title=_bounded(alert.alarm_name),
        at=at,
        expires=at + config.graph.token_lifetime_days * 86400,
        metrics=metrics,
        threshold=None if band else alert.threshold,
        comparison=alert.comparison,
        band_id=band,
        state=alert.state.value,
        minutes_before=config.graph.minutes_before,
        minutes_after=config.graph.minutes_after,
    )


def _graph_metric(alert: Alert, metric: Any) -> GraphMetric:
    period = metric.period or (alert.evaluation.period if alert.evaluation else None)
    return GraphMetric(
        namespace=metric.namespace,
        name=metric.name,
        dimensions=tuple(sorted((str(k), str(v)) for k, v in metric.dimensions.items())),
        stat=_STATS.get((metric.stat or "").upper(), metric.stat),
        period=period,
        id=metric.id,
        expression=_bounded(metric.expression, 1024) if metric.expression else None,
        label=_bounded(metric.label) if metric.label else None,
        hidden=metric.return_data is False,
    )


def image_for(alert: Alert, route: str, config: BridgeConfig, signing: GraphSigning | None) -> Image | None:
    """The `images` entry of a trigger, or None (graphs off globally or for the route, no base URL, no
    signing key available, or nothing to draw). Never raises: a page must not fail for its picture."""
    route_config = config.routes.get(route)
    if signing is None or not config.graph.enabled or (route_config is not None and not route_config.graph):
        return None
    spec = spec_for(alert, config)
    if spec is None:
        return None
    key = signing.keys.signing_key()
    if key is None:
        return None
    token = sign(spec, key)
    if len(token) > MAX_TOKEN_CHARS:
        return None
    return Image(
        src=f"{signing.base_url.rstrip('/')}{ROUTE_PREFIX}{token}{IMAGE_SUFFIX}",
        href=console_url(spec),
        alt=_bounded(alt_text(spec), 512),
    )


def alt_text(spec: GraphSpec) -> str:
    drawn = [m for m in spec.metrics if not m.hidden and not (spec.band_id and m.id == spec.band_id)]
    names = ", ".join(m.label or m.expression or _metric_words(m) for m in drawn) or spec.title
    if spec.band_id:
        against = " with its anomaly detection band"
    elif spec.threshold is not None:
        against = f" against the threshold {_COMPARISONS.get(spec.comparison or '', '')} {spec.threshold:g}"
    else:
        against = ""
    when = datetime.fromtimestamp(spec.at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{spec.title}: {names}{against}, from {spec.minutes_before} minutes before to "
        f"{spec.minutes_after} minutes after it went {spec.state} at {when} ({spec.region})"
    ).replace("  ", " ")


def _metric_words(metric: GraphMetric) -> str:
    where = ", ".join(f"{name}={value}" for name, value in metric.dimensions)
    return f"{metric.namespace} {metric.name}" + (f" ({where})" if where else "")


# --- the widget ------------------------------------------------------------------------------------


def period_at(period: int | None, start: datetime, now: datetime) -> int:
    """The alarm's period, coarsened to the finest one CloudWatch still keeps for data from `start`."""
    wanted = period or DEFAULT_PERIOD
    age = now - start
    for kept_for, finest in RETENTION:
        if age <= kept_for:
            return wanted if wanted % finest == 0 else finest * math.ceil(wanted / finest)
    return max(3600, 3600 * math.ceil(wanted / 3600))  # past 455 days nothing is left; draw empty


def widget_for(spec: GraphSpec, now: datetime) -> dict[str, Any]:
    """The metric widget definition (console "Source" JSON) `GetMetricWidgetImage` renders."""
    start, end = spec.start, spec.end
    default_period = period_at(next((m.period for m in spec.metrics if m.period), None), start, now)
    lines = [_widget_line(metric, period_at(metric.period, start, now), spec) for metric in spec.metrics]
    widget: dict[str, Any] = {
        "title": spec.title,
        "view": "timeSeries",
        "stacked": False,
        "region": spec.region,
        "metrics": lines,
        "start": _iso(start),
        "end": _iso(end),
        "period": default_period,
        "width": WIDTH,
        "height": HEIGHT,
        "legend": {"position": "bottom"},
        "annotations": {
            "vertical": [{"label": f"{spec.state} {_hhmm(spec.at)}", "value": _iso(_utc(spec.at))}]
        },
    }
    if spec.threshold is not None and spec.band_id is None:
        symbol = _COMPARISONS.get(spec.comparison or "", "")
        widget["annotations"]["horizontal"] = [
            {"label": f"Threshold {symbol} {spec.threshold:g}".replace("  ", " "), "value": spec.threshold,
             "color": "#d62728"}
        ]  # fmt: skip
    return widget


def _widget_line(metric: GraphMetric, period: int, spec: GraphSpec) -> list[Any]:
    options: dict[str, Any] = {}
    if metric.id:
        options["id"] = metric.id
    if metric.label:
        options["label"] = metric.label
    if metric.hidden:
        options["visible"] = False
    if metric.expression:
        if metric.id == spec.band_id:
            options.setdefault("label", "Expected band")
        return [{"expression": metric.expression, **options, "period": period}]
    line: list[Any] = [metric.namespace or "", metric.name or ""]
    for name, value in metric.dimensions:
        line += [name, value]
    return [*line, {"stat": metric.stat or "Average", "period": period, **options}]


def console_url(spec: GraphSpec) -> str:
    """The same graph in the CloudWatch console (metrics view, its URL state in jsurl)."""
    widget = widget_for(spec, datetime.fromtimestamp(spec.at, UTC))
    state = {key: widget[key] for key in ("metrics", "view", "stacked", "region", "start", "end", "period")}
    state["annotations"] = widget["annotations"]
    state["title"] = widget["title"]
    return f"{console_host(spec.region)}/cloudwatch/home?region={spec.region}#metricsV2:graph={jsurl(state)}"


def console_host(region: str) -> str:
    if region.startswith("cn-"):
        return f"https://{region}.console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return "https://console.amazonaws-us-gov.com"
    return f"https://{region}.console.aws.amazon.com"


def jsurl(value: Any) -> str:
    """The console's URL state encoding (jsurl): `~(k~v)` objects, `~(~a~b)` arrays, `~'text` strings."""
    if value is None:
        return "~null"
    if isinstance(value, bool):
        return "~true" if value else "~false"
    if isinstance(value, int | float):
        return f"~{value:g}" if isinstance(value, float) else f"~{value}"
    if isinstance(value, str):
        return "~'" + _jsurl_text(value)
    if isinstance(value, list | tuple):
        return "~(" + ("".join(jsurl(item) for item in value) or "~") + ")"
    if isinstance(value, dict):
        return "~(" + "~".join(_jsurl_text(str(k)) + jsurl(v) for k, v in value.items()) + ")"
    return "~null"


def _jsurl_text(text: str) -> str:
    data = text.encode("utf-16-le", "surrogatepass")
    out = []
    for index in range(0, len(data), 2):
        unit = int.from_bytes(data[index : index + 2], "little")
        char = chr(unit) if unit < 0x80 else ""
        if char and (char.isalnum() or char in "_-."):
            out.append(char)
        elif char == "$":
            out.append("!")
        else:
            out.append(f"*{unit:02x}" if unit < 0x100 else f"**{unit:04x}")
    return "".join(out)


# --- the token -------------------------------------------------------------------------------------


def sign(spec: GraphSpec, key: bytes) -> str:
    payload = _b64(zlib.compress(json.dumps(_spec_json(spec), separators=(",", ":")).encode(), 9))
    return f"{payload}.{_b64(_mac(key, payload))}"


def verify(token: str, keys: Sequence[bytes], now: datetime) -> GraphSpec:
    """The spec a token carries. InvalidToken unless one of `keys` signed it; ExpiredToken after expiry."""
    if len(token) > MAX_TOKEN_CHARS or not _TOKEN.match(token):
        raise InvalidToken("malformed token")
    payload, signature = token.split(".")
    given = _unb64(signature)
    if not any(hmac.compare_digest(given, _mac(key, payload)) for key in keys):
        raise InvalidToken("bad signature")
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(_unb64(payload), MAX_SPEC_BYTES)
        if inflater.unconsumed_tail:
            raise InvalidToken("oversized token")
        spec = _spec_from_json(json.loads(raw))
    except (ValueError, TypeError, KeyError, AttributeError, zlib.error) as exc:
        raise InvalidToken("undecodable token") from exc
    if now.timestamp() >= spec.expires:
        raise ExpiredToken("expired token")
    return spec


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.new(key, _SIGNATURE_CONTEXT + payload.encode("ascii"), hashlib.sha256).digest()


def _spec_json(spec: GraphSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "v": TOKEN_VERSION, "r": spec.region, "t": spec.title, "a": spec.at, "x": spec.expires,
        "s": spec.state, "w": [spec.minutes_before, spec.minutes_after],
        "m": [_metric_json(metric) for metric in spec.metrics],
        "th": spec.threshold, "c": spec.comparison, "b": spec.band_id,
    }  # fmt: skip
    return {key: value for key, value in body.items() if value is not None}


def _metric_json(metric: GraphMetric) -> dict[str, Any]:
    body: dict[str, Any] = {
        "n": metric.namespace, "m": metric.name, "d": [list(pair) for pair in metric.dimensions] or None,
        "s": metric.stat, "p": metric.period, "i": metric.id, "e": metric.expression, "l": metric.label,
        "h": 1 if metric.hidden else None,
    }  # fmt: skip
    return {key: value for key, value in body.items() if value is not None}


def _spec_from_json(body: dict[str, Any]) -> GraphSpec:
    if body["v"] != TOKEN_VERSION:
        raise ValueError("unknown token version")
    before, after = body["w"]
    return GraphSpec(
        region=str(body["r"]),
        title=str(body["t"]),
        at=int(body["a"]),
        expires=int(body["x"]),
        state=str(body["s"]),
        minutes_before=int(before),
        minutes_after=int(after),
        metrics=tuple(_metric_from_json(m) for m in body["m"]),
        threshold=float(body["th"]) if "th" in body else None,
        comparison=body.get("c"),
        band_id=body.get("b"),
    )


def _metric_from_json(m: dict[str, Any]) -> GraphMetric:
    return GraphMetric(
        namespace=m.get("n"),
        name=m.get("m"),
        dimensions=tuple((str(k), str(v)) for k, v in m.get("d", [])),
        stat=m.get("s"),
        period=int(m["p"]) if "p" in m else None,
        id=m.get("i"),
        expression=m.get("e"),
        label=m.get("l"),
        hidden=bool(m.get("h")),
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("bad base64") from exc


# --- the route -------------------------------------------------------------------------------------


def token_from_path(path: str) -> str | None:
    """`/graph/<token>.png` -> the token; None for any other path."""
    if not path.startswith(ROUTE_PREFIX):
        return None
    return path[len(ROUTE_PREFIX) :].removesuffix(IMAGE_SUFFIX)


def answer(token: str, keys: Sequence[bytes], images: MetricImages, now: datetime) -> GraphAnswer:
    """403 for a bad or tampered token, 404 for an expired one, otherwise 200 with a PNG: the graph, or a
    placeholder image saying the graph could not be drawn (or the key could not be read)."""
    if not keys:  # a placeholder, not a 5xx: the webhook function's 5xx alarm is about PagerDuty's deliveries
        return GraphAnswer(
            200, "image/png", placeholder_png("Graph", "the graph key cannot be read"), "no-store", "no-key"
        )
    try:
        spec = verify(token, keys, now)
    except ExpiredToken:
        return _text(404, "This graph link has expired.", "expired")
    except InvalidToken:
        return _text(403, "Forbidden.", "bad-token")
    try:
        png = images.render(spec.region, widget_for(spec, now))
    except Exception:  # any failure to render becomes a visible placeholder, never an error page
        return GraphAnswer(
            200, "image/png", placeholder_png(spec.title, "CloudWatch could not draw this graph now"),
            f"public, max-age={PLACEHOLDER_MAX_AGE}", "render-failed",
        )  # fmt: skip
    settled = now >= spec.end + SETTLED_AFTER
    max_age = min(SETTLED_MAX_AGE, max(spec.expires - int(now.timestamp()), 0)) if settled else LIVE_MAX_AGE
    return GraphAnswer(200, "image/png", png, f"public, max-age={max_age}", "rendered")


def _text(status: int, text: str, reason: str) -> GraphAnswer:
    return GraphAnswer(status, "text/plain; charset=utf-8", text.encode(), "no-store", reason)


def placeholder_png(title: str, reason: str) -> bytes:
    """A plain image that says the graph is not available (shown where the graph would be)."""
    from alertbridge.logic.png import GREY, LIGHT, RED, Canvas

    canvas = Canvas(WIDTH, HEIGHT, LIGHT)
    canvas.rect(0, 0, WIDTH, 2, GREY)
    canvas.rect(0, HEIGHT - 2, WIDTH, HEIGHT, GREY)
    canvas.text(20, 110, "Graph not available", RED, scale=3)
    canvas.text(20, 160, reason[:95], GREY, scale=1)
    canvas.text(20, 180, title[:95], GREY, scale=1)
    return canvas.png({"Title": title, "Description": f"Graph not available: {reason}"})


# --- helpers ---------------------------------------------------------------------------------------


def _bounded(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hhmm(epoch: int) -> str:
    return _utc(epoch).strftime("%H:%M UTC")
