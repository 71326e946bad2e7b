"""The synthesized template deployed into moto's CloudFormation (a moto server on loopback), and the real
intake, delivery, webhook and reconciler handlers run in-process against what it created: the environment and
the configuration each function was deployed with (GetFunctionConfiguration, and the code package the
function names), the deployed queues, table and secrets, and the local PagerDuty emulator.

What moto cannot deploy is substituted in tests/infrastructure/deployed_template.py, each substitution
written down there. The one change to a deployed environment: the PagerDuty base URLs point at the emulator.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_cdk import App

from alertbridge import wiring
from alertbridge.adapters.dynamo_state import reset_default_client
from alertbridge.models import table as layout
from alertbridge.models.config import BridgeConfig, Match, Route, Rule
from alertbridge.models.settings import DEPLOYED_CONFIG_FILE, ENV_FIELDS
from alertbridge.models.state import KeyStatus
from alertbridge.operator.commands import SECRET_EXAMPLES
from alertbridge.sandbox.bridge import FAKE_CREDENTIALS, local_routing_key
from alertbridge.sandbox.emulator import DEFAULT_TOKEN, DEFAULT_USER, PagerDutyEmulator
from alertbridge.sandbox.event_source import FakeLambdaContext, SqsEventSource
from alertbridge.sandbox.webhook_server import WebhookServer
from infra.app import build_app
from infra.bundling import lambda_code
from tests.infrastructure.deployed_template import (
    ACCOUNT,
    REGION,
    asset_zip,
    code_sha256,
    prepare_for_moto,
    upload_asset,
)

STACK = "DeployedBridge"
WEBHOOK_SECRET = "whsec-deployed-template-test"
CONFIG = BridgeConfig(
    routes={"default": Route(), "payments": Route()},
    rules=[Rule(name="payments", match=Match(alarm_name="pay-*"), route="payments")],
)
SETTINGS = {"stack_name": STACK, "monitoring": {"health_email": "oncall@example.com"}}
FUNCTION_OUTPUTS = {
    "intake": "IntakeFunctionName",
    "delivery": "DeliveryFunctionName",
    "webhook": "WebhookFunctionName",
    "reconciler": "ReconcilerFunctionName",
}


@dataclass
class Deployment:
    outputs: dict[str, str]
    environments: dict[str, dict[str, str]]  # function role -> deployed Variables
    code_root: Path  # the deployed code package, unpacked: what LAMBDA_TASK_ROOT is in Lambda
    emulator: PagerDutyEmulator
    monkeypatch: pytest.MonkeyPatch
    mappings: dict[str, dict[str, Any]]  # function role -> its event source mapping

    def become(self, function: str) -> None:
        """A fresh container of `function`: exactly its deployed environment (PagerDuty URLs -> emulator)."""
        for name in {*ENV_FIELDS, "LAMBDA_TASK_ROOT"}:
            self.monkeypatch.delenv(name, raising=False)
        for name, value in self.environments[function].items():
            self.monkeypatch.setenv(name, value)
        self.monkeypatch.setenv("LAMBDA_TASK_ROOT", str(self.code_root))
        self.monkeypatch.setenv("ALERTBRIDGE_EVENTS_URL", self.emulator.url)
        self.monkeypatch.setenv("ALERTBRIDGE_REST_URL", self.emulator.url)
        wiring.reset()

    def event_source(self, function: str, handler: Any) -> SqsEventSource:
        """Lambda's event source for `function`, as its deployed mapping describes it."""
        mapping = self.mappings[function]
        sqs = boto3.client("sqs", region_name=REGION)
        queue_name = mapping["EventSourceArn"].rsplit(":", 1)[1]
        url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        return SqsEventSource(sqs, url, mapping["EventSourceArn"], handler, batch_size=mapping["BatchSize"])

    def deliver(self) -> None:
        from alertbridge.handlers import delivery, intake

        self.become("intake")
        self.event_source("intake", intake.lambda_handler).drain(max_batches=20)
        self.become("delivery")
        self.event_source("delivery", delivery.lambda_handler).drain(max_batches=20)


