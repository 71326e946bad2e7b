"""Where alarms enter: the KMS key, the alarm topic, the ingest queue and its dead-letter queue,
subscriptions to existing topics and the opt-in EventBridge rules."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.settings import DeploySettings, EventBridgeSettings

CLOUDWATCH = "cloudwatch.amazonaws.com"
STATE_CHANGE = "CloudWatch Alarm State Change"
CONFIGURATION_CHANGE = "CloudWatch Alarm Configuration Change"


def bridge_key(scope: Construct, id: str) -> kms.Key:
    """Customer-managed key: the AWS-managed aws/sns key does not let CloudWatch publish to a topic."""
    # Retained on delete: the retained secrets are encrypted with it (AWS KMS then schedules nothing; delete
    # it by hand once the retained secrets are gone, see the README).
    key = kms.Key(
        scope,
        id,
        enable_key_rotation=True,
        description="alertbridge: alarm topics and secrets",
        removal_policy=RemovalPolicy.RETAIN,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublishToEncryptedTopics",
            principals=[iam.ServicePrincipal(CLOUDWATCH)],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy "*" means this key
            conditions=alarm_source_conditions(Stack.of(scope)),
        )
    )
    return key


def alarm_source_conditions(stack: Stack) -> dict[str, dict[str, str]]:
    """Confused-deputy guard: only CloudWatch alarms of this account and region (AWS documents
    aws:SourceAccount and aws:SourceArn for service principals in key and topic policies)."""
    return {
        "StringEquals": {"aws:SourceAccount": stack.account},
        "ArnLike": {
            "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
        },
    }


def alarm_topic(scope: Construct, id: str, key: kms.IKey, display_name: str) -> sns.Topic:
    """An encrypted, TLS-only topic CloudWatch alarms of this account and region may publish to."""
    topic = sns.Topic(scope, id, master_key=key, enforce_ssl=True, display_name=display_name)
    stack = Stack.of(scope)
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublish",
            principals=[iam.ServicePrincipal(CLOUDWATCH)],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions=alarm_source_conditions(stack),
        )
    )
    return topic


class AlarmIntake(Construct):
    """Alarm topic + ingest queue (+ DLQ), fed by SNS subscriptions and optional EventBridge rules."""

    def __init__(self, scope: Construct, id: str, *, settings: DeploySettings, key: kms.IKey) -> None:
        super().__init__(scope, id)
        self.topic = alarm_topic(self, "AlarmTopic", key, "alertbridge alarms")
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(settings.ingest.dlq_retention_days),
        )
        self.queue = sqs.Queue(
            self,
            "IngestQueue",
            # SQS-managed keys: SNS topics in other accounts and EventBridge deliver with no key grants.
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(settings.ingest.visibility_timeout_seconds),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=settings.ingest.max_receive_count
            ),
        )
        self._subscribe(self.topic)
        for index, arn in enumerate(settings.subscribe_topic_arns):
            self._subscribe(sns.Topic.from_topic_arn(self, f"ExistingTopic{index}", arn))
        self.rules = self._eventbridge_rules(settings.eventbridge)

    def _subscribe(self, topic: sns.ITopic) -> None:
        # Raw delivery stays off: the SNS envelope names the topic, which routing rules can match.
        topic.add_subscription(subscriptions.SqsSubscription(self.queue, raw_message_delivery=False))

    def _eventbridge_rules(self, options: EventBridgeSettings) -> list[events.Rule]:
        rules = []
        if options.state_changes:
            rules.append(self._rule("AlarmStateChangeRule", STATE_CHANGE, options, {}))
        if options.alarm_deletions:
            rules.append(
                self._rule("AlarmDeletedRule", CONFIGURATION_CHANGE, options, {"operation": ["delete"]})
            )
        return rules

    def _rule(
        self, id: str, detail_type: str, options: EventBridgeSettings, detail: dict[str, list[str]]
    ) -> events.Rule:
        rule = events.Rule(
            self,
            id,
            description=f"alertbridge: {detail_type} into the ingest queue",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=[detail_type],
                account=options.accounts or None,
                detail={**detail, **_alarm_name_filter(options.alarm_name_prefixes)},
            ),
        )
        rule.add_target(targets.SqsQueue(self.queue))
        return rule


def _alarm_name_filter(prefixes: list[str]) -> dict[str, object]:
    if not prefixes:
        return {}
    return {"alarmName": [{"prefix": prefix} for prefix in prefixes]}
