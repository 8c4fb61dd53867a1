"""Drivers of a ``FakeServer``: ``BackgroundServer`` runs it in a thread of its own, driven from sync
or async code; ``LoopServer`` drives one that runs on the caller's own event loop (an async test's)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from fakeapi.server.facade import FakeServer
from fakeapi.server.loops import new_event_loop

T = TypeVar("T")


class ServerDriver(Protocol):
    """How ``FakeApi`` reaches a server's loop: ``call`` a function and ``arun`` a coroutine there
    from anywhere; only a ``BackgroundServer`` (whose loop is not the caller's) can also ``run`` one
    and wait for it."""

    @property
    def server(self) -> FakeServer: ...

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T: ...

    def call(self, fn: Callable[[], T]) -> T: ...


class BackgroundServer:
    """A ``FakeServer`` running in a thread with its own event loop.

    Sync code (and async code on another loop) drives it through ``call`` and ``run``; every engine
    mutation happens on the server's loop.
    """

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.loop = new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fakeapi", daemon=True)

    def start(self) -> BackgroundServer:
        self._thread.start()
        self.run(self.server.start())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self.run(self._stop_all())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self.loop.close()

    async def _stop_all(self) -> None:
        """Stop the server, then end what it leaves on the loop (a connection aiohttp still
        drains, say), as ``asyncio.run`` does: the loop closes with no task pending."""
        await self.server.stop()
        current = asyncio.current_task()
        left = [task for task in asyncio.all_tasks() if task is not current]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 60.0) -> T:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop from another loop, without blocking that loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def call(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the server's loop and return its result."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def invoke() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(invoke)
        return future.result(timeout=60)


class LoopServer:
    """A ``FakeServer`` started on the running loop of its caller: every operation runs right there,
    so only the awaitable ones can wait (it has no ``run``)."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        return await coro

    def call(self, fn: Callable[[], T]) -> T:
        return fn()
