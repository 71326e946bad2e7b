"""The webhook Lambda behind a real HTTP server on 127.0.0.1, as a Function URL would invoke it.

Each HTTP request becomes a payload-2.0 event (header names lower-cased, binary bodies base64-encoded,
`requestContext.http.method`), the handler runs in-process (one invocation at a time, like one Lambda
container), and its response goes back as the HTTP answer. Used by `alertbridge serve-webhook` and tests.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from alertbridge.sandbox.event_source import FakeLambdaContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
Observer = Callable[[dict[str, Any], dict[str, Any]], None]  # (event, response)

FUNCTION_URL_MAX_BYTES = 6 * 1024 * 1024  # a Function URL refuses larger requests itself
_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded")


def function_url_event(method: str, path: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """A Lambda Function URL event (payload format 2.0) for one HTTP request."""
    raw_path, _, query = path.partition("?")
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), "")
    text = content_type.startswith(_TEXT_TYPES) and _is_utf8(body)
    now = datetime.now(UTC)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path or "/",
        "rawQueryString": query,
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": raw_path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": body.decode("utf-8") if text else base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": not text,
    }


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _default_handler() -> Handler:
    from alertbridge.handlers.webhook import lambda_handler

    return lambda_handler


class WebhookServer:
    """`with WebhookServer(port=0) as server: ... server.url`."""

    def __init__(
        self, handler: Handler | None = None, *, port: int = 0, observer: Observer | None = None
    ) -> None:
        self.handler = handler or _default_handler()
        self.observer = observer
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), _RequestHandler)
        self._server.owner = self
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread: threading.Thread | None = None

    def start(self) -> WebhookServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread = None

    def __enter__(self) -> WebhookServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        with self.lock:  # one invocation at a time, as in one Lambda container
            context = FakeLambdaContext(timeout_seconds=5.0, function_name="alertbridge-webhook")
            response = self.handler(event, context)
        if self.observer is not None:
            self.observer(event, response)
        return response


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    owner: WebhookServer


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self._invoke()

    def do_GET(self) -> None:
        self._invoke()

    def do_PUT(self) -> None:
        self._invoke()

    def _invoke(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > FUNCTION_URL_MAX_BYTES:
            self._answer(413, {"content-type": "application/json"}, b'{"message":"Request Too Long"}')
            self.close_connection = True
            return
        body = self.rfile.read(length)
        event = function_url_event(self.command, self.path, dict(self.headers.items()), body)
        response = self.server.owner.invoke(event)
        self._answer(
            int(response.get("statusCode", 200)), response.get("headers") or {}, _body_bytes(response)
        )

    def _answer(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # the observer reports requests instead
        pass


def _body_bytes(response: Mapping[str, Any]) -> bytes:
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
