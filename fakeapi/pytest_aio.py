"""The ``afakeapi`` fixture: the fake on the async test's own event loop (no thread), beside
pytest-aiohttp's ``aiohttp_client`` and ``aiohttp_server``.

``fakeapi.pytest_plugin`` registers this module only where pytest-asyncio runs, so that a project
without it pays nothing for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from fakeapi.pytest_plugin import begin_test, check_at_teardown, load_test_scenario, marker_options

if TYPE_CHECKING:
    from fakeapi.fixture import FakeApi


@pytest_asyncio.fixture
async def afakeapi(request: pytest.FixtureRequest, _fakeapi_default_scenario: str) -> AsyncIterator[FakeApi]:
    """A fake of its own for this test, started on the test's loop, with the same API as ``fakeapi``
    (the same marker and options); what waits is awaited: ``await afakeapi.clock.ashift(...)``,
    ``await afakeapi.aload_scenario(...)``, ``await afakeapi.areset()``. Its ports are free ones."""
    from fakeapi.fixture import FakeApi
    from fakeapi.providers import REGISTRY
    from fakeapi.server import FakeServer, LoopServer

    options = marker_options(request)
    api_ports = {provider.name: 0 for provider in REGISTRY.providers()}
    async with FakeServer(clock="virtual", api_ports=api_ports) as server:
        handle = FakeApi(LoopServer(server), name="afakeapi")
        begin_test(handle, options, await load_test_scenario(handle, options))
        yield handle
        check_at_teardown(handle)
