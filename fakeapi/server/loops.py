"""The event loop the sandbox and the fixture run on: uvloop's where it is installed (a dependency on
CPython outside Windows), else asyncio's.

uvloop's takes about a fifth less of the server's time per request (``make bench``), and in the
fixture per hand-off from a test's thread, time that thread otherwise waits for (they share one GIL).
It is imported only when a loop is made: importing fakeapi stays cheap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop (uvloop's where installed)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on a loop from ``new_event_loop``."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
