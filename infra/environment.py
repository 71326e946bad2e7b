"""Each function's environment, measured the way Lambda measures it, checked at synth.

Lambda rejects a function whose environment variables exceed 4 KB, counted over the JSON of the whole
`Variables` map, so quotes and backslashes inside values (a configuration's regular expressions) count
twice (AWS Lambda Developer Guide, "Lambda quotas": "Environment variables: 4 KB, for all environment
variables associated with the function, in aggregate"). At synth some values are still CloudFormation
references (a queue URL, a secret ARN); each counts as `REFERENCE_BYTES`, more than any name this stack
generates resolves to, so the synth measure is an upper bound of the deployed one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jsii
from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IValidation

LAMBDA_ENV_LIMIT_BYTES = 4096
# Longest value a Ref/GetAtt here resolves to: queue URLs (~130 bytes with a generated 80-char name),
# secret ARNs (~110), table names (~60). 256 leaves room for long stack names.
REFERENCE_BYTES = 256


def lambda_env_bytes(variables: Mapping[str, str]) -> int:
    """Bytes of the `Variables` map as JSON, the way Lambda counts them (escapes included). Non-ASCII
    characters are counted escaped (\\uXXXX), never less than their UTF-8 size."""
    return len(json.dumps(dict(variables), separators=(",", ":"), ensure_ascii=True).encode())


def estimate(value: Any) -> str:
    """A stand-in string at least as long as a resolved CloudFormation value."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            separator, parts = argument
            return str(separator).join(estimate(part) for part in parts)
    return "x" * REFERENCE_BYTES


def measured_environment(function: lambda_.Function) -> dict[str, str]:
    """The function's variables as the template will carry them, references replaced by their bound."""
    cfn = function.node.default_child
    # The L2 function renders its environment lazily: resolve the L1 properties as the template will.
    properties = Stack.of(function).resolve(cfn._cfn_properties) or {}  # type: ignore[union-attr]
    variables = (properties.get("environment") or {}).get("variables") or {}
    return {name: estimate(value) for name, value in variables.items()}


@jsii.implements(IValidation)
class EnvironmentFitsLambda:
    """A synth-time validation: every function's environment stays within Lambda's 4 KB."""

    def __init__(self, functions: Mapping[str, lambda_.Function]) -> None:
        self._functions = dict(functions)

    def validate(self) -> list[str]:
        errors = []
        for name, function in self._functions.items():
            size = lambda_env_bytes(measured_environment(function))
            if size > LAMBDA_ENV_LIMIT_BYTES:
                errors.append(
                    f"the {name} function's environment is {size} bytes as Lambda measures it (the JSON of "
                    f"all its variables), over Lambda's {LAMBDA_ENV_LIMIT_BYTES}-byte limit"
                )
        return errors


def check_environments(scope: Construct, functions: Mapping[str, lambda_.Function]) -> None:
    scope.node.add_validation(EnvironmentFitsLambda(functions))
