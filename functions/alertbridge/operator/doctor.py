"""`alertbridge doctor`: checks a deployed bridge and says what to fix, one row per check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alertbridge.adapters.secrets import listed_routing_keys
from alertbridge.errors import AlertBridgeError, BadToken, Forbidden, NotFound, UnknownRequester
from alertbridge.logic.lifecycle import routing_key_fingerprint
from alertbridge.models.config import BridgeConfig
from alertbridge.models.pagerduty import ROUTING_KEY_CHARS
from alertbridge.operator.commands import Target, queue_arn
from alertbridge.operator.table import render_table

OK, WARN, FAIL = "ok", "warn", "FAIL"
# An incident id that cannot exist: acknowledging it checks token, From e-mail and permission, changes nothing.
PROBE_INCIDENT_ID = "PALERTBRIDGEDOCTOR0"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str


def doctor(target: Target, config_file: str | None = None) -> tuple[str, int]:
    checks: list[Check] = []
    for step in _STEPS:
        checks.extend(_safely(step, target, config_file))
    table = render_table(
        ["CHECK", "STATUS", "DETAIL / WHAT TO FIX"], [[c.name, c.status, c.detail] for c in checks]
    )
    failed = sum(check.status == FAIL for check in checks)
    summary = f"\n{failed} check(s) failed" if failed else "\nAll checks passed"
    return table + summary, 1 if failed else 0


def _safely(
    step: Callable[[Target, str | None], list[Check]], target: Target, config_file: str | None
) -> list[Check]:
    try:
        return step(target, config_file)
    except AlertBridgeError as exc:
        return [Check(step.__name__.removeprefix("_check_").replace("_", " "), FAIL, str(exc))]
    except Exception as exc:
        name = step.__name__.removeprefix("_check_").replace("_", " ")
        return [Check(name, FAIL, f"{type(exc).__name__}: {exc}")]


# --- routing keys ----------------------------------------------------------------------------------------


def _check_routing_keys(target: Target, config_file: str | None) -> list[Check]:
    secret = target.secret("RoutingKeysSecretArn")
    fields = _route_fields(target, config_file)
    if fields is None:  # no configuration found: judge every key the secret holds
        fields = {name: name for name in secret}
        if not fields:
            return [Check("routing keys", FAIL, "the routing-keys secret is empty: add {route: key} pairs")]
    opened_by: dict[str, int] | None = None  # routing-key fingerprint -> open incidents, read when needed
    checks = []
    for route, field in sorted(fields.items()):
        keys = listed_routing_keys(secret.get(field))
        if keys is not None and len(keys) > 1:
            opened_by = _open_incidents_by_key(target) if opened_by is None else opened_by
            checks.append(_rotation_check(route, field, keys[1:], opened_by))
        else:
            checks.append(_routing_key_check(route, field, secret.get(field)))
    return checks


def _routing_key_check(route: str, field: str, value: object) -> Check:
    name = f"routing key {route}"
    if value is None:
        return Check(name, FAIL, f"missing: add {field!r} with the service integration's key to the secret")
    if listed_routing_keys(value) is None:
        return Check(
            name,
            FAIL,
            f"{field!r} is not a key of {ROUTING_KEY_CHARS} letters/digits (or a list of them, current "
            "first): copy the Events v2 key",
        )
    return Check(name, OK, f"present and well-formed under {field!r}")


def _rotation_check(route: str, field: str, retired: list[str], opened_by: dict[str, int]) -> Check:
    still_open = sum(opened_by.get(routing_key_fingerprint(key), 0) for key in retired)
    rotating = f"rotating under {field!r}: current key and {len(retired)} retired"
    if still_open:
        return Check(
            f"routing key {route}", OK, f"{rotating}; {still_open} open incident(s) use them: keep them"
        )
    return Check(f"routing key {route}", OK, f"{rotating}; no open incident uses them: remove them")


def _open_incidents_by_key(target: Target) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in target.state_store().list_open():
        counts[item.routing_key_id] = counts.get(item.routing_key_id, 0) + 1
    return counts


def _route_fields(target: Target, config_file: str | None) -> dict[str, str] | None:
    """route -> secret field, from --config FILE or the delivery function's configuration."""
    text = Path(config_file).read_text(encoding="utf-8") if config_file else _deployed_config(target)
    if text is None:
        return None
    config = BridgeConfig.from_json_text(text)
    return {route: config.secret_field(route) for route in config.routes}


