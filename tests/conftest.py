"""Fixtures shared by the HTTP tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp client session, as the code under test would hold."""
    async with aiohttp.ClientSession() as session:
        yield session
