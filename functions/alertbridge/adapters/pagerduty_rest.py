"""PagerDuty REST API v2 for incidents: the `IncidentsApi` port (find by dedup key, alert keys, acknowledge,
resolve, note), and reassign.

Writes need `From: <e-mail of a PagerDuty user>` (PagerDuty answers "Requester User Not Found" without one). Errors say
what to fix: UnknownRequester, BadToken (401), Forbidden (403), NotFound. A 429 is retried a bounded number
of times, waiting as long as `Retry-After` or PagerDuty's `ratelimit-reset` header says when that fits the
call's budget; reads and status updates (idempotent) are also retried on 5xx and network failures, notes are
not (a retried note could be posted twice). The token never appears in messages or logs.

Lists are paginated (PagerDuty's REST reference: `limit`, `offset`, `more`); every page is read. An incident
opened through the Events API has child alerts and a null `incident_key`; `GET /incidents?incident_key=K`
returns the incidents whose alerts have `alert_key` K, and only from the last month unless `date_range=all`.
"""

from __future__ import annotations

import random as random_module
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from alertbridge.adapters.http import HttpTransport, Retrying, checked_base_url, json_object, redact
from alertbridge.errors import (
    BadToken,
    Forbidden,
    InvalidInput,
    NotFound,
    PagerDutyError,
    RateLimited,
    RestApiError,
    ServerError,
    UnknownRequester,
)
from alertbridge.logic.retry import RetryPolicy, parse_retry_after
from alertbridge.models.pagerduty import Incident
from alertbridge.models.settings import US_REST_URL

EU_REST_URL = "https://api.eu.pagerduty.com"
ACCEPT_V2 = "application/vnd.pagerduty+json;version=2"
_OPEN_STATUSES = ("triggered", "acknowledged")
PAGE_LIMIT = 100  # PagerDuty's largest page for classic pagination
_MAX_PAGES = 50  # a bound on one lookup: 5,000 incidents or alerts


