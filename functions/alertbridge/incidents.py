"""`IncidentsClient`: PagerDuty incidents through the REST API v2, for remediation code.

    from alertbridge import IncidentsClient

    with IncidentsClient(token, "oncall@example.com", region="eu") as incidents:
        incident = incidents.get_by_dedup_key("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api-5xx")
        if incident is not None:
            incidents.acknowledge(incident.id)
            incidents.note(incident.id, "restarted the task set")
            incidents.resolve(incident.id, resolution="rolled back deploy 4711")

Writes carry `From: <from_email>`, the e-mail of a PagerDuty user (PagerDuty requires it on REST writes made
with an account API key). 429 and 5xx are retried a bounded number of times (`max_attempts`), waiting as
PagerDuty's `Retry-After` / `ratelimit-reset` say up to `max_retry_after` seconds; a note is not retried on
5xx (a retried note could be posted twice). Errors are the library's: BadToken, Forbidden, NotFound,
UnknownRequester, RestApiError, RateLimited, ServerError, RequestTimeout, ConnectionFailed (all
PagerDutyError, so AlertBridgeError). `region="eu"` uses https://api.eu.pagerduty.com.

`best_effort=True`: a failure is logged (its type and message, never the token) and the call returns None
instead of raising; for remediation code whose own work must not fail because PagerDuty could not be told.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Literal, TypeVar

from alertbridge.errors import AlertBridgeError, ConfigError, InvalidInput
from alertbridge.models.pagerduty import Incident
from alertbridge.models.settings import EU_REST_URL, US_REST_URL

if TYPE_CHECKING:
    import httpx

REST_URLS = {"us": US_REST_URL, "eu": EU_REST_URL}
T = TypeVar("T")
log = logging.getLogger("alertbridge.incidents")


class IncidentsClient:
    def __init__(
        self,
        token: str,
        from_email: str,
        *,
        region: Literal["us", "eu"] = "us",
        base_url: str | None = None,
        best_effort: bool = False,
        timeout: float = 10.0,
        max_attempts: int = 3,
        max_retry_after: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`base_url` overrides `region` (an emulator, a proxy). `timeout`: seconds for each request, and
        for the whole call, retries and waits included."""
        if region not in REST_URLS:
            raise ConfigError(f"region must be 'us' or 'eu', not {region!r}")
        if not from_email or "@" not in from_email:
            raise ConfigError("from_email must be the e-mail of a PagerDuty user (the From header)")
        if not timeout > 0:
            raise ConfigError(f"timeout must be a positive number of seconds, not {timeout!r}")
        from alertbridge.adapters.pagerduty_rest import PagerDutyRestAdapter  # httpx only when used

        self.best_effort = best_effort
        self._adapter = PagerDutyRestAdapter(
            token, from_email, base_url=base_url or REST_URLS[region], connect_timeout=timeout,
            read_timeout=timeout, max_attempts=max_attempts, max_retry_after=max_retry_after,
            call_budget=timeout, sleep=sleep, transport=transport,
        )  # fmt: skip
        self.base_url = base_url or REST_URLS[region]

    def __repr__(self) -> str:
        return f"IncidentsClient(base_url={self.base_url!r})"  # never the token

    def __enter__(self) -> IncidentsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._adapter.close()

    @property
    def from_email(self) -> str:
        return self._adapter.from_email

    def get_by_dedup_key(self, dedup_key: str, *, created_since: datetime | None = None) -> Incident | None:
        """The incident whose alert carries `dedup_key`: an open one if any, else the newest (created at or
        after `created_since` when given); None when there is none."""
        return self._run("get_by_dedup_key", lambda: self._adapter.find_by_dedup_key(
            _required(dedup_key, "dedup_key"), created_since=created_since))  # fmt: skip

    def acknowledge(self, incident_id: str) -> Incident | None:
        return self._run(
            "acknowledge", lambda: self._adapter.acknowledge(_required(incident_id, "incident_id"))
        )

    def resolve(self, incident_id: str, resolution: str | None = None) -> Incident | None:
        """Resolve, with `resolution` as the resolution note PagerDuty shows on the incident."""
        return self._run(
            "resolve", lambda: self._adapter.resolve(_required(incident_id, "incident_id"), resolution)
        )

    def note(self, incident_id: str, content: str) -> None:
        def add() -> None:
            self._adapter.add_note(_required(incident_id, "incident_id"), _required(content, "content"))

        self._run("note", add)

    def reassign(
        self,
        incident_id: str,
        user_ids: Sequence[str] | None = None,
        *,
        escalation_policy_id: str | None = None,
    ) -> Incident | None:
        """Assign to users, or hand to an escalation policy: exactly one of `user_ids` and
        `escalation_policy_id`."""
        users = [user for user in user_ids or [] if user]
        return self._run("reassign", lambda: self._adapter.reassign(
            _required(incident_id, "incident_id"), user_ids=users or None,
            escalation_policy_id=escalation_policy_id or None,
        ))  # fmt: skip

    def _run(self, action: str, call: Callable[[], T]) -> T | None:
        try:
            return call()
        except AlertBridgeError as exc:
            if not self.best_effort:
                raise
            # the adapter's messages never carry the token
            log.warning("PagerDuty %s failed (best effort): %s: %s", action, type(exc).__name__, exc)
            return None


def _required(value: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} must be a non-empty string")
    return value
