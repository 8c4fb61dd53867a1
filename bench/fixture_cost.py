"""The fixture's cost per test in a downstream suite, next to a bare aiohttp fake.

Run it as a script: ``python bench/fixture_cost.py`` (about 10 s; ``--tests N --rounds R``).

It writes a throwaway downstream project: a test file of N tests, each submitting one RixAPI task
and polling it once with ``requests`` (a new connection per request, as ``requests.post`` makes), run
against the ``fakeapi`` fixture, and the same N tests against a bare aiohttp fake: a session fixture
serving the same two routes with canned bytes of the same size from a thread with its own (default
asyncio) loop, and a per-test fixture that clears its dict of tasks across the thread, the least a
reset can be. Each suite runs as a user runs it, ``python -m pytest -p no:randomly -p no:xdist -q``
in a subprocess, the two alternating, for R rounds.

A conftest hook times each test's setup, call and teardown (collection, start-up and the session
fixtures' start and stop do not count: the first and last tests, which pay those, are left out).
Per round: the mean per test; reported: the median over rounds of each suite, and of the per-round
differences. For fakeapi the setup is the reset, the call the test body, the teardown the check for
surprises.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

PHASES = ("setup", "call", "teardown")
SUBMIT_ANSWER = b'{"id":"task_urf9iesahlwi","status":"queued","created_at":1767225600}'

CONFTEST = """
from __future__ import annotations

import json
import os
import time

import pytest

_TIMES: dict[str, dict[str, float]] = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _timed(item, "setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _timed(item, "call"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    return (yield from _timed(item, "teardown"))


def _timed(item, phase):
    start = time.perf_counter()
    try:
        return (yield)
    finally:
        _TIMES.setdefault(item.nodeid, {})[phase] = time.perf_counter() - start


def pytest_sessionfinish(session):
    with open(os.environ["FIXTURE_COST_OUT"], "w") as out:
        json.dump(list(_TIMES.values()), out)
"""

BARE_CONFTEST = f"""
import asyncio
import threading

import pytest
from aiohttp import web

SUBMIT_ANSWER = {SUBMIT_ANSWER!r}


class BareFake:
    def __init__(self):
        self.tasks = {{}}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def submit(self, request):
        await request.read()
        self.tasks["task_urf9iesahlwi"] = SUBMIT_ANSWER
        return web.Response(body=SUBMIT_ANSWER, content_type="application/json")

    async def poll(self, request):
        return web.Response(body=self.tasks[request.match_info["id"]], content_type="application/json")

    async def start(self):
        app = web.Application()
        app.router.add_post("/rixapi/v1/task/submit", self.submit)
        app.router.add_get("/rixapi/v1/task/{{id}}", self.poll)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def clear(self):
        self.tasks.clear()

    def url_for(self, api):
        return f"http://127.0.0.1:{{self.port}}/{{api}}"

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)


@pytest.fixture(scope="session")
def bare_server():
    fake = BareFake()
    fake.thread.start()
    fake.run(fake.start())
    yield fake
    fake.run(fake.runner.cleanup())
    fake.loop.call_soon_threadsafe(fake.loop.stop)
    fake.thread.join(10)


@pytest.fixture
def fakeapi(bare_server):
    bare_server.run(bare_server.clear())
    return bare_server
"""

TEST = """
def test_{index}(fakeapi):
    url = fakeapi.url_for("rixapi")
    submitted = requests.post(url + "/v1/task/submit", json=BODY, headers=AUTH)
    assert submitted.status_code == 200
    polled = requests.get(url + "/v1/task/" + submitted.json()["id"], headers=AUTH)
    assert polled.json()["status"] == "queued"
"""

TEST_HEAD = """
import requests

