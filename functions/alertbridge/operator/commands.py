"""What each operator command does against a deployed bridge. Each returns the text to print and an exit
code; expected failures raise OperatorError (or a typed AlertBridgeError) with what to fix."""

from __future__ import annotations

import getpass
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from alertbridge.adapters.secrets import WebhookCredentials, listed_routing_keys
from alertbridge.models.maintenance import MaintenanceWindow
from alertbridge.models.pagerduty import ROUTING_KEY_CHARS
from alertbridge.models.settings import US_EVENTS_URL, US_REST_URL
from alertbridge.models.state import KeyStatus, StateItem
from alertbridge.operator.stack import Aws, OperatorError, StackOutputs
from alertbridge.operator.table import age, render_table

DEFAULT_TTL_DAYS = 30
MOVE_UNSUPPORTED = ("NotImplemented", "InternalFailure", "UnsupportedOperation", "InvalidAction", "501")


@dataclass
class Target:
    """One deployed bridge as the commands see it."""

    aws: Aws
    outputs: StackOutputs
    events_url: str = US_EVENTS_URL
    rest_url: str = US_REST_URL
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def state_store(self) -> Any:
        from alertbridge.adapters.dynamo_state import DynamoStateStore

        return DynamoStateStore(self.outputs.get("TableName"), client=self.aws.client("dynamodb"))

    def maintenance_store(self) -> Any:
        from alertbridge.adapters.dynamo_state import DynamoMaintenanceStore

        return DynamoMaintenanceStore(self.outputs.get("TableName"), client=self.aws.client("dynamodb"))

    def secret(self, output_key: str) -> dict[str, Any]:
        secret_id = self.outputs.get(output_key)
        try:
            text = self.aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
            data = json.loads(text)
        except ValueError:
            raise OperatorError(f"secret {secret_id!r} does not hold JSON: set it to a JSON object") from None
        if not isinstance(data, dict):
            raise OperatorError(f"secret {secret_id!r} must hold a JSON object")
        return data

    def credentials(self) -> WebhookCredentials:
        return WebhookCredentials.model_validate(self.secret("WebhookSecretArn"))

    def incidents(self) -> Any:
        """The REST adapter with the token and From e-mail kept in the webhook secret."""
        from alertbridge.adapters.pagerduty_rest import PagerDutyRestAdapter

        found = self.credentials()
        if not found.rest_token or not found.from_email:
            raise OperatorError(
                f"the webhook secret {self.outputs.get('WebhookSecretArn')!r} has no rest_token and from_email: "
                "add a PagerDuty REST API key and the e-mail of a PagerDuty user to it"
            )
        return PagerDutyRestAdapter(found.rest_token, found.from_email, base_url=self.rest_url)


# --- active ----------------------------------------------------------------------------------------------


def active(target: Target) -> str:
    """Open incidents, then alerts held back by a maintenance window (suppressed, but still visible)."""
    store = target.state_store()
    items = sorted(store.list_open(), key=lambda i: i.opened_at or i.first_seen)
    held = sorted(store.list_suppressed(), key=lambda i: i.first_seen)
    text = "No open incidents."
    if items:
        rows = [_active_row(item, target.now) for item in items]
        headers = ["ALARM", "AGE", "ROUTE", "SEVERITY", "PD STATUS", "PAGERDUTY", "DEDUP KEY"]
        text = render_table(headers, rows) + f"\n{len(items)} open"
    if held:
        rows = [_held_row(item, target.now) for item in held]
        headers = ["HELD BACK", "SINCE", "ROUTE", "SEVERITY", "MAINTENANCE WINDOW", "DEDUP KEY"]
        text += (
            f"\n\n{render_table(headers, rows)}\n{len(held)} held back by maintenance windows (paged when "
        )
        text += "their window ends if still in ALARM)"
    return text


def _held_row(item: StateItem, now: datetime) -> list[object]:
    return [
        item.alarm_name or item.summary,
        age(item.state_changed_at, now),
        item.route,
        item.severity.value if item.severity else "",
        item.maintenance_window_id or "",
        item.dedup_key,
    ]


def _active_row(item: StateItem, now: datetime) -> list[object]:
    return [
        item.alarm_name or item.summary,
        age(item.opened_at or item.first_seen, now),
        item.route,
        item.severity.value if item.severity else "",
        item.pd_status or "triggered (not mirrored)",
        item.incident_url or "",
        item.dedup_key,
    ]


