"""The webhook function behind a Function URL: PagerDuty incident changes mirrored into the table.

The URL's auth type is NONE because PagerDuty cannot sign requests with AWS SigV4; every request is
authenticated by the function itself (HMAC `X-PagerDuty-Signature` with the secret from Secrets Manager),
and it answers 401 without touching state when the signature is missing or wrong.
"""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.function import BridgeFunction
from infra.settings import DeploySettings
from infra.state_table import STATE_ITEM_ACTIONS, StateTable

HANDLER = "alertbridge.handlers.webhook.lambda_handler"


class WebhookFunction(Construct):
    """May get, put and query state items (what DynamoStateStore, DynamoWebhookDeliveries and
    DynamoIncidentLinks call) and read the webhook secret; it cannot read routing keys. Its URL is public,
    so by default it runs on reserved concurrency: a flood cannot take the delivery function's share."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploySettings,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
        environment: dict[str, str],
        table: StateTable,
        webhook_secret: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, id)
        options = settings.webhook
        self.handler = BridgeFunction(
            self,
            "Webhook",
            handler=HANDLER,
            code=code,
            layer=layer,
            environment={
                **environment,
                "ALERTBRIDGE_WEBHOOK_SECRET": webhook_secret.secret_arn,
                "ALERTBRIDGE_ALLOW_UNSIGNED_WEBHOOKS": str(options.allow_unsigned).lower(),
            },
            timeout_seconds=options.timeout_seconds,
            memory_mb=options.memory_mb,
            settings=settings,
            reserved_concurrency=options.reserved_concurrency,
        )
        self.function = self.handler.function
        self.url = self.function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
        table.grant_actions(self.function, self.handler.role, *STATE_ITEM_ACTIONS)
        webhook_secret.grant_read(self.function)
