"""fakeapi benchmark: the figures of issue 14 and DESIGN.md's "Performance shape", side by side with
a bare aiohttp handler measured in the same run.

Run it as a script: ``python bench/bench.py`` (about 3 minutes) or ``python bench/bench.py --quick``
(a smoke run of about 30 s); ``make bench`` installs wrk first when it can (``bench/install-wrk``).

Method: every server runs in its own process pinned to core 0 (``os.sched_setaffinity``); the load
generator runs on core 1: ``wrk -t1 -c32`` when it is on PATH, else a Python aiohttp client with 32
workers in its own process (the run says which). Throughput is compared round by round: in each
round every server is measured back to back (in a rotated order), the ratio to the bare handler is
taken per round, and the median of those ratios is the figure. Each server's CPU use over its run
is shown: a bare server below ~90 % of its core means the load generator, not the server, was the
limit.

1. Poll: ``GET /rixapi/v1/task/{id}`` of a completed task (outputs and usage rendered), against
   fakeapi as a user runs it (``fakeapi serve --virtual-clock --quiet``: the fake's figures, not
   its request log's; the task submitted over HTTP and the clock shifted through the admin API), a
   bare aiohttp handler returning pre-encoded bytes of the same size (the reference: default
   asyncio loop, no access log) and that bare handler on uvloop.
2. Submit: ``POST /rixapi/v1/task/submit`` with a JSON body (wrk with ``bench/post.lua``,
   ``--latency``), against fakeapi and a bare handler that reads the body and answers pre-encoded
   bytes the size of fakeapi's answer (on asyncio and on uvloop). Tasks on a virtual clock never
   end, so fakeapi is reset before each round with its task limits raised (``load_scenario`` with
   ``overrides`` through the admin API); every answer must be a 2xx.
3. Flat at scale: poll p99 of one completed task on a fakeapi with 100 live tasks and on one with
   100,000 (filled by submits over HTTP, wrk stopping at the count), measured alternately; and the
   server's resident memory per task added by the fill (``VmRSS`` before and after).
4. In-process figures a downstream test suite sees: fixture start
   (``BackgroundServer(FakeServer(...)).start()`` to the first answer), the per-test reset
   (``FakeApi(bg).load_scenario("default")``), 1,000 tasks to completion on the virtual clock over
   HTTP (server in another process, and in-process as a fixture runs it), and the handling of one
   poll without sockets (one built request handed again and again to the handler aiohttp's server
   calls: routing, middleware, handler and rendering, no parsing or I/O; independent of the load
   generator).

5. Start-up: ``fakeapi serve --virtual-clock`` spawned, to its first answer read, against a bare
   aiohttp server spawned the same way (and one that also imports pydantic and PyYAML, fakeapi's
   floor), alternating (``bench/startup.py``).
6. The fixture's cost per test in a downstream suite: generated suites of tests that each reset,
   submit and poll once with ``requests``, run with pytest in a subprocess against the ``fakeapi``
   fixture and against a bare aiohttp fake, per-test time from a conftest hook
   (``bench/fixture_cost.py``).

A summary table (measure | fakeapi | bare | goal | met?) ends the run. Linux only (it pins cores and
reads ``/proc``). Everything binds 127.0.0.1, is bounded in time and count, and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import dataclasses
import http.client
import importlib.metadata
import json
import multiprocessing
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from pathlib import Path
from typing import IO, Any

import aiohttp
import pydantic
import uvloop
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from fixture_cost import bench_fixture_cost
from fixture_cost import report as fixture_report
from load import cpu_seconds, free_port, memory_kib
from startup import bench_startup

from fakeapi.fixture import FakeApi
from fakeapi.server import BackgroundServer, FakeServer

HOST = "127.0.0.1"
KEY = "k"
AUTH = {"Authorization": f"Bearer {KEY}"}
# A token-billed image model, so a completed task renders outputs *and* usage (flux-* has no usage).
POLL_MODEL = "doubao-seedream-4-0"
BULK_MODEL = "flux-pro"
SUBMIT_PATH = "/rixapi/v1/task/submit"
POLL_ROUTE = "/rixapi/v1/task/{task_id}"
POLL_BODY = json.dumps({"model": POLL_MODEL, "input": {"prompt": "a lighthouse at dusk"}}).encode()
SUBMIT_BODY = json.dumps({"model": BULK_MODEL, "input": {"prompt": "a lighthouse at dusk"}}).encode()
POST_LUA = Path(__file__).with_name("post.lua")
# Tasks on a virtual clock never end: the store is raised far above what a run submits.
RAISED_LIMITS = {"limits": {"tasks": 10_000_000, "tasks_bytes": 1 << 34}}
CONCURRENCY = 32
SERVER_CORE = 0
CLIENT_CORE = 1
PROCESS_DEADLINE = 900.0  # a bare server process stops by itself after this long, whatever happens
START_TIMEOUT = 30.0
FILL_TIMEOUT = 300  # seconds a fill may take, at most
SMALL_STORE = 100
NOISE = 0.1  # other processes using more than this share of a core make the figures noisy
SATURATED = 0.9  # a server whose process used less CPU than this per second was not the bottleneck
PR_SET_PDEATHSIG = 1
CTX = multiprocessing.get_context("spawn")

GET_GOAL = 1.15
POST_GOAL = 0.9
POST_TAIL_GOAL = 3.0  # fakeapi's submit p99 at most this many times its p50
FLAT_GOAL = 1.10  # poll p99 with 100k live tasks at most this many times the p99 with 100
RSS_GOAL = 1.2 * 1024  # bytes of resident memory per live task


@dataclass(frozen=True)
class Settings:
    duration: int  # seconds of measured load per server per round (wrk counts whole seconds)
    warmup: int
    rounds: int
    start_runs: int
    reset_runs: int
    tasks: int  # tasks to completion, in-process section
    scale_tasks: int  # live tasks of the large store
    serve_starts: int  # spawns of `fakeapi serve` and of each bare server
    fixture_tests: int  # tests in each generated downstream suite
    fixture_rounds: int


FULL = Settings(
    duration=4,
    warmup=1,
    rounds=3,
    start_runs=5,
    reset_runs=200,
    tasks=1000,
    scale_tasks=100_000,
    serve_starts=9,
    fixture_tests=300,
    fixture_rounds=5,
)
QUICK = Settings(
    duration=1,
    warmup=1,
    rounds=1,
    start_runs=3,
    reset_runs=50,
    tasks=200,
    scale_tasks=5_000,
    serve_starts=3,
    fixture_tests=100,
    fixture_rounds=1,
)


# -- processes ----------------------------------------------------------------------------------


def pin(core: int, pid: int = 0) -> None:
    """Pin a process (0: this one) to one core, where the machine has it (2+ cores)."""
    if core < (os.cpu_count() or 1) and (os.cpu_count() or 1) >= 2:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, {core})


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


@dataclass(frozen=True)
class Served:
    """A server of the benchmark, running in its own process."""

    name: str
    base: str
    pid: int


@contextlib.contextmanager
def child(target: Callable[..., None], *args: object) -> Iterator[tuple[SpawnProcess, Connection]]:
    """A spawned process given one end of a pipe; told to stop, joined (or terminated) on the way out."""
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


def _end_with_parent() -> None:
    """In a child before exec: SIGTERM it when this process ends, however it ends (Linux)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _output_tail(output: IO[bytes]) -> str:
    output.seek(0)
    return "\n".join(output.read().decode(errors="replace").splitlines()[-20:])


