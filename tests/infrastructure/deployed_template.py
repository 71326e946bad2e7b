"""The synthesized template, made deployable into moto's CloudFormation, and deployed.

moto 5.2.5's CloudFormation creates queues, the FIFO lane, the table (key schema and indexes from the
template), roles and policies, log groups, the KMS key, the topics, the functions (code from the asset
bucket), their event source mappings and the schedule rule. Everything else is substituted below, each
substitution next to the code that makes it, and nothing else is touched: environment variables, key
schemas, index names, queue attributes and event source mappings reach moto as synthesized.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import secrets as secrets_module
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
# What the Powertools public SSM parameter resolves to in a real account (the layer's ARN for this version).
POWERTOOLS_LAYER = (
    "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:21"
)
FUNCTION_URL = "https://deployed-template-test.lambda-url.us-east-1.on.aws/"


@dataclass
class Prepared:
    template: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)  # logical id -> ARN of the secret made for it
    substitutions: list[str] = field(default_factory=list)  # what was changed, for failure messages


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def replace(node: Any, match: Any, by: Any) -> Any:
    """`node` with every sub-value equal to `match` replaced by `by`."""
    if node == match:
        return copy.deepcopy(by)
    if isinstance(node, dict):
        return {key: replace(value, match, by) for key, value in node.items()}
    if isinstance(node, list):
        return [replace(value, match, by) for value in node]
    return node


def _drop(prepared: Prepared, logical_id: str, why: str) -> None:
    resources = prepared.template["Resources"]
    del resources[logical_id]
    for body in resources.values():
        depends = body.get("DependsOn")
        if isinstance(depends, list) and logical_id in depends:
            body["DependsOn"] = [d for d in depends if d != logical_id]
        elif depends == logical_id:
            del body["DependsOn"]
    prepared.substitutions.append(f"dropped {logical_id}: {why}")


def prepare_for_moto(template: dict[str, Any], secretsmanager: Any, stack_name: str) -> Prepared:
    prepared = Prepared(copy.deepcopy(template))
    resources = prepared.template["Resources"]

    # 1. SSM-typed parameters: CloudFormation resolves them from SSM at deploy time. moto's SSM has neither
    # the public Powertools parameter nor the CDK bootstrap version, and refuses to create names under /aws/:
    # each becomes a plain String parameter whose default is what SSM would answer.
    for name, parameter in prepared.template.get("Parameters", {}).items():
        if parameter["Type"].startswith("AWS::SSM::Parameter::Value"):
            value = POWERTOOLS_LAYER if "powertools" in parameter["Default"] else "30"
            prepared.substitutions.append(f"parameter {name} ({parameter['Default']}) = {value}")
            parameter.update(Type="String", Default=value)
    # The bootstrap version check (a Rules section) is the CDK CLI's business; moto ignores Rules.

    for logical_id, body in list(resources.items()):
        kind, properties = body["Type"], body.get("Properties", {})
        # 2. AWS::SecretsManager::Secret is not implemented by moto's CloudFormation: create each secret
        # through the API (as the template declares it: name, description) and put its ARN wherever the
        # template says {"Ref": <secret>} (function environments, IAM policies, outputs).
        if kind == "AWS::SecretsManager::Secret":
            assert "SecretString" not in properties  # no value ever travels in the template
            name = properties.get("Name") or f"{stack_name}-{logical_id}"
            request = {"Name": name, "Description": properties.get("Description", "")}
            if "GenerateSecretString" in properties:  # Secrets Manager generates it (the graph key)
                request["SecretString"] = secrets_module.token_hex(32)
            arn = secretsmanager.create_secret(**request)["ARN"]
            prepared.secrets[logical_id] = arn
            del resources[logical_id]
            prepared.template = replace(prepared.template, {"Ref": logical_id}, arn)
            resources = prepared.template["Resources"]
            prepared.substitutions.append(f"secret {logical_id} created through the API as {name}")
        # 3. AWS::SNS::Subscription is not implemented: a subscription of a topic in this template becomes
        # the topic's own `Subscription` property, which moto's Topic implements (same endpoint, protocol).
        elif kind == "AWS::SNS::Subscription":
            topic_ref = properties["TopicArn"]
            assert properties.get("RawMessageDelivery", False) is False  # moto's default, as deployed
            if isinstance(topic_ref, dict) and "Ref" in topic_ref:
                topic = resources[topic_ref["Ref"]]["Properties"]
                topic.setdefault("Subscription", []).append(
                    {"Endpoint": properties["Endpoint"], "Protocol": properties["Protocol"]}
                )
                _drop(prepared, logical_id, f"folded into {topic_ref['Ref']}.Subscription")
            else:
                _drop(prepared, logical_id, "subscription to a topic outside this template")
        # 4. AWS::Lambda::Url is not implemented: the webhook is invoked in-process with a Function URL
        # event, and whatever reads the URL (the WebhookUrl output) gets a placeholder.
        elif kind == "AWS::Lambda::Url":
            prepared.template = replace(
                prepared.template, {"Fn::GetAtt": [logical_id, "FunctionUrl"]}, FUNCTION_URL
            )
            resources = prepared.template["Resources"]
            _drop(prepared, logical_id, "Function URL (moto has none)")
        # 5. Alarms are not implemented (and moto's CloudWatch never notifies anyway): the dashboard's
        # references to their ARNs become the ARNs CloudWatch would give them.
        elif kind == "AWS::CloudWatch::Alarm":
            alarm_arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{stack_name}-{logical_id}"
            prepared.template = replace(prepared.template, {"Fn::GetAtt": [logical_id, "Arn"]}, alarm_arn)
            resources = prepared.template["Resources"]
            _drop(prepared, logical_id, "CloudWatch alarm")
        # 6. Topic and queue policies are not implemented; moto enforces no resource policy anyway (the
        # template tests assert them).
        elif kind in ("AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy"):
            _drop(prepared, logical_id, kind)
        # 7. moto invokes a function for every message sent to a queue with an enabled event source mapping
        # (in Docker). The test plays Lambda's event source itself, so the mappings are created disabled and
        # read back to learn which queue feeds which function with which batch size.
        # 8. CloudFormation names an unnamed FIFO queue `<stack>-<logical id>-<suffix>.fifo`; moto leaves out
        # the `.fifo` and then refuses its own name: give it the name CloudFormation would.
        elif kind == "AWS::SQS::Queue" and properties.get("FifoQueue") and "QueueName" not in properties:
            properties["QueueName"] = f"{stack_name}-{logical_id}"[:70] + "-abc123.fifo"
            prepared.substitutions.append(f"{logical_id} named {properties['QueueName']}")
        elif kind == "AWS::Lambda::EventSourceMapping":
            properties["Enabled"] = False
            prepared.substitutions.append(f"{logical_id} created disabled (the test polls the queue)")
    return prepared


def asset_zip(outdir: Path, template: dict[str, Any]) -> tuple[str, bytes]:
    """The one code asset every function names (S3Key), zipped as the CDK CLI uploads it."""
    (key,) = {body["Properties"]["Code"]["S3Key"] for body in _functions(template)}
    manifest = json.loads(next(outdir.glob("*.assets.json")).read_text())
    (asset,) = [
        a
        for a in manifest["files"].values()
        if any(d["objectKey"] == key for d in a["destinations"].values())
    ]
    source = outdir / asset["source"]["path"]  # the bundled directory (asset.<hash>) inside cdk.out
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(source).as_posix())
    return key, buffer.getvalue()


def upload_asset(s3: Any, key: str, data: bytes) -> str:
    """Into the bucket the template names (the CDK bootstrap bucket, Fn::Sub of account and region)."""
    bucket = f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    return bucket


def _functions(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [body for body in template["Resources"].values() if body["Type"] == "AWS::Lambda::Function"]


def code_sha256(data: bytes) -> str:
    import base64

    return base64.b64encode(hashlib.sha256(data).digest()).decode()
