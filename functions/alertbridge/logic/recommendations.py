"""Recommendations a responder can act on, per metric.

The built-in catalogue (`recommendations.json`, keyed "Namespace/MetricName") covers common AWS metrics.
`config.recommendations` replaces the catalogue's entry for a key it names and adds keys the catalogue
lacks; generic alerts without a namespace look up their bare metric name. The alert's own recommendations
(generic messages) come first; duplicates are dropped, order kept.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from alertbridge.models.alert import Alert
from alertbridge.models.config import BridgeConfig

MAX_RECOMMENDATIONS = 12
_CATALOGUE = Path(__file__).with_name("recommendations.json")


@lru_cache(maxsize=1)
def builtin_catalogue() -> dict[str, tuple[str, ...]]:
    loaded: dict[str, list[str]] = json.loads(_CATALOGUE.read_text(encoding="utf-8"))
    return {key: tuple(items) for key, items in loaded.items()}


def recommendations_for(alert: Alert, config: BridgeConfig) -> list[str]:
    found = list(alert.recommendations)
    for key in metric_keys(alert):
        found.extend(_lookup(key, config))
    return list(dict.fromkeys(item for item in found if item.strip()))[:MAX_RECOMMENDATIONS]


def metric_keys(alert: Alert) -> list[str]:
    """`Namespace/MetricName` of every metric of the alarm (math alarms have several), or the bare name."""
    keys = (f"{m.namespace}/{m.name}" if m.namespace else m.name for m in alert.metrics if m.name)
    return list(dict.fromkeys(keys))


def _lookup(key: str, config: BridgeConfig) -> tuple[str, ...] | list[str]:
    if key in config.recommendations:
        return config.recommendations[key]
    if config.builtin_recommendations:
        return builtin_catalogue().get(key, ())
    return ()
