"""The event runner: runs the engine's due events (phase ends, callbacks) as the clock reaches them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from fakeapi.engine import TaskEngine


class EventRunner:
    """A loop task that sleeps until the next due event (or a wake-up) and runs what is due.

    It reads the engine through ``engine_of`` each round, so a reset needs only a restart.
    """

    def __init__(self, engine_of: Callable[[], TaskEngine]) -> None:
        self._engine_of = engine_of
        self.wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            engine = self._engine_of()
            self.wake.clear()
            await engine.run_due()
            due = engine.next_due()
            now = engine.clock.now()
            if due is not None and due <= now:
                continue
            wait = None if due is None or engine.clock.is_virtual else (due - now) / engine.clock.speed
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait)
