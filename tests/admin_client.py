"""Helpers the admin API's test modules share."""

from __future__ import annotations

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
