"""AWS clients for the functions' adapters, from one botocore session per container.

botocore, not boto3: the adapters call plain client APIs only (no resources, no transfer manager), and
importing boto3 adds its resource layer and s3transfer to every cold start (about 40 ms of CPU on a 2-core
machine). `boto3.client(...)` is this same call on boto3's default session, so region, credentials,
`AWS_ENDPOINT_URL` and the shared config files are read the same way. One session means the SDK's endpoint
and service data are loaded once for all the container's clients.

The library's own API for applications (`publish_alert`) and the operator tools keep boto3's default session,
so a `boto3.setup_default_session(...)` in the caller's code still applies to them.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import botocore.session

_lock = threading.Lock()  # botocore sessions are not thread-safe (their clients are)


@lru_cache(maxsize=1)
def session() -> botocore.session.Session:
    """The container's botocore session, created on first use (after any test has installed its mocks)."""
    return botocore.session.get_session()


def client(service: str, *, region: str | None = None, config: Any = None) -> Any:
    """A client of the container's session (`region`: the session's, from AWS_DEFAULT_REGION or the config
    files, when None)."""
    current = session()
    with _lock:
        return current.create_client(service, region_name=region, config=config)


def reset_session() -> None:
    """Forget the session (tests and local runs start new 'containers' with other credentials)."""
    session.cache_clear()
