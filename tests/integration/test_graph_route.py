"""Graph images end to end on moto and the emulator: an ALARM through the real intake and delivery handlers
reaches PagerDuty with an image on the configured public base; that path and token, fetched from the real
webhook handler on loopback, answer a PNG (drawn once, by the local stand-in for GetMetricWidgetImage);
a tampered token 403, an expired one 404, a CloudWatch failure a placeholder PNG. Without a base URL the
trigger carries no image."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from alertbridge import wiring
from alertbridge.logic.png import png_text
from alertbridge.models.config import BridgeConfig
from alertbridge.sandbox.bridge import LocalBridge
from alertbridge.sandbox.emulator import PagerDutyEmulator
from alertbridge.sandbox.graph_images import (
    DEMO_GRAPH_KEY,
    DEMO_PUBLIC_BASE,
    LocalMetricImages,
    expired_twin,
    graph_environment,
    loopback_path,
    tampered,
)
from alertbridge.sandbox.scenario import Metric, metric_alarm_message
from alertbridge.sandbox.webhook_server import WebhookServer
from alertbridge.wiring import graph as graph_wiring
from tests.integration.aws_fixtures import AwsContext

ERRORS = Metric("AWS/Lambda", "Errors", {"FunctionName": "checkout"}, threshold=5)


@dataclass
class Graphs:
    bridge: LocalBridge
    emulator: PagerDutyEmulator
    server: WebhookServer
    images: LocalMetricImages

    def fire(self, name: str) -> dict[str, Any]:
        at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
        self.bridge.publish(metric_alarm_message(name, "ALARM", "OK", at, ERRORS, "Threshold Crossed"))
        self.bridge.stages().drain()
        (body,) = [r.body for r in self.emulator.requests if r.path == "/v2/enqueue" and name in str(r.body)]
        assert isinstance(body, dict)
        return body

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.server.url.rstrip("/") + path, timeout=10)


def start(
    aws: AwsContext, emulator: PagerDutyEmulator, monkeypatch: pytest.MonkeyPatch, **env: str
) -> Graphs:
    bridge = LocalBridge.create(BridgeConfig(), emulator.url, name="graphs")
    for name, value in bridge.environment(**env).items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    images = LocalMetricImages()
    graph_wiring.use_images(images)
    return Graphs(bridge, emulator, WebhookServer().start(), images)


@pytest.fixture
def graphs(aws: AwsContext, emulator: PagerDutyEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Graphs]:
    started = start(aws, emulator, monkeypatch, **graph_environment("graphs"))
    yield started
    started.server.stop()
    graph_wiring.use_images(None)
    wiring.reset()


def test_trigger_image_is_served_by_the_webhook_function_on_first_view(graphs: Graphs) -> None:
    body = graphs.fire("checkout-errors")
    (image,) = body["images"]
    assert image["src"].startswith(DEMO_PUBLIC_BASE + "/graph/")
    assert image["alt"].startswith("checkout-errors: AWS/Lambda Errors (FunctionName=checkout)")
    assert graphs.images.rendered == []  # nothing drawn when the page went out

    answer = graphs.get(loopback_path(image["src"]))
    assert (answer.status_code, answer.headers["content-type"]) == (200, "image/png")
    assert answer.headers["cache-control"].startswith("public, max-age=")
    assert png_text(answer.content)["Title"] == "checkout-errors"
    ((region, widget),) = graphs.images.rendered
    assert region == "us-east-1"
    assert widget["metrics"][0][:4] == ["AWS/Lambda", "Errors", "FunctionName", "checkout"]
    assert widget["annotations"]["horizontal"][0]["value"] == 5


def test_tampered_token_is_403_and_expired_is_404(graphs: Graphs) -> None:
    path = loopback_path(graphs.fire("checkout-errors")["images"][0]["src"])
    assert graphs.get(tampered(path)).status_code == 403
    expired = expired_twin(path, DEMO_GRAPH_KEY.encode(), datetime.now(UTC))
    assert graphs.get(expired).status_code == 404
    assert graphs.images.rendered == []  # neither reached CloudWatch


def test_cloudwatch_failure_answers_a_placeholder_image(graphs: Graphs) -> None:
    path = loopback_path(graphs.fire("checkout-errors")["images"][0]["src"])
    graphs.images.fail = True
    answer = graphs.get(path)
    assert (answer.status_code, answer.headers["content-type"]) == (200, "image/png")
    assert png_text(answer.content)["Description"].startswith("Graph not available")


def test_webhooks_still_reach_the_webhook_logic(graphs: Graphs) -> None:
    assert httpx.post(graphs.server.url, content=b"{}", timeout=5).status_code == 401  # unsigned


def test_no_image_without_a_base_url(
    aws: AwsContext, emulator: PagerDutyEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = graph_environment("graphs")
    del env["ALERTBRIDGE_GRAPH_BASE_URL"]
    monkeypatch.delenv("ALERTBRIDGE_GRAPH_BASE_URL", raising=False)
    started = start(aws, emulator, monkeypatch, **env)
    try:
        assert "images" not in started.fire("checkout-errors")
    finally:
        started.server.stop()
        graph_wiring.use_images(None)
        wiring.reset()


def test_serve_webhook_serves_the_graph_route_on_loopback() -> None:
    from tests.integration.test_serve_webhook import Process

    process = Process("--port", "0", "--allow-unsigned", "--quiet-logs")
    try:
        sample = process.wait_for("a sample: http://127.0.0.1:").split("a sample: ", 1)[1].strip()
        process.wait_for("Ctrl-C")
        answer = httpx.get(sample, timeout=10)
        assert (answer.status_code, answer.headers["content-type"]) == (200, "image/png")
        assert png_text(answer.content)["Title"] == "sample-lambda-errors"
        assert httpx.get(tampered(sample), timeout=10).status_code == 403
        assert process.stop() == 0
    finally:
        if process.popen.poll() is None:
            process.popen.kill()
            process.popen.wait()
