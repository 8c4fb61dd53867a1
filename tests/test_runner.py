"""The event runner across a reset: paused, it runs nothing of the run that ended."""

from __future__ import annotations

import asyncio
from typing import cast

from fakeapi.clock import ManualClock
from fakeapi.engine import TaskEngine
from fakeapi.server.runner import EventRunner


class Engine:
    """What the runner reads of an engine: it counts the rounds of due events it is asked to run."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.rounds = 0

    async def run_due(self) -> None:
        self.rounds += 1

    def next_due(self) -> float | None:
        return None


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_paused_runner_runs_nothing_until_it_is_started_again() -> None:
    engines = [Engine()]
    runner = EventRunner(lambda: cast(TaskEngine, engines[-1]))
    runner.start()
    await settle()
    assert engines[0].rounds == 1
    await runner.pause()
    runner.wake.set()  # the ended run's engine wakes it, say
    await settle()
    assert engines[0].rounds == 1
    engines.append(Engine())
    runner.start()
    await settle()
    assert [e.rounds for e in engines] == [1, 1]
    await runner.stop()
