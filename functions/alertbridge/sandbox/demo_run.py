"""One local run of the bridge: moto resources, the emulator, the intake and delivery handlers behind local
SQS event sources, and what they all say afterwards. Shared by `alertbridge demo` and the integration
tests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from alertbridge.logic.dedup import CONTRIBUTOR_MARK
from alertbridge.logic.parsers import parse_sqs_body
from alertbridge.logic.reconcile import CLOUDWATCH_SOURCES
from alertbridge.models.alert import Alert
from alertbridge.models.config import BridgeConfig
from alertbridge.sandbox.bridge import LOCAL_WEBHOOK_SECRET, LocalBridge, local_routing_key
from alertbridge.sandbox.cloudwatch_stand_in import CloudWatchStandIn
from alertbridge.sandbox.emulator import PagerDutyEmulator
from alertbridge.sandbox.scenario import Step
from alertbridge.services.pipeline import Outcome
from alertbridge.wiring import delivery as delivery_wiring

REDACTED = "<redacted>"
ACKED_ALARM = "prod-orders-queue-age"  # open after the built-in scenario: a responder acknowledges it
ORPHANED_ALARM = "nightly-batch-failures"
SNS_ENVELOPE_KEYS = {
    "Type": "Notification",
    "SignatureVersion": "1",
    "SigningCertURL": "https://sns",
    "UnsubscribeURL": "",
}


class DemoRun:
    def __init__(self, bridge: LocalBridge, emulator: PagerDutyEmulator) -> None:
        from alertbridge.observability import metrics_counter

        self.bridge = bridge
        self.emulator = emulator
        self.source = bridge.stages()
        self.started = time.monotonic()
        self.outcomes: list[tuple[float, Outcome]] = []
        self.expected: dict[str, tuple[str, bool]] = {}  # dedup key -> (label, should be open)
        self.expected_routes: dict[str, str] = {}  # dedup key -> route whose service holds the incident
        self.expected_pd_status: dict[str, str] = {}  # dedup key -> PagerDuty status the table must mirror
        self.webhook_lines: list[str] = []
        self.alarm_times: dict[str, datetime] = {}  # alarm name -> its newest state change published
        self.batches = 0
        self.redelivered = 0
        # DescribeAlarmContributors and the mute rule APIs, which moto does not implement
        self.cloudwatch = CloudWatchStandIn().install()
        self.contributors_in_alarm: dict[str, dict[str, dict[str, str]]] = {}
        delivery_wiring.delivery_pipeline(metrics_counter).observers.append(self._observe)

    @classmethod
    @contextmanager
    def start(
        cls, config: BridgeConfig, *, rate_limit: int = 120, window: float = 60.0, **env: str
    ) -> Iterator[DemoRun]:
        with PagerDutyEmulator(rate_limit=rate_limit, window_seconds=window) as emulator:
            bridge = LocalBridge.create(config, emulator.url)
            bridge.activate(**env)
            yield cls(bridge, emulator)

    def _observe(self, outcome: Outcome) -> None:
        self.outcomes.append((time.monotonic() - self.started, outcome))

    def play(self, steps: Sequence[Step], *, echo: bool = False) -> None:
        """Publish each step to the alarm topic as CloudWatch would, then let the event source drain."""
        seen = len(self.outcomes)
        for step in steps:
            alert = self._alert(step)
            self._keep_cloudwatch_in_step(alert, step.alarm_tags)
            if step.via == "eventbridge":
                self.bridge.send_to_queue(step.message)  # an EventBridge rule's SQS target
            else:
                self.bridge.publish(step.message, subject=step.subject)
            if step.expect_open is not None:
                self.expected[alert.dedup_key] = (step.final_for or step.label, step.expect_open)
            for key in step.closes:
                self.expected[key] = (f"{step.final_for or step.label}: {key}", False)
            if step.expect_route is not None:
                self.expected_routes[alert.dedup_key] = step.expect_route
        self.drain()
        if echo:
            for offset, outcome in self.outcomes[seen:]:
                print(timeline_line(offset, outcome))
        why = next((step.reconcile_after for step in steps if step.reconcile_after), None)
        if why is not None:
            report = self.bridge.run_reconciler()
            seen = len(self.outcomes)
            self.drain()  # the reconciler hands its observations to the delivery lane
            if echo:
                done = ", ".join(f"{kind} x{count}" for kind, count in report["done"].items()) or "nothing"
                print(f"  +{time.monotonic() - self.started:6.2f}s  reconciler run ({why}): {done}")
                for offset, outcome in self.outcomes[seen:]:
                    print(timeline_line(offset, outcome))

    def two_way_sync(self, at: datetime, *, echo: bool = False) -> None:
        """A responder's acknowledge reaches the bridge as a signed webhook (a real HTTP server running the
        webhook handler), and an incident whose OK notification was lost is closed by a reconciler run."""
        from alertbridge.sandbox.scenario import Metric, alarm_arn, metric_alarm_message
        from alertbridge.sandbox.webhook_server import WebhookServer

        acked = alarm_arn(ACKED_ALARM)
        with WebhookServer(observer=self._observe_webhook) as server:
            # PagerDuty's delivery names the incident only (incident_key null): the webhook function
            # reads the incident's alert key from the REST API, then mirrors the acknowledge.
            hooks = self.emulator.subscribe(server.url, secrets=(LOCAL_WEBHOOK_SECRET,), time_scale=0.001)
            self.emulator.human_acknowledge(acked)
            delivered = hooks.wait_until(lambda attempts: any(a.outcome != "retrying" for a in attempts))
            self.emulator.unsubscribe(hooks)
        if not delivered:
            self.webhook_lines.append("  the acknowledge webhook was not delivered in time")
        self.expected_pd_status[acked] = "acknowledged"
        if echo:
            print("\n".join(self.webhook_lines))

        batch = Metric("AWS/Batch", "FailedJobs", {"JobQueue": "nightly"}, threshold=0)
        fired = metric_alarm_message(
            ORPHANED_ALARM, "ALARM", "OK", at, batch, "Threshold Crossed: 3 failed jobs"
        )
        self.play([Step("nightly batch alarm fires", fired, final_for=ORPHANED_ALARM)], echo=echo)
        self.bridge.set_alarm_state(ORPHANED_ALARM, "OK", "recovered; this OK notification is lost")
        self.expected[alarm_arn(ORPHANED_ALARM)] = (f"{ORPHANED_ALARM} (its OK was lost)", False)
        for why in ("CloudWatch says OK", "PagerDuty shows it closed: the resolve note"):
            report = self.bridge.run_reconciler()
            self.drain()  # the reconciler hands its observations to the delivery lane
            if echo:
                done = ", ".join(f"{kind} x{n}" for kind, n in report["done"].items()) or "nothing to do"
                print(f"  +{time.monotonic() - self.started:6.2f}s  reconciler run ({why}): {done}")
        closed = self.emulator.latest_alert(alarm_arn(ORPHANED_ALARM))
        if echo and closed is not None:
            noted = next((str(note.get("content", "")) for note in closed.notes), "no note")
            print(f"  the closed incident's note: {noted[:100]}")

    def _observe_webhook(self, event: dict[str, Any], response: dict[str, Any]) -> None:
        body = json.loads(event["body"]) if not event.get("isBase64Encoded") else {}
        kind = body.get("event", {}).get("event_type", "?")
        key = (body.get("event", {}).get("data") or {}).get("incident_key") or "null"
        self.webhook_lines.append(
            f"  +{time.monotonic() - self.started:6.2f}s  webhook {kind} (signed, incident_key {key}) "
            f"-> HTTP {response['statusCode']}"
        )

    def drain(self) -> None:
        def count(result: Any) -> None:
            self.batches += 1
            self.redelivered += sum(1 for receive_count in result.receive_counts if receive_count > 1)

        self.source.drain(on_batch=count)

    def replay_event(self, event: Any) -> None:
        """Feed one Lambda event file in the way it would reach the ingest queue in AWS."""
        for kind, payload, subject in lambda_event_deliveries(event):
            if kind == "sns":
                self.bridge.publish(payload, subject=subject)
            else:
                self.bridge.send_to_queue(payload)

    def _alert(self, step: Step) -> Alert:
        if step.via == "eventbridge":
            return parse_sqs_body(step.message, received_at=datetime.now(UTC))
        envelope = {**SNS_ENVELOPE_KEYS, "TopicArn": self.bridge.topic_arn, "Message": step.message}
        if step.subject:
            envelope["Subject"] = step.subject
        return parse_sqs_body(json.dumps(envelope), received_at=datetime.now(UTC))

    def _keep_cloudwatch_in_step(self, alert: Alert, tags: dict[str, str] | None) -> None:
        """The alarm exists in (moto's) CloudWatch in its newest state, as the reconciler will look it up."""
        if alert.source not in CLOUDWATCH_SOURCES or not alert.alarm_name:
            return
        if alert.contributor is not None:  # a contributor's change leaves the alarm's own state alone
            listed = self.contributors_in_alarm.setdefault(alert.alarm_name, {})
            if alert.state.value == "ALARM":
                listed[alert.contributor.id] = dict(alert.contributor.attributes)
            else:
                listed.pop(alert.contributor.id, None)
            self.cloudwatch.set_contributors(alert.alarm_name, listed)
            return
        newest = self.alarm_times.get(alert.alarm_name)
        if newest is None:
            self.bridge.put_alarm(alert.alarm_name, tags=tags)
        if newest is None or alert.state_changed_at >= newest:
            self.alarm_times[alert.alarm_name] = alert.state_changed_at
            self.bridge.set_alarm_state(alert.alarm_name, alert.state.value, alert.reason or "demo")

    def verify(self) -> list[str]:
        """Where PagerDuty's open/closed state disagrees with the alarms' final states."""
        mismatches = []
        for dedup_key, (label, should_be_open) in self.expected.items():
            is_open = self.emulator.open_alert(dedup_key) is not None
            if is_open != should_be_open:
                want, got = ("open", "closed") if should_be_open else ("closed", "open")
                mismatches.append(f"{label}: PagerDuty has it {got}, the alarm says {want}")
        for dedup_key, route in self.expected_routes.items():
            alert = self.emulator.open_alert(dedup_key)
            if alert is not None and alert.routing_key != local_routing_key(route):
                mismatches.append(
                    f"{self.expected[dedup_key][0]}: open on another service than route {route}"
                )
        items = {str(item["dedup_key"]): item for item in self.bridge.state_items()}
        for dedup_key, status in self.expected_pd_status.items():
            mirrored = items.get(dedup_key, {}).get("pd_status")
            if mirrored != status:
                mismatches.append(f"{dedup_key}: the table mirrors PagerDuty status {mirrored}, not {status}")
        if self.bridge.dead_letter_count():
            mismatches.append(
                f"{self.bridge.dead_letter_count()} notification(s) ended in the dead-letter queue"
            )
        return mismatches

    def report(self) -> dict[str, Any]:
        return {
            "sent": [
                redact(request.body) for request in self.emulator.requests if request.path.startswith("/v2/")
            ],
            "incidents": [
                {key: item.get(key) for key in ("dedup_key", "status", "route", "summary")}
                for item in self.bridge.state_items()
            ],
            "dead_letters": self.bridge.dead_letter_count(),
        }

    def print_summary(self, mismatches: list[str], *, elapsed: float) -> None:
        print("\n== PagerDuty requests")
        statuses: dict[str, int] = {}
        for request in self.emulator.requests:
            statuses[f"{request.status} {request.outcome}"] = (
                statuses.get(f"{request.status} {request.outcome}", 0) + 1
            )
        for label, count in sorted(statuses.items()):
            print(f"  {count:4d} x {label}")
        print(
            f"  batches: {self.batches}, redelivered records: {self.redelivered}, "
            f"dead letters: {self.bridge.dead_letter_count()}"
        )
        print("\n== incident table (DynamoDB state)")
        print(incident_table(self.bridge.state_items(), self.emulator))
        verdict = "PagerDuty matches every alarm's final state" if not mismatches else "MISMATCH"
        print(f"\n{verdict} ({len(self.expected)} alarms checked, {elapsed:.1f}s)")
        for line in mismatches:
            print(f"  - {line}")


def timeline_line(offset: float, outcome: Outcome) -> str:
    sent = f"-> {outcome.sent.value} via route {outcome.route}" if outcome.sent else "-> nothing sent"
    extra = f" ({outcome.attempts} attempts)" if outcome.attempts > 1 else ""
    extra += " [minimal fallback body]" if outcome.fallback else ""
    name = outcome.alarm_name
    if CONTRIBUTOR_MARK in outcome.dedup_key:  # one time series of a multi-time-series alarm
        name = f"{name} #{outcome.dedup_key.rsplit(CONTRIBUTOR_MARK, 1)[-1][:6]}"
    name = name if len(name) <= 34 else name[:33] + "…"
    return f"  +{offset:6.2f}s  {name:<34} {outcome.alarm_state:<6} {outcome.reason:<24} {sent}{extra}"


def incident_table(items: list[dict[str, Any]], emulator: PagerDutyEmulator) -> str:
    rows = [("ALARM", "STATUS", "ROUTE", "PAGERDUTY", "SUMMARY")]
    for item in sorted(items, key=lambda i: str(i.get("alarm_name"))):
        in_pd = "closed"
        if emulator.open_alert(str(item["dedup_key"])):
            in_pd = "acknowledged" if item.get("pd_status") == "acknowledged" else "open"  # as mirrored
        summary = str(item.get("summary", ""))
        rows.append(
            (
                str(item.get("alarm_name", ""))[:34],
                str(item["status"]),
                str(item["route"]),
                in_pd,
                summary[:60] + ("…" if len(summary) > 60 else ""),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[4]
        for row in rows
    )


def redact(body: Any) -> Any:
    if isinstance(body, dict) and "routing_key" in body:
        return {**body, "routing_key": REDACTED}
    return body


def lambda_event_deliveries(event: Any) -> list[tuple[str, str, str | None]]:
    """How each part of a Lambda event file reached the queue in AWS: ("sns", message, subject) for what
    SNS delivered, ("sqs", body, None) for what sat in the queue as is (EventBridge targets, SQS bodies)."""
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        deliveries: list[tuple[str, str, str | None]] = []
        for record in event["Records"]:
            if isinstance(record, dict) and isinstance(record.get("Sns"), dict):
                sns = record["Sns"]
                deliveries.append(("sns", str(sns.get("Message", "")), sns.get("Subject")))
            elif isinstance(record, dict) and "body" in record:
                deliveries.append(("sqs", str(record["body"]), None))
        return deliveries
    if isinstance(event, dict) and ("detail-type" in event or "alarmData" in event):
        return [("sqs", json.dumps(event), None)]
    return [("sns", json.dumps(event), None)]