class PagerDutyRestAdapter:
    def __init__(
        self,
        token: str,
        from_email: str,
        *,
        base_url: str = US_REST_URL,
        connect_timeout: float = 3.05,
        read_timeout: float = 5.0,
        max_attempts: int = 3,
        max_retry_after: float = 10.0,
        call_budget: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = random_module.random,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not token.strip():
            raise BadToken("no PagerDuty REST API token is configured")
        self.from_email = from_email.strip()
        self._token = token.strip()
        headers = {
            "Authorization": f"Token token={self._token}",
            "Accept": ACCEPT_V2,
            "From": self.from_email,
        }
        self._http = HttpTransport(
            checked_base_url(base_url), connect_timeout=connect_timeout, read_timeout=read_timeout,
            headers=headers, transport=transport, secrets=[self._token],
        )  # fmt: skip
        policy = RetryPolicy(max_attempts=max_attempts, base=0.5, cap=4.0, max_wait=max_retry_after)
        self._retrying = Retrying(policy, sleep=sleep, clock=clock, random=random)
        self._clock = clock
        # Seconds one public call may take, retries and 429 waits included (None: attempts bound it)
        self._call_budget = call_budget

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PagerDutyRestAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def find_by_dedup_key(self, dedup_key: str, *, created_since: datetime | None = None) -> Incident | None:
        """Among incidents whose alerts carry `dedup_key`: an open one, whenever it was created (the newest if
        several: a trigger for the key goes into it, so it is this episode's incident too), else the newest
        created at or after `created_since` (compared to the second: PagerDuty's timestamps carry whole
        seconds; a resolved incident from before is another episode's); None when there is none. An
        incident without `created_at` counts as recent."""
        deadline = self._deadline()
        params = {"incident_key": dedup_key, "date_range": "all"}
        pages = self._pages("/incidents", "incidents", "find the incident", params, deadline)
        incidents = [to_incident(item) for item in pages]
        open_ones = [incident for incident in incidents if incident.status in _OPEN_STATUSES]
        if open_ones:
            return _newest(open_ones)
        if created_since is not None:
            since = _utc(created_since).replace(microsecond=0)
            incidents = [i for i in incidents if i.created_at is None or _utc(i.created_at) >= since]
        return _newest(incidents)

    def alert_keys(self, incident_id: str, *, deadline: float | None = None) -> list[str]:
        """The `alert_key` of each alert of the incident, in PagerDuty's order, without repeats. The call
        ends by the sooner of its own budget and `deadline` (time.monotonic()): requests are cut to the
        time left, and no retry starts that could not finish before it."""
        path = f"/incidents/{_segment(incident_id)}/alerts"
        keys: list[str] = []
        own = self._deadline()
        until = deadline if own is None else own if deadline is None else min(own, deadline)
        for alert in self._pages(path, "alerts", "list the incident's alerts", {}, until):
            key = alert.get("alert_key")
            if isinstance(key, str) and key and key not in keys:
                keys.append(key)
        return keys

    def _pages(
        self, path: str, field: str, action: str, params: dict[str, Any], deadline: float | None
    ) -> Iterator[dict[str, Any]]:
        """Every object of a paginated list, page by page until `more` is false."""
        offset = 0
        for _ in range(_MAX_PAGES):
            query = {**params, "limit": PAGE_LIMIT, "offset": offset}
            data = self._call("GET", path, action, params=query, deadline=deadline)
            items = [item for item in data.get(field, []) if isinstance(item, dict)]
            yield from items
            if data.get("more") is not True or not items:
                return
            offset += len(items)

    def _deadline(self) -> float | None:
        return None if self._call_budget is None else self._clock() + self._call_budget

    def acknowledge(self, incident_id: str) -> Incident:
        return self._set_status(incident_id, {"status": "acknowledged"})

    def resolve(self, incident_id: str, resolution: str | None = None) -> Incident:
        change: dict[str, Any] = {"status": "resolved"}
        if resolution:
            change["resolution"] = resolution
        return self._set_status(incident_id, change)

    def reassign(
        self,
        incident_id: str,
        *,
        user_ids: list[str] | None = None,
        escalation_policy_id: str | None = None,
    ) -> Incident:
        """Assign the incident to users, or hand it to an escalation policy (one of the two; PagerDuty's
        `PUT /incidents/{id}` takes `assignments` or `escalation_policy`). Idempotent, so retried."""
        if bool(user_ids) == bool(escalation_policy_id):
            raise InvalidInput("reassign needs user_ids or escalation_policy_id (one of the two)")
        change: dict[str, Any] = {"type": "incident_reference"}
        if escalation_policy_id:
            change["escalation_policy"] = {"id": escalation_policy_id, "type": "escalation_policy_reference"}
        else:
            change["assignments"] = [
                {"assignee": {"id": user_id, "type": "user_reference"}} for user_id in user_ids or []
            ]
        path = f"/incidents/{_segment(incident_id)}"
        data = self._call("PUT", path, "reassign the incident", json={"incident": change})
        return to_incident(data.get("incident", {}))

    def add_note(self, incident_id: str, content: str) -> None:
        path = f"/incidents/{_segment(incident_id)}/notes"
        body = {"note": {"content": content}}
        self._call("POST", path, "add a note", json=body, retry_server_errors=False)

    def _set_status(self, incident_id: str, change: dict[str, Any]) -> Incident:
        body = {"incident": {"type": "incident_reference", **change}}
        data = self._call(
            "PUT", f"/incidents/{_segment(incident_id)}", f"set status {change['status']}", json=body
        )
        return to_incident(data.get("incident", {}))

    def _call(
        self,
        method: str,
        path: str,
        action: str,
        *,
        retry_server_errors: bool = True,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        def once(left: float | None) -> dict[str, Any]:
            return self._result(self._http.request(method, path, left=left, **kwargs), action)

        def retryable(exc: PagerDutyError) -> bool:
            return isinstance(exc, RateLimited) or (retry_server_errors and exc.retryable)

        if deadline is None:
            deadline = self._deadline()
        data, _ = self._retrying.run(once, deadline=deadline, retryable=retryable)
        return data

    def _result(self, response: httpx.Response, action: str) -> dict[str, Any]:
        status = response.status_code
        if 200 <= status < 300:
            return json_object(response)
        if status == 429:
            raise RateLimited("PagerDuty REST API rate limit (429)", rate_limit_wait(response.headers))
        if status >= 500:
            raise ServerError(status, f"PagerDuty REST API server error {status} while trying to {action}")
        raise self._client_error(status, rest_errors(response), action)

    def _client_error(self, status: int, errors: list[str], action: str) -> RestApiError:
        detail = redact("; ".join(errors), [self._token])
        if status == 401:
            return BadToken(
                "PagerDuty refused the REST API token (401): use a valid API access key (Integrations > API Access Keys)"
            )
        if status == 403:
            return Forbidden(
                f"PagerDuty denied permission to {action} (403): the API key may be read-only, or the From user "
                f"{self.from_email!r} may lack the role to manage incidents"
            )
        if status == 404:
            return NotFound(f"PagerDuty has no such incident (404) while trying to {action}")
        if any("requester user not found" in error.lower() for error in errors):
            return UnknownRequester(
                f"PagerDuty does not know the From e-mail {self.from_email!r}: it must be the e-mail of a user in "
                "this PagerDuty account (PagerDuty > My Profile), with permission to manage incidents"
            )
        return RestApiError(f"PagerDuty refused to {action} ({status}): {detail}")


def rate_limit_wait(headers: httpx.Headers) -> float | None:
    """Seconds to wait after a REST 429: `Retry-After` when sent, else PagerDuty's `ratelimit-reset`
    (seconds until the limit's window resets), else None (back off)."""
    wait = parse_retry_after(headers.get("Retry-After"))
    return wait if wait is not None else parse_retry_after(headers.get("ratelimit-reset"))


def to_incident(data: dict[str, Any]) -> Incident:
    return Incident(
        id=str(data.get("id", "")),
        number=data.get("incident_number") if isinstance(data.get("incident_number"), int) else None,
        status=str(data.get("status", "")),
        incident_key=data.get("incident_key"),
        html_url=data.get("html_url"),
        title=data.get("title") or data.get("summary"),
        created_at=_timestamp(data.get("created_at")),
    )


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def _utc(moment: datetime) -> datetime:
    """Aware in UTC; a naive time is read as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _newest(incidents: list[Incident]) -> Incident | None:
    """The latest created (PagerDuty's list order breaks ties and stands in for a missing created_at)."""
    if not incidents:
        return None
    oldest = datetime.min.replace(tzinfo=UTC)
    ranked = sorted(enumerate(incidents), key=lambda pair: (pair[1].created_at or oldest, pair[0]))
    return ranked[-1][1]


def rest_errors(response: httpx.Response) -> list[str]:
    """`error.message` and `error.errors[]` of a REST error body."""
    error = json_object(response).get("error")
    if not isinstance(error, dict):
        return [f"HTTP {response.status_code}"]
    details = error.get("errors")
    listed = [str(detail) for detail in details] if isinstance(details, list) else []
    return [str(error.get("message", "")), *listed]


def _segment(incident_id: str) -> str:
    if not incident_id:
        raise NotFound("an incident id is required")
    return quote(incident_id, safe="")