def synthesize(outdir: Path) -> dict[str, Any]:
    """The template as `cdk synth` writes it, with a real local bundle of the package and configuration
    (no pip: the handlers run in this interpreter, whose versions the bundling tests pin against the lock)."""
    app = App(outdir=str(outdir), context={"alertbridge:config": json.loads(CONFIG.to_json_text()),
                                             "alertbridge:settings": SETTINGS})  # fmt: skip
    build_app(app, code=lambda_code(CONFIG.to_json_text(), requirements=[], bytecode=False))
    return app.synth().get_stack_by_name(STACK).template  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def deployed(
    moto_server: str, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    for name, value in {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": moto_server}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    reset_default_client()
    outdir = tmp_path_factory.mktemp("cdk.out")
    template = synthesize(outdir)
    client = lambda service: boto3.client(service, region_name=REGION)  # noqa: E731
    key, package = asset_zip(outdir, template)
    upload_asset(client("s3"), key, package)
    prepared = prepare_for_moto(template, client("secretsmanager"), STACK)
    cloudformation = client("cloudformation")
    cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(prepared.template),
                                Capabilities=["CAPABILITY_IAM"])  # fmt: skip
    (stack,) = cloudformation.describe_stacks(StackName=STACK)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", (stack, prepared.substitutions)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    lambda_ = client("lambda")
    environments, mappings = {}, {}
    for function, output in FUNCTION_OUTPUTS.items():
        configuration = lambda_.get_function_configuration(FunctionName=outputs[output])
        assert configuration["CodeSha256"] == code_sha256(package)  # the package the test unpacks
        environments[function] = configuration["Environment"]["Variables"]
        found = lambda_.list_event_source_mappings(FunctionName=outputs[output])["EventSourceMappings"]
        if found:
            (mappings[function],) = found
    code_root = tmp_path_factory.mktemp("var-task")
    zipfile.ZipFile(io.BytesIO(package)).extractall(code_root)
    with PagerDutyEmulator(rate_limit=100_000, window_seconds=1.0) as emulator:
        _put_secrets(outputs, emulator)
        yield Deployment(outputs, environments, code_root, emulator, monkeypatch, mappings)
    wiring.reset()
    reset_default_client()
    cloudformation.delete_stack(StackName=STACK)
    for arn in prepared.secrets.values():
        client("secretsmanager").delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def _put_secrets(outputs: dict[str, str], emulator: PagerDutyEmulator) -> None:
    """Values in the shapes the operator documents (SECRET_EXAMPLES): if the code read another shape, the
    handlers below would fail."""
    secrets = boto3.client("secretsmanager", region_name=REGION)
    routing_shape = json.loads(SECRET_EXAMPLES["RoutingKeysSecretArn"])
    assert set(routing_shape) == {"ROUTE"}
    keys = {CONFIG.secret_field(route): local_routing_key(route) for route in CONFIG.routes}
    secrets.put_secret_value(SecretId=outputs["RoutingKeysSecretArn"], SecretString=json.dumps(keys))
    hook_shape = json.loads(SECRET_EXAMPLES["WebhookSecretArn"])
    hook = {"webhook_secrets": [WEBHOOK_SECRET], "rest_token": DEFAULT_TOKEN, "from_email": DEFAULT_USER}
    assert set(hook) == set(hook_shape)
    secrets.put_secret_value(SecretId=outputs["WebhookSecretArn"], SecretString=json.dumps(hook))


def alarm(name: str, state: str, at: datetime) -> str:
    return json.dumps({
        "AlarmName": name, "AlarmDescription": None, "AWSAccountId": ACCOUNT, "NewStateValue": state,
        "NewStateReason": f"{name} went {state}", "StateChangeTime": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "Region": "US East (N. Virginia)", "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
        "OldStateValue": "OK" if state == "ALARM" else "ALARM",
        "Trigger": {"MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "SUM", "Period": 60,
                    "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold", "Threshold": 1.0,
                    "Dimensions": [{"name": "FunctionName", "value": "checkout"}]},
    })  # fmt: skip


# --- what the template creates is what the code uses ---------------------------------------------------------


def test_every_resource_an_environment_names_was_created_by_the_stack(deployed: Deployment) -> None:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    physical = {
        r.get("PhysicalResourceId")
        for r in cloudformation.describe_stack_resources(StackName=STACK)["StackResources"]
    }
    secrets = {deployed.outputs["RoutingKeysSecretArn"], deployed.outputs["WebhookSecretArn"]}
    for function, variables in deployed.environments.items():
        assert set(variables) - {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE",
                                 "POWERTOOLS_LOG_LEVEL"} <= set(ENV_FIELDS), function  # fmt: skip
        assert variables["ALERTBRIDGE_TABLE_NAME"] in physical
        for name in ("ALERTBRIDGE_DELIVERY_QUEUE_URL",):
            if name in variables:
                assert variables[name] in physical, (function, name)
        for name in ("ALERTBRIDGE_ROUTING_KEYS_SECRET", "ALERTBRIDGE_WEBHOOK_SECRET"):
            if name in variables:
                assert variables[name] in secrets, (function, name)
        assert variables["ALERTBRIDGE_CONFIG_FILE"] == DEPLOYED_CONFIG_FILE
        assert variables["ALERTBRIDGE_EVENTS_URL"] == "https://events.pagerduty.com"
        assert variables["ALERTBRIDGE_REST_URL"] == "https://api.pagerduty.com"
    # The one configuration every function reads is in the package, and it is the one validated at synth.
    assert BridgeConfig.from_file(deployed.code_root / DEPLOYED_CONFIG_FILE) == CONFIG
    assert set(deployed.mappings) == {"intake", "delivery"}


def test_the_table_has_the_key_schema_and_index_the_adapters_use(deployed: Deployment) -> None:
    table = boto3.client("dynamodb", region_name=REGION).describe_table(
        TableName=deployed.environments["delivery"]["ALERTBRIDGE_TABLE_NAME"]
    )["Table"]
    assert table["KeySchema"] == [{"AttributeName": layout.PARTITION_KEY, "KeyType": "HASH"}]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == layout.INDEX_NAME
    assert {(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]} == {
        (layout.INDEX_PARTITION_KEY, "HASH"), (layout.INDEX_SORT_KEY, "RANGE"),
    }  # fmt: skip


# --- the real handlers against the deployed resources ----------------------------------------------------


def test_an_alarm_published_to_the_deployed_topic_pages_its_ok_resolves_and_a_webhook_mirrors(
    deployed: Deployment,
) -> None:
    sns = boto3.client("sns", region_name=REGION)
    topic = deployed.outputs["AlarmTopicArn"]
    name = "pay-checkout-errors"
    dedup_key = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"

    sns.publish(TopicArn=topic, Message=alarm(name, "ALARM", datetime(2026, 1, 5, 10, 0, tzinfo=UTC)))
    deployed.deliver()
    opened = deployed.emulator.open_alert(dedup_key)
    assert opened is not None, deployed.emulator.outcomes()
    assert opened.routing_key == local_routing_key("payments")  # the rule in the deployed configuration

    # A responder acknowledges in PagerDuty: the signed webhook reaches the deployed webhook function.
    deployed.become("webhook")
    with WebhookServer() as server:
        deployed.emulator.human_acknowledge(dedup_key, webhook_url=server.url, secrets=[WEBHOOK_SECRET])
    from alertbridge.adapters.dynamo_state import DynamoStateStore

    store = DynamoStateStore(deployed.environments["webhook"]["ALERTBRIDGE_TABLE_NAME"])
    item = store.get(dedup_key)
    assert item is not None and item.pd_status == "acknowledged" and item.status == KeyStatus.OPEN

    sns.publish(TopicArn=topic, Message=alarm(name, "OK", datetime(2026, 1, 5, 10, 5, tzinfo=UTC)))
    deployed.deliver()
    assert deployed.emulator.open_alert(dedup_key) is None
    latest = deployed.emulator.latest_alert(dedup_key)
    assert latest is not None and latest.status == "resolved"
    resolved = store.get(dedup_key)
    assert resolved is not None and resolved.status == KeyStatus.RESOLVED


def test_the_deployed_reconciler_closes_an_incident_whose_alarm_is_ok_through_the_lane(
    deployed: Deployment,
) -> None:
    """The OK notification was lost: CloudWatch says OK, the reconciler (DescribeAlarms, the table) hands a
    resolve to the deployed FIFO lane, and the delivery function sends it."""
    from alertbridge.handlers import delivery, reconcile

    name = "checkout-latency"
    dedup_key = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
    topic = deployed.outputs["AlarmTopicArn"]
    boto3.client("sns", region_name=REGION).publish(
        TopicArn=topic, Message=alarm(name, "ALARM", datetime(2026, 1, 5, 10, 0, tzinfo=UTC))
    )
    deployed.deliver()
    assert deployed.emulator.open_alert(dedup_key) is not None
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[topic], OKActions=[topic],
    )  # fmt: skip
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="recovered; notification lost")

    deployed.become("reconciler")
    context = FakeLambdaContext(function_name=deployed.outputs["ReconcilerFunctionName"])
    report = dict(reconcile.lambda_handler({"source": "aws.events"}, context))
    assert report["failed"] == {} and report["planned"] >= 1, report
    deployed.become("delivery")
    deployed.event_source("delivery", delivery.lambda_handler).drain(max_batches=20)
    assert deployed.emulator.open_alert(dedup_key) is None, deployed.emulator.outcomes()
