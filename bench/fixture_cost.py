"""The fixture's cost per test in a downstream suite, next to a bare aiohttp fake.

Run it as a script: ``python bench/fixture_cost.py`` (about 45 s; ``--tests N --rounds R``).

It writes throwaway downstream projects, each a test file of N tests that submit one RixAPI task and
poll it once with ``requests`` (a new connection per request, as ``requests.post`` makes): one
against the ``fakeapi`` fixture; one against a bare aiohttp fake, a session fixture serving the same
two routes with canned bytes of the same size from a thread with its own (asyncio's) event loop, and
a per-test fixture that clears its dict of tasks across the thread, the least a reset can be; and the
bare fake again on uvloop's loop (the one the fixture runs on), for reference. Each suite runs as a
user runs it, ``python -m pytest -p no:randomly -p no:xdist -q`` in a subprocess, one after the
other, for R rounds.

A conftest hook times each test's setup, call and teardown, and the process's CPU time over them
(both threads: the test's and the fake's); collection, start-up and the session fixtures' start and
stop do not count (the first and last tests, which pay those, are left out). Per round: the mean per
test; reported: each suite's median over rounds, and the median of the per-round differences between
fakeapi and the bare fake. For fakeapi the setup is the reset, the call the test body, the teardown
the check for surprises. On a busy machine each hand-off between the test's thread and the fake's
waits for the scheduler, so the wall times move with the load; the CPU times much less.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
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
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        return (yield)
    finally:
        times = _TIMES.setdefault(item.nodeid, {})
        times[phase] = time.perf_counter() - wall
        times["cpu"] = times.get("cpu", 0.0) + time.process_time() - cpu


def pytest_sessionfinish(session):
    with open(os.environ["FIXTURE_COST_OUT"], "w") as out:
        json.dump(list(_TIMES.values()), out)
"""

BARE_CONFTEST = f"""
import asyncio
import threading

import uvloop

import pytest
from aiohttp import web

SUBMIT_ANSWER = {SUBMIT_ANSWER!r}


class BareFake:
    def __init__(self):
        self.tasks = {{}}
        self.loop = NEW_LOOP()
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
        self.port = self.runner.addresses[0][1]

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
class Suite:
    """One downstream suite: its name, and its bare fake's event loop (``None``: the fakeapi fixture)."""

    name: str
    bare_loop: str | None

    def write(self, root: Path, tests: int) -> None:
        """The suite as a project in ``root``: a conftest (the timing hook, the bare fake if any) and a
        test file of ``tests`` tests."""
        root.mkdir()
        (root / "pytest.ini").write_text("[pytest]\n")
        bare = "" if self.bare_loop is None else f"{BARE_CONFTEST}\nNEW_LOOP = {self.bare_loop}\n"
        (root / "conftest.py").write_text(CONFTEST + bare)
        tests_text = "".join(TEST.format(index=i) for i in range(tests))
        (root / "test_downstream.py").write_text(TEST_HEAD + tests_text)

    def run(self, root: Path) -> dict[str, float]:
        """Mean seconds per test of each phase (and of CPU, ``cpu``), from one run of the suite in
        ``root``; the first and last tests are left out."""
        out = root / "times.json"
        plugins = ["-p", "no:randomly", "-p", "no:xdist", "-p", "no:cacheprovider"]
        if self.bare_loop is not None:
            plugins += ["-p", "no:fakeapi"]
        run = subprocess.run(
            [sys.executable, "-m", "pytest", *plugins, "-q"],
            cwd=root,
            env={**os.environ, "FIXTURE_COST_OUT": str(out)},
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise RuntimeError(f"the {self.name} suite failed:\n{run.stdout[-3000:]}")
        times: list[dict[str, float]] = json.loads(out.read_text())[1:-1]
        return {key: statistics.fmean(t[key] for t in times) for key in (*PHASES, "cpu")}


BARE = Suite("bare aiohttp fake", "asyncio.new_event_loop")
BARE_UVLOOP = Suite("bare fake, uvloop", "uvloop.new_event_loop")
FAKEAPI = Suite("fakeapi fixture", None)
SUITES = (BARE, BARE_UVLOOP, FAKEAPI)


@dataclass(frozen=True)
class SuiteCost:
    """A suite's seconds per test (medians over rounds): wall time, by phase, and CPU time (both
    threads: the test's and the fake's)."""

    total: float
    phases: dict[str, float]
    cpu: float


@dataclass(frozen=True)
class FixtureCostResult:
    """Each suite's cost per test, and the fakeapi fixture's wall time per test less the bare aiohttp
    fake's (on asyncio's loop) in each round (``differences``) and their median (``difference``),
    in seconds."""

    tests: int
    rounds: int
    suites: dict[str, SuiteCost]
    differences: tuple[float, ...]

    @property
    def difference(self) -> float:
        return statistics.median(self.differences)

    @property
    def bare(self) -> float:
        return self.suites[BARE.name].total

    @property
    def fakeapi(self) -> float:
        return self.suites[FAKEAPI.name].total


def bench_fixture_cost(tests: int = 300, rounds: int = 3) -> FixtureCostResult:
    """Run the suites of ``tests`` tests one after another, ``rounds`` times (see the module)."""
    per_round: dict[str, list[dict[str, float]]] = {suite.name: [] for suite in SUITES}
    with tempfile.TemporaryDirectory() as tmp:
        roots = {suite.name: Path(tmp, f"suite{i}") for i, suite in enumerate(SUITES)}
        for suite in SUITES:
            suite.write(roots[suite.name], tests)
        for _ in range(rounds):
            for suite in SUITES:
                per_round[suite.name].append(suite.run(roots[suite.name]))

    def total(times: dict[str, float]) -> float:
        return sum(times[phase] for phase in PHASES)

    def cost(runs: list[dict[str, float]]) -> SuiteCost:
        return SuiteCost(
            total=statistics.median(map(total, runs)),
            phases={phase: statistics.median(r[phase] for r in runs) for phase in PHASES},
            cpu=statistics.median(r["cpu"] for r in runs),
        )

    pairs = zip(per_round[FAKEAPI.name], per_round[BARE.name], strict=True)
    return FixtureCostResult(
        tests=tests,
        rounds=rounds,
        suites={name: cost(runs) for name, runs in per_round.items()},
        differences=tuple(total(fake) - total(bare) for fake, bare in pairs),
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def report(result: FixtureCostResult) -> str:
    """The figures of ``result`` as lines of text."""
    lines = [
        f"per-test cost of the fixture: {result.tests} tests (reset, submit, poll; requests), "
        f"{result.rounds} rounds, medians; phases: setup (the reset), call (the test body), teardown "
        "(fakeapi's surprise check)"
    ]
    for name, cost in result.suites.items():
        phases = ", ".join(f"{phase} {ms(cost.phases[phase])}" for phase in PHASES)
        lines.append(f"  {name:18s} {ms(cost.total)}/test  ({phases}; CPU {ms(cost.cpu)})")
    rounds = ", ".join(ms(d) for d in result.differences)
    lines.append(
        f"  {'difference':18s} {ms(result.difference)}/test over the bare fake (goal <= 0.50 ms; "
        f"per round: {rounds})"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(report(bench_fixture_cost(args.tests, args.rounds)))


if __name__ == "__main__":
    main()
