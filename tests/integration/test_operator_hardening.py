"""Nothing an operator types can hang the bridge, misroute a page or make `doctor` lie: the operator
commands against a moto server (real HTTP, so AWS errors reach botocore as they would from AWS)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from alertbridge.cli.main import main
from alertbridge.models.config import BridgeConfig, Route
from tests.integration.deployed_bridge import (  # noqa: F401 - fixtures
    REGION,
    Deployed,
    moto_server_url,
    served_fixture,
)
from tests.integration.test_operator_cli import doctor_rows

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def cli(capsys: pytest.CaptureFixture[str], d: Deployed, *args: str) -> tuple[int, str, str]:
    urls = ["--events-url", d.emulator.url, "--rest-url", d.emulator.url, "--region", REGION]
    command = list(args)
    at = 2 if command[0] == "maintenance" else 1
    code = main([*command[:at], *urls, *command[at:]])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def stack(served: Deployed) -> Deployed:
    served.create_stack()
    return served


# --- 4. doctor never says "All checks passed" when it could not check --------------------------------------


def test_doctor_fails_when_it_cannot_read_the_deployed_configuration(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli(capsys, stack, "doctor")  # no delivery function: its configuration cannot be read
    rows = doctor_rows(out)
    assert rows["configuration"] == "FAIL"
    assert "alertbridge-ingest" in out and "--config FILE" in out
    assert code == 1 and "All checks passed" not in out


def test_doctor_checks_every_configured_route_against_the_deployed_configuration(
    stack: Deployed, capsys
) -> None:  # type: ignore[no-untyped-def]
    stack.create_delivery_function()
    stack.set_secret(stack.bridge.routing_keys_secret, {"default": stack.routing_key("default")})
    code, out, _ = cli(capsys, stack, "doctor")
    rows = doctor_rows(out)
    assert rows["configuration"] == "ok" and rows["routing key payments"] == "FAIL"
    assert code == 1


def test_doctor_refuses_a_code_package_whose_configuration_differs_from_the_recorded_digest(
    stack: Deployed, capsys
) -> None:  # type: ignore[no-untyped-def]
    import io
    import zipfile

    stack.create_delivery_function()
    (location,) = stack.code_packages
    tampered = io.BytesIO()
    with zipfile.ZipFile(tampered, "w") as archive:
        archive.writestr("alertbridge/deployed-config.json", BridgeConfig().to_json_text())
    stack.code_packages[location] = tampered.getvalue()
    code, out, _ = cli(capsys, stack, "doctor")
    assert doctor_rows(out)["configuration"] == "FAIL" and "SHA-256 differs" in out
    assert code == 1


def test_doctor_warns_about_open_incidents_on_routes_no_longer_configured(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    key = stack.notify("pay-errors", "ALARM", T0).dedup_key
    stack.create_delivery_function(BridgeConfig(routes={"default": Route()}))
    code, out, _ = cli(capsys, stack, "doctor")
    rows = doctor_rows(out)
    assert rows["open incidents"] == "warn"
    assert key in out and "'payments'" in out and "still be resolved" in out
    assert code == 0 and "All checks passed, 2 warning(s)" in out  # warnings (also: no alarm), not failures


def test_doctor_on_a_healthy_deployed_bridge_passes(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    stack.create_delivery_function()
    stack.put_alarm("pay-errors")
    code, out, _ = cli(capsys, stack, "doctor")
    assert code == 0 and "All checks passed" in out, out


def test_doctor_checks_every_topic_the_ingest_queue_is_subscribed_to(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    import boto3

    stack.create_delivery_function()
    stack.put_alarm("pay-errors")
    sns = boto3.client("sns", region_name="us-east-1")
    legacy = sns.create_topic(Name="legacy-alarms")["TopicArn"]
    sns.subscribe(TopicArn=legacy, Protocol="sqs", Endpoint=stack.bridge.queue_arn)
    code, out, _ = cli(capsys, stack, "doctor")
    assert doctor_rows(out)["subscribed topic legacy-alarms"] == "ok", out
    assert code == 0


# --- 5. active: keys stay whole ------------------------------------------------------------------------------


def test_active_prints_whole_keys_that_ack_accepts(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    name = "pay-" + "checkout-api-latency-" * 6 + "p99"
    key = stack.notify(name, "ALARM", T0).dedup_key
    assert len(key) > 120
    code, out, _ = cli(capsys, stack, "active")
    assert code == 0 and key in out.split()
    assert cli(capsys, stack, "ack", key)[0] == 0


# --- 6 and 7. maintenance: user errors exit 2 with what to fix ----------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--duration", "99999999d", "--reason", "x"], "at most 30 days"),
        (["--duration", "99999999d", "--reason", "x", "--force"], "too long"),
        (["--duration", "1h", "--reason", "r" * 1025], "--reason is 1025 characters"),
        (["--duration", "1h", "--reason", "  "], "--reason must not be blank"),
        (["--duration", "1000000d", "--reason", "x"], "at most 30 days"),
        (["--duration", "31d", "--reason", "x"], "add --force"),
        (
            ["--duration", "1h", "--reason", "x", "--route", "paymnets"],
            "'paymnets' is not a configured route",
        ),
        (["--duration", "1h", "--reason", "x", "--account", "prod"], "12-digit AWS account id"),
        (["--duration", "1h", "--reason", "x", "--start", "2020-01-01T00:00:00+00:00"], "already over"),
    ],
)
def test_maintenance_start_questions_what_it_should(
    stack: Deployed, capsys, args: list[str], expected: str
) -> None:  # type: ignore[no-untyped-def]
    stack.create_delivery_function()
    code, _, err = cli(capsys, stack, "maintenance", "start", *args)
    assert code == 2 and expected in err and "Traceback" not in err, err
    assert stack.maintenance.list_all() == []


def test_maintenance_start_checks_routes_and_may_be_forced(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    stack.create_delivery_function()
    code, out, _ = cli(
        capsys, stack, "maintenance", "start", "--duration", "2h", "--reason", "db", "--route", "payments"
    )
    assert code == 0 and "route=payments" in out
    code, out, err = cli(
        capsys, stack, "maintenance", "start", "--duration", "45d", "--reason", "freeze", "--force"
    )
    assert code == 0 and "everything" in out, err
    assert len(stack.maintenance.list_all()) == 2


def test_maintenance_route_check_needs_the_configuration(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(
        capsys, stack, "maintenance", "start", "--duration", "1h", "--reason", "x", "--route", "payments"
    )
    assert code == 2 and "cannot check --route" in err and "--force" in err


def test_common_options_go_before_or_after_the_action(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["maintenance", "--region", REGION, "list"]) == 0
    assert "No maintenance windows." in capsys.readouterr().out
    assert main(["maintenance", "list", "--region", REGION, "--stack", "AlertBridge"]) == 0
    capsys.readouterr()
    assert main(["maintenance", "--stack", "Nope", "list"]) == 2
    assert "stack 'Nope' not found" in capsys.readouterr().err


def test_a_webhook_secret_with_a_non_string_token_is_explained(stack: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    key = stack.notify("pay-errors", "ALARM", T0).dedup_key
    stack.set_secret(
        stack.bridge.webhook_secret,
        {"webhook_secrets": ["s"], "rest_token": {"value": "s3cr3t"}, "from_email": "a@b.c"},
    )
    code, _, err = cli(capsys, stack, "ack", key)
    assert code == 2 and "rest_token" in err and "s3cr3t" not in err and "Traceback" not in err


# --- 8. redrive ----------------------------------------------------------------------------------------------


def _drain(sqs, url: str) -> list[dict]:  # type: ignore[no-untyped-def]
    found: list[dict] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"],
                                       MessageAttributeNames=["All"]).get("Messages"):  # fmt: skip
        found += batch
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_redrive_falls_back_when_the_move_task_answers_500_and_caps_the_count(
    stack: Deployed, capsys
) -> None:  # type: ignore[no-untyped-def]
    sqs = boto3.client("sqs", region_name=REGION)
    for index in range(13):
        sqs.send_message(QueueUrl=stack.bridge.dlq_url, MessageBody=json.dumps({"n": index}),
                         MessageAttributes={"origin": {"DataType": "String", "StringValue": "test"}})  # fmt: skip
    code, out, err = cli(capsys, stack, "redrive", "--max-messages", "5")
    assert code == 0, err
    assert "receive/send/delete" in out and "<html" not in out + err
    assert "8 remain in alertbridge-dlq" in out
    moved = _drain(sqs, stack.bridge.queue_url)
    assert len(moved) == 5 and all(m["MessageAttributes"]["origin"]["StringValue"] == "test" for m in moved)
    code, out, _ = cli(capsys, stack, "redrive")
    assert code == 0 and "StartMessageMoveTask" in out and "0 remain" in out
    assert len(_drain(sqs, stack.bridge.queue_url)) == 8


def test_redrive_moves_a_fifo_pair_keeping_group_and_deduplication_ids(
    stack: Deployed, capsys, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    sqs = boto3.client("sqs", region_name=REGION)
    fifo = {"FifoQueue": "true"}
    dlq = sqs.create_queue(QueueName="alertbridge-ordered-dlq.fifo", Attributes=fifo)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
    queue = sqs.create_queue(
        QueueName="alertbridge-ordered.fifo", Attributes={**fifo, "RedrivePolicy": redrive}
    )["QueueUrl"]
    for index in range(3):
        sqs.send_message(QueueUrl=dlq, MessageBody=f"m{index}", MessageGroupId=f"g{index % 2}",
                         MessageDeduplicationId=f"d{index}")  # fmt: skip
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps({"AlertBridge": {**stack.outputs(), "OrderedQueueUrl": queue}}), encoding="utf-8"
    )
    code, out, err = cli(
        capsys, stack, "redrive", "--outputs-file", str(outputs), "--queue", "alertbridge-ordered.fifo"
    )
    assert code == 0, err
    assert "alertbridge-ordered-dlq.fifo" in out and "0 remain" in out
    moved = _drain(sqs, queue)
    assert sorted((m["Body"], m["Attributes"]["MessageGroupId"], m["Attributes"]["MessageDeduplicationId"])
                  for m in moved) == [("m0", "g0", "d0"), ("m1", "g1", "d1"), ("m2", "g0", "d2")]  # fmt: skip
    code, _, err = cli(capsys, stack, "redrive", "--outputs-file", str(outputs), "--queue", "nope")
    assert code == 2 and "alertbridge-ingest" in err and "alertbridge-ordered.fifo" in err


# --- 9. first deploy: secrets without a value ------------------------------------------------------------------


def _empty_secrets(stack: Deployed, tmp_path: Path) -> tuple[Path, str]:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    keys = secrets.create_secret(Name="alertbridge/empty-routing-keys")["ARN"]
    hook = secrets.create_secret(Name="alertbridge/empty-webhook")["ARN"]
    outputs = {**stack.outputs(), "RoutingKeysSecretArn": keys, "WebhookSecretArn": hook}
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs), encoding="utf-8")
    return path, keys


def test_a_secret_without_a_value_prints_the_command_that_sets_it(
    stack: Deployed, capsys, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path, keys = _empty_secrets(stack, tmp_path)
    stack.create_delivery_function()
    code, out, _ = cli(capsys, stack, "doctor", "--outputs-file", str(path))
    rows = doctor_rows(out)
    assert code == 1 and rows["routing keys"] == "FAIL" and rows["webhook secret"] == "FAIL"
    assert f"aws secretsmanager put-secret-value --region {REGION} --secret-id {keys} --secret-string" in out
    assert "AWSCURRENT" not in out and "…" not in out
    for command in (["ack", "some-key"], ["send-test", "--route", "payments"]):
        code, _, err = cli(capsys, stack, *command, "--outputs-file", str(path))
        assert code == 2 and "has no value yet" in err and "put-secret-value" in err, err
        assert "Traceback" not in err and "AWSCURRENT" not in err


# --- 10. outputs files and --version ------------------------------------------------------------------------


def test_an_outputs_file_with_another_stack_name_or_from_describe_stacks(
    served: Deployed, capsys, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    served.notify("pay-errors", "ALARM", T0)
    cdk = tmp_path / "cdk.json"
    cdk.write_text(json.dumps({"AlertBridge-prod": served.outputs()}), encoding="utf-8")
    assert cli(capsys, served, "active", "--outputs-file", str(cdk))[:1] == (0,)
    described = tmp_path / "described.json"
    stacks = {"Stacks": [{"StackName": "AlertBridge-prod", "Outputs": [
        {"OutputKey": k, "OutputValue": v} for k, v in served.outputs().items()]}]}  # fmt: skip
    described.write_text(json.dumps(stacks), encoding="utf-8")
    code, out, _ = cli(capsys, served, "active", "--outputs-file", str(described))
    assert code == 0 and "pay-errors" in out
    two = tmp_path / "two.json"
    two.write_text(json.dumps({"A": served.outputs(), "B": served.outputs()}), encoding="utf-8")
    code, _, err = cli(capsys, served, "active", "--outputs-file", str(two))
    assert code == 2 and "stacks A, B" in err and "--stack" in err


def test_version(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("alertbridge ")
