"""A 'deployed' bridge for the reconciler and operator tests: LocalBridge in moto (queues, topic, table,
secrets) wired to the emulator, its environment set as the Lambdas' would be, a fake CloudFormation stack
with the real output keys, and helpers to feed real-shaped alarms through the real delivery pipeline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from alertbridge import wiring
from alertbridge.adapters.dynamo_state import DynamoMaintenanceStore, DynamoStateStore
from alertbridge.logic.parsers import parse_sqs_body
from alertbridge.models.config import BridgeConfig, Match, Route, Rule
from alertbridge.models.settings import Settings
from alertbridge.operator.stack import OUTPUT_KEYS
from alertbridge.sandbox.bridge import LocalBridge, local_routing_key
from alertbridge.sandbox.emulator import PagerDutyEmulator
from alertbridge.services.pipeline import Outcome
from alertbridge.wiring import delivery as delivery_wiring
from tests.fakes import ListCounter
from tests.integration.aws_fixtures import _DUMMY_ENV, AwsContext
from tests.integration.emulator_fixtures import REST_TOKEN, USER_EMAIL

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "AlertBridge"
CONFIG = BridgeConfig(
    routes={"default": Route(), "payments": Route()},
    rules=[Rule(match=Match(alarm_name="pay-*"), route="payments")],
)


@dataclass
class Deployed:
    bridge: LocalBridge
    emulator: PagerDutyEmulator
    cloudwatch: Any
    secrets: Any
    # Code packages by the location GetFunction answers with (moto's is not downloadable): what the
    # operator's `fetch_code` downloads from AWS's presigned URL.
    code_packages: dict[str, bytes] = field(default_factory=dict)

    @property
    def state(self) -> DynamoStateStore:
        return DynamoStateStore(self.bridge.table_name, client=boto3.client("dynamodb", region_name=REGION))

    @property
    def maintenance(self) -> DynamoMaintenanceStore:
        return DynamoMaintenanceStore(
            self.bridge.table_name, client=boto3.client("dynamodb", region_name=REGION)
        )

    def alarm_arn(self, name: str) -> str:
        return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"

    def put_alarm(self, name: str, state: str = "ALARM") -> None:
        self.bridge.put_alarm(name)
        self.bridge.set_alarm_state(name, state, "test")

    def notify(self, name: str, state: str, at: datetime, *, reason: str = "Threshold Crossed") -> Outcome:
        """One CloudWatch notification through the real delivery pipeline (moto state, emulator PagerDuty)."""
        message = {
            "AlarmName": name, "AlarmDescription": None, "AWSAccountId": ACCOUNT, "NewStateValue": state,
            "NewStateReason": reason, "StateChangeTime": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "Region": "US East (N. Virginia)", "AlarmArn": self.alarm_arn(name), "OldStateValue": "OK",
            "Trigger": {"MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "SUM", "Period": 60,
                        "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold", "Threshold": 1.0,
                        "Dimensions": [{"name": "FunctionName", "value": name}]},
        }  # fmt: skip
        return self.ingest(json.dumps(message))

    def ingest(self, body: str) -> Outcome:
        now = datetime.now(UTC)
        pipeline = delivery_wiring.build_delivery_pipeline(Settings.from_env(), ListCounter())
        return pipeline.process(parse_sqs_body(body, received_at=now), now=now, deadline=None)

    def routing_key(self, route: str) -> str:
        return local_routing_key(route)

    def set_secret(self, arn: str, value: dict[str, Any]) -> None:
        self.secrets.put_secret_value(SecretId=arn, SecretString=json.dumps(value))

    def reconcile(self) -> dict[str, Any]:
        """One scheduled run of the real reconciler handler, in a fresh 'container', then the delivery lane
        drained: the reconciler hands its observations to the delivery function."""
        report = self.bridge.run_reconciler()
        self.deliver()
        return report

    def deliver(self) -> None:
        """The delivery stage as Lambda's FIFO event source runs it, until its queue is empty."""
        wiring.reset()
        self.bridge.stages().delivery.drain(max_batches=100)

    def outputs(self) -> dict[str, str]:
        bridge = self.bridge
        values = {
            "AlarmTopicArn": bridge.topic_arn, "HealthTopicArn": bridge.topic_arn, "QueueUrl": bridge.queue_url,
            "DeadLetterQueueUrl": bridge.dlq_url, "DeliveryQueueUrl": bridge.delivery_queue_url,
            "DeliveryDeadLetterQueueUrl": bridge.delivery_dlq_url, "TableName": bridge.table_name,
            "RoutingKeysSecretArn": bridge.routing_keys_secret, "WebhookSecretArn": bridge.webhook_secret,
            "WebhookUrl": "https://example.lambda-url.us-east-1.on.aws/", "IntakeFunctionName": "alertbridge-intake",
            "DeliveryFunctionName": "alertbridge-delivery",
            "WebhookFunctionName": "alertbridge-webhook", "ReconcilerFunctionName": "alertbridge-reconciler",
            "DashboardName": "alertbridge",
        }  # fmt: skip
        return {key: values[key] for key in OUTPUT_KEYS if key in values}  # no incident event bus here

    def create_delivery_function(self, config: BridgeConfig | None = None) -> None:
        """The delivery function with the configuration in its code package and the file's name and digest in
        its environment, as the stack deploys it (only its configuration is read: doctor and maintenance
        check routes against it)."""
        import io
        import zipfile

        from alertbridge.models.settings import DEPLOYED_CONFIG_FILE, config_digest

        iam = boto3.client("iam", region_name=REGION)
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                          "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
        role = iam.create_role(RoleName="alertbridge-delivery", AssumeRolePolicyDocument=json.dumps(policy))
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def lambda_handler(event, context):\n    return None\n")
            text = (config or self.bridge.config).to_json_text()
            archive.writestr(DEPLOYED_CONFIG_FILE, text)
        environment = {
            "ALERTBRIDGE_CONFIG_FILE": DEPLOYED_CONFIG_FILE,
            "ALERTBRIDGE_CONFIG_SHA256": config_digest(text),
        }
        client = boto3.client("lambda", region_name=REGION)
        client.create_function(
            FunctionName="alertbridge-delivery", Runtime="python3.13", Role=role["Role"]["Arn"],
            Handler="handler.lambda_handler", Code={"ZipFile": code.getvalue()},
            Environment={"Variables": environment},
        )  # fmt: skip
        location = client.get_function(FunctionName="alertbridge-delivery")["Code"]["Location"]
        self.code_packages[location] = code.getvalue()

    def create_stack(self, name: str = STACK) -> None:
        """A CloudFormation stack in moto whose outputs are the bridge's names (what DescribeStacks gives)."""
        template = {
            "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": value} for key, value in self.outputs().items()},
        }
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName=name, TemplateBody=json.dumps(template)
        )


