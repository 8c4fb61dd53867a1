"""fakeapi benchmark: the figures of DESIGN.md's "Performance shape", next to a bare aiohttp handler.

Run it as a script: ``python bench/bench.py`` (about 45 s) or ``python bench/bench.py --quick``.

1. Poll throughput: GET /rixapi/v1/task/{id} of a completed task (outputs and usage rendered) against
   fakeapi, and against a bare aiohttp handler returning pre-encoded bytes of the same size, both
   measured in this run. Each server runs in its own process pinned to one core; the load generator
   (``wrk -t1 -c32`` if it is on PATH, else a Python aiohttp client with 32 workers) runs in another
   process on the other core, a warm-up run first. Each server's CPU use over the measured run is
   shown: a bare server below ~90 % means the load generator, not the server, was the limit.
2. Fixture start: constructing ``BackgroundServer(FakeServer("default", clock="virtual")).start()``
   up to the answer to the first HTTP request (median of a few runs).
3. Per-test reset: ``FakeApi(bg).load_scenario("default")``, as the pytest fixture does before a test.
4. 1,000 tasks to completion on the virtual clock over HTTP: submit them (32 at a time), shift the
   clock 60 s, poll each once and check it is completed. Once with the server in another process,
   once in-process (server thread + client in the test's thread, as a downstream test suite runs it,
   sharing one GIL).
5. Poll handling without sockets: one request, built once, handed to the app again and again (its
   middleware, handler and rendering; no parsing, no I/O), for fakeapi's app and for the bare app of
   1. Independent of the load generator, so it shows what a change does to the fake's own poll work;
   being one request, it cannot show per-request garbage (a reference cycle through the request
   once cost 1. a quarter of its throughput), which 1. does.

Everything binds 127.0.0.1, is bounded in time and count, and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import http.client
import json
import multiprocessing
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import Any

import aiohttp
import pydantic
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from fakeapi.fixture import FakeApi
from fakeapi.server import BackgroundServer, FakeServer

HOST = "127.0.0.1"
KEY = "k"
AUTH = {"Authorization": f"Bearer {KEY}"}
# A token-billed image model, so a completed task renders outputs *and* usage (flux-* has no usage).
POLL_MODEL = "doubao-seedream-4-0"
BULK_MODEL = "flux-pro"
CONCURRENCY = 32
SERVER_CORE = 0
CLIENT_CORE = 1
PROCESS_DEADLINE = 120.0  # a server process stops by itself after this long, whatever happens
NOISE = 0.1  # other processes using more than this share of a core make the figures noisy
SATURATED = 0.9  # a server whose process used less CPU than this per second was not the bottleneck
CTX = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Settings:
    duration: float  # seconds of measured load per server per round
    warmup: float
    rounds: int
    start_runs: int
    reset_runs: int
    tasks: int


FULL = Settings(duration=5.0, warmup=1.0, rounds=3, start_runs=5, reset_runs=200, tasks=1000)
QUICK = Settings(duration=1.5, warmup=0.5, rounds=1, start_runs=3, reset_runs=50, tasks=200)


# -- helpers ------------------------------------------------------------------------------------


def pin(core: int) -> None:
    """Pin this process to one core, where the machine has it (Linux, 2+ cores)."""
    if hasattr(os, "sched_setaffinity") and core < (os.cpu_count() or 1) and (os.cpu_count() or 1) >= 2:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {core})


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


async def serve_until_stopped(conn: Connection, deadline: float) -> None:
    """Answer "cpu" with this process's CPU seconds until "stop" (or ``deadline``); off the loop."""
    loop = asyncio.get_running_loop()
    while time.monotonic() < deadline:
        if await loop.run_in_executor(None, conn.poll, 0.2):
            if conn.recv() != "cpu":
                return
            conn.send(time.process_time())


