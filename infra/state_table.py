"""The state table: layout from alertbridge.models.table, on-demand, PITR, TTL, retained on delete."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from alertbridge.models import table as layout
from infra.nag import acknowledge


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


# What the adapters call (adapters/dynamo_state.py): conditional puts, reads, and index queries.
STATE_ITEM_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")
STATE_READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query")


class StateTable(Construct):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=_string(layout.PARTITION_KEY),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=layout.TTL_ATTRIBUTE,
            # Open incidents and maintenance windows must survive a stack deletion.
            removal_policy=RemovalPolicy.RETAIN,
            deletion_protection=True,
        )
        self.table.add_global_secondary_index(
            index_name=layout.INDEX_NAME,
            partition_key=_string(layout.INDEX_PARTITION_KEY),
            sort_key=_string(layout.INDEX_SORT_KEY),
            projection_type=dynamodb.ProjectionType.ALL,  # `alertbridge active` lists items without a second read
        )

    def grant_actions(self, grantee: iam.IGrantable, role: iam.IRole, *actions: str) -> None:
        """Exactly `actions` on this table and its index: what the function's adapters call."""
        self.table.grant(grantee, *actions)
        self._acknowledge_index(role)

    def _acknowledge_index(self, role: iam.IRole) -> None:
        logical_id = Stack.of(self).get_logical_id(self.table.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/index/*]",
            f"Queries on the {layout.INDEX_NAME} index of this bridge's own table (open keys, maintenance).",
        )
