"""The intake function's container: the configuration and the delivery queue."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from alertbridge.models.config import BridgeConfig
from alertbridge.models.settings import settings
from alertbridge.wiring import register
from alertbridge.wiring.shared import delivery_queue

if TYPE_CHECKING:
    from alertbridge.ports import DeliveryQueue


@dataclass(frozen=True)
class IntakeParts:
    config: BridgeConfig
    delivery: DeliveryQueue


@lru_cache(maxsize=1)
def intake_parts() -> IntakeParts:
    current = settings()
    return IntakeParts(config=current.config, delivery=delivery_queue(current))


register("intake", intake_parts.cache_clear)