@contextlib.contextmanager
def child(target: Callable[..., None], *args: object) -> Iterator[tuple[SpawnProcess, Connection]]:
    """A spawned process given one end of a pipe; joined (or terminated) on the way out."""
    ours, theirs = CTX.Pipe()
    process = CTX.Process(target=target, args=(theirs, *args), daemon=True)
    process.start()
    theirs.close()
    try:
        yield process, ours
    finally:
        with contextlib.suppress(OSError, BrokenPipeError):
            ours.send("stop")
        process.join(timeout=15)
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)
        ours.close()


def recv(conn: Connection, timeout: float = 30.0) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError(f"no answer from the child process within {timeout:g} s")
    return conn.recv()


# -- server processes ---------------------------------------------------------------------------


async def completed_task(server: FakeServer) -> tuple[str, bytes]:
    """Submit a task to a started server and let it complete: the URL that polls it, and its body."""
    base = server.url_for("rixapi")
    async with aiohttp.ClientSession(headers=AUTH) as session:
        submit = {"model": POLL_MODEL, "input": {"prompt": "a lighthouse at dusk"}}
        async with session.post(f"{base}/v1/task/submit", json=submit) as resp:
            assert resp.status == 200, await resp.text()
            task_id = (await resp.json())["id"]
        await server.engine.shift(60)
        url = f"{base}/v1/task/{task_id}"
        async with session.get(url) as resp:
            assert resp.status == 200, await resp.text()
            return url, await resp.read()


def fake_server_process(conn: Connection) -> None:
    """fakeapi on one core, with one completed task; sends (url, body) and serves until told to stop."""
    pin(SERVER_CORE)

    async def main() -> None:
        deadline = time.monotonic() + PROCESS_DEADLINE
        server = FakeServer("default", clock="virtual", host=HOST)
        await server.start()
        try:
            conn.send(await completed_task(server))
            await serve_until_stopped(conn, deadline)
        finally:
            await server.stop()

    asyncio.run(main())


def bare_server_process(conn: Connection, size: int) -> None:
    """A bare aiohttp handler returning pre-encoded bytes of ``size``, on the same route shape."""
    pin(SERVER_CORE)
    payload = json.dumps({"pad": "x" * max(0, size - 10)}, separators=(",", ":")).encode()
    assert len(payload) == size, (len(payload), size)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=payload, content_type="application/json")

    async def main() -> None:
        deadline = time.monotonic() + PROCESS_DEADLINE
        app = web.Application()
        app.router.add_get("/rixapi/v1/task/{task_id}", handler)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        try:
            port = runner.addresses[0][1]
            conn.send((f"http://{HOST}:{port}/rixapi/v1/task/task_bare", payload))
            await serve_until_stopped(conn, deadline)
        finally:
            await runner.cleanup()

    asyncio.run(main())


# -- load generators ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    ok: int
    other: int
    seconds: float
    server_busy: float = 0.0  # the server process's CPU seconds over the run, per wall second
    client_busy: float | None = None  # the same for the Python load generator (None: wrk)
    others_busy: float | None = None  # cores' worth of CPU used by other processes (None: unknown)
    stolen: float = 0.0  # cores' worth of CPU the hypervisor took

    @property
    def rps(self) -> float:
        return self.ok / self.seconds


def wrk_version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10, check=False)
    first = (out.stdout + out.stderr).strip().splitlines()[0]
    return first.split(" Copyright")[0].split(" [")[0]


