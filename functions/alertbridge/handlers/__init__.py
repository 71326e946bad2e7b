"""The Lambda entry points: `intake`, `delivery`, `reconcile` and `webhook` (each a thin handler over its
container in `wiring/`), and `graph` (the webhook function's image route).

Cold start: importing an entry module loads botocore, Powertools, httpx and pydantic, hundreds of thousands
of long-lived objects and next to no garbage cycles, yet CPython's cyclic collector would scan them again and
again while they load (about a tenth of the intake function's CPU to get ready, in `make bench`). So
collection is paused from here until the entry module has loaded; its last line, `imports_loaded()`, moves
what was loaded to the permanent generation (`gc.freeze()`: later collections skip it) and resumes
collection. See https://docs.python.org/3/library/gc.html#gc.freeze.
"""

from __future__ import annotations

import gc

_was_enabled = gc.isenabled()
gc.disable()


def imports_loaded() -> None:
    """Called once at the end of each entry module: freeze what was imported, resume collection."""
    gc.freeze()
    if _was_enabled:
        gc.enable()