@contextlib.contextmanager
def fakeapi_serve(name: str = "fakeapi") -> Iterator[Served]:
    """``fakeapi serve --virtual-clock --quiet`` from this venv on a free port, pinned to the server
    core; stopped with SIGTERM on the way out (and with this process, if it dies first)."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("fakeapi")), "serve", "--host", HOST]
    command += ["--port", str(port), "--virtual-clock", "--quiet"]  # the fake's figures, not its log's
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, preexec_fn=_end_with_parent
        )
        try:
            pin(SERVER_CORE, process.pid)
            base = f"http://{HOST}:{port}"
            deadline = time.monotonic() + START_TIMEOUT
            while not answers(base):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"fakeapi serve did not start:\n{_output_tail(output)}")
                time.sleep(0.05)
            yield Served(name, base, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def answers(base: str) -> bool:
    with contextlib.suppress(OSError):
        return call(base, "GET", "/_fakeapi/clock")[0] == 200
    return False


def call(
    base: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One blocking HTTP request: the status and the body of the answer."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def admin(base: str, method: str, path: str, payload: object = None) -> Any:
    """An admin API call (``/_fakeapi/...``) that must succeed: its JSON answer."""
    body = None if payload is None else json.dumps(payload).encode()
    status, answer = call(base, method, "/_fakeapi" + path, body)
    if status != 200:
        raise RuntimeError(f"{method} /_fakeapi{path}: {status} {answer[:200]!r}")
    return json.loads(answer)


def reset_with_raised_limits(fake: Served) -> None:
    admin(fake.base, "POST", "/load_scenario", {"scenario": "default", "overrides": RAISED_LIMITS})


def submit(fake: Served, body: bytes) -> bytes:
    """Submit a task over HTTP; the answer's body."""
    headers = {**AUTH, "Content-Type": "application/json"}
    status, answer = call(fake.base, "POST", SUBMIT_PATH, body, headers)
    if status != 200:
        raise RuntimeError(f"submit: {status} {answer[:200]!r}")
    return answer


def completed_task_path(fake: Served) -> tuple[str, bytes]:
    """A task submitted over HTTP and completed by shifting the clock: its poll path and body."""
    task_id = json.loads(submit(fake, POLL_BODY))["id"]
    admin(fake.base, "POST", "/clock/shift", {"seconds": 60})
    path = POLL_ROUTE.format(task_id=task_id)
    status, body = call(fake.base, "GET", path, headers=AUTH)
    shown = json.loads(body)
    if status != 200 or shown["status"] != "completed" or not shown["outputs"] or not shown["usage"]:
        raise RuntimeError(f"the polled task is not a completed one with outputs and usage: {shown}")
    return path, body


def live_tasks(fake: Served, at_least: int) -> int:
    """How many tasks fakeapi keeps, knowing it keeps ``at_least`` (reads the listing past them)."""
    rest = admin(fake.base, "GET", f"/tasks?offset={at_least}&limit=10000")
    return at_least + len(rest)


