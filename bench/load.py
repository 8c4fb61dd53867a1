"""Load test: many clients against ``fakeapi serve`` while its webhook receivers hang and fail.

Run it as a script: ``python bench/load.py`` (64 clients for 60 s, then up to 30 s of grace for the
last callbacks), or ``make bench-load``; ``--clients``, ``--duration``, ``--grace`` change that.

1. ``fakeapi serve --quiet`` (no line per request) runs as a subprocess on a free port of
   127.0.0.1, on the system clock, with a scenario this script writes: every task ends 2 s after
   its submit, and a callback that fails is retried every second, up to 15 times, each attempt
   waiting at most 5 s for an answer.
2. Three callback receivers run in this process on 127.0.0.1, each on its own port: one answers 200,
   one answers 500 to every other request (and 200 to the rest), one never answers while the run
   lasts.
3. Each client submits a task every 2 s (RixAPI, APIXO and FoxAPI with a callback to each receiver
   in turn, Pixapi, which has no callbacks, without) and between submits polls its recent tasks on
   their own API, one request at a time.

It prints the requests sent, the errors (any answer other than 2xx, or no answer), the callbacks lost
(tasks submitted with the good or the failing receiver whose terminal callback that receiver had not
accepted when the grace period ended), how late the accepted terminal callbacks came, the poll
latency, the server's resident memory at start and end (``/proc/<pid>/status``) and how long it took
to stop on SIGTERM.

Everything binds 127.0.0.1, is bounded in time and count, and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import json
import math
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp
from aiohttp import web

HOST = "127.0.0.1"
TASK_SECONDS = 2.0  # submit to terminal state, in the scenario below
SCENARIO = f"""\
description: Load bench. Every task ends {TASK_SECONDS:g} s after its submit; callbacks retried every 1 s.
accounts:
  open_key: {{balance: null, rpm: null, max_concurrent: null}}  # no caps: every answer should be a 200
webhooks:
  timeout: 5s
  retry_delays: [{", ".join(["1s"] * 15)}]
  block_private: false  # the receivers are this bench's, on 127.0.0.1
rules:
  - name: quick
    phases:
      - {{state: queued, for: 0.5s}}
      - {{state: running, for: {TASK_SECONDS - 0.5:g}s}}
      - {{state: succeeded}}
"""
SERVER_START_TIMEOUT = 30.0
SERVER_STOP_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0
RECENT_TASKS = 8  # a client polls the tasks it submitted last, in turn
TERMINAL_WORDS = {"completed", "failed", "success"}
Api = Literal["rixapi", "apixo", "foxapi", "pixapi"]
ReceiverKind = Literal["good", "flaky", "hanging"]
APIXO_MODEL = "nano-banana"


@dataclass
class Receiver:
    """A callback receiver of one kind, and what it accepted."""

    kind: ReceiverKind
    url: str = ""
    requests: int = 0
    terminal_at: dict[str, float] = field(default_factory=dict)  # task id -> when it accepted that
    release: asyncio.Event = field(default_factory=asyncio.Event)  # ends a hanging receiver's wait

    async def receive(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        if self.kind == "hanging":
            await self.release.wait()
            return web.Response(status=503)
        if self.kind == "flaky" and self.requests % 2 == 1:
            return web.Response(status=500)
        task_id = terminal_task_id(body)
        if task_id is not None:
            self.terminal_at.setdefault(task_id, time.monotonic())
        return web.Response(text="ok")


def terminal_task_id(body: bytes) -> str | None:
    """The task a callback body reports as ended (RixAPI, FoxAPI: the task; APIXO: ``data``)."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    task = message.get("data") if "data" in message else message
    if not isinstance(task, dict):
        return None
    task_id = task.get("id", task.get("taskId"))
    word = task.get("status", task.get("state"))
    return task_id if isinstance(task_id, str) and word in TERMINAL_WORDS else None


@dataclass(frozen=True)
class Submitted:
    api: Api
    task_id: str
    receiver: ReceiverKind | None
    at: float


@dataclass
class Stats:
    requests: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    poll_seconds: list[float] = field(default_factory=list)
    submit_seconds: list[float] = field(default_factory=list)
    submitted: list[Submitted] = field(default_factory=list)


