"""Garbage collection for a process that only serves (``fakeapi serve``), not for a test suite's.

A sandbox keeps up to ``limits.tasks`` tasks alive, a few container objects each. CPython's full
collections scan every such object, more often as the heap grows: with 100,000 tasks a full
collection paused the server for over 100 ms and took a fifth of the time submits took. Objects
that have survived a full collection are rarely garbage later, so ``freeze_survivors`` moves them
out of the collector's sight (``gc.freeze``) after each full collection: later collections scan
only what is newer. Whatever a run leaves behind in reference cycles is found again when the run
ends (``thaw``: a reset or a stop), so a long-lived sandbox does not keep old runs.
"""

from __future__ import annotations

import gc
from typing import Any


def freeze_survivors() -> None:
    """Freeze what is alive now, and what survives each full collection from now on."""
    gc.freeze()
    if _after_collection not in gc.callbacks:
        gc.callbacks.append(_after_collection)


def thaw() -> None:
    """Let the collector see every frozen object again (a no-op unless ``freeze_survivors`` ran)."""
    if _after_collection in gc.callbacks:
        gc.unfreeze()


def stop_freezing() -> None:
    """Undo ``freeze_survivors``: nothing frozen, nothing frozen later."""
    if _after_collection in gc.callbacks:
        gc.callbacks.remove(_after_collection)
        gc.unfreeze()


def _after_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()
