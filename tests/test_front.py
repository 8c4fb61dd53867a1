"""The front handler serves what aiohttp's router would: the same answer and journal row for every
form of request target, and ``Expect`` answered as the app answers it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from fakeapi.server import FakeServer

AUTH = {"Authorization": "Bearer k"}


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    async with FakeServer("default", clock="virtual") as fake:
        yield fake


async def raw_request(server: FakeServer, request_line: str, *headers: str, body: bytes = b"") -> int:
    """The status of one request sent byte for byte (no client rewrites its target)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    head = [request_line, "Host: 127.0.0.1", "Authorization: Bearer k", "Connection: close", *headers]
    if body:
        head.append(f"Content-Length: {len(body)}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    await writer.wait_closed()
    return status


async def submitted(server: FakeServer) -> str:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        body = {"model": "flux-pro", "input": {"prompt": "a fox"}}
        async with session.post(server.url_for("rixapi") + "/v1/task/submit", json=body) as answer:
            task_id: str = (await answer.json())["id"]
    await server.engine.shift(60)
    return task_id


@pytest.mark.parametrize(
    ("target", "status", "journaled"),
    [
        ("/rixapi/v1/task/{id}", 200, "/rixapi/v1/task/{id}"),
        ("/rixapi/v1/task/{id}?x=%41", 200, "/rixapi/v1/task/{id}"),
        ("/rixapi/v1/task/{id}#part", 200, "/rixapi/v1/task/{id}"),
        ("/rixapi/v1/task/task%5F{rest}", 200, "/rixapi/v1/task/{id}"),
        ("/rixapi/v1/task/{id}/", 404, "/rixapi/v1/task/{id}/"),
        ("/rixapi//v1/task/{id}", 404, "/rixapi//v1/task/{id}"),
        ("/rixapi/v1/task/.", 404, "/rixapi/v1/task/."),
        ("/rixapi/v1/task/%7B{id}%7D", 404, "/rixapi/v1/task/{{{id}}}"),
        ("/rixapi/v1/task/t%C3%A9", 404, "/rixapi/v1/task/té"),
    ],
)
async def test_a_poll_target_is_served_as_the_router_serves_it(
    server: FakeServer, target: str, status: int, journaled: str
) -> None:
    task_id = await submitted(server)
    rest = task_id.removeprefix("task_")
    line = "GET " + target.format(id=task_id, rest=rest) + " HTTP/1.1"
    assert await raw_request(server, line) == status
    last = list(server.recorder.journal)[-1]
    assert (last.method, last.path, last.status) == ("GET", journaled.format(id=task_id), status)


async def test_head_and_other_methods_go_the_routers_way(server: FakeServer) -> None:
    task_id = await submitted(server)
    # The routes are added for their method alone (aiohttp's add_get would add HEAD too).
    assert await raw_request(server, f"HEAD /rixapi/v1/task/{task_id} HTTP/1.1") == 404
    assert await raw_request(server, f"DELETE /rixapi/v1/task/{task_id} HTTP/1.1") == 404
    assert [e.method for e in server.recorder.journal][-2:] == ["HEAD", "DELETE"]


async def test_expect_100_continue_gets_its_interim_answer(server: FakeServer) -> None:
    body = {"model": "flux-pro", "input": {"prompt": "a fox"}}
    async with (
        aiohttp.ClientSession(headers=AUTH) as session,
        session.post(server.url_for("rixapi") + "/v1/task/submit", json=body, expect100=True) as answer,
    ):
        assert answer.status == 200
        assert (await answer.json())["status"] == "queued"


async def test_an_unknown_expectation_is_refused(server: FakeServer) -> None:
    line = "POST /rixapi/v1/task/submit HTTP/1.1"
    assert await raw_request(server, line, "Expect: something-else", "Content-Type: application/json") == 417