def run_wrk(url: str, seconds: float) -> Load:
    duration = max(1, round(seconds))
    cmd = ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{duration}s", "--timeout", "2s"]
    cmd += ["-H", f"Authorization: Bearer {KEY}", url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", out)
    if total is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[total.group(3)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = int(bad.group(1)) if bad else 0
    socket_errors = sum(int(g) for g in errors.groups()) if errors else 0
    ok = int(total.group(1)) - non_2xx
    return Load(ok=ok, other=non_2xx + socket_errors, seconds=float(total.group(2)) * scale)


def python_loadgen_process(conn: Connection, url: str, seconds: float) -> None:
    """32 aiohttp workers GETting ``url`` for ``seconds``; sends the Load."""
    pin(CLIENT_CORE)

    async def main() -> Load:
        counts = {"ok": 0, "other": 0}
        timeout = aiohttp.ClientTimeout(total=5)
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(headers=AUTH, timeout=timeout, connector=connector) as session:

            async def worker(stop: float) -> None:
                while time.monotonic() < stop:
                    async with session.get(url) as resp:
                        await resp.read()
                        counts["ok" if resp.status == 200 else "other"] += 1

            cpu, start = time.process_time(), time.monotonic()
            await asyncio.gather(*(worker(start + seconds) for _ in range(CONCURRENCY)))
            wall = time.monotonic() - start
            return Load(counts["ok"], counts["other"], wall, client_busy=(time.process_time() - cpu) / wall)

    conn.send(asyncio.run(main()))


def run_python_loadgen(url: str, seconds: float) -> Load:
    with child(python_loadgen_process, url, seconds) as (_, conn):
        load: Load = recv(conn, seconds + 30)
        return load


def server_cpu(conn: Connection) -> float:
    conn.send("cpu")
    cpu: float = recv(conn)
    return cpu


def machine_cpu() -> tuple[float, float]:
    """CPU seconds the whole machine has spent busy, and stolen by the hypervisor (Linux; else 0)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(f) for f in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / tick, steal / tick


def own_cpu() -> float:
    """CPU seconds of this process and its reaped children (wrk, the Python load generator)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def measure(url: str, server: Connection, settings: Settings, use_wrk: bool) -> Load:
    """Warm up, then one measured run, with the CPU use of the server and of everything else."""
    run = run_wrk if use_wrk else run_python_loadgen
    run(url, settings.warmup)
    server_before, own_before, (machine_before, steal_before) = server_cpu(server), own_cpu(), machine_cpu()
    load = run(url, settings.duration)
    server_used, own_used = server_cpu(server) - server_before, own_cpu() - own_before
    machine_after, steal_after = machine_cpu()
    others = machine_after - machine_before - server_used - own_used
    return dataclasses.replace(
        load,
        server_busy=server_used / load.seconds,
        others_busy=max(0.0, others / load.seconds) if machine_after else None,
        stolen=(steal_after - steal_before) / load.seconds,
    )


# -- 1. poll throughput -------------------------------------------------------------------------


@dataclass(frozen=True)
class PollResult:
    fake: Load
    bare: Load
    size: int
    rounds: list[tuple[float, float]]


def bench_poll(settings: Settings, use_wrk: bool) -> PollResult:
    with child(fake_server_process) as (_, fake_conn):
        fake_url, body = recv(fake_conn)
        shown = json.loads(body)
        assert shown["status"] == "completed", shown
        assert shown["outputs"], shown
        assert shown["usage"], shown
        with child(bare_server_process, len(body)) as (_, bare_conn):
            bare_url, payload = recv(bare_conn)
            assert len(payload) == len(body)
            rounds: list[tuple[Load, Load]] = []
            for _ in range(settings.rounds):
                bare = measure(bare_url, bare_conn, settings, use_wrk)
                fake = measure(fake_url, fake_conn, settings, use_wrk)
                for load, name in ((bare, "bare"), (fake, "fakeapi")):
                    if load.other or not load.ok:
                        raise AssertionError(f"{name}: {load.other} failed requests, {load.ok} ok")
                rounds.append((fake, bare))
    # The median round (by ratio): bare and fakeapi are measured back to back within a round, so a
    # round's ratio is steadier than either figure on a shared virtual machine.
    rounds.sort(key=lambda r: r[0].rps / r[1].rps)
    fake, bare = rounds[len(rounds) // 2]
    return PollResult(fake, bare, len(body), [(f.rps, b.rps) for f, b in rounds])


# -- 2. fixture start, 3. reset -------------------------------------------------------------------


def first_request(base_url: str) -> int:
    """One blocking HTTP request (a poll of an unknown task: answered 404 by the fake)."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", "/rixapi/v1/task/task_none", headers=AUTH)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@dataclass(frozen=True)
class StartResult:
    started: list[float]  # construct .. start() returned
    answered: list[float]  # construct .. first response read
    stopped: list[float]


def bench_start(settings: Settings) -> StartResult:
    started: list[float] = []
    answered: list[float] = []
    stopped: list[float] = []
    for _ in range(settings.start_runs):
        t0 = time.perf_counter()
        bg = BackgroundServer(FakeServer("default", clock="virtual")).start()
        t1 = time.perf_counter()
        try:
            status = first_request(bg.server.base_url)
            t2 = time.perf_counter()
            assert status == 404, status
        finally:
            t3 = time.perf_counter()
            bg.stop()
            t4 = time.perf_counter()
        started.append(t1 - t0)
        answered.append(t2 - t0)
        stopped.append(t4 - t3)
    return StartResult(started, answered, stopped)


def bench_reset(settings: Settings) -> list[float]:
    times: list[float] = []
    with BackgroundServer(FakeServer("default", clock="virtual")) as bg:
        handle = FakeApi(bg)
        for _ in range(settings.reset_runs):
            t0 = time.perf_counter()
            handle.load_scenario("default")
            times.append(time.perf_counter() - t0)
    return times


# -- 4. 1,000 tasks to completion -----------------------------------------------------------------


@dataclass(frozen=True)
class BulkResult:
    tasks: int
    submit: float
    shift: float
    poll: float

    @property
    def total(self) -> float:
        return self.submit + self.shift + self.poll


async def run_bulk(base: str, tasks: int, shift: Callable[[], Any]) -> BulkResult:
    """Submit ``tasks`` over HTTP (32 in flight), call ``shift``, poll each; all must be completed."""
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(headers=AUTH, connector=connector, timeout=timeout) as session:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def submit(i: int) -> str:
            body = {"model": BULK_MODEL, "input": {"prompt": f"benchmark task {i}"}}
            async with gate, session.post(f"{base}/v1/task/submit", json=body) as resp:
                assert resp.status == 200, await resp.text()
                data = await resp.json()
                assert data["status"] == "queued", data
                return str(data["id"])

        async def poll(task_id: str) -> str:
            async with gate, session.get(f"{base}/v1/task/{task_id}") as resp:
                assert resp.status == 200, await resp.text()
                return str((await resp.json())["status"])

        t0 = time.perf_counter()
        ids = await asyncio.gather(*(submit(i) for i in range(tasks)))
        t1 = time.perf_counter()
        result = shift()
        if asyncio.iscoroutine(result):
            await result
        t2 = time.perf_counter()
        states = await asyncio.gather(*(poll(task_id) for task_id in ids))
        t3 = time.perf_counter()
    assert len(set(ids)) == tasks
    not_done = [s for s in states if s != "completed"]
    assert not not_done, f"{len(not_done)} of {tasks} tasks not completed: {sorted(set(not_done))}"
    return BulkResult(tasks, t1 - t0, t2 - t1, t3 - t2)


def control_server_process(conn: Connection) -> None:
    """A fixture-like server (BackgroundServer, virtual clock) driven over the pipe: shift N, stop."""
    pin(SERVER_CORE)
    deadline = time.monotonic() + PROCESS_DEADLINE
    with BackgroundServer(FakeServer("default", clock="virtual", host=HOST)) as bg:
        handle = FakeApi(bg)
        conn.send(handle.url_for("rixapi"))
        while time.monotonic() < deadline:
            if not conn.poll(0.2):
                continue
            message = conn.recv()
            if not isinstance(message, tuple):
                return
            handle.clock.shift(message[1])
            conn.send("shifted")


def bench_bulk_separate(settings: Settings) -> BulkResult:
    with child(control_server_process) as (_, conn):
        base: str = recv(conn)

        def shift() -> None:
            conn.send(("shift", 60.0))
            assert recv(conn) == "shifted"

        return asyncio.run(run_bulk(base, settings.tasks, shift))


def bench_bulk_inprocess(settings: Settings) -> BulkResult:
    with BackgroundServer(FakeServer("default", clock="virtual", host=HOST)) as bg:
        handle = FakeApi(bg)
        return asyncio.run(
            run_bulk(handle.url_for("rixapi"), settings.tasks, lambda: handle.clock.ashift(60))
        )


# -- report -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandlingResult:
    fake: float  # seconds per poll handled, best round
    bare: float


async def seconds_per_poll(app: web.Application, path: str, calls: int, rounds: int) -> float:
    """The best round's seconds per call of the app's own handling of one GET (aiohttp's internal
    ``_handle``: routing is resolved once, so the figure is middleware, handler and answer)."""
    request = make_mocked_request("GET", path, headers=AUTH, app=app)
    match = await app.router.resolve(request)
    match.add_app(app)
    request._match_info = match
    best = float("inf")
    for _ in range(rounds):
        began = time.perf_counter()
        for _ in range(calls):
            response = await app._handle(request)
        best = min(best, (time.perf_counter() - began) / calls)
        assert response.status == 200
    return best


def bench_handling(settings: Settings) -> HandlingResult:
    async def main() -> HandlingResult:
        server = FakeServer("default", clock="virtual", host=HOST)
        await server.start()
        try:
            url, body = await completed_task(server)
            size = len(body)
            assert server._runner is not None
            calls, rounds = settings.reset_runs * 25, settings.rounds + 4
            fake = await seconds_per_poll(
                server._runner.app, url.removeprefix(server.base_url), calls, rounds
            )
        finally:
            await server.stop()
        payload = b"x" * size

        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=payload, content_type="application/json")

        bare_app = web.Application()
        bare_app.router.add_get("/rixapi/v1/task/{task_id}", handler)
        bare = await seconds_per_poll(bare_app, "/rixapi/v1/task/task_bare", calls, rounds)
        return HandlingResult(fake, bare)

    return asyncio.run(main())


def load_note(load: Load) -> str:
    note = f"({load.ok:,} in {load.seconds:.1f} s; server core {load.server_busy:.0%} busy"
    if load.client_busy is not None:
        note += f", client core {load.client_busy:.0%}"
    if load.others_busy is not None and (load.others_busy >= NOISE or load.stolen >= NOISE):
        note += f"; other processes {load.others_busy:.0%} of a core, stolen {load.stolen:.0%}"
    return note + ")"


def row(label: str, value: str, note: str = "") -> str:
    return f"  {label:<44} {value:>16}  {note}".rstrip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs (a smoke test, not figures)")
    parser.add_argument(
        "--python-loadgen", action="store_true", help="use the Python load generator even if wrk is on PATH"
    )
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    use_wrk = shutil.which("wrk") is not None and not args.python_loadgen
    machine_cores = cores()
    pin(CLIENT_CORE)  # this process and wrk on one core; each server process moves itself to the other

    began = time.perf_counter()
    loadgen = (
        f"{wrk_version()} (-t1 -c{CONCURRENCY})"
        if use_wrk
        else f"Python aiohttp client in a separate process, {CONCURRENCY} workers"
    )
    print("fakeapi benchmark" + (" (--quick: short runs, rough figures)" if args.quick else ""))
    print(
        f"  Python {platform.python_version()} ({platform.python_implementation()}), aiohttp "
        f"{aiohttp.__version__}, pydantic {pydantic.VERSION}, {platform.machine()}, {machine_cores} cores"
    )
    print(f"  load generator: {loadgen}")
    print(
        f"  poll: {settings.rounds} round(s) x {settings.duration:g} s per server "
        f"(+{settings.warmup:g} s warm-up), median round shown; server on core {SERVER_CORE}, "
        f"load generator on core {CLIENT_CORE}"
    )
    print(flush=True)

    poll = bench_poll(settings, use_wrk)
    start = bench_start(settings)
    resets = bench_reset(settings)
    separate = bench_bulk_separate(settings)
    inprocess = bench_bulk_inprocess(settings)
    handling = bench_handling(settings)

    ratio = poll.fake.rps / poll.bare.rps
    print(f"1. poll GET /rixapi/v1/task/{{id}}, completed task, {poll.size} B body")
    print(row("bare aiohttp, pre-encoded bytes", f"{poll.bare.rps:,.0f} req/s", load_note(poll.bare)))
    print(row("fakeapi", f"{poll.fake.rps:,.0f} req/s", load_note(poll.fake)))
    print(row("fakeapi / bare", f"{ratio:.2f}x", "(target >= 0.5x)"))
    if len(poll.rounds) > 1:
        detail = ", ".join(f"{f:,.0f}/{b:,.0f} = {f / b:.2f}x" for f, b in poll.rounds)
        print(row("  each round, fakeapi/bare req/s", "", detail))
    noisy = [
        load
        for load in (poll.bare, poll.fake)
        if load.others_busy is not None and (load.others_busy >= NOISE or load.stolen >= NOISE)
    ]
    if noisy:
        print("  ! other processes (or the hypervisor) took CPU during the run: these figures are noisy")
    elif poll.bare.server_busy < SATURATED:
        print(
            f"  ! the bare server used only {poll.bare.server_busy:.0%} of its core: the load generator, "
            "not the server, set these figures, and the ratio understates the gap"
            + ("" if use_wrk else " (install wrk)")
        )
    elif poll.bare.client_busy is not None and poll.bare.client_busy >= SATURATED:
        print("  (the Python load generator saturated its core too: the ratio may understate the gap)")
    print()
    print(
        "2. fixture start: BackgroundServer(FakeServer(...)).start() .. first response "
        f"({len(start.answered)} runs)"
    )
    print(row("start() returned", ms(statistics.median(start.started)), "median"))
    print(
        row(
            "first HTTP response read",
            ms(statistics.median(start.answered)),
            f"median (min {ms(min(start.answered))}, first {ms(start.answered[0])})",
        )
    )
    print(row("stop()", ms(statistics.median(start.stopped)), "median"))
    print()
    print(f"3. per-test reset: FakeApi(bg).load_scenario('default') ({len(resets)} calls)")
    quantiles = statistics.quantiles(resets, n=20)
    print(
        row(
            "reset", ms(statistics.median(resets)), f"median (p95 {ms(quantiles[-1])}, min {ms(min(resets))})"
        )
    )
    print()
    print(
        f"4. {separate.tasks:,} tasks to completion on the virtual clock over HTTP ({CONCURRENCY} in flight)"
    )
    for name, bulk in (
        ("server in another process", separate),
        ("in-process (fixture-style thread)", inprocess),
    ):
        print(f"  {name}:")
        print(row("  submit", f"{bulk.tasks / bulk.submit:,.0f} tasks/s", f"({ms(bulk.submit)})"))
        print(row("  clock.shift(60)", ms(bulk.shift)))
        print(
            row(
                "  poll all, every one 'completed'",
                f"{bulk.tasks / bulk.poll:,.0f} req/s",
                f"({ms(bulk.poll)})",
            )
        )
        print(row("  total wall time", ms(bulk.total)))
    print()
    print("5. poll handling without sockets: one built request handed to the app (best round)")
    print(row("bare aiohttp, pre-encoded bytes", f"{handling.bare * 1e6:.1f} us"))
    print(row("fakeapi", f"{handling.fake * 1e6:.1f} us", f"{handling.fake / handling.bare:.2f}x bare"))
    print()
    print(f"benchmark wall time {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
