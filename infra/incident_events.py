"""The incident event bus: the webhook function puts one event per mirrored PagerDuty delivery on it
(functions/alertbridge/logic/incident_events.py); rules on it hand them to the rest of the platform.

Only the webhook function may put events on the bus (`events:PutEvents` on this bus's ARN). Events have
`source` "alertbridge", a `detail-type` per lifecycle step ("Incident Acknowledged", ...) and a versioned
`detail` whose JSON Schema ships as alertbridge/models/incident_event.schema.json. EventBridge delivers at
least once, so targets deduplicate on `detail.delivery_id`
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html describes its retries).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from alertbridge.models.incident_event import DETAIL_TYPES, SOURCE

ENV_BUS_NAME = "ALERTBRIDGE_EVENT_BUS_NAME"


class IncidentEvents(Construct):
    def __init__(
        self, scope: Construct, id: str, *, publisher: lambda_.Function, bus_name: str | None = None
    ) -> None:
        """`bus_name`: the bus's name (None: CloudFormation generates one)."""
        super().__init__(scope, id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=bus_name)
        self.bus.grant_put_events_to(publisher)
        publisher.add_environment(ENV_BUS_NAME, self.bus.event_bus_name)
        self._rules = 0

    def on_incident(
        self,
        target: lambda_.IFunction | sqs.IQueue,
        *,
        detail_types: Sequence[str] | None = None,
        routes: Sequence[str] | None = None,
        scope: Construct | None = None,
    ) -> events.Rule:
        """A rule sending this bus's incident events to `target` (a Lambda function or an SQS queue):
        all of them, or only those of `detail_types` and/or of the bridge's `routes`. The rule is made
        in `scope` (default: beside the bus); give the consumer's stack when the target lives in another
        stack, so that stack depends on the bridge's and not the other way round."""
        known = set(DETAIL_TYPES.values())
        unknown = sorted(set(detail_types or ()) - known)
        if unknown:
            raise ValueError(f"unknown incident detail types {unknown}; known: {sorted(known)}")
        pattern: dict[str, Any] = {"source": [SOURCE]}
        if detail_types:
            pattern["detail_type"] = list(dict.fromkeys(detail_types))
        if routes:
            pattern["detail"] = {"route": list(dict.fromkeys(routes))}
        self._rules += 1
        rule = events.Rule(
            scope or self,
            f"OnIncident{self._rules}" if scope is None else f"AlertBridgeOnIncident{self._rules}",
            event_bus=self.bus,
            event_pattern=events.EventPattern(**pattern),
        )
        rule.add_target(_target(target))
        return rule


def _target(target: lambda_.IFunction | sqs.IQueue) -> events.IRuleTarget:
    # jsii interfaces are not runtime-checkable Protocols: tell them apart by their ARN attribute
    if hasattr(target, "function_arn"):
        return targets.LambdaFunction(target)  # type: ignore[arg-type]
    if hasattr(target, "queue_arn"):
        return targets.SqsQueue(target)  # type: ignore[arg-type]
    raise TypeError(f"on_incident targets a Lambda function or an SQS queue, not {type(target).__name__}")


class IncidentEventsMixin:
    """`AlertBridge.incident_events` (the bus, created on first use or when a bus name is given) and
    `AlertBridge.on_incident`. The bridge calls `_init_incident_events` once its functions exist."""

    webhook: Any  # infra.webhook.WebhookFunction
    _incident_events: IncidentEvents | None
    _incident_bus_name: str | None
    _on_bus_created: list[Callable[[IncidentEvents], None]]

    def _init_incident_events(self, bus_name: str | None) -> None:
        self._incident_events, self._incident_bus_name = None, bus_name
        self._on_bus_created = []
        if bus_name is not None:
            self.incident_events  # noqa: B018 - created now, so the bus exists without a rule

    @property
    def incident_events(self) -> IncidentEvents:
        if self._incident_events is None:
            scope: Construct = self  # type: ignore[assignment]  # mixed into a Construct
            self._incident_events = IncidentEvents(
                scope, "IncidentEvents", publisher=self.webhook.function, bus_name=self._incident_bus_name
            )
            for callback in self._on_bus_created:
                callback(self._incident_events)
        return self._incident_events

    def when_incident_events(self, callback: Callable[[IncidentEvents], None]) -> None:
        """Call `callback` with the bus once it exists: now if it does, else when it is created (the
        stack's output for the bus name is added this way, even by an `on_incident` after the stack)."""
        if self._incident_events is not None:
            callback(self._incident_events)
        else:
            self._on_bus_created.append(callback)

    def on_incident(
        self,
        target: lambda_.IFunction | sqs.IQueue,
        *,
        detail_types: Sequence[str] | None = None,
        routes: Sequence[str] | None = None,
        scope: Construct | None = None,
    ) -> events.Rule:
        """Incident events (all, or of `detail_types` and/or `routes`) to a Lambda function or SQS queue;
        the rule is made in `scope` (the consumer's stack) when given."""
        return self.incident_events.on_incident(target, detail_types=detail_types, routes=routes, scope=scope)
