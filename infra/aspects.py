"""A CDK Aspect: warn about every alarm that pages through the bridge without an OK action.

An alarm whose ALARM transition reaches the bridge but whose OK transition does not opens incidents that
nothing ever resolves. The warning names the alarm's construct path (`cdk synth` prints it; `--strict`
makes it fail).
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import Annotations, IAspect, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sns as sns
from constructs import IConstruct

WARNING_ID = "alertbridge:alarm-without-ok-action"


@jsii.implements(IAspect)
class AlarmsResolveThroughTheBridge:
    def __init__(self, topic: sns.Topic) -> None:
        # The actions are lazy lists of tokens; resolved, the topic shows as a Ref to its logical id (in its
        # own stack) or a reference naming it (in another stack).
        self._topic_id = Stack.of(topic).get_logical_id(topic.node.default_child)  # type: ignore[arg-type]

    def _names_topic(self, node: IConstruct, actions: object) -> bool:
        return self._topic_id in json.dumps(Stack.of(node).resolve(actions) or [])

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, cloudwatch.CfnAlarm | cloudwatch.CfnCompositeAlarm):
            return
        if self._names_topic(node, node.alarm_actions) and not self._names_topic(node, node.ok_actions):
            Annotations.of(node).add_warning_v2(
                WARNING_ID,
                f"{node.node.path} pages through the alertbridge topic but has no OK action to it: its "
                "incidents never resolve by themselves (use AlertBridge.wire_alarm, or add_ok_action)",
            )
