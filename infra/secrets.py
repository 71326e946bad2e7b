"""The two secrets, created without values: CloudFormation must never see a routing key or token."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.nag import acknowledge

ROTATION_REASON = (
    "Routing keys, the webhook signing secret and the REST token are issued by PagerDuty; "
    "they are rotated in PagerDuty and then put with `aws secretsmanager put-secret-value`. "
    "No Lambda can rotate them."
)


class BridgeSecrets(Construct):
    """`routing_keys`: {route secret_field: 32-char key}. `webhook`: {webhook_secrets, rest_token, from_email}.

    Both are retained when the stack is deleted (they hold what PagerDuty issued) and have names CloudFormation
    generates: a fixed name would make the next deploy of a deleted stack fail on the retained secret."""

    def __init__(self, scope: Construct, id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, id)
        self.routing_keys = self._secret("RoutingKeys", "PagerDuty routing keys", key)
        self.webhook = self._secret("Webhook", "PagerDuty webhook secrets, REST token and From e-mail", key)

    def _secret(self, id: str, description: str, key: kms.IKey) -> secretsmanager.Secret:
        # No secret_string and no generate_secret_string: the secret exists, empty, until the operator sets it.
        secret = secretsmanager.Secret(
            self,
            id,
            description=f"alertbridge: {description} (JSON, set with put-secret-value)",
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        secret.node.default_child.add_property_deletion_override("GenerateSecretString")  # type: ignore[union-attr]
        acknowledge(secret, "AwsSolutions-SMG4", ROTATION_REASON)
        return secret
