"""Garbage collection in ``fakeapi serve`` (``fakeapi.server.heap``), and runs freed without it."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp import web

from fakeapi.server import FakeServer, heap

AUTH = {"Authorization": "Bearer k"}


class Cycle:
    """Garbage only the cycle collector can free."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def freezing() -> Iterator[None]:
    if sys.version_info >= (3, 14):
        pytest.skip("fakeapi serve freezes nothing on Python 3.14's incremental collector")
    heap.freeze_survivors()
    try:
        yield
    finally:
        heap.stop_freezing()


def survivor_left_as_garbage() -> weakref.ref[Cycle]:
    """A cycle that survives a full collection (so it is frozen), then is dropped."""
    cycle = Cycle()
    gc.collect()
    return weakref.ref(cycle)


@pytest.mark.usefixtures("freezing")
def test_what_survived_a_full_collection_is_frozen() -> None:
    dropped = survivor_left_as_garbage()
    gc.collect()
    assert dropped() is not None
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("freezing")
def test_frozen_garbage_is_freed_by_one_full_collection_in_every_few(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "FULL_EVERY", 4)
    dropped = survivor_left_as_garbage()
    collections = 1
    while dropped() is not None and collections < heap.FULL_EVERY:
        gc.collect()
        collections += 1
    assert dropped() is None


def test_without_the_policy_nothing_is_frozen() -> None:
    dropped = survivor_left_as_garbage()
    gc.collect()
    assert dropped() is None
    assert gc.get_freeze_count() == 0


async def test_a_reset_frees_the_run_without_the_collector() -> None:
    async def receive(request: web.Request) -> web.Response:
        return web.Response()

    receiver = web.Application()
    receiver.router.add_post("/hook", receive)
    receiver_runner = web.AppRunner(receiver)
    await receiver_runner.setup()
    site = web.TCPSite(receiver_runner, "127.0.0.1", 0)
    await site.start()
    server = FakeServer("default", clock="virtual")
    await server.start()
    try:
        base = server.url_for("rixapi")
        hook = f"http://127.0.0.1:{receiver_runner.addresses[0][1]}/hook"
        async with aiohttp.ClientSession(headers=AUTH) as session:
            body = {"model": "flux-pro", "input": {"prompt": "a fox"}, "callback_url": hook}
            async with session.post(f"{base}/v1/task/submit", json=body) as answer:
                task_id = (await answer.json())["id"]
            await server.engine.shift(60)
            async with session.get(f"{base}/v1/task/{task_id}") as answer:
                assert answer.status == 200
            async with session.get(f"{base}/v1/task/task_unknown") as answer:
                assert answer.status == 404
        assert [attempt.delivered for attempt in server.engine.deliveries] == [True, True, True]
        ended = weakref.ref(server.engine)
        gc.disable()
        try:
            await server.reset()
            assert ended() is None
        finally:
            gc.enable()
    finally:
        await server.stop()
        await receiver_runner.cleanup()
