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
        x = left + _fraction(widget, str(line.get("value", ""))) * (right - left)
        canvas.line(round(x), top, round(x), bottom, GREY)
        canvas.text(round(x) + 3, top + 3, str(line.get("label", ""))[:16], GREY)
    previous = None
    for x, value in enumerate(values):
        point = (left + x, _y(value))
        if previous is not None:
            canvas.line(*previous, *point, BLUE)
        previous = point
    canvas.text(left, bottom + 12, f"{widget.get('start', '')} .. {widget.get('end', '')}", GREY)
    canvas.text(left, bottom + 24, f"{region}  period {widget.get('period', '')}s  (local stand-in)", GREY)
    return canvas.png(
        {"Title": title, "Region": region, "Widget": json.dumps(widget, separators=(",", ":"))}
    )


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
