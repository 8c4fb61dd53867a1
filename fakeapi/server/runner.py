"""The event runner: runs the engine's due events (phase ends, callbacks) as the clock reaches them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from fakeapi.engine import TaskEngine


class EventRunner:
    """A loop task that sleeps until the next due event (or a wake-up) and runs what is due.

    It reads the engine through ``engine_of`` each round, so a reset need not replace it: a runner
    waiting for a wake-up is left waiting, and woken once the new engine serves.
    """

    def __init__(self, engine_of: Callable[[], TaskEngine]) -> None:
        self._engine_of = engine_of
        self.wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._waiting = False
        self._paused = False  # between a run's end and the next run's start: nothing to run

    def start(self) -> None:
        """Run the due events of the engine serving now: wake the runner ``pause`` left waiting, or
        start one."""
        self._paused = False
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        else:
            self.wake.set()

    async def pause(self) -> None:
        """Stop running the events of the run that ends: a runner in the middle of them is stopped; one
        waiting for a wake-up holds nothing of the run, and is left waiting for ``start`` (a wake-up
        or a timeout before then runs nothing)."""
        self._paused = True
        if not self._waiting:
            await self.stop()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            self.wake.clear()
            wait = None
            if not self._paused:
                engine = self._engine_of()
                await engine.run_due()
                due = engine.next_due()
                now = engine.clock.now()
                if due is not None and due <= now:
                    continue
                if due is not None and not engine.clock.is_virtual:
                    wait = (due - now) / engine.clock.speed
                del engine  # not kept alive while it waits: a reset may replace it
            self._waiting = True
            try:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), wait)
            finally:
                self._waiting = False
