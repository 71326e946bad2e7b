"""What each operator command does against a deployed bridge. Each returns the text to print and an exit
code; expected failures raise OperatorError (or a typed AlertBridgeError) with what to fix."""

from __future__ import annotations

import getpass
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from alertbridge.adapters.secrets import WebhookCredentials, listed_routing_keys
from alertbridge.logic.lifecycle import resolved_by_person
from alertbridge.models.config import BridgeConfig
from alertbridge.models.maintenance import MaintenanceWindow
from alertbridge.models.pagerduty import ROUTING_KEY_CHARS
from alertbridge.models.settings import US_EVENTS_URL, US_REST_URL
from alertbridge.models.state import StateItem
from alertbridge.operator.stack import Aws, OperatorError, StackOutputs
from alertbridge.operator.table import age, render_table

if TYPE_CHECKING:
    from alertbridge.incidents import IncidentsClient
    from alertbridge.ports import MuteRules

MOVE_UNSUPPORTED = ("NotImplemented", "InternalFailure", "UnsupportedOperation", "InvalidAction", "501")
MAX_WINDOW = timedelta(days=30)  # longer needs --force
MAX_FORCED_WINDOW = timedelta(days=3660)  # even with --force: a window must end within ten years
MAX_REASON_CHARS = 1024
ACCOUNT_ID = re.compile(r"^\d{12}$")
# What each secret holds, for the command that sets a secret the first deploy left without a value.
SECRET_EXAMPLES = {
    "RoutingKeysSecretArn": '{"ROUTE": "32-CHARACTER-EVENTS-V2-INTEGRATION-KEY"}',
    "WebhookSecretArn": '{"webhook_secrets": ["SIGNING-SECRET"], "rest_token": "REST-API-KEY", '
    '"from_email": "oncall@example.com"}',
}


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

    def mute_rules(self) -> MuteRules:
        """CloudWatch alarm mute rules in the stack's region."""
        from alertbridge.adapters.cloudwatch import CloudWatchMuteRules

        return CloudWatchMuteRules(self.aws.client("cloudwatch"))

    def secret(self, output_key: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        secret_id = self.outputs.get(output_key)
        try:
            answer = self.aws.client("secretsmanager").get_secret_value(SecretId=secret_id)
        except ClientError as error:
            explained = self._secret_error(output_key, secret_id, error)
            if explained is None:
                raise
            raise explained from None
        text = answer.get("SecretString")
        if not text or not str(text).strip():
            raise self._no_value(output_key, secret_id)
        try:
            data = json.loads(text)
        except ValueError:
            raise OperatorError(f"secret {secret_id!r} does not hold JSON: set it to a JSON object") from None
        if not isinstance(data, dict):
            raise OperatorError(f"secret {secret_id!r} must hold a JSON object")
        return data

    def _secret_error(self, output_key: str, secret_id: str, error: Any) -> OperatorError | None:
        code = error.response.get("Error", {}).get("Code", "")
        message = str(error.response.get("Error", {}).get("Message", ""))
        if code == "ResourceNotFoundException" and ("AWSCURRENT" in message or "secret value" in message):
            return self._no_value(output_key, secret_id)  # created by the stack, never given a value
        if code == "ResourceNotFoundException":
            return OperatorError(f"secret {secret_id!r} does not exist: redeploy the stack (cdk deploy)")
        if code in ("AccessDeniedException", "AccessDenied"):
            return OperatorError(
                f"your AWS identity may not read secret {secret_id!r}: it needs secretsmanager:GetSecretValue "
                f"on it (and kms:Decrypt on its key): {message}"
            )
        return None

    def _no_value(self, output_key: str, secret_id: str) -> OperatorError:
        region = f" --region {self.aws.region}" if self.aws.region else ""
        example = SECRET_EXAMPLES.get(output_key, "{}")
        return OperatorError(
            f"secret {secret_id!r} has no value yet (a first deploy creates it empty): set it with "
            f"aws secretsmanager put-secret-value{region} --secret-id {secret_id} --secret-string '{example}'"
        )

    def credentials(self) -> WebhookCredentials:
        try:
            return WebhookCredentials.model_validate(self.secret("WebhookSecretArn"))
        except ValidationError as exc:
            fields = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
            raise OperatorError(
                f"the webhook secret {self.outputs.get('WebhookSecretArn')!r} has malformed fields {fields}: "
                "webhook_secrets must be a list of strings, rest_token and from_email strings"
            ) from None

    def config(self, config_file: str | None = None) -> BridgeConfig:
        """--config FILE, else the configuration the delivery function runs with; OperatorError saying why
        and what to do when it cannot be read."""
        if config_file:
            try:
                return BridgeConfig.from_json_text(Path(config_file).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise OperatorError(f"cannot use --config {config_file!r}: {_first_line(exc)}") from None
        return self._deployed_config()

    def _deployed_config(self) -> BridgeConfig:
        """The stack puts the configuration into the code asset (`ALERTBRIDGE_CONFIG_FILE`, fingerprinted by
        `ALERTBRIDGE_CONFIG_SHA256`): read it from the delivery function's code package (GetFunction gives
        a presigned URL of it). Older stacks kept it inline in `ALERTBRIDGE_CONFIG`."""
        from botocore.exceptions import BotoCoreError, ClientError

        name = self.outputs.values.get("DeliveryFunctionName")
        if not name:
            raise OperatorError(
                f"{self.outputs.source} has no output 'DeliveryFunctionName', so the deployed configuration "
                "cannot be read: pass --config FILE, or deploy the current stack"
            )
        try:
            found = self.aws.client("lambda").get_function(FunctionName=name)
        except (ClientError, BotoCoreError) as exc:
            raise OperatorError(
                f"cannot read the configuration of function {name!r} ({_aws_reason(exc)}): grant "
                "lambda:GetFunction on it, or pass --config FILE"
            ) from None
        variables = found.get("Configuration", {}).get("Environment", {}).get("Variables", {})
        if variables.get("ALERTBRIDGE_CONFIG_FILE"):
            text = self._config_from_code(name, found, variables)
        else:
            text = variables.get("ALERTBRIDGE_CONFIG") or "{}"
        try:
            return BridgeConfig.from_json_text(text)
        except ValueError as exc:
            raise OperatorError(
                f"function {name!r} runs with a configuration this version rejects: {_first_line(exc)}; "
                "fix it and redeploy"
            ) from None

    def _config_from_code(self, name: str, found: dict[str, Any], variables: dict[str, str]) -> str:
        import io
        import zipfile

        from alertbridge.models.settings import config_digest

        member = variables["ALERTBRIDGE_CONFIG_FILE"]
        location = found.get("Code", {}).get("Location") or ""
        try:
            with zipfile.ZipFile(io.BytesIO(fetch_code(location))) as archive:
                text = archive.read(member).decode("utf-8")
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise OperatorError(
                f"cannot read {member!r} from the code of function {name!r} ({_first_line(exc)}): "
                "pass --config FILE"
            ) from None
        expected = variables.get("ALERTBRIDGE_CONFIG_SHA256")
        if expected and config_digest(text) != expected:
            raise OperatorError(
                f"the code of function {name!r} carries a configuration whose SHA-256 differs from the "
                f"one its environment records ({expected}): redeploy the stack"
            )
        return text

    def incidents(self) -> IncidentsClient:
        """The library's IncidentsClient with the token and From e-mail kept in the webhook secret."""
        from alertbridge.incidents import IncidentsClient

        found = self.credentials()
        if not found.rest_token or not found.from_email:
            raise OperatorError(
                f"the webhook secret {self.outputs.get('WebhookSecretArn')!r} has no rest_token and from_email: "
                "add a PagerDuty REST API key and the e-mail of a PagerDuty user to it"
            )
        return IncidentsClient(found.rest_token, found.from_email, base_url=self.rest_url)


def fetch_code(location: str) -> bytes:
    """The function's code package from the presigned URL GetFunction answers with (valid minutes)."""
    import urllib.request

    if not location.startswith("https://"):
        raise ValueError(f"no https code location: {location!r}")
    with urllib.request.urlopen(location, timeout=60) as answer:  # noqa: S310 - https only, checked above
        return bytes(answer.read())


# --- active ----------------------------------------------------------------------------------------------


def active(target: Target) -> str:
    """Open incidents, then alerts held back by a maintenance window or a CloudWatch mute rule (suppressed,
    but still visible), then multi-time-series alarm levels recorded without a page, then alarms still
    firing after a person (or remediation code) resolved their incident."""
    store = target.state_store()
    items = sorted(store.list_open(), key=lambda i: i.opened_at or i.first_seen)
    held = sorted(store.list_suppressed(), key=lambda i: i.first_seen)
    recorded = sorted(store.list_recorded(), key=lambda i: i.first_seen)
    firing = sorted(store.list_resolved_firing(), key=lambda i: i.state_changed_at)
    text = "No open incidents."
    if items:
        rows = [_active_row(item, target.now) for item in items]
        headers = ["ALARM", "AGE", "ROUTE", "SEVERITY", "PD STATUS", "PAGERDUTY", "DEDUP KEY"]
        text = render_table(headers, rows, shorten={"ALARM"}) + f"\n{len(items)} open"
    if held:
        rows = [_held_row(item, target.now) for item in held]
        headers = ["HELD BACK", "SINCE", "ROUTE", "SEVERITY", "HELD BY", "UNTIL", "DEDUP KEY"]
        text += f"\n\n{render_table(headers, rows, shorten={'HELD BACK'})}\n{len(held)} held back by maintenance windows "
        text += "or CloudWatch mute rules (paged when their window ends if still in ALARM)"
    if recorded:
        rows = [_recorded_row(item, target.now) for item in recorded]
        headers = ["RECORDED", "SINCE", "ROUTE", "STATE", "WHY NOT PAGED", "DEDUP KEY"]
        text += f"\n\n{render_table(headers, rows, shorten={'RECORDED'})}\n{len(recorded)} recorded without a page "
        text += "(multi_time_series_pages: the other level of the alarm pages)"
    if firing:
        rows = [_still_firing_row(item, target.now) for item in firing]
        headers = ["STILL FIRING", "SINCE", "ROUTE", "STATE", "RESOLVED", "PAGERDUTY", "DEDUP KEY"]
        text += f"\n\n{render_table(headers, rows, shorten={'STILL FIRING'})}\n{len(firing)} still firing "
        text += "after a resolve by a person: not paged again until the alarm's OK or a new episode"
    return text


def _still_firing_row(item: StateItem, now: datetime) -> list[object]:
    return [
        item.alarm_name or item.summary,
        age(item.state_changed_at, now),
        item.route,
        item.alarm_state.value,
        f"still firing after resolve by {item.last_actor or 'a person'}",
        item.incident_url or "",
        item.dedup_key,
    ]


def _recorded_row(item: StateItem, now: datetime) -> list[object]:
    level = f"contributor {item.contributor_id}" if item.contributor_id else "alarm level"
    return [
        item.alarm_name or item.summary,
        age(item.state_changed_at, now),
        item.route,
        item.alarm_state.value,
        f"{level} of a multi-time-series alarm",
        item.dedup_key,
    ]


def _held_row(item: StateItem, now: datetime) -> list[object]:
    held_by = [part for part in (item.maintenance_window_id, item.mute_rule_arn) if part]
    until = ""
    if item.mute_rule_arn:
        start = _iso(item.mute_starts_at) if item.mute_starts_at else "?"
        until = f"{start} .. {_iso(item.mute_ends_at) if item.mute_ends_at else '?'}"
    return [
        item.alarm_name or item.summary,
        age(item.state_changed_at, now),
        item.route,
        item.severity.value if item.severity else "",
        " + ".join(held_by),
        until,
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
    incident = incidents.get_by_dedup_key(dedup_key)
    if incident is None:
        raise OperatorError(
            f"PagerDuty has no incident with dedup key {dedup_key!r}: check `alertbridge active`"
        )
    if command == "ack":
        incident = incidents.acknowledge(incident.id) or incident
    elif command == "resolve":
        incident = incidents.resolve(incident.id, resolution=message) or incident
        _record_resolve(target, dedup_key, incidents.from_email)
    if message and command in ("ack", "note"):
        incidents.note(incident.id, message)
    rows = [[incident.id, incident.number or "", incident.status, incident.html_url or "", dedup_key]]
    return render_table(["INCIDENT", "NUMBER", "STATUS", "LINK", "DEDUP KEY"], rows)  # never shortened


def _record_resolve(target: Target, dedup_key: str, actor: str) -> None:
    """A person resolved it: the key closes, and later ALARMs of this episode do not re-page."""
    store = target.state_store()
    item = store.get(dedup_key)
    closed = (
        None
        if item is None
        else resolved_by_person(item, actor=actor, now=target.now, ttl_days=_ttl_days(target))
    )
    if item is not None and closed is not None:
        store.save(closed, expected_version=item.version)  # a lost race: the webhook mirror records it anyway


def _ttl_days(target: Target) -> int:
    """The deployed configuration's `closed_item_ttl_days`, or its default when it cannot be read."""
    try:
        return target.config().closed_item_ttl_days
    except (OperatorError, ValueError):
        return int(BridgeConfig.model_fields["closed_item_ttl_days"].default)


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
    force: bool = False,
    cloudwatch_alarms: tuple[str, ...] = (),
) -> str:
    """A window over what the options name. Refuses what would silence more than meant: a window over 30
    days (unless forced), a route the deployed configuration lacks, an account that is not an account id,
    a window that is over already."""
    begins = start or target.now
    if cloudwatch_alarms:
        return _cloudwatch_mute(target, duration, reason, begins, cloudwatch_alarms)
    _check_window(target, duration, reason, begins, route, account, force)
    window = MaintenanceWindow(
        id=f"mw-{begins.astimezone(UTC).strftime('%Y%m%dT%H%M')}-{uuid.uuid4().hex[:6]}",
        start=begins,
        end=begins + duration,
        reason=reason.strip(),
        route=route,
        alarm_name_prefix=alarm_prefix or None,
        account=account,
        created_by=_who(),
    )
    target.maintenance_store().put(window)
    return (
        _windows_table([window], target.now)
        + "\nTriggers matching it are recorded, not sent; resolves still go out."
    )


def _check_window(
    target: Target,
    duration: timedelta,
    reason: str,
    begins: datetime,
    route: str | None,
    account: str | None,
    force: bool,
) -> None:
    if not reason.strip():
        raise OperatorError("--reason must not be blank: say why alarms are held back")
    if len(reason) > MAX_REASON_CHARS:
        raise OperatorError(f"--reason is {len(reason)} characters; at most {MAX_REASON_CHARS} are kept")
    if duration > MAX_WINDOW and not force:
        raise OperatorError(
            f"--duration {_days(duration)}: a window may last at most {_days(MAX_WINDOW)}; add --force "
            "if you mean a longer one"
        )
    if duration > MAX_FORCED_WINDOW:
        raise OperatorError(f"--duration {_days(duration)} is too long: a window may last at most "
                            f"{_days(MAX_FORCED_WINDOW)}, even with --force")  # fmt: skip
    try:
        ends = begins + duration
    except OverflowError:
        raise OperatorError("--start plus --duration is past the year 9999: choose an earlier end") from None
    if ends <= target.now:
        raise OperatorError(f"that window ended at {_iso(ends)}, before now ({_iso(target.now)}): it is "
                            "already over; check --start and --duration")  # fmt: skip
    if account is not None and not ACCOUNT_ID.match(account):
        raise OperatorError(f"--account {account!r} is not a 12-digit AWS account id")
    if route is not None:
        _check_route(target, route, force)


def _check_route(target: Target, route: str, force: bool) -> None:
    try:
        routes = sorted(target.config().routes)
    except OperatorError as exc:
        if force:
            return
        raise OperatorError(f"cannot check --route against the deployed configuration: {exc} (or add "
                            "--force to start the window unchecked)") from None  # fmt: skip
    if route not in routes:
        raise OperatorError(f"{route!r} is not a configured route; the deployed ones are {routes}")


def _days(duration: timedelta) -> str:
    return f"{duration.days} days" if duration.days else f"{int(duration.total_seconds())} s"


MUTE_MIN = timedelta(minutes=1)  # CloudWatch mute rules last PT1M..P15D and name at most 100 alarms
MUTE_MAX = timedelta(days=15)
MUTE_MAX_ALARMS = 100


def _cloudwatch_mute(
    target: Target, duration: timedelta, reason: str, begins: datetime, alarms: tuple[str, ...]
) -> str:
    """`maintenance start --cloudwatch ALARM...`: a CloudWatch alarm mute rule, so CloudWatch itself mutes
    the alarms' actions (every subscriber, not only this bridge)."""
    from alertbridge.ports import MuteRule

    if not reason.strip():
        raise OperatorError("--reason must not be blank: say why alarms are muted")
    if not MUTE_MIN <= duration <= MUTE_MAX:
        raise OperatorError(f"--duration {_days(duration)}: a CloudWatch mute rule lasts 1 minute to 15 days")
    names = tuple(dict.fromkeys(name.strip() for name in alarms if name.strip()))
    if not names or len(names) > MUTE_MAX_ALARMS:
        raise OperatorError(f"--cloudwatch names 1 to {MUTE_MAX_ALARMS} alarms; got {len(names)}")
    if begins + duration <= target.now:
        raise OperatorError("that mute would already be over; check --start and --duration")
    at = begins.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    rule = MuteRule(
        arn="",
        name=f"alertbridge-{begins.astimezone(UTC).strftime('%Y%m%dT%H%M')}-{uuid.uuid4().hex[:6]}",
        schedule=f"at({at})",
        duration=_iso_duration(duration),
        alarm_names=names,
        description=reason.strip()[:MAX_REASON_CHARS],
    )
    stored = target.mute_rules().put_rule(rule)
    return (
        _mute_table([stored])
        + "\nCloudWatch mutes these alarms' actions (SNS, Lambda, EventBridge still sees the changes); the bridge"
        + " records muted triggers and pages those still in ALARM when the mute ends."
    )


def _iso_duration(duration: timedelta) -> str:
    """ISO 8601 in whole minutes: `PT2H`, `P1DT30M`."""
    days, rest = divmod(int(duration.total_seconds() // 60), 24 * 60)
    hours, minutes = divmod(rest, 60)
    time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def maintenance_list(target: Target) -> str:
    """The bridge's maintenance windows, then the CloudWatch mute rules covering alarms the bridge has seen
    (open, held back or recorded keys)."""
    windows = target.maintenance_store().list_all()
    text = _windows_table(windows, target.now) if windows else "No maintenance windows."
    return text + "\n\n" + _mute_rules_section(target)


def _mute_rules_section(target: Target) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    store = target.state_store()
    seen = {
        item.alarm_name
        for listing in (store.list_open(), store.list_suppressed(), store.list_recorded())
        for item in listing
        if item.alarm_name
    }
    try:
        rules = target.mute_rules().list_rules()
    except (ClientError, BotoCoreError, NotImplementedError) as exc:  # moto implements no mute rules
        reason = "not implemented here" if isinstance(exc, NotImplementedError) else _aws_reason(exc)
        return f"CloudWatch mute rules could not be listed ({reason}): needs cloudwatch:ListAlarmMuteRules"
    covering = [rule for rule in rules if seen & set(rule.alarm_names)]
    if not covering:
        return "No CloudWatch mute rules cover alarms the bridge has seen."
    return _mute_table(covering, seen)


def _mute_table(rules: list[Any], seen: set[str] | None = None) -> str:
    rows = [
        [
            rule.name,
            rule.status or "",
            rule.schedule or "",
            rule.duration or "",
            ", ".join(name for name in rule.alarm_names if seen is None or name in seen),
            rule.description or "",
            rule.arn,
        ]
        for rule in rules
    ]
    headers = ["MUTE RULE", "STATUS", "SCHEDULE", "DURATION", "ALARMS", "DESCRIPTION", "ARN"]
    return render_table(headers, rows, shorten={"DESCRIPTION"})


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
    return render_table(["ID", "STATUS", "START", "END", "SCOPE", "REASON", "BY"], rows, shorten={"REASON"})


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


@dataclass(frozen=True)
class QueuePair:
    """A delivery queue and the dead-letter queue its RedrivePolicy names."""

    name: str  # the delivery queue's name
    output_key: str  # the stack output that holds its URL
    queue_url: str
    dlq_url: str

    @property
    def dlq_name(self) -> str:
        return self.dlq_url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")


def queue_pairs(target: Target) -> list[QueuePair]:
    """Every delivery queue in the stack outputs (`...QueueUrl`) with a dead-letter queue, ingest first."""
    sqs = target.aws.client("sqs")
    pairs = []
    for key, url in target.outputs.values.items():
        if not key.endswith("QueueUrl") or "DeadLetter" in key or not url:
            continue
        dlq = _dead_letter_url(sqs, url) or (
            target.outputs.values.get("DeadLetterQueueUrl") if key == "QueueUrl" else None
        )
        if dlq:
            pairs.append(QueuePair(url.rstrip("/").rsplit("/", 1)[-1], key, url, dlq))
    if not pairs:
        raise OperatorError(
            f"{target.outputs.source} names no queue with a dead-letter queue: deploy the current stack"
        )
    return sorted(pairs, key=lambda pair: (pair.output_key != "QueueUrl", pair.name))


def _dead_letter_url(sqs: Any, queue_url: str) -> str | None:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    policy = json.loads(attributes.get("RedrivePolicy") or "{}")
    arn = str(policy.get("deadLetterTargetArn", ""))
    parts = arn.split(":")
    if len(parts) != 6:
        return None
    return str(sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"])


def redrive(target: Target, *, max_messages: int | None = None, queue: str | None = None) -> str:
    """Each chosen pair's dead letters back to its queue. With --max-messages, or where SQS's move task is
    unavailable, by receive/send/delete (keeping attributes, and FIFO group and deduplication ids)."""
    if max_messages is not None and max_messages < 1:
        raise OperatorError("--max-messages must be at least 1")
    pairs = _chosen(queue_pairs(target), queue)
    sqs = target.aws.client("sqs")
    if all(_queue_depth(sqs, pair.dlq_url) == 0 for pair in pairs):
        names = ", ".join(pair.dlq_name for pair in pairs)
        return f"The dead-letter queue is empty: nothing to redrive ({names}: 0 remain)."
    rows, notes = [], []
    for pair in pairs:
        method, moved, task, note = redrive_pair(sqs, pair, max_messages=max_messages)
        rows.append([pair.dlq_name, pair.name, method, moved, _queue_depth(sqs, pair.dlq_url), task])
        notes += [note] if note and note not in notes else []
    table = render_table(["DEAD-LETTER QUEUE", "TO", "METHOD", "MOVED", "LEFT", "TASK"], rows)
    left = [f"{row[4]} remain in {row[0]}" for row in rows]
    return "\n".join([table, *notes, "; ".join(left) + "."])


def _chosen(pairs: list[QueuePair], queue: str | None) -> list[QueuePair]:
    if queue is None:
        return pairs
    chosen = [pair for pair in pairs if queue in (pair.name, pair.output_key, pair.dlq_name)]
    if not chosen:
        names = ", ".join(pair.name for pair in pairs)
        raise OperatorError(
            f"no queue {queue!r} with a dead-letter queue in the stack; choose one of {names}"
        )
    return chosen


def redrive_pair(sqs: Any, pair: QueuePair, *, max_messages: int | None = None) -> tuple[str, int, str, str]:
    """(method, messages moved or being moved, task handle or "", a note on how)."""
    waiting = _queue_depth(sqs, pair.dlq_url)
    if waiting == 0:
        return "-", 0, "", ""
    if max_messages is None:
        task, why = _start_move_task(sqs, queue_arn(sqs, pair.dlq_url), queue_arn(sqs, pair.queue_url))
        if task is not None:
            return "StartMessageMoveTask", waiting, task, "SQS moves them in the background."
        note = f"SQS StartMessageMoveTask is unavailable here ({why}): moved by receive/send/delete instead."
    else:
        note = f"--max-messages {max_messages}: moved by receive/send/delete."
    moved = _move_by_hand(sqs, pair, max_messages if max_messages is not None else 10_000)
    return "receive/send/delete", moved, "", note


def redrive_queue(
    sqs: Any, dlq_url: str, queue_url: str, *, max_messages: int = 10_000
) -> tuple[str, int, str]:
    """Dead-letter queue back to a queue (kept for callers of the earlier signature): (method, messages,
    task handle or "")."""
    pair = QueuePair(queue_url.rsplit("/", 1)[-1], "QueueUrl", queue_url, dlq_url)
    task, _ = _start_move_task(sqs, queue_arn(sqs, dlq_url), queue_arn(sqs, queue_url))
    if task is not None:
        return "StartMessageMoveTask", _queue_depth(sqs, dlq_url), task
    return "receive/send/delete", _move_by_hand(sqs, pair, max_messages), ""


def queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _start_move_task(sqs: Any, source_arn: str, destination_arn: str) -> tuple[str | None, str]:
    """SQS's own redrive: (task handle, ""), or (None, why) when the endpoint does not offer it (moto
    in-process raises NotImplementedError, moto server answers HTML 500)."""
    from botocore.exceptions import ClientError

    try:
        answer = sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=destination_arn)
    except NotImplementedError:
        return None, "not implemented by this endpoint"
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in MOVE_UNSUPPORTED or status >= 500 or "not been implemented" in str(error):
            return None, f"the endpoint answered {status or code}"
        raise
    return str(answer.get("TaskHandle", "")), ""


def _move_by_hand(sqs: Any, pair: QueuePair, max_messages: int) -> int:
    """At most `max_messages`, checked per message; each is sent before it is deleted from the DLQ."""
    moved = 0
    while moved < max_messages:
        batch = sqs.receive_message(
            QueueUrl=pair.dlq_url, MaxNumberOfMessages=min(10, max_messages - moved), WaitTimeSeconds=0,
            MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"],
        )  # fmt: skip
        messages = batch.get("Messages", [])
        if not messages:
            return moved
        for message in messages[: max_messages - moved]:
            sqs.send_message(QueueUrl=pair.queue_url, **_resend(message, fifo=pair.fifo))
            sqs.delete_message(QueueUrl=pair.dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


def _resend(message: dict[str, Any], *, fifo: bool) -> dict[str, Any]:
    request: dict[str, Any] = {"MessageBody": message["Body"]}
    if message.get("MessageAttributes"):
        request["MessageAttributes"] = message["MessageAttributes"]
    if fifo:
        attributes = message.get("Attributes", {})
        request["MessageGroupId"] = attributes.get("MessageGroupId", "redrive")
        if attributes.get("MessageDeduplicationId"):
            request["MessageDeduplicationId"] = attributes["MessageDeduplicationId"]
    return request


# --- send-test -------------------------------------------------------------------------------------------


def send_test(target: Target, route: str, *, secret_field: str | None = None, resolve: bool = True) -> str:
    """A test incident on the route's service, then its resolve: proves the route's key and service end to end."""
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


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _aws_reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    return _first_line(exc)
