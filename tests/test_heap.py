"""The garbage-collection policy of ``fakeapi serve`` (``fakeapi.server.heap``)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from fakeapi.server import FakeServer, heap


class Cycle:
    """Garbage only the cycle collector can free."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def freezing() -> Iterator[None]:
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
def test_what_survived_a_full_collection_is_not_collected_until_thawed() -> None:
    dropped = survivor_left_as_garbage()
    gc.collect()
    assert dropped() is not None
    heap.thaw()
    gc.collect()
    assert dropped() is None


@pytest.mark.usefixtures("freezing")
async def test_a_reset_thaws_what_the_run_left() -> None:
    server = FakeServer("default", clock="virtual")
    dropped = survivor_left_as_garbage()
    await server.reset()
    gc.collect()
    assert dropped() is None


def test_without_the_policy_nothing_is_frozen() -> None:
    dropped = survivor_left_as_garbage()
    gc.collect()
    assert dropped() is None
    assert gc.get_freeze_count() == 0
