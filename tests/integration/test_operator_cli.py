"""The operator commands end to end: `alertbridge ...` in-process against moto (a CloudFormation stack
with the real output keys, queues, table, secrets, alarms) and the PagerDuty emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from alertbridge.cli.main import main
from alertbridge.models.alert import AlarmState
from alertbridge.models.state import KeyStatus
from tests.integration.deployed_bridge import REGION, Deployed, deployed_fixture  # noqa: F401 - the fixture
from tests.integration.emulator_fixtures import USER_EMAIL

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def cli(capsys: pytest.CaptureFixture[str], d: Deployed, *args: str) -> tuple[int, str, str]:
    urls = ["--events-url", d.emulator.url, "--rest-url", d.emulator.url, "--region", REGION]
    command = list(args)
    at = 2 if command[0] == "maintenance" else 1  # maintenance's options follow its action
    code = main([*command[:at], *urls, *command[at:]])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def stack(deployed: Deployed) -> Deployed:
    deployed.create_stack()
    return deployed


# --- active ------------------------------------------------------------------------------------------------


def test_active_lists_open_keys_with_age_route_severity_and_link(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    stack.put_alarm("pay-errors")
    stack.notify("pay-errors", "ALARM", T0)
    stack.notify("search-errors", "ALARM", T0)
    stack.notify("search-errors", "OK", T0 + timedelta(minutes=1))
    code, out, _ = cli(capsys, stack, "active")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "ALARM",
        "AGE",
        "ROUTE",
        "SEVERITY",
        "PD",
        "STATUS",
        "PAGERDUTY",
        "DEDUP",
        "KEY",
    ]
    (row,) = [line for line in lines if "pay-errors" in line]
    assert "payments" in row and "error" in row and "arn:aws:cloudwatch" in row
    assert "search-errors" not in out
    assert out.strip().endswith("1 open")


def test_active_with_nothing_open(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli(capsys, stack, "active")[:2] == (0, "No open incidents.\n")


def test_active_says_when_an_alarm_still_fires_after_a_persons_resolve(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    stack.put_alarm("pay-errors")  # in ALARM in CloudWatch
    key = stack.notify("pay-errors", "ALARM", T0).dedup_key
    assert cli(capsys, stack, "resolve", key, "--message", "restarted the task set")[0] == 0
    code, out, _ = cli(capsys, stack, "active")
    assert code == 0 and out.startswith("No open incidents.")
    lines = out.splitlines()
    assert lines[2].split()[:2] == ["STILL", "FIRING"]
    (row,) = [line for line in lines if key in line]
    assert "pay-errors" in row and "ALARM" in row and f"still firing after resolve by {USER_EMAIL}" in row
    assert out.strip().endswith("1 still firing after a resolve by a person: not paged again until the "
                                "alarm's OK or a new episode")  # fmt: skip
    # CloudWatch goes OK and its notification is lost: the reconciler's observation ends the episode.
    stack.bridge.set_alarm_state("pay-errors", "OK", "recovered")
    assert stack.reconcile()["done"] == {"alarm-ok": 1}
    capsys.readouterr()  # the handlers' log lines
    assert cli(capsys, stack, "active")[:2] == (0, "No open incidents.\n")
    ended = stack.state.get(key)
    assert ended is not None and ended.alarm_state == AlarmState.OK and not ended.resolved_by_human
    assert [alert.status for alert in stack.emulator.alerts if alert.dedup_key == key] == ["resolved"]
    events = [
        r.body["event_action"]
        for r in stack.emulator.requests
        if r.dedup_key == key and r.path == "/v2/enqueue"
    ]
    assert events == ["trigger"]  # nothing was sent for the ended episode


# --- ack / resolve / note ---------------------------------------------------------------------------------


def test_ack_then_note_then_resolve_through_the_rest_api(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    key = stack.notify("pay-errors", "ALARM", T0).dedup_key
    code, out, _ = cli(capsys, stack, "ack", key, "--message", "looking into it")
    assert code == 0 and "acknowledged" in out
    alert = stack.emulator.open_alert(key)
    assert alert is not None and alert.status == "acknowledged"
    assert [n["content"] for n in alert.notes] == ["looking into it"]
    assert cli(capsys, stack, "note", key, "-m", "root cause: bad deploy")[0] == 0
    code, out, _ = cli(capsys, stack, "resolve", key, "--message", "rolled back")
    assert code == 0 and "resolved" in out
    closed = stack.emulator.latest_alert(key)
    assert closed is not None and closed.status == "resolved" and closed.resolution == "rolled back"
    stored = stack.state.get(key)
    assert stored is not None and stored.status == KeyStatus.RESOLVED and stored.resolved_by_human


def test_incident_commands_say_what_to_fix(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    key = stack.notify("pay-errors", "ALARM", T0).dedup_key
    code, _, err = cli(capsys, stack, "note", key)
    assert code == 2 and "note needs --message" in err
    code, _, err = cli(capsys, stack, "ack", "no-such-key")
    assert code == 2 and "no incident with dedup key 'no-such-key'" in err
    stack.set_secret(stack.bridge.webhook_secret, {"rest_token": "wrong", "from_email": "oncall@example.com"})
    code, _, err = cli(capsys, stack, "ack", key)
    assert code == 2 and "refused the REST API token" in err and "wrong" not in err
    stack.set_secret(stack.bridge.webhook_secret, {"webhook_secrets": ["s"]})
    code, _, err = cli(capsys, stack, "resolve", key)
    assert code == 2 and "no rest_token and from_email" in err
    assert "Traceback" not in err


# --- maintenance -------------------------------------------------------------------------------------------


def test_maintenance_start_list_end(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    stack.create_delivery_function()  # --route is checked against its configuration
    code, out, _ = cli(capsys, stack, "maintenance", "start", "--duration", "2h", "--route", "payments",
                       "--alarm-prefix", "pay-", "--reason", "database upgrade")  # fmt: skip
    assert code == 0 and "active" in out and "route=payments alarm-prefix=pay-" in out
    (window,) = stack.maintenance.list_all()
    assert window.end - window.start == timedelta(hours=2) and window.reason == "database upgrade"
    held = stack.notify("pay-errors", "ALARM", T0)
    assert held.reason == "suppressed-maintenance"  # the ingest pipeline honours it
    code, out, _ = cli(capsys, stack, "active")  # suppressed, but still visible
    assert code == 0 and out.startswith("No open incidents.")
    (row,) = [line for line in out.splitlines() if "pay-errors" in line]
    assert window.id in row and "payments" in row and "1 held back by maintenance windows" in out
    code, out, _ = cli(capsys, stack, "maintenance", "list")
    assert code == 0 and window.id in out and "database upgrade" in out
    code, out, _ = cli(capsys, stack, "maintenance", "end", window.id)
    assert code == 0 and "ended" in out
    assert stack.maintenance.list_active(datetime.now(UTC)) == []


def test_maintenance_scheduled_for_later_and_bad_input(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    code, out, _ = cli(capsys, stack, "maintenance", "start", "--duration", "1h30m", "--start", later,
                       "--account", "123456789012", "--reason", "patching")  # fmt: skip
    assert code == 0 and "scheduled" in out and "account=123456789012" in out
    code, _, err = cli(capsys, stack, "maintenance", "start", "--duration", "soon", "--reason", "x")
    assert code == 2 and "invalid duration 'soon'" in err
    code, _, err = cli(capsys, stack, "maintenance", "start", "--duration", "1h", "--start", "2025-01-01T00:00",
                       "--reason", "x")  # fmt: skip
    assert code == 2 and "time zone" in err
    code, _, err = cli(capsys, stack, "maintenance", "end", "mw-nope")
    assert code == 2 and "no maintenance window 'mw-nope'" in err


# --- redrive -----------------------------------------------------------------------------------------------


def test_redrive_moves_dead_letters_back_to_the_ingest_queue(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    sqs = boto3.client("sqs", region_name=REGION)
    for index in range(13):
        sqs.send_message(QueueUrl=stack.bridge.dlq_url, MessageBody=json.dumps({"n": index}))
    code, out, _ = cli(capsys, stack, "redrive")
    assert code == 0
    assert "receive/send/delete" in out and "StartMessageMoveTask is unavailable here" in out  # moto
    assert "0 remain in alertbridge-dlq" in out
    assert stack.bridge.dead_letter_count() == 0
    bodies = []
    while batch := sqs.receive_message(QueueUrl=stack.bridge.queue_url, MaxNumberOfMessages=10).get(
        "Messages"
    ):
        bodies += [json.loads(m["Body"])["n"] for m in batch]
        for m in batch:
            sqs.delete_message(QueueUrl=stack.bridge.queue_url, ReceiptHandle=m["ReceiptHandle"])
    assert sorted(bodies) == list(range(13))
    assert cli(capsys, stack, "redrive")[1].startswith("The dead-letter queue is empty")


# --- send-test ---------------------------------------------------------------------------------------------


def test_send_test_triggers_then_resolves_on_the_routes_service(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli(capsys, stack, "send-test", "--route", "payments")
    assert code == 0 and "trigger" in out and "resolve" in out
    (alert,) = stack.emulator.alerts
    assert alert.routing_key == stack.routing_key("payments")
    assert alert.status == "resolved" and alert.summary.startswith("[TEST]")
    code, _, err = cli(capsys, stack, "send-test", "--route", "nope")
    assert code == 2 and "no well-formed 32-character key under 'nope'" in err


# --- doctor ------------------------------------------------------------------------------------------------


def doctor_rows(out: str) -> dict[str, str]:
    rows = {}
    for line in out.splitlines()[2:]:
        parts = line.split("  ")
        cells = [cell.strip() for cell in parts if cell.strip()]
        if len(cells) >= 2:
            rows[cells[0]] = cells[1]
    return rows


def test_doctor_on_a_healthy_bridge(stack: Deployed, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.deployed_bridge import CONFIG

    config = tmp_path / "config.json"
    config.write_text(CONFIG.to_json_text(), encoding="utf-8")
    stack.put_alarm("pay-errors")
    code, out, _ = cli(capsys, stack, "doctor", "--config", str(config))
    rows = doctor_rows(out)
    assert rows["routing key default"] == "ok" and rows["routing key payments"] == "ok"
    assert rows["webhook secret"] == "ok" and rows["REST token"] == "ok"
    assert rows["alarm topic"] == "ok" and rows["alarms"] == "ok"
    assert code == 0 and "All checks passed" in out


def test_doctor_says_what_to_fix(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    stack.set_secret(
        stack.bridge.routing_keys_secret, {"default": "short", "payments": stack.routing_key("payments")}
    )
    stack.set_secret(stack.bridge.webhook_secret, {"rest_token": "wrong", "from_email": "oncall@example.com"})
    stack.cloudwatch.put_metric_alarm(
        AlarmName="no-ok-action", Namespace="AWS/SQS", MetricName="Age", Statistic="Maximum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[stack.bridge.topic_arn],
    )  # fmt: skip
    code, out, _ = cli(capsys, stack, "doctor")
    rows = doctor_rows(out)
    assert rows["routing key default"] == "FAIL" and rows["routing key payments"] == "ok"
    assert rows["webhook secret"] == "FAIL" and rows["REST token"] == "FAIL"
    assert rows["alarm no-ok-action"] == "warn" and "no OK action" in out
    assert code == 1 and "check(s) failed" in out


def test_doctor_says_two_way_sync_needs_a_rest_token(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    stack.set_secret(stack.bridge.webhook_secret, {"webhook_secrets": ["s"]})
    _, out, _ = cli(capsys, stack, "doctor")
    assert doctor_rows(out)["REST token"] == "warn"
    assert "two-way sync is off" in " ".join(out.split())


def test_a_routing_key_rotation_from_doctor_to_send_test(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    retired, current = stack.routing_key("default"), "N" * 32
    opened = stack.notify("search-errors", "ALARM", T0)
    stack.set_secret(
        stack.bridge.routing_keys_secret,
        {"default": [current, retired], "payments": stack.routing_key("payments")},
    )
    _, out, _ = cli(capsys, stack, "doctor")
    assert doctor_rows(out)["routing key default"] == "ok"
    assert "1 retired; 1 open incident(s) use them: keep them" in out
    assert retired not in out and current not in out

    assert stack.notify("search-errors", "OK", T0 + timedelta(minutes=1)).sent == "resolve"
    assert stack.emulator.open_alert(opened.dedup_key) is None  # closed with the key that opened it
    _, out, _ = cli(capsys, stack, "doctor")
    assert "no open incident uses them: remove them" in out

    code, _, _ = cli(capsys, stack, "send-test", "--route", "default")
    tests = [alert for alert in stack.emulator.alerts if alert.summary.startswith("[TEST]")]
    assert code == 0 and [alert.routing_key for alert in tests] == [current]


def test_doctor_finds_an_unknown_from_email(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.emulator_fixtures import REST_TOKEN

    stack.set_secret(stack.bridge.webhook_secret, {"webhook_secrets": ["s"], "rest_token": REST_TOKEN,
                                                   "from_email": "nobody@example.com"})  # fmt: skip
    code, out, _ = cli(capsys, stack, "doctor")
    assert doctor_rows(out)["REST token"] == "FAIL" and "does not know the From e-mail" in out and code == 1


def test_doctor_finds_an_unsubscribed_topic(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    sns = boto3.client("sns", region_name=REGION)
    for sub in sns.list_subscriptions_by_topic(TopicArn=stack.bridge.topic_arn)["Subscriptions"]:
        sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    code, out, _ = cli(capsys, stack, "doctor")
    assert doctor_rows(out)["alarm topic"] == "FAIL" and code == 1


# --- where the stack is ------------------------------------------------------------------------------------


def test_a_missing_stack_says_which_and_where(deployed: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(capsys, deployed, "active", "--stack", "Nope")
    assert code == 2 and "stack 'Nope' not found in region us-east-1" in err and "Traceback" not in err


def test_outputs_can_come_from_a_file(deployed: Deployed, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"AlertBridge": deployed.outputs()}), encoding="utf-8")  # cdk's shape
    deployed.notify("pay-errors", "ALARM", T0)
    code, out, _ = cli(capsys, deployed, "active", "--outputs-file", str(path))
    assert code == 0 and "pay-errors" in out


def test_no_credentials_is_explained(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)  # fmt: skip
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code = main(["active", "--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:9"])
    assert code == 2
    assert "no AWS credentials found" in capsys.readouterr().err