def _deployed_config(target: Target) -> str | None:
    name = target.outputs.values.get("DeliveryFunctionName")
    if not name:
        return None
    try:
        found = target.aws.client("lambda").get_function_configuration(FunctionName=name)
    except Exception:
        return None
    text = found.get("Environment", {}).get("Variables", {}).get("ALERTBRIDGE_CONFIG")
    return str(text) if text else "{}"


# --- webhook secret and REST ----------------------------------------------------------------------------


def _check_webhook_secret(target: Target, config_file: str | None) -> list[Check]:
    credentials = target.credentials()
    if not credentials.webhook_secrets:
        detail = "no webhook_secrets: copy the signing secret of the PagerDuty webhook subscription into it"
        return [Check("webhook secret", FAIL, detail)]
    return [Check("webhook secret", OK, f"{len(credentials.webhook_secrets)} signing secret(s) set")]


def _check_rest_api(target: Target, config_file: str | None) -> list[Check]:
    credentials = target.credentials()
    if not credentials.rest_token or not credentials.from_email:
        detail = (
            "no rest_token/from_email in the webhook secret: two-way sync is off (PagerDuty's webhooks "
            "leave incident_key null on incidents opened through the Events API, so the webhook function "
            "cannot map them to a dedup key without GET /incidents/{id}/alerts; it verifies and counts "
            "them and answers 503), and so are notes, dropped-resolve detection and ack/resolve/note "
            "commands"
        )
        return [Check("REST token", WARN, detail)]
    return [_probe(target)]


def _probe(target: Target) -> Check:
    incidents = target.incidents()
    try:
        incidents.acknowledge(PROBE_INCIDENT_ID)
    except NotFound:
        return Check(
            "REST token",
            OK,
            f"accepted, From {incidents.from_email!r} is a PagerDuty user who may write; two-way sync "
            "can map webhook deliveries to dedup keys",
        )
    except (BadToken, UnknownRequester, Forbidden) as exc:
        return Check("REST token", FAIL, str(exc))
    return Check("REST token", WARN, "the probe incident unexpectedly exists")


# --- topics and alarms -----------------------------------------------------------------------------------


def _check_topic_subscription(target: Target, config_file: str | None) -> list[Check]:
    sns, sqs = target.aws.client("sns"), target.aws.client("sqs")
    topic = target.outputs.get("AlarmTopicArn")
    queue_url = target.outputs.get("QueueUrl")
    queue = queue_arn(sqs, queue_url)
    subscriptions = _subscriptions(sns, topic)
    if any(s.get("Protocol") == "sqs" and s.get("Endpoint") == queue for s in subscriptions):
        return [Check("alarm topic", OK, f"{_name(topic)} is subscribed to {_name(queue)}")]
    detail = f"{_name(topic)} has no SQS subscription to {_name(queue)}: redeploy the stack"
    return [Check("alarm topic", FAIL, detail)]


def _subscriptions(sns: Any, topic: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
        found.extend(page.get("Subscriptions", []))
    return found


def _check_alarms(target: Target, config_file: str | None) -> list[Check]:
    from alertbridge.adapters.cloudwatch import CloudWatchAlarms

    topic = target.outputs.get("AlarmTopicArn")
    alarms = [
        alarm
        for alarm in CloudWatchAlarms(target.aws.client("cloudwatch")).list_alarms()
        if alarm.notifies(topic)
    ]
    if not alarms:
        return [Check("alarms", WARN, f"no alarm in this region notifies {_name(topic)}: wire alarms to it")]
    missing = [alarm for alarm in alarms if alarm.lacks_ok_action_for(topic)]
    checks = [Check("alarms", OK, f"{len(alarms)} alarm(s) notify the topic")]
    detail = "no OK action to the topic: its incidents never close; add one"
    checks += [Check(f"alarm {alarm.name}", WARN, detail) for alarm in missing]
    checks += [
        Check(f"alarm {a.name}", WARN, "actions are disabled") for a in alarms if not a.actions_enabled
    ]
    return checks


def _name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


_STEPS: tuple[Callable[[Target, str | None], list[Check]], ...] = (
    _check_routing_keys,
    _check_webhook_secret,
    _check_rest_api,
    _check_topic_subscription,
    _check_alarms,
)
