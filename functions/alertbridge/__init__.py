"""alertbridge: CloudWatch alarms and application alerts to PagerDuty Events API v2.

Public API (imported lazily, so `import alertbridge` stays cheap: no boto3, httpx, CDK or moto until used)::

    from alertbridge import AlertMessage, publish_alert, acknowledge_alert, resolve_alert  # through the bridge (SNS)
    from alertbridge import EventsClient                                 # straight to PagerDuty
    from alertbridge import IncidentsClient                              # incidents, REST API v2
    from alertbridge import render_event                                 # the bodies a Lambda event becomes
    from alertbridge import PagerDutyError, RateLimited, RequestTimeout, ConnectionFailed, Rejected, ServerError
    from alertbridge import BadToken, Forbidden, NotFound, UnknownRequester, RestApiError  # IncidentsClient

Errors: every failure is an `AlertBridgeError`. `InvalidInput` (a bad argument, refused before anything is
sent), `PublishFailed` (SNS did not take the message: `.code`), `ConfigError` (an `EventsClient` given a
malformed routing key, URL or timeout), and the `PagerDutyError` family from `EventsClient`. Invalid alert
fields passed to `EventsClient.trigger` raise pydantic's ValidationError (a ValueError).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alertbridge.client import EventsClient
    from alertbridge.errors import (
        AlertBridgeError,
        BadToken,
        ConfigError,
        ConnectionFailed,
        DeadlineExceeded,
        Forbidden,
        InvalidInput,
        NotFound,
        PagerDutyError,
        PublishFailed,
        RateLimited,
        Rejected,
        RequestTimeout,
        RestApiError,
        ServerError,
        UnknownRequester,
    )
    from alertbridge.incidents import IncidentsClient
    from alertbridge.models.generic import AlertMessage
    from alertbridge.publish import acknowledge_alert, publish_alert, resolve_alert
    from alertbridge.render import render_event

_EXPORTS = {
    "AlertMessage": "alertbridge.models.generic",
    "publish_alert": "alertbridge.publish",
    "resolve_alert": "alertbridge.publish",
    "acknowledge_alert": "alertbridge.publish",
    "EventsClient": "alertbridge.client",
    "IncidentsClient": "alertbridge.incidents",
    "AlertBridgeError": "alertbridge.errors",
    "PagerDutyError": "alertbridge.errors",
    "RateLimited": "alertbridge.errors",
    "RequestTimeout": "alertbridge.errors",
    "ConnectionFailed": "alertbridge.errors",
    "Rejected": "alertbridge.errors",
    "ServerError": "alertbridge.errors",
    "DeadlineExceeded": "alertbridge.errors",
    "InvalidInput": "alertbridge.errors",
    "ConfigError": "alertbridge.errors",
    "PublishFailed": "alertbridge.errors",
    "render_event": "alertbridge.render",
    "BadToken": "alertbridge.errors",
    "Forbidden": "alertbridge.errors",
    "NotFound": "alertbridge.errors",
    "RestApiError": "alertbridge.errors",
    "UnknownRequester": "alertbridge.errors",
}

__all__ = [
    "AlertBridgeError",
    "AlertMessage",
    "BadToken",
    "ConfigError",
    "ConnectionFailed",
    "DeadlineExceeded",
    "EventsClient",
    "Forbidden",
    "IncidentsClient",
    "InvalidInput",
    "NotFound",
    "PagerDutyError",
    "PublishFailed",
    "RateLimited",
    "Rejected",
    "RequestTimeout",
    "RestApiError",
    "ServerError",
    "UnknownRequester",
    "acknowledge_alert",
    "publish_alert",
    "render_event",
    "resolve_alert",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'alertbridge' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