AUTH = {"Authorization": "Bearer k"}
BODY = {"model": "flux-pro", "input": {"prompt": "a boat"}}
"""


@dataclass(frozen=True)
class FixtureCostResult:
    """Seconds per test (medians over rounds); ``fakeapi_phases``: fakeapi's setup (the reset),
    call (the test body) and teardown (the surprise check)."""

    tests: int
    rounds: int
    bare: float
    fakeapi: float
    difference: float
    fakeapi_phases: dict[str, float]
    bare_phases: dict[str, float]


def write_project(root: Path, tests: int, *, bare: bool) -> None:
    """A downstream project in ``root``: a conftest (the timing hook, and the bare fake if ``bare``)
    and a test file of ``tests`` tests."""
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "conftest.py").write_text(CONFTEST + (BARE_CONFTEST if bare else ""))
    body = TEST_HEAD + "".join(TEST.format(index=i) for i in range(tests))
    (root / "test_downstream.py").write_text(body)


def run_suite(root: Path, *, bare: bool) -> list[dict[str, float]]:
    """Each test's seconds per phase, from one run of the suite in ``root``, first and last left out."""
    out = root / "times.json"
    plugins = ["-p", "no:randomly", "-p", "no:xdist", "-p", "no:cacheprovider"]
    if bare:
        plugins += ["-p", "no:fakeapi"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *plugins, "-q"],
        cwd=root,
        env={**os.environ, "FIXTURE_COST_OUT": str(out)},
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise RuntimeError(f"the {'bare' if bare else 'fakeapi'} suite failed:\n{run.stdout[-3000:]}")
    times: list[dict[str, float]] = json.loads(out.read_text())
    return times[1:-1]


def mean_phases(times: list[dict[str, float]]) -> dict[str, float]:
    return {phase: statistics.fmean(t[phase] for t in times) for phase in PHASES}


def bench_fixture_cost(tests: int = 300, rounds: int = 3) -> FixtureCostResult:
    """Run the two suites of ``tests`` tests alternately for ``rounds`` rounds (see the module)."""
    with tempfile.TemporaryDirectory() as tmp:
        bare_root, fake_root = Path(tmp, "bare"), Path(tmp, "fakeapi")
        for root, bare in ((bare_root, True), (fake_root, False)):
            root.mkdir()
            write_project(root, tests, bare=bare)
        bare_rounds, fake_rounds = [], []
        for _ in range(rounds):
            bare_rounds.append(mean_phases(run_suite(bare_root, bare=True)))
            fake_rounds.append(mean_phases(run_suite(fake_root, bare=False)))

    def total(phases: dict[str, float]) -> float:
        return sum(phases.values())

    def median_phases(per_round: list[dict[str, float]]) -> dict[str, float]:
        return {phase: statistics.median(r[phase] for r in per_round) for phase in PHASES}

    return FixtureCostResult(
        tests=tests,
        rounds=rounds,
        bare=statistics.median(map(total, bare_rounds)),
        fakeapi=statistics.median(map(total, fake_rounds)),
        difference=statistics.median(
            total(f) - total(b) for f, b in zip(fake_rounds, bare_rounds, strict=True)
        ),
        fakeapi_phases=median_phases(fake_rounds),
        bare_phases=median_phases(bare_rounds),
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def report(result: FixtureCostResult) -> str:
    """The figures of ``result`` as lines of text."""

    def split(phases: dict[str, float]) -> str:
        return ", ".join(f"{phase} {ms(phases[phase])}" for phase in PHASES)

    return textwrap.dedent(
        f"""\
        per-test cost of the fixture: {result.tests} tests (reset, submit, poll; requests), \
{result.rounds} rounds, medians
          bare aiohttp fake  {ms(result.bare)}/test  ({split(result.bare_phases)})
          fakeapi fixture    {ms(result.fakeapi)}/test  ({split(result.fakeapi_phases)}: \
reset / test body / surprise check)
          difference         {ms(result.difference)}/test (goal <= 0.50 ms)"""
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(report(bench_fixture_cost(args.tests, args.rounds)))


if __name__ == "__main__":
    main()
