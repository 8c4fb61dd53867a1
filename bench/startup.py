"""Start-up benchmark: ``fakeapi serve`` from spawn to its first answer, next to a bare aiohttp server.

Run it as a script: ``python bench/startup.py`` (``--runs N``, default 9; a few seconds).

Each run spawns a process and polls its port (a connect every millisecond) until the first HTTP
answer has been read; the figure is the wall time from spawn to that answer, as a user (or a test
suite starting the sandbox) sees it:

- fakeapi: the venv's ``fakeapi serve --host 127.0.0.1 --port P --virtual-clock`` (the script next
  to ``sys.executable``), asked ``GET /rixapi/v1/task/task_none`` (answered 404);
- bare: this Python running a script that imports ``aiohttp.web`` and serves a one-route app on
  127.0.0.1:P through ``AppRunner`` under ``asyncio.run`` (as ``fakeapi serve`` does), asked ``GET /``;
- bare + deps: the same script, which also imports PyYAML and pydantic and builds one pydantic model:
  the least a server that reads its scenario from YAML and validates it with pydantic pays, shown
  so that fakeapi's own share of its start-up can be read off.

The three alternate (their order reverses every run), so noise from other processes falls on all.
Nothing is pinned: start-up is one process. Each process gets a free port of 127.0.0.1, is killed
once it has answered (or after a bounded wait), and the bare servers stop by themselves after a minute.

All start with their bytecode cached, as a user's do: the processes run without
``PYTHONDONTWRITEBYTECODE`` and one untimed start of each comes first, which writes fakeapi's
``__pycache__`` if this checkout has none (aiohttp's came with its install). Without a cache every
run would compile fakeapi's sources again, a cost no user pays twice.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
ANSWER_TIMEOUT = 30.0  # a process that has not answered by then fails the run
STOP_TIMEOUT = 5.0
POLL_INTERVAL = 0.001
AUTH = {"Authorization": "Bearer k"}  # the default scenario accepts any non-empty key
DEPS = """\
import yaml
from pydantic import BaseModel, Field

class Body(BaseModel):
    count: int = Field(ge=1)

Body(count=1)
"""
BARE_SERVER = """\
import asyncio, sys
from aiohttp import web
{deps}

async def hello(request: web.Request) -> web.Response:
    return web.Response(text="ok")

async def main() -> None:
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, sys.argv[1], int(sys.argv[2])).start()
    try:
        await asyncio.sleep(60)
    finally:
        await runner.cleanup()

asyncio.run(main())
"""


@dataclass(frozen=True)
class StartupResult:
    """Seconds from spawn to the first answer read, one figure per run, for fakeapi, bare aiohttp and
    bare aiohttp with fakeapi's dependencies (pydantic, PyYAML)."""

    fake: list[float]
    bare: list[float]
    bare_deps: list[float]

    @property
    def ratio(self) -> float:
        """fakeapi's median over bare aiohttp's median."""
        return statistics.median(self.fake) / statistics.median(self.bare)

    @property
    def deps_ratio(self) -> float:
        """bare aiohttp with fakeapi's dependencies: its median over bare aiohttp's median."""
        return statistics.median(self.bare_deps) / statistics.median(self.bare)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def fake_command(port: int) -> list[str]:
    fakeapi = Path(sys.executable).with_name("fakeapi")
    return [str(fakeapi), "serve", "--host", HOST, "--port", str(port), "--virtual-clock"]


def bare_command(port: int, deps: str = "") -> list[str]:
    return [sys.executable, "-c", BARE_SERVER.format(deps=deps), HOST, str(port)]


@contextlib.contextmanager
def spawned(command: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """The process, killed (and reaped) on the way out."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        yield process
    finally:
        process.kill()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        finally:
            assert process.stderr is not None
            process.stderr.close()


def answer(port: int, path: str) -> int | None:
    """The status of one GET, or None while nothing listens on the port."""
    connection = http.client.HTTPConnection(HOST, port, timeout=ANSWER_TIMEOUT)
    try:
        connection.request("GET", path, headers=AUTH)
        response = connection.getresponse()
        response.read()
        return response.status
    except ConnectionRefusedError:
        return None
    finally:
        connection.close()


def time_to_answer(command: list[str], port: int, path: str, status: int) -> float:
    """Seconds from spawning ``command`` to reading the answer to GET ``path`` on ``port``."""
    started = time.perf_counter()
    with spawned(command) as process:
        while (got := answer(port, path)) is None:
            if process.poll() is not None:
                assert process.stderr is not None
                error = process.stderr.read().decode(errors="replace")
                raise RuntimeError(f"{command[0]} exited ({process.returncode}) before answering:\n{error}")
            if time.perf_counter() - started > ANSWER_TIMEOUT:
                raise TimeoutError(f"{command[0]} did not answer within {ANSWER_TIMEOUT:g} s")
            time.sleep(POLL_INTERVAL)
        elapsed = time.perf_counter() - started
    if got != status:
        raise AssertionError(f"{command[0]}: GET {path} answered {got}, expected {status}")
    return elapsed


def time_fake() -> float:
    port = free_port()
    return time_to_answer(fake_command(port), port, "/rixapi/v1/task/task_none", 404)


def time_bare() -> float:
    port = free_port()
    return time_to_answer(bare_command(port), port, "/", 200)


def time_bare_deps() -> float:
    port = free_port()
    return time_to_answer(bare_command(port, DEPS), port, "/", 200)


def bench_startup(runs: int) -> StartupResult:
    """``runs`` start-ups of each, alternating (their order reversed every run), after an untimed one
    of each."""
    result = StartupResult(fake=[], bare=[], bare_deps=[])
    kinds: list[tuple[Callable[[], float], list[float]]] = [
        (time_fake, result.fake),
        (time_bare, result.bare),
        (time_bare_deps, result.bare_deps),
    ]
    for time_kind, _ in kinds:
        time_kind()  # fakeapi's first start writes its bytecode cache if there is none
    for run in range(runs):
        for time_kind, times in kinds[:: 1 if run % 2 else -1]:
            times.append(time_kind())
    return result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=9, help="start-ups of each (default 9)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    result = bench_startup(args.runs)
    print(f"start to first answer, {args.runs} alternating runs each (median, min, ratio of medians):")
    rows = (
        ("fakeapi serve", result.fake, result.ratio),
        ("bare aiohttp", result.bare, 1.0),
        ("bare + deps", result.bare_deps, result.deps_ratio),
    )
    for name, times, ratio in rows:
        print(f"  {name:<14} {ms(statistics.median(times)):>7}  {ms(min(times)):>7}  {ratio:.2f}x")
    print("  (bare + deps: bare aiohttp also importing pydantic and PyYAML and building one model)")


if __name__ == "__main__":
    main()