def padded(size: int) -> bytes:
    payload = json.dumps({"pad": "x" * max(0, size - 10)}, separators=(",", ":")).encode()
    assert len(payload) == size, (len(payload), size)
    return payload


def bare_server_process(conn: Connection, loop: str, poll_size: int, submit_size: int) -> None:
    """The reference: a bare aiohttp app answering pre-encoded bytes of fakeapi's sizes on the same
    paths (a submit reads its body first), no access log, on ``loop`` ("asyncio" or "uvloop")."""
    pin(SERVER_CORE)
    poll_payload, submit_payload = padded(poll_size), padded(submit_size)

    async def poll(request: web.Request) -> web.Response:
        return web.Response(body=poll_payload, content_type="application/json")

    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=submit_payload, content_type="application/json")

    async def main() -> None:
        deadline = time.monotonic() + PROCESS_DEADLINE
        app = web.Application()
        app.router.add_get(POLL_ROUTE, poll)
        app.router.add_post(SUBMIT_PATH, accept)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        try:
            conn.send(f"http://{HOST}:{runner.addresses[0][1]}")
            running = asyncio.get_running_loop()
            while time.monotonic() < deadline and not await running.run_in_executor(None, conn.poll, 0.2):
                pass
        finally:
            await runner.cleanup()

    if loop == "uvloop":
        uvloop.run(main())
    else:
        asyncio.run(main())


@contextlib.contextmanager
def bare_server(loop: str, poll_size: int, submit_size: int) -> Iterator[Served]:
    with child(bare_server_process, loop, poll_size, submit_size) as (process, conn):
        base: str = recv(conn)
        assert process.pid is not None
        yield Served("bare aiohttp" + (" on uvloop" if loop == "uvloop" else ""), base, process.pid)


# -- load generators ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What the load generator sends: a GET of ``path``, or a POST of ``body`` to it."""

    path: str
    body: bytes | None = None


@dataclass(frozen=True)
class Load:
    ok: int
    other: int
    seconds: float
    p50: float | None = None  # latency, seconds (when asked for)
    p99: float | None = None
    client_cpu: float = 0.0  # CPU seconds the Python load generator used (wrk: 0, counted as a child)
    server_busy: float = 0.0  # the server process's CPU seconds over the run, per wall second
    others_busy: float = 0.0  # cores' worth of CPU used by other processes
    stolen: float = 0.0  # cores' worth of CPU the hypervisor took

    @property
    def rps(self) -> float:
        return self.ok / self.seconds

    @property
    def noisy(self) -> bool:
        return self.others_busy >= NOISE or self.stolen >= NOISE


def wrk_version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10, check=False)
    first = (out.stdout + out.stderr).strip().splitlines()[0]
    return first.split(" Copyright")[0].split(" [")[0]


TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _seconds(number: str, unit: str) -> float:
    return float(number) * TIME_UNITS[unit]


def wrk_command(base: str, target: Target, seconds: int, limit: int | None = None) -> list[str]:
    cmd = ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{seconds}s", "--timeout", "5s", "--latency"]
    cmd += ["-H", f"Authorization: Bearer {KEY}"]
    if target.body is None:
        return [*cmd, base + target.path]
    extra = [] if limit is None else [str(limit)]
    return [*cmd, "-s", str(POST_LUA), base, "--", target.path, target.body.decode(), *extra]


def parse_wrk(out: str) -> Load:
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", out)
    if total is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    quantiles = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+(?:us|ms|s|m|h))$", out, re.MULTILINE))
    latency = {q: re.fullmatch(r"([\d.]+)(\w+)", text) for q, text in quantiles.items()}
    p50, p99 = (_seconds(*m.groups()) if (m := latency.get(q)) else None for q in ("50", "99"))
    non_2xx = int(bad.group(1)) if bad else 0
    socket_errors = sum(int(g) for g in errors.groups()) if errors else 0
    return Load(
        ok=int(total.group(1)) - non_2xx,
        other=non_2xx + socket_errors,
        seconds=_seconds(total.group(2), total.group(3)),
        p50=p50,
        p99=p99,
    )


def run_wrk(base: str, target: Target, seconds: int) -> Load:
    cmd = wrk_command(base, target, seconds)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    return parse_wrk(out)


def fill_wrk(base: str, target: Target, count: int) -> Load:
    """POST until ``count`` answers (wrk's thread stops there and says so; SIGINT ends wrk's wait)."""
    cmd = wrk_command(base, target, FILL_TIMEOUT, limit=count)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            if line.strip() == "filled":
                process.send_signal(signal.SIGINT)
            else:
                lines.append(line)
    if process.returncode != 0:
        raise RuntimeError("wrk failed:\n" + "".join(lines))
    return parse_wrk("".join(lines))


