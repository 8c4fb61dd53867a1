"""The ``afakeapi`` fixture beside pytest-aiohttp's fixtures, as docs/fixture.md shows it.

It needs pytest-aiohttp (it brings pytest-asyncio) and ``asyncio_mode = auto``, as this repository's
pyproject sets; ``tests/test_aio_fixture.py`` also runs this file as a downstream project would.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient, AiohttpServer

from fakeapi import FakeApi, UsageError


# --8<-- [start:service]
async def test_a_service_and_its_callback_receiver(
    afakeapi: FakeApi, aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer
) -> None:
    # The callback receiver and the service under test both run on this test's loop, as the fake does.
    received: list[Any] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    receiver_app = web.Application()
    receiver_app.router.add_post("/hook", receive)
    receiver = await aiohttp_server(receiver_app)

    async def start_job(request: web.Request) -> web.Response:
        body = {
            "model": "kling-v2",
            "input": {"prompt": (await request.json())["prompt"]},
            "callback_url": str(receiver.make_url("/hook")),
        }
        headers = {"Authorization": "Bearer sk-service"}
        async with aiohttp.ClientSession(headers=headers) as session:
            url = afakeapi.url_for("rixapi") + "/v1/task/submit"
            async with session.post(url, json=body) as answer:
                return web.json_response(await answer.json(), status=answer.status)

    service = web.Application()
    service.router.add_post("/jobs", start_job)
    client = await aiohttp_client(service)

    response = await client.post("/jobs", json={"prompt": "a red fox"})
    assert response.status == 200
    task = await response.json()
    assert task["status"] == "queued"

    await afakeapi.clock.ashift(60)  # the receiver answers while the clock moves: no deadlock
    for _ in range(500):
        if len(received) == 3:
            break
        await asyncio.sleep(0.01)
    assert [body["status"] for body in received] == ["queued", "in_progress", "completed"]
    assert afakeapi.task(task["id"]).state == "succeeded"
    assert [(d.state, d.delivered) for d in afakeapi.deliveries] == [
        ("queued", True),
        ("running", True),
        ("succeeded", True),
    ]


# --8<-- [end:service]


async def test_what_waits_is_awaited(afakeapi: FakeApi) -> None:
    with pytest.raises(UsageError, match=r"use `await afakeapi\.clock\.ashift\(\.\.\.\)`"):
        afakeapi.clock.shift(5)
    with pytest.raises(UsageError, match=r"use `await afakeapi\.aload_scenario\(\.\.\.\)`"):
        afakeapi.load_scenario("instant")
    with pytest.raises(UsageError, match=r"use `await afakeapi\.areset\(\.\.\.\)`"):
        afakeapi.reset()
    await afakeapi.aload_scenario("instant", seed=5)
    assert afakeapi.seed == 5
    await afakeapi.clock.amove_to(afakeapi.clock.now() + 30)
    await afakeapi.areset()
    assert afakeapi.clock.now() == 1767225600


@pytest.mark.fakeapi("instant", allow_surprises=["GET /rixapi/v1/nope"])
async def test_the_marker_applies(afakeapi: FakeApi, aiohttp_client: AiohttpClient) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer sk-x"}) as session:
        body = {"model": "flux-pro", "input": {"prompt": "a lighthouse"}}
        async with session.post(afakeapi.url_for("rixapi") + "/v1/task/submit", json=body) as answer:
            assert (await answer.json())["status"] == "completed"
        async with session.get(afakeapi.url_for("rixapi") + "/v1/nope") as answer:
            assert answer.status == 404
