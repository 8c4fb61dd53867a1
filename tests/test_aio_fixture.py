"""The ``afakeapi`` fixture: the fake on an async test's own loop, beside pytest-aiohttp's fixtures.

The inner test files are what a downstream project with pytest-aiohttp writes; the first one is the
documentation's example (docs/fixture.md quotes ``test_a_service_and_its_callback_receiver``).
"""

from __future__ import annotations

import pytest
from test_plugin import write_ini

EXAMPLE = """
from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from fakeapi import UsageError


async def test_a_service_and_its_callback_receiver(afakeapi, aiohttp_client, aiohttp_server):
    # The callback receiver and the service under test both run on this test's loop, as the fake does.
    received = []

    async def receive(request):
        received.append(await request.json())
        return web.Response(text="ok")

    receiver_app = web.Application()
    receiver_app.router.add_post("/hook", receive)
    receiver = await aiohttp_server(receiver_app)

    async def start_job(request):
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
        ("queued", True), ("running", True), ("succeeded", True)
    ]


async def test_what_waits_is_awaited(afakeapi):
    with pytest.raises(UsageError, match=r"use `await afakeapi\\.clock\\.ashift\\(\\.\\.\\.\\)`"):
        afakeapi.clock.shift(5)
    with pytest.raises(UsageError, match=r"use `await afakeapi\\.aload_scenario\\(\\.\\.\\.\\)`"):
        afakeapi.load_scenario("instant")
    with pytest.raises(UsageError, match=r"use `await afakeapi\\.areset\\(\\.\\.\\.\\)`"):
        afakeapi.reset()
    await afakeapi.aload_scenario("instant", seed=5)
    assert afakeapi.seed == 5
    await afakeapi.clock.amove_to(afakeapi.clock.now() + 30)
    await afakeapi.areset()
    assert afakeapi.clock.now() == 1767225600


@pytest.mark.fakeapi("instant", allow_surprises=["GET /rixapi/v1/nope"])
async def test_the_marker_applies(afakeapi, aiohttp_client):
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer sk-x"}) as session:
        body = {"model": "flux-pro", "input": {"prompt": "a lighthouse"}}
        async with session.post(afakeapi.url_for("rixapi") + "/v1/task/submit", json=body) as answer:
            assert (await answer.json())["status"] == "completed"
        async with session.get(afakeapi.url_for("rixapi") + "/v1/nope") as answer:
            assert answer.status == 404
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    write_ini(pytester, "asyncio_mode = auto")
    return pytester


def test_afakeapi_beside_pytest_aiohttp(project: pytest.Pytester) -> None:
    project.makepyfile(test_example=EXAMPLE)
    result = project.runpytest("-q")
    result.assert_outcomes(passed=3)


def test_afakeapi_reports_surprises_at_teardown(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_surprise="""
        import aiohttp


        async def test_typo(afakeapi):
            async with aiohttp.ClientSession() as session:
                async with session.get(afakeapi.url_for("apixo") + "/nope") as answer:
                    assert answer.status == 404
        """
    )
    result = project.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_typo*", "*- GET /apixo/nope matched no route*"])


def test_without_pytest_asyncio_there_is_no_afakeapi(pytester: pytest.Pytester) -> None:
    write_ini(pytester)
    pytester.makepyfile(test_plain="def test_plain(afakeapi):\n    pass\n")
    result = pytester.runpytest("-p", "no:asyncio", "-p", "no:aiohttp")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'afakeapi' not found*"])
