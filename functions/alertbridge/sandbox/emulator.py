"""A local PagerDuty: Events API v2, a REST API subset and signed Webhooks V3, over real HTTP on 127.0.0.1.

A faithful stand-in, not a mock: it validates and dedupes as PagerDuty documents, so tests fail where
production would. An incident opened through the Events API has a child alert carrying the dedup key
(`alert_key`) and a null `incident_key`, in REST objects and webhooks alike; REST lists are paginated and
cover the last month unless `date_range=all`; webhook deliveries (`subscribe()`) carry PagerDuty's agents
and are retried as PagerDuty's delivery rules say (emulator_delivery). Assumed where PagerDuty's
documentation is silent:
- an unknown 32-char routing key (only checked when `routing_keys` is given) gets 400 "Invalid routing key",
  the answer users report from events.pagerduty.com;
- "512 KB" is read as 512,000 bytes (the smaller reading); a larger request gets 413 with an "invalid
  event" body (a client must treat it like a 400);
- the Events API 429 body (below) and the absence of Retry-After on it;
- an alert's incident has the same lifecycle as the alert (PagerDuty can group alerts; we do not);
- a re-trigger of the open alert can raise its severity and urgency, never lower them.

Usage:
    with PagerDutyEmulator() as pd:
        EventsClient(key, base_url=pd.url).trigger(...)
        pd.inject(Fault.server_error(503), Fault.rate_limited(retry_after=1))
        pd.open_alert("my-key")
        hooks = pd.subscribe(url, secrets=["s"], time_scale=0.001)
"""

from __future__ import annotations

import copy
import json
import random
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from alertbridge.models.pagerduty import MAX_REQUEST_BYTES
from alertbridge.sandbox import emulator_rest
from alertbridge.sandbox.emulator_delivery import WebhookSubscription
from alertbridge.sandbox.emulator_rest import RestAccess
from alertbridge.sandbox.emulator_state import (
    ACKNOWLEDGED,
    ACKNOWLEDGED_OUTCOME,
    CHANGE,
    DROPPED_MAINTENANCE,
    DROPPED_NO_OPEN,
    DROPPED_OTHER_KEY,
    INVALID,
    OPENED,
    RATE_LIMITED,
    RESOLVED_OUTCOME,
    SUPPRESSED_MAINTENANCE,
    TOO_LARGE,
    UNKNOWN_KEY,
    UPDATED,
    AlertBook,
    Answer,
    EmulatedAlert,
    Fault,
    FaultPlan,
    Incoming,
    RecordedRequest,
    SlidingWindowLimiter,
    acknowledge,
    resolve,
    unacknowledge,
    update_from_trigger,
)
from alertbridge.sandbox.emulator_validation import change_event_errors, event_errors
from alertbridge.sandbox.emulator_webhooks import (
    events_client,
    integration_agent,
    send_webhook,
    user_agent,
    webhook_envelope,
)

__all__ = ["EmulatedAlert", "Fault", "PagerDutyEmulator", "RecordedRequest", "WebhookSubscription"]

DEFAULT_TOKEN = "emulator-rest-token"
DEFAULT_USER = "oncall@example.com"
_EVENTS_PATHS = ("/v2/enqueue", "/v2/change/enqueue")


@dataclass
class EmulatorConfig:
    rate_limit: int = 120
    window: float = 60.0
    routing_keys: set[str] | None = None  # None: any well-formed key is known
    maintenance_keys: set[str] | None = None  # None with maintenance on: every key
    maintenance: bool = False
    access: RestAccess = field(default_factory=RestAccess)
    rest_rate_limit: int | None = None  # REST requests per token per window; None: unlimited
    rest_window: float = 60.0