# --- ack / resolve / note --------------------------------------------------------------------------------


def incident_action(target: Target, command: str, dedup_key: str, message: str | None) -> str:
    if command == "note" and not (message or "").strip():
        raise OperatorError("note needs --message TEXT")
    incidents = target.incidents()
    incident = incidents.find_by_dedup_key(dedup_key)
    if incident is None:
        raise OperatorError(
            f"PagerDuty has no incident with dedup key {dedup_key!r}: check `alertbridge active`"
        )
    if command == "ack":
        incident = incidents.acknowledge(incident.id)
    elif command == "resolve":
        incident = incidents.resolve(incident.id, resolution=message)
        _record_resolve(target, dedup_key, incidents.from_email)
    if message and command in ("ack", "note"):
        incidents.add_note(incident.id, message)
    rows = [[incident.id, incident.number or "", incident.status, incident.html_url or "", dedup_key]]
    return render_table(["INCIDENT", "NUMBER", "STATUS", "LINK", "DEDUP KEY"], rows)


def _record_resolve(target: Target, dedup_key: str, actor: str) -> None:
    """A person resolved it: the key closes, and later ALARMs of this episode do not re-page."""
    store = target.state_store()
    item = store.get(dedup_key)
    if item is None or not item.is_open:
        return
    closed = item.model_copy(update=_closed_by(actor, target.now, item.version))
    store.save(closed, expected_version=item.version)  # a lost race: the webhook mirror records it anyway


def _closed_by(actor: str, now: datetime, version: int) -> dict[str, Any]:
    return {
        "status": KeyStatus.RESOLVED,
        "resolved_by_human": True,
        "pd_status": "resolved",
        "last_actor": actor,
        "auto_resolve_at": None,
        "last_seen": now,
        "expires_at": int((now + timedelta(days=DEFAULT_TTL_DAYS)).timestamp()),
        "version": version + 1,
    }


# --- maintenance -----------------------------------------------------------------------------------------


def maintenance_start(
    target: Target,
    *,
    duration: timedelta,
    reason: str,
    start: datetime | None = None,
    route: str | None = None,
    alarm_prefix: str | None = None,
    account: str | None = None,
) -> str:
    begins = start or target.now
    window = MaintenanceWindow(
        id=f"mw-{begins.strftime('%Y%m%dT%H%M')}-{uuid.uuid4().hex[:6]}",
        start=begins,
        end=begins + duration,
        reason=reason,
        route=route,
        alarm_name_prefix=alarm_prefix,
        account=account,
        created_by=_who(),
    )
    target.maintenance_store().put(window)
    return (
        _windows_table([window], target.now)
        + "\nTriggers matching it are recorded, not sent; resolves still go out."
    )


def maintenance_list(target: Target) -> str:
    windows = target.maintenance_store().list_all()
    return _windows_table(windows, target.now) if windows else "No maintenance windows."


def maintenance_end(target: Target, window_id: str) -> str:
    window = target.maintenance_store().end(window_id, target.now)
    if window is None:
        raise OperatorError(f"no maintenance window {window_id!r}: see `alertbridge maintenance list`")
    note = "\nAlarms it held back that are still in ALARM are triggered by the reconciler's next run."
    return _windows_table([window], target.now) + note


def _windows_table(windows: list[MaintenanceWindow], now: datetime) -> str:
    rows = [
        [w.id, _status(w, now), _iso(w.start), _iso(w.end), _scope(w), w.reason, w.created_by or ""]
        for w in windows
    ]
    return render_table(["ID", "STATUS", "START", "END", "SCOPE", "REASON", "BY"], rows)


def _status(window: MaintenanceWindow, now: datetime) -> str:
    if window.is_active(now):
        return "active"
    return "scheduled" if window.start > now else "ended"


def _scope(window: MaintenanceWindow) -> str:
    parts = [
        f"route={window.route}" if window.route else "",
        f"alarm-prefix={window.alarm_name_prefix}" if window.alarm_name_prefix else "",
        f"account={window.account}" if window.account else "",
    ]
    return " ".join(part for part in parts if part) or "everything"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _who() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