@pytest.fixture(name="deployed")
def deployed_fixture(
    aws: AwsContext, emulator: PagerDutyEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployed]:
    yield from deploy(emulator, monkeypatch)


def deploy(emulator: PagerDutyEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    """The bridge in whatever AWS the environment points at (moto in-process, or a moto server)."""
    bridge = LocalBridge.create(CONFIG, emulator.url)
    secrets = boto3.client("secretsmanager", region_name=REGION)
    hook = {"webhook_secrets": ["whsec"], "rest_token": REST_TOKEN, "from_email": USER_EMAIL}
    secrets.put_secret_value(SecretId=bridge.webhook_secret, SecretString=json.dumps(hook))
    for name, value in bridge.environment(
        ALERTBRIDGE_REST_URL=emulator.url, ALERTBRIDGE_MAX_ATTEMPTS="2"
    ).items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    from alertbridge.operator import commands

    deployed = Deployed(bridge, emulator, boto3.client("cloudwatch", region_name=REGION), secrets)
    monkeypatch.setattr(commands, "fetch_code", lambda location: deployed.code_packages[location])
    yield deployed
    wiring.reset()


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    """One moto server (ThreadedMotoServer) on loopback for the session: real HTTP, so botocore parses its
    answers as it would AWS's (an unimplemented action is an HTML 500 there, NotImplementedError in-process)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(name="served")
def served_fixture(
    moto_server_url: str, emulator: PagerDutyEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployed]:
    """The deployed bridge on the moto server, reset before each test; AWS_ENDPOINT_URL points every boto3
    client (the CLI's too) at it."""
    import urllib.request

    from alertbridge.adapters.dynamo_state import reset_default_client

    request = urllib.request.Request(f"{moto_server_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=30).close()  # the loopback moto server
    for name, value in _DUMMY_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server_url)
    reset_default_client()
    yield from deploy(emulator, monkeypatch)
    reset_default_client()
