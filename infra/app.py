"""Build the CDK app from context: settings and configuration validated, stacks composed, cdk-nag on."""

from __future__ import annotations

import os

from aws_cdk import App, Environment, Validations
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks

from infra.example_alarms import ExampleAlarmsStack
from infra.settings import (
    CONFIG_CONTEXT_KEY,
    EXAMPLE_ALARMS_CONTEXT_KEY,
    SETTINGS_CONTEXT_KEY,
    load_bridge_config,
    load_deploy_settings,
)
from infra.stack import AlertBridgeStack


def build_app(app: App, code: lambda_.Code | None = None) -> AlertBridgeStack:
    """Compose the stacks on `app`; raises InfraConfigError on a bad document."""
    node = app.node
    settings = load_deploy_settings(
        node.try_get_context(SETTINGS_CONTEXT_KEY), node.try_get_context(EXAMPLE_ALARMS_CONTEXT_KEY)
    )
    config = load_bridge_config(node.try_get_context(CONFIG_CONTEXT_KEY))
    env = _environment()
    stack = AlertBridgeStack(app, settings.stack_name, config=config, settings=settings, code=code, env=env)
    if settings.example_alarms:
        ExampleAlarmsStack(app, f"{settings.stack_name}-examples", bridge=stack.bridge, env=env)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return stack


def _environment() -> Environment | None:
    # Account and region come from the CLI's profile when there is one; otherwise synth env-agnostic.
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    return Environment(account=account, region=region) if account and region else None
