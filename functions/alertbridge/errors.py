"""Typed errors shared by the PagerDuty clients, the pipeline and the library API.

Messages never carry secrets.
"""

from __future__ import annotations


class AlertBridgeError(Exception):
    """Base of every error alertbridge raises on purpose."""


class ConfigError(AlertBridgeError):
    """Configuration or settings are invalid; the message says what to fix. The library raises it for an
    `EventsClient` given a malformed routing key, a non-https URL or a non-positive timeout."""


class InvalidInput(AlertBridgeError):
    """Input that cannot be used: an inbound notification that cannot be parsed at all (still paged
    generically by the pipeline), or a library call's argument (a malformed topic ARN, a blank dedup id)."""


class PublishFailed(AlertBridgeError):
    """SNS did not take the message (`publish_alert`, `acknowledge_alert`, `resolve_alert`): the topic does
    not exist, the caller may not publish or may not use the topic's KMS key, or AWS was unreachable.
    `code` is AWS's error code (e.g. "NotFound", "KMSAccessDenied"), or the botocore exception's name."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class RoutingKeyMissing(AlertBridgeError):
    """The secret has no well-formed routing key for a route."""


class PagerDutyError(AlertBridgeError):
    """Any failure talking to PagerDuty."""

    retryable: bool = True
    attempts: int = 1  # how many requests were made before this error was raised (set by the clients)


class RateLimited(PagerDutyError):
    def __init__(self, message: str = "PagerDuty rate limit (429)", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RequestTimeout(PagerDutyError):
    """PagerDuty did not connect or answer in time; `timeout_seconds` is the limit that ran out."""

    def __init__(
        self, message: str = "PagerDuty did not answer in time", timeout_seconds: float | None = None
    ) -> None:
        super().__init__(message)
        self.timeout_seconds = timeout_seconds


class ConnectionFailed(PagerDutyError):
    pass


class ServerError(PagerDutyError):
    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message or f"PagerDuty server error {status}")
        self.status = status


class Rejected(PagerDutyError):
    """400 invalid event: never retried as is."""

    retryable = False

    def __init__(self, errors: list[str], status: int = 400, message: str = "") -> None:
        super().__init__(message or f"PagerDuty rejected the event ({status}): {'; '.join(errors)}")
        self.errors = errors
        self.status = status


class DeadlineExceeded(PagerDutyError):
    """Retries ran out of the record's time budget; the record goes back to the queue."""


class RestApiError(PagerDutyError):
    """REST API failure; subclasses say what to fix."""

    retryable = False


class UnknownRequester(RestApiError):
    """The From e-mail is not a user of the PagerDuty account."""


class BadToken(RestApiError):
    """The REST API token is missing, malformed or revoked (401)."""


class Forbidden(RestApiError):
    """The token's user lacks permission for this action (403)."""


class NotFound(RestApiError):
    pass