class PagerDutyEmulator:
    """A running emulator: `.url`, `.port`; queries `alerts`, `open_alert()`, `requests`; `reset()`."""

    def __init__(
        self,
        *,
        port: int = 0,
        rate_limit: int = 120,
        window_seconds: float = 60.0,
        routing_keys: Iterable[str] | None = None,
        token: str = DEFAULT_TOKEN,
        users: Iterable[str] = (DEFAULT_USER,),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        access = RestAccess()
        access.add_token(token)
        for email in users:
            access.add_user(email)
        keys = set(routing_keys) if routing_keys is not None else None
        self._initial = EmulatorConfig(rate_limit, window_seconds, keys, access=access)
        self._clock = clock
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.emulator = self
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None
        self._subscriptions: list[WebhookSubscription] = []
        self.reset()

    # lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> PagerDutyEmulator:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="pd-emulator", daemon=True)
            self._thread.start()
        return self

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=0.05)  # a short poll makes stop() quick

    def stop(self) -> None:
        self._stopping.set()  # wakes slow answers
        for subscription in self._subscriptions:
            subscription.stop()
        self._server.shutdown()
        self._server.server_close()
        self._thread = None

    def __enter__(self) -> PagerDutyEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget alerts, requests, faults, rate-limit history, maintenance, configuration changes and
        webhook subscriptions."""
        with self._lock:
            for subscription in self._subscriptions:
                subscription.stop()
            self._subscriptions = []
            self.config = copy.deepcopy(self._initial)
            self._book = AlertBook(self.url)
            self._requests: list[RecordedRequest] = []
            self._changes: list[dict[str, Any]] = []
            self._faults = FaultPlan()
            self._limiter = SlidingWindowLimiter(self.config.rate_limit, self.config.window)
            self._rest_limiter: SlidingWindowLimiter | None = None

    # configuration -------------------------------------------------------------------------------------------

    def set_rate_limit(self, limit: int, window_seconds: float) -> None:
        with self._lock:
            self.config.rate_limit, self.config.window = limit, window_seconds
            self._limiter = SlidingWindowLimiter(limit, window_seconds)

    def set_rest_rate_limit(self, limit: int | None, window_seconds: float = 60.0) -> None:
        """REST requests admitted per token in any `window_seconds` (PagerDuty: about 960 a minute); over it,
        PagerDuty's 429 (`ratelimit-*` headers, error code 2020). None: unlimited."""
        with self._lock:
            self.config.rest_rate_limit, self.config.rest_window = limit, window_seconds
            self._rest_limiter = SlidingWindowLimiter(limit, window_seconds) if limit else None

    def set_routing_keys(self, keys: Iterable[str] | None) -> None:
        """Known routing keys; None accepts any well-formed key."""
        with self._lock:
            self.config.routing_keys = set(keys) if keys is not None else None

    def set_maintenance(self, enabled: bool, routing_keys: Iterable[str] | None = None) -> None:
        """A PagerDuty maintenance window on every service (or only those keys' services)."""
        with self._lock:
            self.config.maintenance = enabled
            self.config.maintenance_keys = set(routing_keys) if routing_keys is not None else None

    def add_user(self, email: str, *, can_write: bool = True) -> None:
        with self._lock:
            self.config.access.add_user(email, can_write=can_write)

    def add_token(self, token: str, *, read_only: bool = False) -> None:
        with self._lock:
            self.config.access.add_token(token, read_only=read_only)

    # fault injection ---------------------------------------------------------------------------------------

    def inject(self, *faults: Fault, times: int = 1) -> None:
        """Queue faults for the next requests, in order (each fault `times` times)."""
        with self._lock:
            for fault in faults:
                self._faults.queued.extend([fault] * times)

    def set_fault_rate(self, rate: float, *, seed: int = 0, kinds: Sequence[Fault] | None = None) -> None:
        """A reproducible random fault on `rate` of requests (after the queued ones)."""
        default = (Fault.server_error(500), Fault.server_error(503), Fault.rate_limited(), Fault.reset())
        with self._lock:
            self._faults.rate = rate
            self._faults.kinds = tuple(kinds or default)
            self._faults.rng = random.Random(seed)

    def limit_faults_to(self, *path_prefixes: str) -> None:
        """Inject faults only on these paths (default: every path)."""
        with self._lock:
            self._faults.path_prefixes = path_prefixes or ("/",)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = FaultPlan()

    # queries -----------------------------------------------------------------------------------------------

    @property
    def alerts(self) -> list[EmulatedAlert]:
        """Snapshots of every alert, oldest first."""
        with self._lock:
            return copy.deepcopy(self._book.alerts)

    def open_alert(self, dedup_key: str, routing_key: str | None = None) -> EmulatedAlert | None:
        with self._lock:
            return copy.deepcopy(self._book.open_alert(dedup_key, routing_key))

    def latest_alert(self, dedup_key: str) -> EmulatedAlert | None:
        with self._lock:
            return copy.deepcopy(self._book.latest(dedup_key))

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return copy.deepcopy(self._requests)

    @property
    def change_events(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._changes)

    def outcomes(self) -> list[str]:
        with self._lock:
            return [r.outcome for r in self._requests]

    # humans and webhooks -------------------------------------------------------------------------------------

    def subscribe(
        self, url: str, *, secrets: Sequence[str] = (), timeout: float = 5.0, time_scale: float = 1.0
    ) -> WebhookSubscription:
        """A Webhooks V3 subscription: every incident change from now on is delivered to `url`."""
        subscription = WebhookSubscription(url, secrets=secrets, timeout=timeout, time_scale=time_scale)
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: WebhookSubscription) -> None:
        with self._lock:
            self._subscriptions.remove(subscription)
        subscription.stop()

    def _emit(
        self,
        event_type: str,
        alert: EmulatedAlert,
        *,
        agent: dict[str, Any] | None,
        client: dict[str, Any] | None = None,
        note: dict[str, Any] | None = None,
    ) -> None:
        """Queue one delivery per subscription (the lock is held; sending happens on their threads)."""
        if not self._subscriptions:
            return
        envelope = webhook_envelope(event_type, alert, agent=agent, client=client, note=note)
        for subscription in self._subscriptions:
            subscription.enqueue(copy.deepcopy(envelope))

    def _emit_rest(self, event_type: str, alert: EmulatedAlert, by: str, note: dict[str, Any] | None) -> None:
        self._emit(event_type, alert, agent=user_agent(by, self.url), note=note)

    def human_acknowledge(self, dedup_key: str, *, by: str = DEFAULT_USER, **webhook: Any) -> EmulatedAlert:
        """A responder acknowledges the incident in PagerDuty's web app; subscriptions get the webhook, and
        with `webhook_url` one delivery also goes straight there (once, no retry)."""
        return self._human("acknowledge", dedup_key, by, webhook)

    def human_resolve(self, dedup_key: str, *, by: str = DEFAULT_USER, **webhook: Any) -> EmulatedAlert:
        return self._human("resolve", dedup_key, by, webhook)

    def _human(self, action: str, dedup_key: str, by: str, webhook: dict[str, Any]) -> EmulatedAlert:
        event_type = "incident.acknowledged" if action == "acknowledge" else "incident.resolved"
        with self._lock:
            alert = self._book.open_alert(dedup_key)
            if alert is None:
                raise LookupError("no open incident with this dedup key")
            (acknowledge if action == "acknowledge" else resolve)(alert, by)
            self._emit(event_type, alert, agent=user_agent(by, self.url))
            snapshot = copy.deepcopy(alert)
        url = webhook.pop("webhook_url", None)
        if url is not None:
            send_webhook(url, event_type, snapshot, agent_email=by, **webhook)
        return snapshot

    def human_note(self, dedup_key: str, content: str, *, by: str = DEFAULT_USER) -> EmulatedAlert:
        """A responder adds a note in the web app: `incident.annotated` with `incident_note` data."""
        with self._lock:
            alert = self._book.latest(dedup_key)
            if alert is None:
                raise LookupError("no incident with this dedup key")
            note = {"id": f"N{len(alert.notes) + 1:06d}", "content": content, "created_at": _now_iso()}
            alert.notes.append({**note, "user": by})
            alert.log("note", by)
            self._emit("incident.annotated", alert, agent=user_agent(by, self.url), note=note)
            return copy.deepcopy(alert)

    def acknowledgement_timeout(self, dedup_key: str) -> EmulatedAlert:
        """The acknowledgement timed out: back to triggered, `incident.unacknowledged` with a null agent."""
        with self._lock:
            alert = self._book.open_alert(dedup_key)
            if alert is None or alert.status != ACKNOWLEDGED:
                raise LookupError("no acknowledged incident with this dedup key")
            unacknowledge(alert)
            self._emit("incident.unacknowledged", alert, agent=None)
            return copy.deepcopy(alert)

    def auto_resolve(self, dedup_key: str) -> EmulatedAlert:
        """The service's auto-resolve timeout closed the incident: `incident.resolved`, null agent."""
        with self._lock:
            alert = self._book.open_alert(dedup_key)
            if alert is None:
                raise LookupError("no open incident with this dedup key")
            resolve(alert, "pagerduty")
            self._emit("incident.resolved", alert, agent=None)
            return copy.deepcopy(alert)

    def add_incident(
        self,
        dedup_key: str,
        *,
        routing_key: str = "0" * 32,
        created_at: datetime | None = None,
        status: str = "triggered",
        summary: str = "an incident opened earlier",
        incident_id: str | None = None,
    ) -> EmulatedAlert:
        """An incident already in the account (opened through the Events API at `created_at`); no webhook."""
        body = {"payload": {"summary": summary, "source": "earlier", "severity": "error"}}
        with self._lock:
            alert = self._book.open_new(
                routing_key, dedup_key, body, created_at=created_at, incident_id=incident_id
            )
            if status == "acknowledged":
                acknowledge(alert)
            elif status == "resolved":
                resolve(alert)
            return copy.deepcopy(alert)

    def send_webhook(
        self,
        url: str,
        event_type: str,
        dedup_key: str,
        *,
        secrets: Sequence[str] = (),
        webhook_id: str | None = None,
        agent: str | None = DEFAULT_USER,
        body: bytes | None = None,
        timeout: float = 5.0,
    ) -> int:
        """POST a signed Webhooks V3 delivery about the latest incident with this key; returns the status."""
        alert = self.latest_alert(dedup_key)
        if alert is None:
            raise LookupError("no incident with this dedup key")
        return send_webhook(
            url, event_type, alert, secrets=secrets, webhook_id=webhook_id, agent_email=agent, body=body,
            timeout=timeout,
        )  # fmt: skip

    # request handling (called by the HTTP handler threads) -----------------------------------------------------

    def answer(self, request: Incoming) -> Answer:
        with self._lock:
            fault = self._faults.next_fault(request.path)
            if fault is not None and fault.kind != "slow":
                answer = _fault_answer(fault)
            else:
                answer = self._route(request)
                if fault is not None:
                    answer = Answer(
                        answer.status, answer.body, answer.outcome, answer.headers, delay=fault.delay
                    )
            self._record(request, answer)
        return answer

    def wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _route(self, request: Incoming) -> Answer:
        if request.path in _EVENTS_PATHS:
            if request.method != "POST":
                return Answer(405, {"status": "error", "message": "Method Not Allowed"}, "method-not-allowed")
            return self._events(request)
        if request.path.startswith("/incidents"):
            throttled = self._rest_throttled(request)
            if throttled is not None:
                return throttled
            return emulator_rest.rest_answer(request, self._book, self.config.access, emit=self._emit_rest)
        return Answer(404, {"status": "error", "message": "Not Found"}, "not-found")

    def _rest_throttled(self, request: Incoming) -> Answer | None:
        limiter = self._rest_limiter
        if limiter is None:
            return None
        token = emulator_rest.token_of(request) or ""
        now = self._clock()
        if limiter.admit(token, now):
            return None
        return emulator_rest.rate_limited(limiter.limit, round(limiter.window - limiter.age(token, now)))

    def _events(self, request: Incoming) -> Answer:
        if len(request.raw) > MAX_REQUEST_BYTES:
            return _invalid(["Request body exceeds 512 KB"], status=413, outcome=TOO_LARGE)
        try:
            body = json.loads(request.raw)
        except ValueError:
            unrecognized = {"status": "Unrecognized object", "message": "Event object format is unrecognized"}
            return Answer(400, {**unrecognized, "errors": ["JSON parse error"]}, INVALID)
        change = request.path == "/v2/change/enqueue"
        errors = change_event_errors(body) if change else event_errors(body)
        if errors:
            return _invalid(errors)
        routing_key = body["routing_key"]
        if self.config.routing_keys is not None and routing_key not in self.config.routing_keys:
            return _invalid(["Invalid routing key"], outcome=UNKNOWN_KEY)
        if not self._limiter.admit(routing_key, self._clock()):
            return _throttled()
        return self._change(body) if change else self._event(body)

    def _change(self, body: dict[str, Any]) -> Answer:
        self._changes.append(body)
        return Answer(202, {"status": "success", "message": "Change event processed"}, CHANGE)

    def _event(self, body: dict[str, Any]) -> Answer:
        dedup_key = body.get("dedup_key") or uuid.uuid4().hex  # PagerDuty generates one for a keyless trigger
        outcome = self._apply(body["routing_key"], body["event_action"], dedup_key, body)
        return Answer(
            202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key}, outcome
        )

    def _apply(self, routing_key: str, action: str, dedup_key: str, body: dict[str, Any]) -> str:
        if self._in_maintenance(routing_key):
            return SUPPRESSED_MAINTENANCE if action == "trigger" else DROPPED_MAINTENANCE
        alert = self._book.open_alert(dedup_key, routing_key)
        if action == "trigger":
            if alert is None:
                opened = self._book.open_new(routing_key, dedup_key, body)
                self._emit_events_api("incident.triggered", opened)
                return OPENED
            update_from_trigger(alert, body)
            return UPDATED
        if alert is None:
            # an alert open under another routing key is not touched: PagerDuty drops it silently
            return DROPPED_OTHER_KEY if self._book.open_alert(dedup_key) else DROPPED_NO_OPEN
        if action == "acknowledge":
            acknowledge(alert)
            self._emit_events_api("incident.acknowledged", alert)
            return ACKNOWLEDGED_OUTCOME
        resolve(alert)
        self._emit_events_api("incident.resolved", alert)
        return RESOLVED_OUTCOME

    def _emit_events_api(self, event_type: str, alert: EmulatedAlert) -> None:
        self._emit(event_type, alert, agent=integration_agent(alert), client=events_client(alert))

    def _in_maintenance(self, routing_key: str) -> bool:
        keys = self.config.maintenance_keys
        return self.config.maintenance and (keys is None or routing_key in keys)

    def _record(self, request: Incoming, answer: Answer) -> None:
        body = answer.body if isinstance(answer.body, dict) else {}
        self._requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=request.query,
                headers=dict(request.headers),
                body=_parsed(request.raw),
                size=len(request.raw),
                status=0 if answer.reset else answer.status,
                outcome=answer.outcome,
                at=self._clock(),
                dedup_key=body.get("dedup_key"),
            )
        )


