"""Metric graph images: CloudWatch's GetMetricWidgetImage (the MetricImages port) and the graph tokens'
HMAC key from Secrets Manager (the GraphKeys port).

The key is read with short timeouts and a failure is remembered for a minute, so a Secrets Manager
problem costs a trigger its image, never its delay. The secret holds a plain string (the stack generates
one) or, during a rotation, `{"keys": ["<current>", "<retired>", ...]}`: tokens are signed with the first
and accepted under any.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

_CONNECT_TIMEOUT_SECONDS = 1.0
_READ_TIMEOUT_SECONDS = 2.0
_RENDER_READ_TIMEOUT_SECONDS = 7.0  # inside the rendering function's 10 s
_MAX_ATTEMPTS = 2
_RETRY_AFTER_FAILURE_SECONDS = 60.0


class CloudWatchMetricImages:
    """MetricImages port: `GetMetricWidgetImage` in the widget's region, PNG output."""

    def __init__(self, client_factory: Callable[[str], Any] | None = None) -> None:
        self._factory = client_factory or _cloudwatch_client
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def render(self, region: str, widget: dict[str, Any]) -> bytes:
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                client = self._clients[region] = self._factory(region)
        answer = client.get_metric_widget_image(MetricWidget=json.dumps(widget), OutputFormat="png")
        image = answer["MetricWidgetImage"]
        return bytes(image.read() if hasattr(image, "read") else image)


class SecretsGraphKeys:
    """GraphKeys port over one Secrets Manager secret, cached for `max_age` seconds."""

    def __init__(
        self,
        secret_id: str,
        *,
        max_age: float = 300,
        client: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret_id = secret_id
        self._max_age, self._client, self._clock = max_age, client, clock
        self._keys: list[bytes] = []
        self._read_at: float | None = None
        self._failed_at: float | None = None
        self._lock = threading.Lock()

    def signing_key(self) -> bytes | None:
        keys = self.verifying_keys()
        return keys[0] if keys else None

    def verifying_keys(self) -> Sequence[bytes]:
        with self._lock:
            now = self._clock()
            fresh = self._read_at is not None and now - self._read_at < self._max_age
            backing_off = self._failed_at is not None and now - self._failed_at < _RETRY_AFTER_FAILURE_SECONDS
            if not fresh and not backing_off:
                try:
                    self._keys = parse_graph_keys(self._read())
                    self._read_at, self._failed_at = now, None
                except Exception:  # unreadable or empty: no image (delivery) or 503 (route); retried later
                    self._failed_at = now
            return list(self._keys)

    def _read(self) -> str:
        if self._client is None:
            self._client = _secrets_client()
        return str(self._client.get_secret_value(SecretId=self.secret_id)["SecretString"])


def parse_graph_keys(value: str) -> list[bytes]:
    """A plain string is one key; `{"keys": [...]}` lists them, current first. ValueError if none."""
    text = value.strip()
    keys: list[str] = [text]
    if text.startswith("{"):
        listed = json.loads(text).get("keys")
        if not isinstance(listed, list) or not all(isinstance(key, str) for key in listed):
            raise ValueError("graph secret: 'keys' must be a list of strings")
        keys = [str(key).strip() for key in listed]
    if not keys or any(len(key) < 32 for key in keys):
        raise ValueError("graph secret: every key must be at least 32 characters")
    return [key.encode("utf-8") for key in keys]


def _config(read_timeout: float) -> Any:
    from botocore.config import Config

    return Config(
        connect_timeout=_CONNECT_TIMEOUT_SECONDS,
        read_timeout=read_timeout,
        retries={"max_attempts": _MAX_ATTEMPTS, "mode": "standard"},
    )


def _cloudwatch_client(region: str) -> Any:
    from alertbridge.adapters import aws

    return aws.client("cloudwatch", region=region, config=_config(_RENDER_READ_TIMEOUT_SECONDS))


def _secrets_client() -> Any:
    from alertbridge.adapters import aws

    return aws.client("secretsmanager", config=_config(_READ_TIMEOUT_SECONDS))
