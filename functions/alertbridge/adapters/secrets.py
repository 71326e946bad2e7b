"""Secrets Manager adapter: routing keys and webhook credentials, cached by Powertools parameters.

Values never reach a log line or an error message: errors name the route and the secret, not the value.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from alertbridge.errors import ConfigError, RoutingKeyMissing
from alertbridge.logic.dedup import routing_key_fingerprint
from alertbridge.models.config import BridgeConfig
from alertbridge.models.pagerduty import ROUTING_KEY_CHARS

_ROUTING_KEY = re.compile(rf"^[A-Za-z0-9]{{{ROUTING_KEY_CHARS}}}$")


class WebhookCredentials(BaseModel):
    """The webhook secret's JSON: signing secrets (several during rotation), REST token, From e-mail."""

    webhook_secrets: list[str] = Field(default_factory=list)
    rest_token: str | None = None
    from_email: str | None = None

    def __repr__(self) -> str:  # keep secrets out of accidental logging
        return f"WebhookCredentials(secrets={len(self.webhook_secrets)}, rest_token={bool(self.rest_token)})"

    __str__ = __repr__


def is_well_formed_routing_key(value: object) -> bool:
    return isinstance(value, str) and bool(_ROUTING_KEY.match(value))


def listed_routing_keys(value: object) -> list[str] | None:
    """A route's entry in the routing-keys secret: one key, or `[current, retired, ...]` while a rotation
    is under way (retired keys still resolve the incidents they opened). None when it is neither."""
    keys = [value] if isinstance(value, str) else value
    if not isinstance(keys, list) or not keys or not all(is_well_formed_routing_key(key) for key in keys):
        return None
    return [str(key) for key in keys]


class _CachedSecret:
    """One JSON secret read through Powertools' SecretsProvider (cached for `max_age` seconds)."""

    def __init__(self, secret_id: str, *, max_age: int, client: Any = None) -> None:
        self.secret_id = secret_id
        self._max_age = max_age
        self._client = client
        self._provider: Any = None

    def value(self, *, force: bool = False) -> dict[str, Any]:
        try:
            data = self._secrets().get(
                self.secret_id, max_age=self._max_age, transform="json", force_fetch=force
            )
        except Exception as exc:  # the SDK's message may not carry the value, but be safe: name only
            raise ConfigError(f"cannot read secret {self.secret_id!r}: {type(exc).__name__}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"secret {self.secret_id!r} must hold a JSON object")
        return data

    def _secrets(self) -> Any:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            from alertbridge.adapters import aws

            # A client of the container's session: SecretsProvider would otherwise open a session of its
            # own, which loads the SDK's endpoint and service data again (tens of ms at cold start).
            client = self._client if self._client is not None else aws.client("secretsmanager")
            self._provider = SecretsProvider(boto3_client=client)
        return self._provider


class SecretsRoutingKeys:
    """RoutingKeys port: the routing-keys secret holds {secret_field: key} or, during a rotation,
    {secret_field: [current key, retired key, ...]}."""

    def __init__(
        self, secret_id: str, config: BridgeConfig, *, max_age: int = 300, client: Any = None
    ) -> None:
        self._secret = _CachedSecret(secret_id, max_age=max_age, client=client)
        self._config = config

    def routing_key(self, route: str, *, opened_with: str | None = None) -> str:
        if opened_with:
            # The key that opened the incident wherever the secret now lists it: a route renamed or removed
            # since must not strand its open incidents (PagerDuty drops a resolve sent with another key).
            opening = self._find(opened_with)
            if opening is not None:
                return opening
        if route not in self._config.routes:
            raise RoutingKeyMissing(f"route {route!r} is not configured")
        field = self._config.secret_field(route)
        keys = listed_routing_keys(self._secret.value().get(field))
        if keys is None:
            # A freshly set secret may not be in the cache yet: look once more before failing.
            keys = listed_routing_keys(self._secret.value(force=True).get(field))
        if keys is None:
            raise RoutingKeyMissing(
                f"secret {self._secret.secret_id!r} has no well-formed {ROUTING_KEY_CHARS}-character "
                f"routing key (or list of keys, current first) under {field!r} (route {route!r})"
            )
        return keys[0]

    def _find(self, fingerprint: str) -> str | None:
        """The key with this fingerprint under any field of the secret; read again once if the cached copy
        has none (a rotation may be newer than the cache)."""
        for force in (False, True):
            for value in self._secret.value(force=force).values():
                found = _matching(listed_routing_keys(value) or [], fingerprint)
                if found is not None:
                    return found
        return None


def _matching(keys: list[str], fingerprint: str) -> str | None:
    return next((key for key in keys if routing_key_fingerprint(key) == fingerprint), None)


class SecretsWebhookCredentials:
    def __init__(self, secret_id: str, *, max_age: int = 300, client: Any = None) -> None:
        self._secret = _CachedSecret(secret_id, max_age=max_age, client=client)

    def credentials(self) -> WebhookCredentials:
        try:
            return WebhookCredentials.model_validate(self._secret.value())
        except ValidationError as exc:
            fields = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
            raise ConfigError(f"secret {self._secret.secret_id!r} has malformed fields: {fields}") from None
