"""The emulator's REST API v2 subset: list/get/update incidents, list an incident's alerts and add notes,
with PagerDuty's checks.

Error bodies follow PagerDuty's `{"error": {"message", "code", "errors"}}` shape; codes are from its
published error-code table (2001 invalid input, 2006 authentication, 2010 access denied, 2011 From missing,
2020 rate limit, 2100 not found). A missing or other-version Accept header is refused with 406 here
(PagerDuty falls back to v2 today): stricter than production, so a client that forgets the header is caught.

Lists as PagerDuty's REST reference describes them: classic pagination (`limit` default 25, at most 100,
`offset`, `more`, `total` null); `GET /incidents` covers only the last month unless `date_range=all` or
`since`/`until` are given; `incident_key=K` matches incidents whose alerts have `alert_key` K (incidents
opened through the Events API have no incident key of their own).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from alertbridge.sandbox.emulator_state import (
    RESOLVED,
    AlertBook,
    Answer,
    EmulatedAlert,
    Incoming,
    acknowledge,
    parse_iso,
    resolve,
    utc_now_iso,
)

ACCEPT_V2 = "application/vnd.pagerduty+json;version=2"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
DEFAULT_WINDOW = timedelta(days=30)  # "the last month" when no date range is given
_INCIDENT_PATH = re.compile(r"^/incidents/(?P<id>[A-Za-z0-9]+)(?P<sub>/notes|/alerts)?$")
_TOKEN = re.compile(r"^Token token=(?P<token>\S+)$")

# (event_type, alert, requester e-mail, note or None): what the emulator turns into webhook deliveries
Emit = Callable[[str, EmulatedAlert, str, dict[str, Any] | None], None]


def _no_emit(event_type: str, alert: EmulatedAlert, by: str, note: dict[str, Any] | None) -> None:
    pass


@dataclass
class RestAccess:
    """Who may call the REST API: tokens and user e-mails, each with or without write permission."""

    tokens: dict[str, bool] = field(default_factory=dict)  # token -> may write
    users: dict[str, bool] = field(default_factory=dict)  # e-mail (lower case) -> may write

    def add_token(self, token: str, *, read_only: bool = False) -> None:
        self.tokens[token] = not read_only

    def add_user(self, email: str, *, can_write: bool = True) -> None:
        self.users[email.lower()] = can_write


def error(status: int, message: str, code: int, errors: list[str] | None = None, outcome: str = "") -> Answer:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return Answer(status, {"error": body}, outcome=outcome or f"rest-{status}")


def token_of(request: Incoming) -> str | None:
    found = _TOKEN.match(request.header("Authorization") or "")
    return found["token"] if found else None


def rate_limited(limit: int, reset_seconds: int) -> Answer:
    """PagerDuty's REST 429: `ratelimit-*` headers and error code 2020, no Retry-After."""
    headers = (
        ("ratelimit-limit", str(limit)),
        ("ratelimit-remaining", "0"),
        ("ratelimit-reset", str(max(reset_seconds, 1))),
    )
    body = {"error": {"message": "Rate Limit Exceeded", "code": 2020}}
    return Answer(429, body, "rest-rate-limited", headers)


def rest_answer(
    request: Incoming,
    book: AlertBook,
    access: RestAccess,
    *,
    emit: Emit = _no_emit,
    now: datetime | None = None,
) -> Answer:
    refused = _access_check(request, access)
    if refused is not None:
        return refused
    if request.method == "GET" and request.path == "/incidents":
        return _list(request, book, now or datetime.now(UTC))
    match = _INCIDENT_PATH.match(request.path)
    alert = book.by_incident_id(match["id"]) if match else None
    if match is None or alert is None:
        return error(404, "Not Found", 2100)
    if match["sub"] == "/notes":
        return _add_note(request, alert, emit) if request.method == "POST" else _not_allowed()
    if match["sub"] == "/alerts":
        return _alerts(request, alert, book) if request.method == "GET" else _not_allowed()
    if request.method == "GET":
        return Answer(200, {"incident": alert.incident(book.base_url)}, outcome="rest-get")
    return _update(request, alert, book, emit) if request.method == "PUT" else _not_allowed()


def _access_check(request: Incoming, access: RestAccess) -> Answer | None:
    """Authentication, then Accept, then the requester: the order PagerDuty reports them in."""
    token = token_of(request)
    if token is None or token not in access.tokens:
        return error(401, "Authentication failed", 2006, outcome="rest-bad-token")
    if ACCEPT_V2 not in (request.header("Accept") or "").replace(" ", ""):
        return error(406, "Not Acceptable", 2000, [f"Accept must be {ACCEPT_V2}"])
    if request.method == "GET":
        return None
    return _requester_check(request, access, token_may_write=access.tokens[token])


def _requester_check(request: Incoming, access: RestAccess, *, token_may_write: bool) -> Answer | None:
    requester = (request.header("From") or "").strip().lower()
    if not requester:
        return error(400, "The action requires a user to be specified via the 'From' header", 2011)
    if requester not in access.users:
        return error(400, "Invalid Input Provided", 2001, ["Requester User Not Found"], "rest-unknown-from")
    if not (token_may_write and access.users[requester]):
        return error(403, "Access Denied", 2010, outcome="rest-forbidden")
    return None


