"""`alertbridge doctor`: checks a deployed bridge and says what to fix, one row per check.

A check that cannot run (a secret without a value, a configuration it cannot read, an AWS call refused)
is a FAIL row with the reason and the fix, never a silent pass. Exit code: 0 when no check failed
(warnings are listed), 1 when one failed or could not run; the CLI exits 2 when doctor cannot start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alertbridge.adapters.secrets import listed_routing_keys
from alertbridge.errors import AlertBridgeError, BadToken, Forbidden, NotFound, UnknownRequester
from alertbridge.logic.dedup import routing_key_fingerprint
from alertbridge.models.config import BridgeConfig
from alertbridge.models.pagerduty import ROUTING_KEY_CHARS
from alertbridge.operator.commands import Target, queue_arn
from alertbridge.operator.stack import OperatorError
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
    state = _Doctor(target, config_file)
    for name, step in _STEPS:
        checks.extend(_safely(name, step, state))
    table = render_table(
        ["CHECK", "STATUS", "DETAIL / WHAT TO FIX"], [[c.name, c.status, c.detail] for c in checks]
    )
    failed = sum(check.status == FAIL for check in checks)
    warned = sum(check.status == WARN for check in checks)
    warnings = f", {warned} warning(s)" if warned else ""
    summary = f"\n{failed} check(s) failed{warnings}" if failed else f"\nAll checks passed{warnings}"
    return table + summary, 1 if failed else 0


class _Doctor:
    """What the checks share: the target, and the configuration once read (or why it could not be)."""

    def __init__(self, target: Target, config_file: str | None) -> None:
        self.target = target
        self.config_file = config_file
        self._config: BridgeConfig | None = None
        self.config_error: str | None = None
        self._read = False

    def config(self) -> BridgeConfig | None:
        if not self._read:
            self._read = True
            try:
                self._config = self.target.config(self.config_file)
            except OperatorError as exc:
                self.config_error = str(exc)
        return self._config


def _safely(name: str, step: Callable[[_Doctor], list[Check]], state: _Doctor) -> list[Check]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return step(state)
    except AlertBridgeError as exc:
        return [Check(name, FAIL, str(exc))]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        detail = f"AWS refused {exc.operation_name}: {error.get('Code')}: {error.get('Message')}"
        return [Check(name, FAIL, f"{detail}: check that your identity may call it")]
    except BotoCoreError as exc:
        return [Check(name, FAIL, f"could not run: {exc}")]


# --- configuration ------------------------------------------------------------------------------------


def _check_configuration(state: _Doctor) -> list[Check]:
    config = state.config()
    if config is None:
        return [
            Check("configuration", FAIL, f"{state.config_error}; the routes cannot be checked without it")
        ]
    where = f"--config {state.config_file}" if state.config_file else "the delivery function's environment"
    return [
        Check(
            "configuration", OK, f"{len(config.routes)} route(s), {len(config.rules)} rule(s), from {where}"
        )
    ]


# --- routing keys ----------------------------------------------------------------------------------------


def _check_routing_keys(state: _Doctor) -> list[Check]:
    target = state.target
    secret = target.secret("RoutingKeysSecretArn")
    config = state.config()
    if config is not None:
        fields = {route: config.secret_field(route) for route in config.routes}
    else:  # the configuration row says why it is unknown: judge every key the secret holds
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


def _check_open_incidents(state: _Doctor) -> list[Check]:
    """Open keys whose route the configuration no longer has: the bridge still resolves them (it finds
    the key that opened them by fingerprint), but new alarms of that kind go elsewhere."""
    config = state.config()
    if config is None:
        return []
    orphans: dict[str, list[str]] = {}
    for item in state.target.state_store().list_open():
        if item.route not in config.routes:
            orphans.setdefault(item.route, []).append(item.dedup_key)
    if not orphans:
        return [Check("open incidents", OK, "every open incident's route is configured")]
    listed = "; ".join(f"route {route!r}: {', '.join(keys)}" for route, keys in sorted(orphans.items()))
    detail = (
        f"{sum(map(len, orphans.values()))} open incident(s) on routes no longer configured ({listed}). "
        "They can still be resolved (the bridge finds the routing key that opened them by fingerprint, "
        "while the secret keeps it); restore the route or resolve them with `alertbridge resolve KEY`"
    )
    return [Check("open incidents", WARN, detail)]


# --- webhook secret and REST ----------------------------------------------------------------------------


def _check_webhook_secret(state: _Doctor) -> list[Check]:
    credentials = state.target.credentials()
    if not credentials.webhook_secrets:
        detail = "no webhook_secrets: copy the signing secret of the PagerDuty webhook subscription into it"
        return [Check("webhook secret", FAIL, detail)]
    return [Check("webhook secret", OK, f"{len(credentials.webhook_secrets)} signing secret(s) set")]


def _check_rest_api(state: _Doctor) -> list[Check]:
    target = state.target
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


def _check_topic_subscription(state: _Doctor) -> list[Check]:
    """The bridge's own topic, and every other topic the ingest queue is subscribed to in this region
    (`subscribe_topic_arns`, possibly in another account, whose owner's policy must allow the subscription)."""
    target = state.target
    sns, sqs = target.aws.client("sns"), target.aws.client("sqs")
    topic = target.outputs.get("AlarmTopicArn")
    queue_url = target.outputs.get("QueueUrl")
    queue = queue_arn(sqs, queue_url)
    subscriptions = _subscriptions(sns, topic)
    if any(s.get("Protocol") == "sqs" and s.get("Endpoint") == queue for s in subscriptions):
        checks = [Check("alarm topic", OK, f"{_name(topic)} is subscribed to {_name(queue)}")]
    else:
        detail = f"{_name(topic)} has no SQS subscription to {_name(queue)}: redeploy the stack"
        checks = [Check("alarm topic", FAIL, detail)]
    for subscription in _queue_subscriptions(sns, queue):
        other = str(subscription.get("TopicArn", ""))
        if other == topic:
            continue
        checks.append(_subscribed_topic_check(sns, other, subscription))
    return checks


def _queue_subscriptions(sns: Any, queue: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in sns.get_paginator("list_subscriptions").paginate():
        found.extend(
            s
            for s in page.get("Subscriptions", [])
            if s.get("Protocol") == "sqs" and s.get("Endpoint") == queue
        )
    return found


def _subscribed_topic_check(sns: Any, topic: str, subscription: dict[str, Any]) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    label = f"subscribed topic {_name(topic)}"
    fix = "the topic owner's policy must allow sns:Subscribe for this account's ingest queue (README)"
    arn = str(subscription.get("SubscriptionArn", ""))
    if not arn.startswith("arn:"):
        return Check(label, FAIL, f"the subscription is {arn or 'unknown'}: {fix}")
    try:
        attributes = sns.get_subscription_attributes(SubscriptionArn=arn).get("Attributes", {})
    except (ClientError, BotoCoreError) as exc:
        return Check(label, WARN, f"cannot read the subscription ({exc}): check it in the topic's account")
    if attributes.get("PendingConfirmation") == "true":
        return Check(label, FAIL, f"the subscription is pending confirmation: {fix}")
    return Check(label, OK, f"delivers to the ingest queue ({topic})")


def _subscriptions(sns: Any, topic: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
        found.extend(page.get("Subscriptions", []))
    return found


def _check_alarms(state: _Doctor) -> list[Check]:
    target = state.target
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


# (name of the row a check that cannot run gets, the check): the names its own rows use.
_STEPS: tuple[tuple[str, Callable[[_Doctor], list[Check]]], ...] = (
    ("configuration", _check_configuration),
    ("routing keys", _check_routing_keys),
    ("open incidents", _check_open_incidents),
    ("webhook secret", _check_webhook_secret),
    ("REST token", _check_rest_api),
    ("alarm topic", _check_topic_subscription),
    ("alarms", _check_alarms),
)
