"""moto in server mode on loopback, one request at a time: for local runs where several threads act as
concurrent Lambda containers (the soak, the concurrency tests).

AWS applies each request atomically (a conditional write either wins or fails; a FIFO receive hands a
message group to one consumer). moto's in-process mock gives no such guarantee between threads, so the
server serializes the requests it handles: every AWS call is atomic, and the interleavings that remain are
the ones production has, between calls.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import httpx
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

StartResponse = Callable[..., Any]


class _OneAtATime:
    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            return [b"".join(self._app(environ, start_response))]


class SerialMotoServer:
    def __init__(self) -> None:
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SerialMotoServer:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call would drown the output
        app = _OneAtATime(DomainDispatcherApplication(create_backend_app))
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        # moto's backends live in this process and outlive a server: start from an empty account.
        httpx.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> SerialMotoServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
