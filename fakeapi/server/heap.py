"""Garbage collection for a process that only serves (``fakeapi serve``), not for a test suite's.

A sandbox keeps up to ``limits.tasks`` tasks alive, a few container objects each. CPython's full
collections scan every such object, more often as the heap grows: with 100,000 tasks a full
collection paused the server for over 100 ms and took a fifth of the time submits took. Objects
that have survived a full collection are rarely garbage later, so ``freeze_survivors`` moves them
out of the collector's sight (``gc.freeze``) after each full collection, and lets a full collection
follow every younger one: each then scans only what is new since the last, a few milliseconds.
One full collection in ``FULL_EVERY`` scans the frozen objects too, so a cycle that became garbage
after it was frozen (a long kept-alive connection, say) is still freed. A run's engine and tasks
need no collector at all: a reset frees them as it drops the engine (it has no reference cycles).
"""

from __future__ import annotations

import gc
import itertools
import sys
from typing import Any

# Under load a full collection follows every few thousand requests: one in this many, a pause of
# tens of milliseconds, looks at the frozen objects too.
FULL_EVERY = 1000

_full_collections = itertools.count(1)
_thresholds: tuple[int, int, int] | None = None


def freeze_survivors() -> None:
    """Freeze what is alive now, and what survives each full collection from now on (not on Python
    3.14 and later, whose incremental collector has no such full collections; unmeasured there)."""
    global _thresholds, _full_collections
    if _thresholds is not None or sys.version_info >= (3, 14):
        return
    _full_collections = itertools.count(1)
    _thresholds = gc.get_threshold()
    gc.set_threshold(_thresholds[0], _thresholds[1], 1)
    gc.freeze()
    gc.callbacks.append(_on_collection)


def stop_freezing() -> None:
    """Undo ``freeze_survivors``: nothing frozen, nothing frozen later, the thresholds as they were."""
    global _thresholds
    if _thresholds is None:
        return
    gc.callbacks.remove(_on_collection)
    gc.unfreeze()
    gc.set_threshold(*_thresholds)
    _thresholds = None


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    if info["generation"] != 2:
        return
    if phase == "start":
        if next(_full_collections) % FULL_EVERY == 0:
            gc.unfreeze()  # this one looks at everything
    else:
        gc.freeze()