def python_loadgen_process(
    conn: Connection, url: str, body: bytes | None, seconds: float, limit: int | None
) -> None:
    """32 aiohttp workers sending to ``url`` (GET, or POST of ``body``) for ``seconds`` or until
    ``limit`` answers, once told to go; sends the Load."""
    pin(CLIENT_CORE)
    conn.send("ready")
    conn.recv()

    async def main() -> Load:
        counts = {"ok": 0, "other": 0}
        latencies: list[float] = []
        timeout = aiohttp.ClientTimeout(total=5)
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        method, headers = ("GET", {}) if body is None else ("POST", {"Content-Type": "application/json"})
        async with aiohttp.ClientSession(headers=AUTH, timeout=timeout, connector=connector) as session:

            async def worker(stop: float) -> None:
                while time.monotonic() < stop and (limit is None or counts["ok"] + counts["other"] < limit):
                    sent = time.perf_counter()
                    try:
                        async with session.request(method, url, data=body, headers=headers) as resp:
                            await resp.read()
                    except (aiohttp.ClientError, asyncio.TimeoutError):
                        counts["other"] += 1
                        continue
                    latencies.append(time.perf_counter() - sent)
                    counts["ok" if 200 <= resp.status < 300 else "other"] += 1

            cpu, start = time.process_time(), time.monotonic()
            await asyncio.gather(*(worker(start + seconds) for _ in range(CONCURRENCY)))
            wall = time.monotonic() - start
        cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
        return Load(
            counts["ok"], counts["other"], wall, cuts[49], cuts[98], client_cpu=time.process_time() - cpu
        )

    conn.send(asyncio.run(main()))


def run_python_loadgen(
    base: str, target: Target, seconds: float, window: CpuWindow | None = None, limit: int | None = None
) -> Load:
    """The Python load generator's run; ``window`` spans the run, not the process's start."""
    with child(python_loadgen_process, base + target.path, target.body, seconds, limit) as (_, conn):
        assert recv(conn) == "ready"
        with window or contextlib.nullcontext():
            conn.send("go")
            load: Load = recv(conn, seconds + 30)
        return load


def machine_cpu() -> tuple[float, float]:
    """CPU seconds the whole machine has spent busy, and stolen by the hypervisor."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(f) for f in stat.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / tick, steal / tick


def own_cpu() -> float:
    """CPU seconds of this process and its reaped children (wrk)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


class CpuWindow:
    """The CPU a server, this process (and its reaped children) and the whole machine used over the
    wall time of a ``with`` block."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self._samples: list[tuple[float, float, float, float, float]] = []

    def _sample(self) -> None:
        self._samples.append((time.monotonic(), cpu_seconds(self.server_pid), own_cpu(), *machine_cpu()))

    def __enter__(self) -> CpuWindow:
        self._sample()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sample()

    def shares(self, load: Load) -> Load:
        """``load`` with the cores' worth each used over the window (the load generator's CPU is not
        counted as other processes')."""
        (t0, server0, own0, machine0, steal0), (t1, server1, own1, machine1, steal1) = self._samples
        wall, server = t1 - t0, server1 - server0
        others = (machine1 - machine0) - server - (own1 - own0) - load.client_cpu
        return dataclasses.replace(
            load,
            server_busy=server / wall,
            others_busy=max(0.0, others / wall),
            stolen=(steal1 - steal0) / wall,
        )


@dataclass(frozen=True)
class Run:
    """How this run measures: its settings and its load generator."""

    settings: Settings
    use_wrk: bool

    @property
    def loadgen(self) -> str:
        if self.use_wrk:
            return f"{wrk_version()} -t1 -c{CONCURRENCY}"
        why = "--python-loadgen" if shutil.which("wrk") else "wrk is not on PATH"
        return f"Python aiohttp client in a separate process, {CONCURRENCY} workers ({why})"

    @property
    def method(self) -> str:
        settings = self.settings
        return (
            f"{os.cpu_count()} cores: each server pinned to core {SERVER_CORE}, {self.loadgen} on core "
            f"{CLIENT_CORE}; {settings.rounds} round(s) of {settings.duration} s per server, ratio to the "
            "bare handler per round, median of the ratios"
        )

    def load(self, server: Served, target: Target, seconds: int) -> Load:
        """One run of load against ``server``, with the CPU use of the server and of everything else;
        any answer other than a 2xx fails the benchmark."""
        window = CpuWindow(server.pid)
        if self.use_wrk:
            with window:
                load = run_wrk(server.base, target, seconds)
        else:
            load = run_python_loadgen(server.base, target, seconds, window)
        if load.other or not load.ok:
            raise AssertionError(f"{server.name}: {load.other} failed requests, {load.ok} ok")
        return window.shares(load)

    def fill(self, server: Served, target: Target, count: int) -> Load:
        """POST ``target`` until ``count`` answers (a few more may be in flight), all 2xx."""
        if self.use_wrk:
            load = fill_wrk(server.base, target, count)
        else:
            load = run_python_loadgen(server.base, target, FILL_TIMEOUT, limit=count)
        if load.other or load.ok < count:
            raise AssertionError(f"{server.name}: fill got {load.ok} 2xx of {count}, {load.other} failed")
        return load


