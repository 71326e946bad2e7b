"""The only Logger and Metrics. Tracer is imported only by handlers that pay for it."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

SERVICE = "alertbridge"
NAMESPACE = "AlertBridge"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


class MetricsCounter:
    """ports.Counter on Powertools Metrics (flushed by each handler's `@metrics.log_metrics`)."""

    def add(self, name: str, value: int = 1) -> None:
        metrics.add_metric(name=name, unit="Count", value=value)


metrics_counter = MetricsCounter()
