"""Fixtures shared by the HTTP tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

# The plugin imports the fake only once a test asks for a fixture, and pytester's in-process runs
# forget the modules imported in them: imported here, they stay (PyYAML's C loader breaks when
# imported twice in one process).
import fakeapi.fixture
import fakeapi.sink  # noqa: F401


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp client session, as the code under test would hold."""
    async with aiohttp.ClientSession() as session:
        yield session
