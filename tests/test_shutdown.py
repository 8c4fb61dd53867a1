"""Shutdown takes seconds whatever is pending: held requests are dropped without taking effect,
synchronous requests waiting on the system clock are answered at once. In-process and with the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from admin_client import free_port

from fakeapi import FakeServer

FAKEAPI = Path(sys.executable).parent / "fakeapi"
KEY = {"Authorization": "Bearer sk-shutdown"}
HOLD = {"X-Hold": "yes"}
# Every task takes ten minutes of system clock; a submit sent with X-Hold is held ten minutes first.
SLOW: dict[str, Any] = {
    "clock": {"mode": "system"},
    "faults": [{"at": "submit", "effect": "latency", "latency": "10m", "header": {"X-Hold": "yes"}}],
    "rules": [{"phases": [{"state": "queued", "for": "10m"}, {"state": "succeeded"}]}],
}
# (API, path under its mount, body): requests answered when the task ends, and a submit to hold.
PIXAPI_SYNC = ("pixapi", "/v1/images/generations", {"model": "gemini-2.5-flash-image", "prompt": "a fox"})
FOXAPI_SYNC = (
    "foxapi",
    "/v1/llm/generations",
    {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}], "sync": True},
)
HELD = ("rixapi", "/v1/task/submit", {"model": "flux-pro", "input": {"prompt": "held"}})


async def send(
    http: aiohttp.ClientSession, base: str, request: tuple[str, str, dict[str, Any]], **headers: str
) -> tuple[int, Any] | BaseException:
    """The status and JSON answer of a POST, or the error the client got instead of an answer."""
    api, path, body = request
    try:
        async with http.post(f"{base}/{api}{path}", json=body, headers={**KEY, **headers}) as r:
            return r.status, await r.json()
    except aiohttp.ClientError as exc:
        return exc


async def wait_for_tasks(http: aiohttp.ClientSession, base: str, count: int) -> list[dict[str, Any]]:
    """The admin API's task list once it has ``count`` tasks (within 10 s)."""
    for _ in range(200):
        with contextlib.suppress(aiohttp.ClientConnectionError):
            async with http.get(base + "/_fakeapi/tasks") as r:
                tasks: list[dict[str, Any]] = await r.json()
                if len(tasks) >= count:
                    return tasks
        await asyncio.sleep(0.05)
    raise AssertionError(f"not {count} tasks within 10 s")


async def fire(http: aiohttp.ClientSession, base: str) -> list[asyncio.Task[tuple[int, Any] | BaseException]]:
    """The held submit, then both synchronous requests, once the server shows their two tasks
    (and, a moment later, still only those two: the held submit has created nothing)."""
    held = asyncio.ensure_future(send(http, base, HELD, **HOLD))
    syncs = [asyncio.ensure_future(send(http, base, r)) for r in (PIXAPI_SYNC, FOXAPI_SYNC)]
    await wait_for_tasks(http, base, 2)
    await asyncio.sleep(0.3)
    assert {t["api"] for t in await wait_for_tasks(http, base, 2)} == {"pixapi", "foxapi"}
    assert not any(t.done() for t in [held, *syncs]), "all three are still waiting"
    return [held, *syncs]


def assert_outcomes(outcomes: list[tuple[int, Any] | BaseException]) -> None:
    """The held submit got no answer; each synchronous request its API's 503."""
    held, pixapi, foxapi = outcomes
    assert isinstance(held, aiohttp.ClientError), f"the held submit was answered: {held}"
    assert isinstance(pixapi, tuple), pixapi
    assert isinstance(foxapi, tuple), foxapi
    assert (pixapi[0], pixapi[1]["error"]["code"]) == (503, 503)
    assert (foxapi[0], foxapi[1]["error"]["type"]) == (503, "service_unavailable_error")


async def test_stop_drops_held_requests_and_ends_waits_at_once(http: aiohttp.ClientSession) -> None:
    server = FakeServer(SLOW)
    await server.start()
    try:
        requests = await fire(http, server.base_url)
    finally:
        began = time.monotonic()
        await server.stop()
        stopped = time.monotonic() - began
    assert stopped < 2, f"stop took {stopped:.1f} s"
    assert_outcomes(await asyncio.gather(*requests))
    assert len(server.engine.tasks) == 2, "the held submit created no task"
    assert [e.status for e in server.recorder.journal if e.path.startswith("/rixapi")] == [499]


async def test_a_reset_answers_the_synchronous_requests_of_the_run_it_ends(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeServer(SLOW) as server:
        waiting = asyncio.ensure_future(send(http, server.base_url, PIXAPI_SYNC))
        await wait_for_tasks(http, server.base_url, 1)
        began = time.monotonic()
        await server.reset()
        outcome = await waiting
        assert time.monotonic() - began < 1
        assert isinstance(outcome, tuple), outcome
        assert (outcome[0], outcome[1]["error"]["code"]) == (503, 503)


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(SLOW))
    return path


@pytest.fixture
def served(scenario_file: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``fakeapi serve`` on a free port with the slow scenario; killed if the test left it running."""
    port = free_port()
    with (tmp_path / "stderr").open("wb") as stderr:
        process = subprocess.Popen(
            [str(FAKEAPI), "serve", "--port", str(port), "--scenario", str(scenario_file)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def test_sigterm_stops_the_sandbox_in_seconds_whatever_is_pending(
    http: aiohttp.ClientSession, served: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> None:
    process, base = served
    await wait_for_tasks(http, base, 0)  # it serves
    requests = await fire(http, base)
    began = time.monotonic()
    os.kill(process.pid, signal.SIGTERM)
    code = await asyncio.to_thread(process.wait, 10)
    stopped = time.monotonic() - began
    assert (code, stopped < 5) == (0, True), f"exit {code} after {stopped:.1f} s"
    assert_outcomes(await asyncio.gather(*requests))
    assert "Traceback" not in (tmp_path / "stderr").read_text()
