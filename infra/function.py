"""The shape every bridge function shares: python3.13 on arm64, X-Ray, own log group and own role."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.nag import acknowledge
from infra.settings import DeploySettings

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
RUNTIME_REASON = (
    "python3.13 on purpose: the pinned Powertools managed layer (AWSLambdaPowertoolsPythonV3-python313-arm64) "
    "and the bundled wheels are built for it; moving runtimes is a deliberate, tested change."
)
ALARMS_WILDCARD_FINDING = (
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:*]"
)
SERVICE_NAME = "alertbridge"
METRICS_NAMESPACE = "AlertBridge"


class BridgeFunction(Construct):
    """A Lambda function with a role that holds only its log group and X-Ray; callers grant the rest."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: str,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
        environment: dict[str, str],
        timeout_seconds: int,
        memory_mb: int,
        settings: DeploySettings,
        reserved_concurrency: int | None = None,
        wildcard_reason: str = "",
    ) -> None:
        super().__init__(scope, id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=_retention(settings.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"alertbridge {id}",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=code,
            layers=[layer],
            role=self.role,
            log_group=self.log_group,
            timeout=Duration.seconds(timeout_seconds),
            memory_size=memory_mb,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=reserved_concurrency,
            environment={**environment, **_powertools_environment(settings)},
            description=f"alertbridge {id}: {handler}",
        )
        self.log_group.grant_write(self.role)
        _acknowledge_wildcards(self.role, wildcard_reason)
        acknowledge(self.function, "AwsSolutions-L1", RUNTIME_REASON)

    @property
    def function_name(self) -> str:
        return self.function.function_name

    def grant_on_alarms(self, actions: list[str], reason: str) -> None:
        """CloudWatch `actions` on every alarm of this account in this region (and no other), with the
        cdk-nag acknowledgement of that wildcard and why."""
        alarms = Stack.of(self).format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name="*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.function.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[alarms]))
        acknowledge(self.role, ALARMS_WILDCARD_FINDING, reason)


def _powertools_environment(settings: DeploySettings) -> dict[str, str]:
    return {
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": settings.log_level,
    }


_RETENTION = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS, 5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS, 120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS, 180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS, 545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS, 1096: logs.RetentionDays.THREE_YEARS, 1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
}  # fmt: skip


def _retention(days: int) -> logs.RetentionDays:
    return _RETENTION[days]  # the settings model admits only these values


def _acknowledge_wildcards(role: iam.Role, extra_reason: str) -> None:
    reason = "X-Ray PutTraceSegments/PutTelemetryRecords take no resource ARN (active tracing)."
    acknowledge(role, "AwsSolutions-IAM5[Resource::*]", f"{reason} {extra_reason}".strip())
