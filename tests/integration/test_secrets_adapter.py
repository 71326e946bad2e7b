"""The Secrets Manager adapter on moto: current and retired routing keys, the cache, and errors that name the
secret but never a value."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from alertbridge.adapters.secrets import SecretsRoutingKeys, SecretsWebhookCredentials
from alertbridge.errors import ConfigError, RoutingKeyMissing
from alertbridge.logic.dedup import routing_key_fingerprint
from alertbridge.models.config import BridgeConfig
from tests.integration.aws_fixtures import AwsContext

CONFIG = BridgeConfig.model_validate({"routes": {"default": {}, "payments": {"secret_field": "pay"}}})
OLD, NEW, OTHER = "A" * 32, "B" * 32, "C" * 32


@pytest.fixture
def secrets(aws: AwsContext) -> Any:
    return boto3.client("secretsmanager", region_name=aws.region)


def put(client: Any, name: str, value: dict[str, object]) -> None:
    try:
        client.create_secret(Name=name, SecretString=json.dumps(value))
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=json.dumps(value))


def test_a_single_key_is_the_routes_key_under_its_secret_field(secrets: Any) -> None:
    put(secrets, "keys", {"default": OLD, "pay": NEW})
    keys = SecretsRoutingKeys("keys", CONFIG, client=secrets)
    assert keys.routing_key("default") == OLD
    assert keys.routing_key("payments") == NEW


def test_during_a_rotation_the_current_key_opens_and_a_retired_key_closes_what_it_opened(
    secrets: Any,
) -> None:
    put(secrets, "keys", {"default": [NEW, OLD], "pay": OTHER})
    keys = SecretsRoutingKeys("keys", CONFIG, client=secrets)
    assert keys.routing_key("default") == NEW
    assert keys.routing_key("default", opened_with=routing_key_fingerprint(OLD)) == OLD
    assert keys.routing_key("default", opened_with=routing_key_fingerprint(NEW)) == NEW


def test_a_key_that_left_the_secret_falls_back_to_the_current_key(secrets: Any) -> None:
    put(secrets, "keys", {"default": NEW, "pay": OTHER})
    keys = SecretsRoutingKeys("keys", CONFIG, client=secrets)
    assert keys.routing_key("default", opened_with=routing_key_fingerprint(OLD)) == NEW


def test_a_stale_cache_is_read_again_when_another_container_opened_with_a_newer_key(
    secrets: Any,
) -> None:
    put(secrets, "keys", {"default": OLD, "pay": OTHER})
    keys = SecretsRoutingKeys("keys", CONFIG, client=secrets, max_age=3600)
    assert keys.routing_key("default") == OLD  # cached for an hour
    put(secrets, "keys", {"default": [NEW, OLD], "pay": OTHER})
    assert keys.routing_key("default") == OLD  # nothing asks for more than the cache holds
    assert keys.routing_key("default", opened_with=routing_key_fingerprint(NEW)) == NEW


@pytest.mark.parametrize(
    "entry",
    [None, "short", ["short"], [], [OLD, 42], {"key": OLD}],
    ids=["missing", "malformed", "malformed-in-list", "empty-list", "not-a-string", "object"],
)
def test_a_missing_or_malformed_entry_names_the_field_and_never_the_value(
    secrets: Any, entry: object
) -> None:
    put(secrets, "keys", {"pay": OTHER, **({} if entry is None else {"default": entry})})
    keys = SecretsRoutingKeys("keys", CONFIG, client=secrets)
    with pytest.raises(RoutingKeyMissing) as raised:
        keys.routing_key("default")
    assert "'default'" in str(raised.value) and OLD not in str(raised.value)


def test_an_unconfigured_route_is_refused(secrets: Any) -> None:
    put(secrets, "keys", {"default": OLD})
    with pytest.raises(RoutingKeyMissing, match="not configured"):
        SecretsRoutingKeys("keys", CONFIG, client=secrets).routing_key("elsewhere")


def test_an_incident_of_a_route_renamed_since_resolves_with_the_key_that_opened_it(secrets: Any) -> None:
    """The route `orders` was renamed to `payments` (field `pay`) after it opened an incident; the secret
    still lists the old field. The resolve finds the opening key by fingerprint, under any field."""
    put(secrets, "keys", {"default": NEW, "pay": OTHER, "orders": OLD})
    keys = SecretsRoutingKeys("keys", CONFIG, client=secrets)
    assert keys.routing_key("orders", opened_with=routing_key_fingerprint(OLD)) == OLD
    # Moved under the new route's field: still found.
    put(secrets, "keys", {"default": NEW, "pay": [OTHER, OLD]})
    assert (
        SecretsRoutingKeys("keys", CONFIG, client=secrets).routing_key(
            "orders", opened_with=routing_key_fingerprint(OLD)
        )
        == OLD
    )


def test_webhook_credentials_never_show_their_values(secrets: Any) -> None:
    put(secrets, "hook", {"webhook_secrets": ["s3cr3t-one"], "rest_token": "t0ken-xyz"})
    credentials = SecretsWebhookCredentials("hook", client=secrets).credentials()
    assert credentials.webhook_secrets == ["s3cr3t-one"]
    shown = repr(credentials) + str(credentials)
    assert "s3cr3t-one" not in shown and "t0ken-xyz" not in shown


def test_an_unreadable_secret_is_a_config_error_naming_only_the_secret(secrets: Any) -> None:
    with pytest.raises(ConfigError, match="cannot read secret 'absent'"):
        SecretsRoutingKeys("absent", CONFIG, client=secrets).routing_key("default")
