"""The metric graph parts: the signing side for the delivery function (the trigger builder attaches the
image URL) and the route's parts for the rendering (webhook) function. Local runs replace the renderer
with `use_images` (moto cannot draw)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from alertbridge.logic.graph import GraphSigning
from alertbridge.models.settings import Settings, settings
from alertbridge.ports import GraphKeys, MetricImages
from alertbridge.wiring import register

_override: dict[str, MetricImages] = {}


@dataclass(frozen=True)
class GraphRouteParts:
    keys: GraphKeys
    images: MetricImages


def graph_signing(current: Settings) -> GraphSigning | None:
    """None (no image on any trigger) when graphs are off, or without a public base URL or a key secret.
    The configuration's `graph.base_url` (a custom domain) wins over the stack's function URL."""
    graph = current.config.graph
    base_url = graph.base_url or current.graph_base_url
    if not graph.enabled or not base_url or not current.graph_secret_id:
        return None
    from alertbridge.adapters.graph_images import SecretsGraphKeys

    return GraphSigning(
        base_url=base_url, keys=SecretsGraphKeys(current.graph_secret_id, max_age=current.secrets_max_age)
    )


@lru_cache(maxsize=1)
def graph_route_parts() -> GraphRouteParts:
    from alertbridge.adapters.graph_images import CloudWatchMetricImages, SecretsGraphKeys

    current = settings()
    keys = SecretsGraphKeys(current.graph_secret_id or "", max_age=current.secrets_max_age)
    return GraphRouteParts(keys=keys, images=_override.get("images") or CloudWatchMetricImages())


def use_images(images: MetricImages | None) -> None:
    """Draw with `images` instead of CloudWatch (the local stand-in); None goes back to CloudWatch."""
    _override.pop("images", None)
    if images is not None:
        _override["images"] = images
    graph_route_parts.cache_clear()


register("graph", graph_route_parts.cache_clear)