# --- redrive ---------------------------------------------------------------------------------------------


def redrive(target: Target, *, max_messages: int = 10_000) -> str:
    sqs = target.aws.client("sqs")
    dlq, queue = target.outputs.get("DeadLetterQueueUrl"), target.outputs.get("QueueUrl")
    if _queue_depth(sqs, dlq) == 0:
        return "The dead-letter queue is empty: nothing to redrive."
    method, moved, task = redrive_queue(sqs, dlq, queue, max_messages=max_messages)
    table = render_table(["METHOD", "MESSAGES", "TASK"], [[method, moved, task]])
    if task:
        return table + "\nSQS moves them in the background."
    return (
        table
        + "\nThis endpoint does not support SQS StartMessageMoveTask: moved by receive/send/delete instead."
    )


def redrive_queue(
    sqs: Any, dlq_url: str, queue_url: str, *, max_messages: int = 10_000
) -> tuple[str, int, str]:
    """Dead-letter queue back to the ingest queue: SQS's own move task, or receive/send/delete where the
    endpoint lacks it. Returns (method, messages, task handle or "")."""
    waiting = _queue_depth(sqs, dlq_url)
    task = _start_move_task(sqs, queue_arn(sqs, dlq_url), queue_arn(sqs, queue_url))
    if task is not None:
        return "StartMessageMoveTask", waiting, task
    return "receive/send/delete", _move_by_hand(sqs, dlq_url, queue_url, max_messages), ""


def queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _start_move_task(sqs: Any, source_arn: str, destination_arn: str) -> str | None:
    """SQS's own redrive; None when the endpoint (e.g. moto) does not implement it."""
    from botocore.exceptions import ClientError

    try:
        answer = sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=destination_arn)
    except NotImplementedError:
        return None
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in MOVE_UNSUPPORTED or "not been implemented" in str(error):
            return None
        raise
    return str(answer.get("TaskHandle", ""))


def _move_by_hand(sqs: Any, source: str, destination: str, max_messages: int) -> int:
    moved = 0
    while moved < max_messages:
        batch = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = batch.get("Messages", [])
        if not messages:
            return moved
        for message in messages:
            sqs.send_message(QueueUrl=destination, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


# --- send-test -------------------------------------------------------------------------------------------


def send_test(target: Target, route: str, *, secret_field: str | None = None, resolve: bool = True) -> str:
    """Seed 004 step 7: a test incident on the route's service, then its resolve."""
    from alertbridge.adapters.pagerduty_events import PagerDutyEventsAdapter

    key = _routing_key(target, secret_field or route, route)
    dedup_key = f"alertbridge-test:{route}:{target.now.strftime('%Y%m%dT%H%M%S')}"
    events = PagerDutyEventsAdapter(target.events_url, max_attempts=3)
    rows = [_send(events, _test_trigger(key, dedup_key, route, target.now), "trigger")]
    if resolve:
        body = {"routing_key": key, "event_action": "resolve", "dedup_key": dedup_key}
        rows.append(_send(events, body, "resolve"))
    return render_table(["STEP", "PAGERDUTY SAID", "DEDUP KEY"], rows)


def _routing_key(target: Target, secret_field: str, route: str) -> str:
    keys = listed_routing_keys(target.secret("RoutingKeysSecretArn").get(secret_field))
    if keys is None:
        raise OperatorError(
            f"the routing-keys secret has no well-formed {ROUTING_KEY_CHARS}-character key under "
            f"{secret_field!r} (route {route!r}): put the service integration's key there"
        )
    return keys[0]  # the current key; retired ones only close what they opened


def _test_trigger(key: str, dedup_key: str, route: str, now: datetime) -> dict[str, Any]:
    payload = {
        "summary": f"[TEST] alertbridge test event for route {route}",
        "source": "alertbridge send-test",
        "severity": "info",
        "timestamp": now.isoformat(),
        "custom_details": {
            "note": "Sent by `alertbridge send-test`; resolved right after. No action needed."
        },
    }
    return {"routing_key": key, "event_action": "trigger", "dedup_key": dedup_key, "payload": payload}


def _send(events: Any, body: dict[str, Any], step: str) -> list[object]:
    answer = events.send(body)
    return [step, f"{answer.status}: {answer.message}".strip(": "), body["dedup_key"]]
