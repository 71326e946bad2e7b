"""The composition roots: the only modules that know which adapter serves which port. Each function's
container is built once from the settings by its own module, and a handler imports only that one:

- `intake.py`: the intake function (the configuration and the delivery queue);
- `delivery.py`: the delivery function's pipeline (state, Events API, routing keys, maintenance windows,
  notes, alarm tags, graph signing);
- `reconcile.py`: the reconciler;
- `webhook.py`: the webhook function (state mirror, signing secrets, REST lookups, incident events);
- `graph.py`: the metric graph parts (signing for the delivery function, the image route for the webhook
  function);
- `shared.py`: the builders more than one function uses (the delivery queue, the REST adapter).

Tests build the orchestrators with fakes instead, or call the `build_*` functions inside moto.

`reset()` forgets every container (tests and local runs start new 'containers' with it). Each module
registers its caches here when it is imported, so this package imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from alertbridge.models.settings import settings

Function = Literal["intake", "delivery", "reconcile", "webhook", "graph"]

_caches: dict[str, list[Callable[[], None]]] = {}


def register(function: Function, clear: Callable[[], None]) -> None:
    """`clear` forgets a cached part of `function`'s container (called by each module at import)."""
    _caches.setdefault(function, []).append(clear)


def reset(only: Function | Iterable[Function] | None = None) -> None:
    """Forget the settings and every function's cached container; with `only`, just those functions'
    containers (a local run that starts a new reconciler container keeps its delivery pipeline)."""
    settings.cache_clear()
    if only is None:
        from alertbridge.adapters import aws

        aws.reset_session()
    functions = _caches if only is None else [only] if isinstance(only, str) else list(only)
    for function in functions:
        for clear in _caches.get(function, []):
            clear()