# What a client submits, in turn: each API with callbacks to each receiver, and Pixapi without.
PLAN: list[tuple[Api, ReceiverKind | None]] = [
    *((api, kind) for kind in ("good", "flaky", "hanging") for api in ("rixapi", "apixo", "foxapi")),
    ("pixapi", None),
]


def submit_request(api: Api, callback_url: str | None) -> tuple[str, dict[str, Any]]:
    """The path and JSON body of a submit on ``api``."""
    callback: dict[str, Any] = {} if callback_url is None else {"callback_url": callback_url}
    if api == "rixapi":
        return "/rixapi/v1/task/submit", {"model": "flux-pro", "input": {"prompt": "a red fox"}, **callback}
    if api == "apixo":
        body: dict[str, Any] = {"input": {"mode": "text-to-image", "prompt": "a red fox"}}
        if callback_url is not None:
            body |= {"request_type": "callback", **callback}
        return f"/apixo/api/v1/generateTask/{APIXO_MODEL}", body
    if api == "foxapi":
        return "/foxapi/v1/images/generations", {
            "model": "gemini-3-pro-image-preview",
            "prompt": "a red fox",
            **callback,
        }
    return "/pixapi/v1/async/images/generations", {"model": "gemini-2.5-flash-image", "prompt": "a red fox"}


def submitted_id(api: Api, answer: Any) -> str:
    return str(answer["data"]["taskId"] if api == "apixo" else answer["id"])


def poll_path(task: Submitted) -> str:
    if task.api == "rixapi":
        return f"/rixapi/v1/task/{task.task_id}"
    if task.api == "apixo":
        return f"/apixo/api/v1/statusTask/{APIXO_MODEL}?taskId={task.task_id}"
    return f"/{task.api}/v1/tasks/{task.task_id}"


