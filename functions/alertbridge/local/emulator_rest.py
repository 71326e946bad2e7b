"""The emulator's REST API v2 subset: list/get/update incidents and add notes, with PagerDuty's checks.

Error bodies follow PagerDuty's `{"error": {"message", "code", "errors"}}` shape; codes are from its
published error-code table (2001 invalid input, 2006 authentication, 2010 access denied, 2011 From missing,
2100 not found). A missing or other-version Accept header is refused with 406 here (PagerDuty falls back to v2
today): stricter than production, so a client that forgets the header is caught in tests.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from alertbridge.local.emulator_state import (
    RESOLVED,
    AlertBook,
    Answer,
    EmulatedAlert,
    Incoming,
    acknowledge,
    resolve,
    utc_now_iso,
)

ACCEPT_V2 = "application/vnd.pagerduty+json;version=2"
_INCIDENT_PATH = re.compile(r"^/incidents/(?P<id>[A-Za-z0-9]+)(?P<notes>/notes)?$")
_TOKEN = re.compile(r"^Token token=(?P<token>\S+)$")


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


def rest_answer(request: Incoming, book: AlertBook, access: RestAccess) -> Answer:
    refused = _access_check(request, access)
    if refused is not None:
        return refused
    if request.method == "GET" and request.path == "/incidents":
        return _list(request, book)
    match = _INCIDENT_PATH.match(request.path)
    alert = book.by_incident_id(match["id"]) if match else None
    if match is None or alert is None:
        return error(404, "Not Found", 2100)
    if match["notes"]:
        return _add_note(request, alert) if request.method == "POST" else _not_allowed()
    if request.method == "GET":
        return Answer(200, {"incident": alert.incident(book.base_url)}, outcome="rest-get")
    return _update(request, alert, book) if request.method == "PUT" else _not_allowed()


def _access_check(request: Incoming, access: RestAccess) -> Answer | None:
    """Authentication, then Accept, then the requester: the order PagerDuty reports them in."""
    found = _TOKEN.match(request.header("Authorization") or "")
    token = found["token"] if found else None
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


def _list(request: Incoming, book: AlertBook) -> Answer:
    keys = request.query.get("incident_key") or []
    wanted = keys[0] if keys else None
    statuses = set(request.query.get("statuses[]", []))
    alerts = [a for a in book.alerts if wanted is None or a.dedup_key == wanted]
    alerts = [a for a in alerts if not statuses or a.incident_status in statuses]
    incidents = [a.incident(book.base_url) for a in alerts]
    body = {"incidents": incidents, "limit": 100, "offset": 0, "more": False, "total": None}
    return Answer(200, body, outcome="rest-list")


def _update(request: Incoming, alert: EmulatedAlert, book: AlertBook) -> Answer:
    incident = _json_field(request.raw, "incident")
    status = incident.get("status") if incident else None
    requester = (request.header("From") or "").lower()
    if status == "acknowledged":
        if alert.status == RESOLVED:
            return error(400, "Invalid Input Provided", 2001, ["Incident Already Resolved"])
        acknowledge(alert, by=requester)
    elif status == "resolved":
        if alert.status != RESOLVED:
            resolve(alert, by=requester, resolution=incident.get("resolution") if incident else None)
    else:
        return error(400, "Invalid Input Provided", 2001, ["Status must be acknowledged or resolved."])
    return Answer(200, {"incident": alert.incident(book.base_url)}, outcome=f"rest-{status}")


def _add_note(request: Incoming, alert: EmulatedAlert) -> Answer:
    note = _json_field(request.raw, "note")
    content = note.get("content") if note else None
    if not isinstance(content, str) or not content.strip():
        return error(400, "Invalid Input Provided", 2001, ["Note content is missing or blank"])
    requester = (request.header("From") or "").lower()
    created = {"id": f"N{len(alert.notes) + 1:06d}", "content": content, "created_at": utc_now_iso()}
    alert.notes.append({**created, "user": requester})
    alert.log("note", requester)
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