# -- report -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """One row of the closing table; ``met`` is None where there is no goal, ``noisy`` when other
    processes (or the hypervisor) took CPU during its runs."""

    measure: str
    fake: str
    bare: str = "—"
    goal: str = "—"
    met: bool | None = None
    noisy: bool = False


Section = Callable[[Run], list[Summary]]


def row(label: str, value: str, note: str = "") -> str:
    return f"  {label:<44} {value:>16}  {note}".rstrip()


def load_note(load: Load) -> str:
    note = f"({load.ok:,} in {load.seconds:.1f} s; server core {load.server_busy:.0%} busy"
    if load.noisy:
        note += f"; other processes {load.others_busy:.0%} of a core, stolen {load.stolen:.0%}"
    return note + ")"


def warn_if_unsaturated(run: Run, loads: list[Load]) -> None:
    if noisy(loads):
        print("  ! other processes (or the hypervisor) took CPU during the run: these figures are noisy")
    elif min(load.server_busy for load in loads) < SATURATED:
        print(
            "  ! a server used less than 90 % of its core: the load generator, not the server, set "
            "its figure" + ("" if run.use_wrk else " (install wrk: bench/install-wrk)")
        )


def noisy(loads: Iterable[Load]) -> bool:
    return any(load.noisy for load in loads)


# -- 1. poll, 2. submit -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Compared:
    """fakeapi and the bare handler (asyncio, uvloop) running side by side, each on the server core."""

    fake: Served
    bare: Served
    uvloop: Served
    poll_path: str
    poll_size: int
    submit_size: int

    @property
    def servers(self) -> list[Served]:
        return [self.bare, self.uvloop, self.fake]


@contextlib.contextmanager
def compared() -> Iterator[Compared]:
    with fakeapi_serve() as fake:
        reset_with_raised_limits(fake)
        submit_size = len(submit(fake, SUBMIT_BODY))
        poll_path, body = completed_task_path(fake)
        with (
            bare_server("asyncio", len(body), submit_size) as bare,
            bare_server("uvloop", len(body), submit_size) as bare_uvloop,
        ):
            yield Compared(fake, bare, bare_uvloop, poll_path, len(body), submit_size)


def rounds_against_bare(
    run: Run, servers: Compared, targets: dict[str, Target], before: Callable[[Served], None]
) -> dict[str, list[Load]]:
    """Each server's loads, one per round: every server measured back to back in each round, the
    order rotated from round to round; ``before`` runs before each measured run."""
    order = servers.servers
    for server in order:
        before(server)
        run.load(server, targets[server.name], run.settings.warmup)
    loads: dict[str, list[Load]] = {server.name: [] for server in order}
    for round_number in range(run.settings.rounds):
        shift = round_number % len(order)
        for server in order[shift:] + order[:shift]:
            before(server)
            loads[server.name].append(run.load(server, targets[server.name], run.settings.duration))
    return loads


def ratio_lines(loads: dict[str, list[Load]], servers: Compared) -> tuple[float, float]:
    """Print the rounds and their ratios to the bare handler; the median ratios (fakeapi, uvloop)."""
    bare = loads[servers.bare.name]
    medians = []
    for server in servers.servers:
        mine = loads[server.name]
        middle = sorted(mine, key=lambda load: load.rps)[len(mine) // 2]
        print(row(server.name, f"{middle.rps:,.0f} req/s", "median round " + load_note(middle)))
    for server in (servers.fake, servers.uvloop):
        ratios = [m.rps / b.rps for m, b in zip(loads[server.name], bare, strict=True)]
        medians.append(statistics.median(ratios))
        each = ", ".join(f"{r:.2f}x" for r in ratios)
        print(row(f"{server.name} / bare", f"{medians[-1]:.2f}x", f"median of the rounds ({each})"))
    return medians[0], medians[1]


def bench_poll(run: Run, servers: Compared) -> list[Summary]:
    print(
        f"1. poll GET {POLL_ROUTE.format(task_id='{id}')}, completed task, {servers.poll_size} B body; "
        "fakeapi serve --virtual-clock --quiet (task submitted over HTTP, clock shifted through the "
        "admin API)"
    )
    targets = {
        servers.fake.name: Target(servers.poll_path),
        servers.bare.name: Target(POLL_ROUTE.format(task_id="task_bare")),
        servers.uvloop.name: Target(POLL_ROUTE.format(task_id="task_bare")),
    }
    loads = rounds_against_bare(run, servers, targets, lambda _: None)
    fake_ratio, uvloop_ratio = ratio_lines(loads, servers)
    warn_if_unsaturated(run, [load for each in loads.values() for load in each])
    print(flush=True)
    bare_rps = statistics.median(load.rps for load in loads[servers.bare.name])
    fake_rps = statistics.median(load.rps for load in loads[servers.fake.name])
    return [
        Summary(
            "`GET /rixapi/v1/task/{id}` req/s",
            f"{fake_rps:,.0f} ({fake_ratio:.2f}x)",
            f"{bare_rps:,.0f} (uvloop {uvloop_ratio:.2f}x)",
            f">= {GET_GOAL:.2f}x",
            fake_ratio >= GET_GOAL,
            noisy(load for each in loads.values() for load in each),
        )
    ]


def bench_submit(run: Run, servers: Compared) -> list[Summary]:
    print(
        f"2. submit POST {SUBMIT_PATH}, {len(SUBMIT_BODY)} B body, {servers.submit_size} B answer; fakeapi "
        "reset before each run (load_scenario 'default' with limits.tasks and limits.tasks_bytes raised "
        "through the admin API: tasks on a virtual clock never end); every answer a 2xx"
    )
    target = Target(SUBMIT_PATH, SUBMIT_BODY)

    def reset(server: Served) -> None:
        if server is servers.fake:
            reset_with_raised_limits(server)

    loads = rounds_against_bare(run, servers, {server.name: target for server in servers.servers}, reset)
    fake_ratio, uvloop_ratio = ratio_lines(loads, servers)
    for server in servers.servers:
        mine = loads[server.name]
        p50 = statistics.median(load.p50 or 0.0 for load in mine)
        p99 = statistics.median(load.p99 or 0.0 for load in mine)
        print(row(f"{server.name} latency", f"p50 {ms(p50)}", f"p99 {ms(p99)} (median of the rounds)"))
    warn_if_unsaturated(run, [load for each in loads.values() for load in each])
    print(flush=True)
    fake = loads[servers.fake.name]
    p50 = statistics.median(load.p50 or 0.0 for load in fake)
    p99 = statistics.median(load.p99 or 0.0 for load in fake)
    bare_rps = statistics.median(load.rps for load in loads[servers.bare.name])
    fake_rps = statistics.median(load.rps for load in fake)
    return [
        Summary(
            "`POST /rixapi/v1/task/submit` req/s",
            f"{fake_rps:,.0f} ({fake_ratio:.2f}x), p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms",
            f"{bare_rps:,.0f} (uvloop {uvloop_ratio:.2f}x)",
            f">= {POST_GOAL:.1f}x, p99 <= {POST_TAIL_GOAL:g}x p50",
            fake_ratio >= POST_GOAL and p99 <= POST_TAIL_GOAL * p50,
            noisy(load for each in loads.values() for load in each),
        )
    ]


# -- 3. flat at scale -------------------------------------------------------------------------------


def store_of(fake: Served, count: int) -> str:
    """Reset ``fake`` with raised limits, and keep ``count`` tasks: one completed (its poll path is
    returned), the others queued, submitted over HTTP."""
    reset_with_raised_limits(fake)
    path, _ = completed_task_path(fake)
    for _ in range(count - 1):
        submit(fake, SUBMIT_BODY)
    return path


def bench_scale(run: Run) -> list[Summary]:
    large_count = run.settings.scale_tasks
    print(
        f"3. flat at scale: poll p99 of one completed task, {SMALL_STORE} live tasks vs {large_count:,} "
        f"(filled by POST {SUBMIT_PATH} over HTTP), two fakeapi serve processes measured alternately"
        + (" (--quick: a smaller store)" if large_count < 100_000 else "")
    )
    with fakeapi_serve("fakeapi, small store") as small, fakeapi_serve("fakeapi, large store") as large:
        small_path, large_path = store_of(small, SMALL_STORE), store_of(large, SMALL_STORE)
        for server, path in ((small, small_path), (large, large_path)):
            run.load(server, Target(path), run.settings.warmup)
        rss_before = memory_kib(large.pid)["VmRSS"]
        began = time.perf_counter()
        run.fill(large, Target(SUBMIT_PATH, SUBMIT_BODY), large_count - SMALL_STORE)
        filled_in = time.perf_counter() - began
        kept = live_tasks(large, large_count - SMALL_STORE)
        rss_after = memory_kib(large.pid)["VmRSS"]
        small_kept = live_tasks(small, 0)
        loads: dict[str, list[Load]] = {small.name: [], large.name: []}
        for round_number in range(run.settings.rounds):
            pair = [(small, small_path), (large, large_path)]
            for server, path in pair if round_number % 2 == 0 else pair[::-1]:
                loads[server.name].append(run.load(server, Target(path), run.settings.duration))
    p99s = {name: [load.p99 or 0.0 for load in each] for name, each in loads.items()}
    added = kept - SMALL_STORE
    per_task = (rss_after - rss_before) * 1024 / added
    ratios = [big / little for little, big in zip(p99s[small.name], p99s[large.name], strict=True)]
    ratio = statistics.median(ratios)
    small_p99, large_p99 = (statistics.median(p99s[name]) for name in (small.name, large.name))
    print(
        row(f"fill: {added:,} tasks submitted", f"{added / filled_in:,.0f} tasks/s", f"({filled_in:.1f} s)")
    )
    print(row(f"poll p99, {small_kept:,} live tasks", ms(small_p99), "median of the rounds"))
    print(row(f"poll p99, {kept:,} live tasks", ms(large_p99), "median of the rounds"))
    each = ", ".join(f"{r:.2f}x" for r in ratios)
    print(row("p99 large / small", f"{ratio:.2f}x", f"median of the rounds ({each})"))
    warn_if_unsaturated(run, [load for each in loads.values() for load in each])
    print(
        row(
            "resident memory per task",
            f"{per_task:,.0f} B",
            f"(VmRSS {rss_before / 1024:.0f} -> {rss_after / 1024:.0f} MiB over {added:,} tasks)",
        )
    )
    print(flush=True)
    return [
        Summary(
            f"poll p99, {kept:,} vs {small_kept:,} live tasks",
            f"{large_p99 * 1000:.2f} vs {small_p99 * 1000:.2f} ms (ratio {ratio:.2f}x)",
            goal=f"ratio <= {FLAT_GOAL:.2f}x",
            met=ratio <= FLAT_GOAL,
            noisy=noisy(load for each in loads.values() for load in each),
        ),
        Summary(
            "resident memory per live task",
            f"{per_task / 1024:.2f} KiB",
            goal=f"<= {RSS_GOAL / 1024:.1f} KiB",
            met=per_task <= RSS_GOAL,
        ),
    ]


# -- 4. in-process: fixture start, reset, tasks to completion, handling ---------------------------


def bench_start(run: Run) -> list[Summary]:
    started: list[float] = []
    answered: list[float] = []
    stopped: list[float] = []
    for _ in range(run.settings.start_runs):
        t0 = time.perf_counter()
        bg = BackgroundServer(FakeServer("default", clock="virtual")).start()
        t1 = time.perf_counter()
        try:
            status, _ = call(bg.server.base_url, "GET", "/rixapi/v1/task/task_none", headers=AUTH)
            t2 = time.perf_counter()
            assert status == 404, status
        finally:
            t3 = time.perf_counter()
            bg.stop()
            t4 = time.perf_counter()
        started.append(t1 - t0)
        answered.append(t2 - t0)
        stopped.append(t4 - t3)
    print(
        "4a. fixture start: BackgroundServer(FakeServer(...)).start() .. first response "
        f"({len(answered)} runs, in this process)"
    )
    print(row("start() returned", ms(statistics.median(started)), "median"))
    first = f"median (min {ms(min(answered))}, first {ms(answered[0])})"
    print(row("first HTTP response read", ms(statistics.median(answered)), first))
    print(row("stop()", ms(statistics.median(stopped)), "median"))
    print(flush=True)
    return [Summary("fixture start to first response (in-process)", ms(statistics.median(answered)))]


def bench_reset(run: Run) -> list[Summary]:
    times: list[float] = []
    with BackgroundServer(FakeServer("default", clock="virtual")) as bg:
        handle = FakeApi(bg)
        for _ in range(run.settings.reset_runs):
            t0 = time.perf_counter()
            handle.load_scenario("default")
            times.append(time.perf_counter() - t0)
    print(f"4b. per-test reset: FakeApi(bg).load_scenario('default') ({len(times)} calls, in this process)")
    p95 = statistics.quantiles(times, n=20)[-1]
    print(row("reset", ms(statistics.median(times)), f"median (p95 {ms(p95)}, min {ms(min(times))})"))
    print(flush=True)
    return [Summary("per-test reset (in-process)", ms(statistics.median(times)))]


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


def bench_bulk(run: Run) -> list[Summary]:
    tasks = run.settings.tasks
    with child(control_server_process) as (_, conn):
        base: str = recv(conn)

        def shift() -> None:
            conn.send(("shift", 60.0))
            assert recv(conn) == "shifted"

        separate = asyncio.run(run_bulk(base, tasks, shift))
    with BackgroundServer(FakeServer("default", clock="virtual", host=HOST)) as bg:
        handle = FakeApi(bg)
        inprocess = asyncio.run(run_bulk(handle.url_for("rixapi"), tasks, lambda: handle.clock.ashift(60)))
    print(f"4c. {tasks:,} tasks to completion on the virtual clock over HTTP ({CONCURRENCY} in flight)")
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
    print(flush=True)
    return [Summary(f"{tasks:,} tasks submitted, `shift(60)`, all polled to completed", ms(separate.total))]


async def seconds_per_poll(runner: web.AppRunner, path: str, calls: int, rounds: int) -> float:
    """The best round's seconds per call of the handler aiohttp's server hands each request to
    (routing, middleware, handler and answer; no parsing, no I/O), for one GET built once."""
    assert runner.server is not None
    handle = runner.server.request_handler
    request = make_mocked_request("GET", path, headers=AUTH, app=runner.app)
    best = float("inf")
    for _ in range(rounds):
        began = time.perf_counter()
        for _ in range(calls):
            response = await handle(request)
        best = min(best, (time.perf_counter() - began) / calls)
        assert response.status == 200
    return best


async def completed_task(server: FakeServer) -> tuple[str, bytes]:
    """Submit a task to an in-process server and let it complete: the URL that polls it, and its body."""
    base = server.url_for("rixapi")
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with session.post(f"{base}/v1/task/submit", json=json.loads(POLL_BODY)) as resp:
            assert resp.status == 200, await resp.text()
            task_id = (await resp.json())["id"]
        await server.engine.shift(60)
        url = f"{base}/v1/task/{task_id}"
        async with session.get(url) as resp:
            assert resp.status == 200, await resp.text()
            return url, await resp.read()


def bench_handling(run: Run) -> list[Summary]:
    async def main() -> tuple[float, float]:
        server = FakeServer("default", clock="virtual", host=HOST)
        await server.start()
        try:
            url, body = await completed_task(server)
            assert server._runner is not None
            calls, rounds = run.settings.reset_runs * 25, run.settings.rounds + 4
            fake = await seconds_per_poll(server._runner, url.removeprefix(server.base_url), calls, rounds)
        finally:
            await server.stop()
        payload = padded(len(body))

        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=payload, content_type="application/json")

        bare_app = web.Application()
        bare_app.router.add_get(POLL_ROUTE, handler)
        bare_runner = web.AppRunner(bare_app, access_log=None)
        await bare_runner.setup()
        try:
            path = POLL_ROUTE.format(task_id="task_bare")
            bare = await seconds_per_poll(bare_runner, path, calls, rounds)
        finally:
            await bare_runner.cleanup()
        return fake, bare

    fake, bare = asyncio.run(main())
    print(
        "4d. poll handling without sockets: one built request handed to the handler the server calls "
        "(best round)"
    )
    print(row("bare aiohttp, pre-encoded bytes", f"{bare * 1e6:.1f} us"))
    print(row("fakeapi", f"{fake * 1e6:.1f} us", f"{fake / bare:.2f}x bare"))
    print(flush=True)
    return [Summary("poll handled without sockets", f"{fake * 1e6:.1f} us", f"{bare * 1e6:.1f} us")]


# -- main -----------------------------------------------------------------------------------------


def bench_against_bare(run: Run) -> list[Summary]:
    with compared() as servers:
        return bench_poll(run, servers) + bench_submit(run, servers)


def bench_serve_start(run: Run) -> list[Summary]:
    result = bench_startup(run.settings.serve_starts)
    fake, bare, deps = (statistics.median(t) for t in (result.fake, result.bare, result.bare_deps))
    print(
        "5. start-up: fakeapi serve --virtual-clock, spawned, to its first answer read "
        f"({len(result.fake)} runs each, alternating, after an untimed one; median)"
    )
    print(row("bare aiohttp", ms(bare), f"(min {ms(min(result.bare))})"))
    print(row("bare aiohttp importing pydantic, PyYAML", ms(deps), f"{result.deps_ratio:.2f}x bare"))
    print(row("fakeapi serve", ms(fake), f"{result.ratio:.2f}x bare (min {ms(min(result.fake))})"))
    print(flush=True)
    return [
        Summary(
            "`fakeapi serve` start to first answer",
            f"{ms(fake)} ({result.ratio:.2f}x)",
            f"{ms(bare)} (with pydantic, PyYAML {result.deps_ratio:.2f}x)",
            "<= 1.3x",
            result.ratio <= 1.3,
        )
    ]


def bench_fixture(run: Run) -> list[Summary]:
    result = bench_fixture_cost(run.settings.fixture_tests, run.settings.fixture_rounds)
    print("6. " + fixture_report(result))
    print(flush=True)
    return [
        Summary(
            "fixture's cost per test in a downstream suite (reset, submit, poll)",
            f"{result.fakeapi * 1000:.2f} ms ({result.difference * 1000:+.2f} ms)",
            f"{result.bare * 1000:.2f} ms (bare aiohttp fake)",
            "<= +0.5 ms",
            result.difference <= 0.0005,
        )
    ]


SECTIONS: list[Section] = [
    bench_against_bare,
    bench_scale,
    bench_start,
    bench_reset,
    bench_bulk,
    bench_handling,
    bench_serve_start,
    bench_fixture,
]


def print_summary(run: Run, rows: list[Summary]) -> None:
    print(f"summary ({run.method})")
    print("| measure | fakeapi | bare aiohttp | goal | met? |")
    print("|---|---|---|---|---|")
    for summary in rows:
        met = "—" if summary.met is None else ("yes" if summary.met else "**no**")
        met += " (noisy)" if summary.noisy else ""
        print(f"| {summary.measure} | {summary.fake} | {summary.bare} | {summary.goal} | {met} |")
    if any(summary.noisy for summary in rows):
        print(
            "(noisy): other processes or the hypervisor took at least 10 % of a core during those runs; "
            "rerun on a quiet machine before trusting them"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs (a smoke test, not figures)")
    parser.add_argument(
        "--python-loadgen", action="store_true", help="use the Python load generator even if wrk is on PATH"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[section.__name__.removeprefix("bench_") for section in SECTIONS],
        help="run only this section (repeatable)",
    )
    args = parser.parse_args()
    if not Path("/proc/self/status").exists() or not hasattr(os, "sched_setaffinity"):
        parser.error("runs on Linux only: it pins processes to cores and reads /proc")
    settings = QUICK if args.quick else FULL
    run = Run(settings, use_wrk=shutil.which("wrk") is not None and not args.python_loadgen)
    pin(CLIENT_CORE)  # this process and the load generator on one core; each server on the other

    began = time.perf_counter()
    print("fakeapi benchmark" + (" (--quick: short runs, rough figures)" if args.quick else ""))
    print(
        f"  Python {platform.python_version()} ({platform.python_implementation()}), aiohttp "
        f"{aiohttp.__version__}, pydantic {pydantic.VERSION}, uvloop {importlib.metadata.version('uvloop')}, "
        f"{platform.machine()}, {os.cpu_count()} cores"
    )
    print(f"  load generator: {run.loadgen}, on core {CLIENT_CORE}; each server on core {SERVER_CORE}")
    print(
        f"  throughput: {settings.rounds} round(s) x {settings.duration} s per server (+{settings.warmup} s "
        "warm-up each), servers back to back in a rotated order; ratio to the bare handler per round, "
        "figure = median of the ratios"
    )
    print(flush=True)
    chosen = [s for s in SECTIONS if not args.only or s.__name__.removeprefix("bench_") in args.only]
    rows = [summary for section in chosen for summary in section(run)]
    print_summary(run, rows)
    print(f"\nbenchmark wall time {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
