"""Where a deployed bridge lives: its CloudFormation stack outputs (or a JSON file of them), and boto3
clients with the user's credentials, region and optional endpoint (moto in tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alertbridge.errors import AlertBridgeError

# The incident event bus's name: an output only when the stack has the bus (named in the settings, or
# created by the first `on_incident`).
INCIDENT_EVENT_BUS_OUTPUT = "IncidentEventBusName"
# The stack's output keys (infra/stack.py creates exactly these; the operator commands read them). Those in
# OPTIONAL_OUTPUT_KEYS exist only when the stack has what they name.
OUTPUT_KEYS = (
    "AlarmTopicArn", "HealthTopicArn", "QueueUrl", "DeadLetterQueueUrl",
    "DeliveryQueueUrl", "DeliveryDeadLetterQueueUrl", "TableName",
    "RoutingKeysSecretArn", "WebhookSecretArn", "WebhookUrl",
    "IntakeFunctionName", "DeliveryFunctionName", "WebhookFunctionName", "ReconcilerFunctionName",
    "DashboardName", INCIDENT_EVENT_BUS_OUTPUT,
)  # fmt: skip
OPTIONAL_OUTPUT_KEYS = frozenset({INCIDENT_EVENT_BUS_OUTPUT})
DEFAULT_STACK = "AlertBridge"


class OperatorError(AlertBridgeError):
    """An expected failure of an operator command: the message says what to fix (no traceback)."""


@dataclass(frozen=True)
class StackOutputs:
    values: dict[str, str]
    source: str  # "stack AlertBridge (eu-west-1)" or the file name, for messages

    def get(self, key: str) -> str:
        value = self.values.get(key)
        if not value:
            raise OperatorError(
                f"{self.source} has no output {key!r}: deploy the current alertbridge stack (cdk deploy)"
            )
        return value


@dataclass(frozen=True)
class Aws:
    """boto3 clients for one region and endpoint (None: boto3's own resolution, incl. AWS_ENDPOINT_URL)."""

    region: str | None = None
    endpoint_url: str | None = None

    def client(self, service: str) -> Any:
        import boto3

        session = boto3.session.Session(region_name=self.region)
        return session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    @property
    def region_name(self) -> str:
        return str(self.client("sts").meta.region_name)


def load_outputs(aws: Aws, stack: str, outputs_file: str | None = None) -> StackOutputs:
    if outputs_file:
        return outputs_from_file(Path(outputs_file), stack)
    return outputs_from_stack(aws, stack)


def outputs_from_stack(aws: Aws, stack: str) -> StackOutputs:
    from botocore.exceptions import ClientError

    client = aws.client("cloudformation")
    try:
        stacks = client.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            raise OperatorError(
                f"stack {stack!r} not found in region {client.meta.region_name}: pass --stack NAME and "
                "--region REGION of the deployed bridge (or deploy it with cdk deploy)"
            ) from None
        raise
    outputs = {out["OutputKey"]: out["OutputValue"] for out in stacks[0].get("Outputs", [])}
    return StackOutputs(outputs, f"stack {stack!r} ({client.meta.region_name})")


def outputs_from_file(path: Path, stack: str) -> StackOutputs:
    """The outputs of one stack from a JSON file in any of three shapes: `{"Key": "Value"}`; `cdk deploy
    --outputs-file`'s `{"StackName": {"Key": "Value"}, ...}`; or `aws cloudformation describe-stacks`'
    `{"Stacks": [{"StackName": ..., "Outputs": [{"OutputKey": ..., "OutputValue": ...}]}]}`. Of several
    stacks, `--stack` names the one; a single stack is used whatever its name."""
    label = f"outputs file {str(path)!r}"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OperatorError(f"cannot read {label}: {exc}") from None
    stacks = _stacks_in(document)
    if stacks is None:
        raise OperatorError(
            f"{label} must hold a JSON object of output key -> value, the file `cdk deploy --outputs-file` "
            "writes, or the output of `aws cloudformation describe-stacks`"
        )
    if not stacks:  # already a flat {key: value} object
        return StackOutputs({str(k): str(v) for k, v in document.items()}, label)
    if stack in stacks:
        name = stack
    elif len(stacks) == 1:
        (name,) = stacks
    else:
        raise OperatorError(
            f"{label} holds stacks {', '.join(sorted(stacks))} but none named {stack!r}: pass --stack NAME"
        )
    return StackOutputs(stacks[name], f"{label} (stack {name!r})")


def _stacks_in(document: Any) -> dict[str, dict[str, str]] | None:
    """stack name -> outputs; {} for a flat outputs object; None for anything else."""
    if isinstance(document, dict) and isinstance(document.get("Stacks"), list):
        found = {}
        for entry in document["Stacks"]:
            if isinstance(entry, dict) and isinstance(entry.get("Outputs", []), list):
                outputs = {
                    str(out["OutputKey"]): str(out["OutputValue"])
                    for out in entry.get("Outputs", [])
                    if isinstance(out, dict) and "OutputKey" in out and "OutputValue" in out
                }
                found[str(entry.get("StackName", ""))] = outputs
        return found
    if not isinstance(document, dict):
        return None
    nested = {name: value for name, value in document.items() if isinstance(value, dict)}
    if nested and len(nested) == len(document):
        return {str(name): {str(k): str(v) for k, v in value.items()} for name, value in nested.items()}
    if nested:
        return None  # a mixture of outputs and stacks
    return {}
