"""Helpers the test modules share."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp


async def call(
    http: aiohttp.ClientSession,
    base_url: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """An admin request; the status and the parsed JSON answer."""
    async with http.request(method, base_url + "/_fakeapi" + path, json=body, headers=headers) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


def free_port() -> int:
    """A TCP port of 127.0.0.1 free now (for a ``fakeapi serve`` given its port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
