"""The sandbox inside your own event loop, as docs/sandbox.md shows it."""

# --8<-- [start:server]
from __future__ import annotations

import aiohttp

from fakeapi import FakeServer


async def test_a_job_on_a_server_in_this_loop() -> None:
    async with FakeServer("default", port=0, clock="virtual") as server, aiohttp.ClientSession() as http:
        base = server.url_for("rixapi")
        headers = {"Authorization": "Bearer sk-test"}
        body = {"model": "kling-v2", "input": {"prompt": "a cat"}}
        async with http.post(f"{base}/v1/task/submit", json=body, headers=headers) as answer:
            task = await answer.json()
        await server.engine.shift(30)  # with clock="virtual"
        async with http.get(f"{base}/v1/task/{task['id']}", headers=headers) as answer:
            assert (await answer.json())["status"] == "completed"


# --8<-- [end:server]