def _invalid(errors: list[str], *, status: int = 400, outcome: str = INVALID) -> Answer:
    body = {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
    return Answer(status, body, outcome)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _throttled() -> Answer:
    # Assumed body (PagerDuty documents the 429, not its body); no Retry-After on it
    body = {"status": "throttle event", "message": "Requests for this service are arriving too quickly."}
    return Answer(429, {**body, "errors": ["Too many requests"]}, RATE_LIMITED)


def _fault_answer(fault: Fault) -> Answer:
    if fault.kind == "reset":
        return Answer(0, None, fault.label, reset=True)
    headers = (("Retry-After", fault.retry_after),) if fault.retry_after is not None else ()
    body = {"status": "error", "message": "injected fault"}
    return Answer(fault.status, body, fault.label, headers)


def _parsed(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    emulator: PagerDutyEmulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # client-side disconnects are part of fault injection, not errors worth a traceback


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real service
    disable_nagle_algorithm = True  # headers and body go out in two writes: Nagle would add ~40 ms each
    server: _Server
    server_version = "pagerduty-emulator"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def _serve(self) -> None:
        split = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        incoming = Incoming(self.command, split.path, parse_qs(split.query), dict(self.headers.items()), raw)
        answer = self.server.emulator.answer(incoming)
        if answer.delay:
            self.server.emulator.wait(answer.delay)
        try:
            self._reset_connection() if answer.reset else self._send(answer)
        except OSError:
            self.close_connection = True  # the client gave up (a timeout on a slow answer): nothing to do

    def _send(self, answer: Answer) -> None:
        payload = json.dumps(answer.body).encode() if answer.body is not None else b""
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in answer.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _reset_connection(self) -> None:
        # SO_LINGER 0 makes close() send a TCP RST: the client sees a reset, not an answer
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the emulator records requests itself; stderr stays quiet in tests