def _list(request: Incoming, book: AlertBook, now: datetime) -> Answer:
    wanted = _first(request, "incident_key")  # matched against the alerts' alert_key
    statuses = set(request.query.get("statuses[]", []))
    window = _window(request, now)
    if isinstance(window, Answer):
        return window
    alerts = [a for a in book.alerts if wanted is None or a.dedup_key == wanted]
    alerts = [a for a in alerts if not statuses or a.incident_status in statuses]
    if window is not None:
        since, until = window
        alerts = [a for a in alerts if since <= parse_iso(a.created_at) < until]
    alerts.sort(key=lambda a: parse_iso(a.created_at))  # PagerDuty's default order: created_at ascending
    return _page(request, "incidents", [a.incident(book.base_url) for a in alerts], "rest-list")


def _alerts(request: Incoming, alert: EmulatedAlert, book: AlertBook) -> Answer:
    return _page(request, "alerts", [alert.alert(book.base_url)], "rest-alerts")


def _window(request: Incoming, now: datetime) -> tuple[datetime, datetime] | Answer | None:
    """None: every date (`date_range=all`); else [since, until), by default the last month."""
    if _first(request, "date_range") == "all":
        return None
    try:
        since_text, until_text = _first(request, "since"), _first(request, "until")
        until = parse_iso(until_text) if until_text else now
        since = parse_iso(since_text) if since_text else until - DEFAULT_WINDOW
    except ValueError:
        return error(400, "Invalid Input Provided", 2001, ["since and until must be ISO 8601 dates"])
    return since, until


def _page(request: Incoming, field: str, items: list[dict[str, Any]], outcome: str) -> Answer:
    try:
        limit = int(_first(request, "limit") or DEFAULT_LIMIT)
        offset = int(_first(request, "offset") or 0)
    except ValueError:
        return error(400, "Invalid Input Provided", 2001, ["limit and offset must be integers"])
    if limit < 1 or offset < 0:
        return error(400, "Invalid Input Provided", 2001, ["limit must be > 0 and offset >= 0"])
    limit = min(limit, MAX_LIMIT)
    page = items[offset : offset + limit]
    more = offset + len(page) < len(items)
    body = {field: page, "limit": limit, "offset": offset, "more": more, "total": None}
    return Answer(200, body, outcome=outcome)


def _first(request: Incoming, name: str) -> str | None:
    values = request.query.get(name) or []
    return values[0] if values else None


def _update(request: Incoming, alert: EmulatedAlert, book: AlertBook, emit: Emit) -> Answer:
    incident = _json_field(request.raw, "incident")
    status = incident.get("status") if incident else None
    requester = (request.header("From") or "").lower()
    if incident and status is None and ("assignments" in incident or "escalation_policy" in incident):
        return _reassign(incident, alert, book, emit, requester)
    if status == "acknowledged":
        if alert.status == RESOLVED:
            return error(400, "Invalid Input Provided", 2001, ["Incident Already Resolved"])
        acknowledge(alert, by=requester)
        emit("incident.acknowledged", alert, requester, None)
    elif status == "resolved":
        if alert.status != RESOLVED:
            resolve(alert, by=requester, resolution=incident.get("resolution") if incident else None)
            emit("incident.resolved", alert, requester, None)
    else:
        return error(400, "Invalid Input Provided", 2001, ["Status must be acknowledged or resolved."])
    return Answer(200, {"incident": alert.incident(book.base_url)}, outcome=f"rest-{status}")


def _reassign(
    incident: dict[str, Any], alert: EmulatedAlert, book: AlertBook, emit: Emit, requester: str
) -> Answer:
    """`PUT /incidents/{id}` with `assignments` (users) or `escalation_policy`: PagerDuty sends
    incident.reassigned, or incident.delegated for a new escalation policy."""
    if alert.status == RESOLVED:
        return error(400, "Invalid Input Provided", 2001, ["Incident Already Resolved"])
    policy = incident.get("escalation_policy")
    if isinstance(policy, dict) and policy.get("id"):
        alert.escalation_policy_id, alert.assigned_to = str(policy["id"]), []
        event_type = "incident.delegated"
    else:
        assignments = incident.get("assignments")
        ids = [
            str(a["assignee"]["id"]) for a in assignments or []
            if isinstance(a, dict) and isinstance(a.get("assignee"), dict) and a["assignee"].get("id")
        ]  # fmt: skip
        if not ids:
            return error(400, "Invalid Input Provided", 2001, ["Assignments must name at least one user."])
        alert.assigned_to, event_type = ids, "incident.reassigned"
    alert.log("reassign", requester)
    emit(event_type, alert, requester, None)
    body = alert.incident(book.base_url)
    body["assignments"] = [{"assignee": {"id": i, "type": "user_reference"}} for i in alert.assigned_to]
    if alert.escalation_policy_id:
        body["escalation_policy"] = {"id": alert.escalation_policy_id, "type": "escalation_policy_reference"}
    return Answer(200, {"incident": body}, outcome="rest-reassign")


def _add_note(request: Incoming, alert: EmulatedAlert, emit: Emit) -> Answer:
    note = _json_field(request.raw, "note")
    content = note.get("content") if note else None
    if not isinstance(content, str) or not content.strip():
        return error(400, "Invalid Input Provided", 2001, ["Note content is missing or blank"])
    requester = (request.header("From") or "").lower()
    created = {"id": f"N{len(alert.notes) + 1:06d}", "content": content, "created_at": utc_now_iso()}
    alert.notes.append({**created, "user": requester})
    alert.log("note", requester)
    emit("incident.annotated", alert, requester, created)
    body = {"note": {**created, "user": {"summary": requester, "type": "user_reference"}}}
    return Answer(201, body, outcome="rest-note")


def _json_field(raw: bytes, name: str) -> dict[str, Any] | None:
    try:
        value = json.loads(raw or b"{}").get(name)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, dict) else None


def _not_allowed() -> Answer:
    return error(405, "Method Not Allowed", 2000)