class Client:
    """One simulated client: a submit every ``submit_every`` seconds, polls in between."""

    def __init__(
        self,
        number: int,
        session: aiohttp.ClientSession,
        base: str,
        receivers: dict[ReceiverKind, Receiver],
        stats: Stats,
        submit_every: float,
    ) -> None:
        self.session = session
        self.auth = {"Authorization": f"Bearer sk-load-{number}"}
        self.base = base
        self.receivers = receivers
        self.stats = stats
        self.submit_every = submit_every
        self.plan: Iterator[tuple[Api, ReceiverKind | None]] = itertools.islice(
            itertools.cycle(PLAN), number % len(PLAN), None
        )
        self.recent: collections.deque[Submitted] = collections.deque(maxlen=RECENT_TASKS)

    async def run(self, deadline: float) -> None:
        next_submit = time.monotonic()
        polls = itertools.count()
        while (now := time.monotonic()) < deadline:
            if now >= next_submit or not self.recent:
                next_submit = max(next_submit + self.submit_every, now)
                await self.submit()
            else:
                await self.poll(self.recent[next(polls) % len(self.recent)])

    async def submit(self) -> None:
        api, kind = next(self.plan)
        path, body = submit_request(api, None if kind is None else self.receivers[kind].url)
        answer = await self.request("POST", path, self.stats.submit_seconds, json=body)
        if answer is not None:
            task = Submitted(api, submitted_id(api, answer), kind, time.monotonic())
            self.recent.append(task)
            self.stats.submitted.append(task)

    async def poll(self, task: Submitted) -> None:
        await self.request("GET", poll_path(task), self.stats.poll_seconds)

    async def request(self, method: str, path: str, seconds: list[float], **kwargs: Any) -> Any:
        """The answer's JSON, or ``None`` when it was an error (counted)."""
        self.stats.requests += 1
        started = time.perf_counter()
        try:
            async with self.session.request(
                method, self.base + path, headers=self.auth, **kwargs
            ) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.stats.errors[f"{method} {path.split('/')[1]}: {type(exc).__name__}"] += 1
            return None
        seconds.append(time.perf_counter() - started)
        if not 200 <= status < 300:
            self.stats.errors[f"{method} {path.split('/')[1]}: {status} {body[:120]!r}"] += 1
            return None
        return json.loads(body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """``fakeapi serve`` in a subprocess; its output kept (the last lines) for when it fails."""

    def __init__(self, scenario: Path) -> None:
        self.scenario = scenario
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.output: collections.deque[str] = collections.deque(maxlen=40)
        self._process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def start(self) -> None:
        command = Path(sys.executable).with_name("fakeapi")
        args = ["serve", "--host", HOST, "--port", str(self.port), "--scenario", str(self.scenario)]
        args.append("--quiet")  # the fake's figures, not its request log's
        self._process = await asyncio.create_subprocess_exec(
            command, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            await asyncio.wait_for(self._read_until("Press Ctrl-C to stop."), SERVER_START_TIMEOUT)
        except (asyncio.TimeoutError, EOFError):
            await self.stop()
            raise SystemExit("fakeapi serve did not start:\n" + "\n".join(self.output)) from None
        self._drain = asyncio.create_task(self._read_until(None))

    async def _read_until(self, marker: str | None) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        while line := (await self._process.stdout.readline()).decode(errors="replace"):
            self.output.append(line.rstrip())
            if marker is not None and line.strip() == marker:
                return
        if marker is not None:
            raise EOFError

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def stop(self) -> tuple[float, int | None]:
        """SIGTERM, then SIGKILL if it has not exited within the timeout: seconds taken, exit code."""
        assert self._process is not None
        started = time.monotonic()
        if self._process.returncode is None:
            self._process.send_signal(signal.SIGTERM)
        try:
            code: int | None = await asyncio.wait_for(self._process.wait(), SERVER_STOP_TIMEOUT)
        except asyncio.TimeoutError:
            self._process.kill()
            await self._process.wait()
            code = None
        if self._drain is not None:
            await self._drain
        return time.monotonic() - started, code


@contextlib.asynccontextmanager
async def receivers_running() -> AsyncIterator[dict[ReceiverKind, Receiver]]:
    """The three receivers, each on its own port; a hanging one is released before they stop."""
    receivers: dict[ReceiverKind, Receiver] = {k: Receiver(k) for k in ("good", "flaky", "hanging")}
    runners = []
    try:
        for receiver in receivers.values():
            app = web.Application()
            app.router.add_post("/{tail:.*}", receiver.receive)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            runners.append(runner)
            port = free_port()
            await web.TCPSite(runner, HOST, port).start()
            receiver.url = f"http://{HOST}:{port}/callback/{receiver.kind}"
        yield receivers
    finally:
        for receiver in receivers.values():
            receiver.release.set()
        for runner in runners:
            await runner.cleanup()


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(share * 1000) - 1]


def milliseconds(values: list[float]) -> str:
    if not values:
        return "none"
    p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
    return f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"


async def wait_for_callbacks(
    expected: dict[str, Submitted], receivers: dict[ReceiverKind, Receiver], grace: float
) -> set[str]:
    """The expected tasks whose terminal callback was not accepted within ``grace`` seconds."""
    deadline = time.monotonic() + grace
    while True:
        missing = {
            t for t, s in expected.items() if s.receiver and t not in receivers[s.receiver].terminal_at
        }
        if not missing or time.monotonic() >= deadline:
            return missing
        await asyncio.sleep(0.25)


async def run(clients: int, duration: float, grace: float, submit_every: float) -> int:
    with tempfile.TemporaryDirectory(prefix="fakeapi-load-") as folder:
        scenario = Path(folder) / "load.yaml"
        scenario.write_text(SCENARIO, encoding="utf-8")
        server = Server(scenario)
        async with receivers_running() as receivers:
            await server.start()
            print(f"fakeapi serve pid {server.pid} at {server.base}; {clients} clients for {duration:g} s")
            start_memory = memory_kib(server.pid)
            stats = Stats()
            connector = aiohttp.TCPConnector(limit=clients)
            timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                deadline = time.monotonic() + duration
                workers = [
                    Client(n, session, server.base, receivers, stats, submit_every) for n in range(clients)
                ]
                started, server_cpu, own_cpu = time.monotonic(), cpu_seconds(server.pid), time.process_time()
                await asyncio.gather(*(w.run(deadline) for w in workers))
                elapsed = time.monotonic() - started
                server_cpu = (cpu_seconds(server.pid) - server_cpu) / elapsed if server.running else math.nan
                own_cpu = (time.process_time() - own_cpu) / elapsed
            load_memory = memory_kib(server.pid) if server.running else {}
            expected = {s.task_id: s for s in stats.submitted if s.receiver in ("good", "flaky")}
            grace_started = time.monotonic()
            missing = await wait_for_callbacks(expected, receivers, grace)
            waited = time.monotonic() - grace_started
            end_memory = memory_kib(server.pid) if server.running else {}
            stop_seconds, code = await server.stop()
    report(stats, elapsed, receivers, expected, missing, waited, (start_memory, load_memory, end_memory))
    print(
        f"CPU during the load: server {server_cpu:.0%} of a core, "
        f"this process (clients and receivers) {own_cpu:.0%}"
    )
    print(f"server stopped on SIGTERM in {stop_seconds:.2f} s (exit code {code})")
    if code != 0:
        print("server output (last lines):\n  " + "\n  ".join(server.output))
    return 0 if not stats.errors and not missing and code == 0 else 1


def report(
    stats: Stats,
    elapsed: float,
    receivers: dict[ReceiverKind, Receiver],
    expected: dict[str, Submitted],
    missing: set[str],
    waited: float,
    memory: tuple[dict[str, int], dict[str, int], dict[str, int]],
) -> None:
    errors = sum(stats.errors.values())
    print(f"requests: {stats.requests:,} in {elapsed:.1f} s ({stats.requests / elapsed:,.0f}/s)")
    print(f"errors: {errors:,}")
    for what, count in stats.errors.most_common(10):
        print(f"  {count:>7,}  {what}")
    by_receiver = collections.Counter(s.receiver or "none (Pixapi)" for s in stats.submitted)
    shares = ", ".join(f"{kind} {count:,}" for kind, count in by_receiver.items())
    print(f"tasks submitted: {len(stats.submitted):,} (callback receiver: {shares})")
    print(
        f"callbacks lost: {len(missing):,} of {len(expected):,} "
        f"(terminal callbacks to the good and the failing receiver; waited {waited:.1f} s after the run)"
    )
    for kind in ("good", "flaky"):
        lost = sum(1 for t in missing if expected[t].receiver == kind)
        late = [
            receivers[kind].terminal_at[t] - s.at - TASK_SECONDS
            for t, s in expected.items()
            if s.receiver == kind and t in receivers[kind].terminal_at
        ]
        print(f"  {kind:<7} lost {lost:,}; accepted ones came after the task ended by {milliseconds(late)}")
    print(f"  receiver requests: {', '.join(f'{r.kind} {r.requests:,}' for r in receivers.values())}")
    print(f"poll latency: {milliseconds(stats.poll_seconds)} ({len(stats.poll_seconds):,} polls)")
    print(f"submit latency: {milliseconds(stats.submit_seconds)} ({len(stats.submit_seconds):,} submits)")
    start, load, end = memory
    print(
        f"server RSS: start {start['VmRSS'] / 1024:.0f} MiB, after the load {_mib(load, 'VmRSS')}, "
        f"end {_mib(end, 'VmRSS')} (peak {_mib(end or load, 'VmHWM')})"
    )


def _mib(memory: dict[str, int], name: str) -> str:
    return f"{memory[name] / 1024:.0f} MiB" if name in memory else "n/a (the server had exited)"


def bounded(kind: type[int] | type[float], low: float, high: float) -> Any:
    def parse(text: str) -> int | float:
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}")
        return value

    return parse


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=bounded(int, 1, 256), default=64)
    parser.add_argument("--duration", type=bounded(float, 1, 600), default=60.0, help="seconds of load")
    parser.add_argument(
        "--grace", type=bounded(float, 0, 300), default=30.0, help="seconds to wait for callbacks after it"
    )
    parser.add_argument(
        "--submit-every", type=bounded(float, 0.1, 60), default=2.0, help="seconds between a client's submits"
    )
    args = parser.parse_args()
    if not Path("/proc/self/status").exists():
        parser.error("needs /proc (Linux) to read the server's memory")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    return asyncio.run(run(args.clients, args.duration, args.grace, args.submit_every))


if __name__ == "__main__":
    sys.exit(main())
