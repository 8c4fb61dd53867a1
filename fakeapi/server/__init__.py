"""The HTTP server: app assembly (``app``), the one request pipeline (``pipeline``), result files
(``files``), the event runner (``runner``), webhook sending (``sender``), and the façade
``FakeServer`` with ``BackgroundServer`` to run it in a thread, ``LoopServer`` to drive it on the
caller's loop."""

from __future__ import annotations

from fakeapi.server.background import BackgroundServer, LoopServer, ServerDriver
from fakeapi.server.facade import ClockMode, FakeServer

__all__ = ["BackgroundServer", "ClockMode", "FakeServer", "LoopServer", "ServerDriver"]
