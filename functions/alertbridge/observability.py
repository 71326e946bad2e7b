"""The only Logger and Metrics. Tracer is imported only by handlers that pay for it."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

SERVICE = "alertbridge"
NAMESPACE = "AlertBridge"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
