"""``fakeapi contract verify``: it passes against the fake and names each drift of a deviating server.

The deviating server is the fake behind a small distorting proxy (an aiohttp app in this module):
it forwards every request to the fake, and changes what comes back (API answers, result files,
callbacks) with one distortion per test. Through the proxy with no distortion, verify passes, so
each failure below comes from its distortion alone. The fake runs the ``poll-count`` scenario, so
each job moves through every state in four polls whatever the timing, and verify polls without
pausing (``poll_every=0``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import aiohttp
import pytest
from admin_client import free_port
from aiohttp import web

from fakeapi import FakeServer
from fakeapi.cli import main
from fakeapi.contract.verify import Finding, Options, Report, verify
from fakeapi.etiquette import registered_lifecycles
from fakeapi.server.app import listen
from fakeapi.server.background import BackgroundServer

FAKEAPI = Path(sys.executable).parent / "fakeapi"
VERIFY = [str(FAKEAPI), "contract", "verify", "--api", "rixapi", "--key", "sk-1"]
APIS = ("rixapi", "apixo", "foxapi", "pixapi")
CALLBACK_APIS = ("rixapi", "apixo", "foxapi")
LIFECYCLES = registered_lifecycles()
# Distort one body: (what it is: "answer", "callback" or "file", the request's path, the JSON value).
Distortion = Callable[[str, str, Any], Any]


def run_verify(base_url: str, *options: str) -> subprocess.CompletedProcess[str]:
    """``fakeapi contract verify`` of RixAPI at ``base_url``, as a user runs it."""
    return subprocess.run(
        [*VERIFY, "--base-url", base_url, *options], capture_output=True, text=True, timeout=60
    )


def _set(data: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        data = data[part]
    data[last] = value


def _pop(data: Any, path: str) -> Any:
    *parents, last = path.split(".")
    for part in parents:
        data = data[part]
    return data.pop(last)


def _get(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


@dataclass
class Proxy:
    """Forwards to the fake; ``distort`` rewrites answers and callbacks, ``file`` result files."""

    target: str
    distort: Distortion = lambda kind, path, data: data
    file: Callable[[bytes, str], tuple[bytes, str]] = lambda body, content_type: (body, content_type)
    base: str = ""
    callbacks: dict[str, str] = field(default_factory=dict)
    session: aiohttp.ClientSession | None = None
    #: The next answers to GETs of the API, instead of the fake's: (status, Retry-After or None).
    refusals: list[tuple[int, str | None]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        assert self.session is not None
        if request.path.startswith("/_callback/"):
            return await self.callback(request)
        if request.method == "GET" and not request.path.startswith("/files/") and self.refusals:
            status, retry_after = self.refusals.pop(0)
            headers = {} if retry_after is None else {"Retry-After": retry_after}
            return web.json_response({"detail": "not now"}, status=status, headers=headers)
        body = await request.read()
        if body and request.content_type == "application/json":
            body = self.redirect_callback(body)
        headers = {k: v for k, v in request.headers.items() if k in ("Authorization", "Content-Type")}
        async with self.session.request(
            request.method, self.target + request.path_qs, data=body, headers=headers
        ) as answer:
            raw, content_type = await answer.read(), answer.content_type
            status, retry_after = answer.status, answer.headers.get("Retry-After")
        if request.path.startswith("/files/"):
            raw, content_type = self.file(raw, content_type)
            return web.Response(body=raw, status=status, content_type=content_type)
        raw = raw.replace(self.target.encode(), self.base.encode())
        if content_type == "application/json":
            raw = json.dumps(self.distort("answer", request.path, json.loads(raw))).encode()
        out = web.Response(body=raw, status=status, content_type=content_type)
        if retry_after is not None:
            out.headers["Retry-After"] = retry_after
        return out

    def redirect_callback(self, body: bytes) -> bytes:
        data = json.loads(body)
        if isinstance(data, dict) and isinstance(data.get("callback_url"), str):
            name = str(len(self.callbacks))
            self.callbacks[name] = data["callback_url"]
            data["callback_url"] = f"{self.base}/_callback/{name}"
        return json.dumps(data).encode()

    async def callback(self, request: web.Request) -> web.Response:
        assert self.session is not None
        raw = (await request.read()).replace(self.target.encode(), self.base.encode())
        data = self.distort("callback", request.path, json.loads(raw))
        receiver = self.callbacks[request.match_info["tail"].split("/")[-1]]
        for body in data if isinstance(data, list) else [data]:  # a list: deliver each
            async with self.session.post(receiver, json=body) as r:
                status = r.status
        return web.Response(status=status)


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    async with FakeServer("poll-count") as server:
        yield server


@contextlib.asynccontextmanager
async def served(proxy: Proxy) -> AsyncIterator[web.AppRunner]:
    """``proxy`` listening on a free port of 127.0.0.1 (its ``base``), with a client session of its own."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    async with aiohttp.ClientSession() as session:
        proxy.session = session
        runner, port = await listen(app, "127.0.0.1", 0)
        proxy.base = f"http://127.0.0.1:{port}"
        try:
            yield runner
        finally:
            await runner.cleanup()


@pytest.fixture
async def proxy(fake: FakeServer) -> AsyncIterator[Proxy]:
    proxy = Proxy(fake.base_url)
    async with served(proxy):
        yield proxy


async def _verify(base: str, api: str, *, callbacks: bool = False, **more: Any) -> Report:
    options = Options(
        api=api,
        base_url=f"{base}/{api}",
        key="sk-verify",
        poll_every=0.0,
        timeout=20.0,
        callback_host="127.0.0.1" if callbacks else None,
        **more,
    )
    return await verify(options)


def _violations_at(report: Report, path: str, check: str | None = None) -> list[Finding]:
    return [f for f in report.violations if f.path == path and (check is None or f.check == check)]


# -- conformance --------------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
async def test_the_fake_conforms(fake: FakeServer, api: str) -> None:
    started = time.perf_counter()
    report = await _verify(fake.base_url, api, callbacks=api in CALLBACK_APIS)
    assert report.violations == [], report.human()
    assert report.additions == [], report.human()
    assert report.exit_code == 0
    lifecycle = LIFECYCLES[api]
    # Both canonical jobs ran, and each result file was downloaded.
    assert sum(r.startswith("POST ") for r in report.requests) == 3  # two jobs and the invalid body
    assert sum("/files/" in r for r in report.requests) >= 2
    assert len(lifecycle.jobs) == 2
    # Each job was followed through every state but failure (poll-count: polls 1, 2-3 and 4).
    image, video = report.jobs
    queued, running, succeeded = lifecycle.order[:3]
    assert f"{queued} > {running} > {succeeded}, 1 result file(s)" in image
    posts = [i for i, r in enumerate(report.requests) if r.startswith("POST ")]
    between = report.requests[posts[1] + 1 : posts[2]]  # the image job's submit .. the video job's
    polls = [r for r in between if r.startswith("GET ") and "/files/" not in r]
    assert len(polls) == 4, "one poll per state shown, the running one twice"
    assert video.startswith(f"video job {lifecycle.jobs[1].models[0]} ")
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("api", APIS)
async def test_the_proxy_alone_changes_nothing(proxy: Proxy, api: str) -> None:
    report = await _verify(proxy.base, api, callbacks=api in CALLBACK_APIS)
    assert report.violations == [], report.human()
    # Callbacks went through the proxy and were checked.
    assert bool(proxy.callbacks) == (api in CALLBACK_APIS)
    assert any(r.startswith("callback #") for r in report.requests) == (api in CALLBACK_APIS)


# -- drift, for every API -------------------------------------------------------------------------


def _answers(change: Callable[[Any], None]) -> Distortion:
    """A distortion of every API answer (not callbacks) that is a task object."""

    def distort(kind: str, path: str, data: Any) -> Any:
        if kind == "answer" and isinstance(data, dict):
            change(data)
        return data

    return distort


def _task_field(api: str) -> str:
    """A timestamp every task answer of ``api`` carries."""
    return {"rixapi": "created_at", "apixo": "data.createTime", "foxapi": "created", "pixapi": "created"}[api]


@pytest.mark.parametrize("api", APIS)
async def test_a_renamed_field(proxy: Proxy, api: str) -> None:
    status = LIFECYCLES[api].status
    renamed = status + "_word"

    def rename(data: Any) -> None:
        if _get(data, status) is not None:
            _set(data, renamed, _pop(data, status))

    proxy.distort = _answers(rename)
    report = await _verify(proxy.base, api)
    assert report.exit_code == 1
    missing = _violations_at(report, f"$.{status}", "schema")
    assert missing, report.human()
    assert missing[0].observed == "absent"
    assert any(f.path == f"$.{renamed}" for f in report.additions), report.human()
    machine = json.loads(report.json())
    assert machine["conforms"] is False
    assert {"kind": "violation", "check": "schema", "path": f"$.{status}"}.items() <= machine["violations"][
        0
    ].items()
    assert {"request", "expected", "observed"} <= machine["violations"][0].keys()


@pytest.mark.parametrize("api", APIS)
async def test_a_missing_field(proxy: Proxy, api: str) -> None:
    stamp = _task_field(api)
    proxy.distort = _answers(lambda data: _pop(data, stamp) if _get(data, stamp) is not None else None)
    report = await _verify(proxy.base, api)
    found = _violations_at(report, f"$.{stamp}", "schema")
    assert found, report.human()
    assert all(f.expected == "a required field" for f in found)


@pytest.mark.parametrize("api", APIS)
async def test_a_type_change(proxy: Proxy, api: str) -> None:
    stamp = _task_field(api)
    proxy.distort = _answers(
        lambda data: _set(data, stamp, str(_get(data, stamp))) if _get(data, stamp) else None
    )
    report = await _verify(proxy.base, api)
    found = _violations_at(report, f"$.{stamp}", "schema")
    assert found, report.human()
    assert "integer" in found[0].expected
    assert found[0].observed.startswith("'")


@pytest.mark.parametrize("api", APIS)
async def test_a_unit_change(proxy: Proxy, api: str) -> None:
    stamp = _task_field(api)
    to_ms = LIFECYCLES[api].timestamps[stamp] == "s"

    def change(data: Any) -> None:
        if (value := _get(data, stamp)) is not None:
            _set(data, stamp, value * 1000 if to_ms else value // 1000)

    proxy.distort = _answers(change)
    report = await _verify(proxy.base, api)
    found = _violations_at(report, f"$.{stamp}", "units")
    assert found, report.human()
    assert found[0].expected == f"a Unix time in {'seconds' if to_ms else 'milliseconds'}"
    assert found[0].observed.endswith(f"(a Unix time in {'milliseconds' if to_ms else 'seconds'})")


@pytest.mark.parametrize("api", APIS)
async def test_an_unknown_status_word(proxy: Proxy, api: str) -> None:
    lifecycle = LIFECYCLES[api]
    running = lifecycle.order[1]

    def change(data: Any) -> None:
        if _get(data, lifecycle.status) == running:
            _set(data, lifecycle.status, "running_now")

    proxy.distort = _answers(change)
    report = await _verify(proxy.base, api)
    found = _violations_at(report, f"$.{lifecycle.status}", "schema")
    assert found, report.human()
    assert found[0].observed == "'running_now'"
    assert repr(running) in found[0].expected


@pytest.mark.parametrize("api", APIS)
async def test_a_state_going_backwards(proxy: Proxy, api: str) -> None:
    lifecycle = LIFECYCLES[api]
    polls: dict[str, int] = {}

    def distort(kind: str, path: str, data: Any) -> Any:
        # The fourth answer showing a task's state (running, in poll-count) answers its first again.
        if kind == "answer" and _get(data, lifecycle.status) is not None:
            task_id = _get(data, lifecycle.task_id)
            polls[task_id] = polls.get(task_id, 0) + 1
            if polls[task_id] == 4:
                _set(data, lifecycle.status, lifecycle.order[0])
        return data

    proxy.distort = distort
    report = await _verify(proxy.base, api)
    found = _violations_at(report, f"$.{lifecycle.status}", "lifecycle")
    assert found, report.human()
    assert found[0].observed == repr(lifecycle.order[0])
    assert found[0].expected == f"{lifecycle.order[1]!r} or a later state"


@pytest.mark.parametrize("api", APIS)
async def test_a_changed_error_envelope(proxy: Proxy, api: str) -> None:
    def distort(kind: str, path: str, data: Any) -> Any:
        if isinstance(data, dict) and (isinstance(data.get("error"), dict) or data.get("code", 200) != 200):
            return {"detail": "something went wrong"}
        return data

    proxy.distort = distort
    report = await _verify(proxy.base, api)
    assert report.exit_code == 1
    errors = [f for f in report.violations if f.check == "schema" and f.request.startswith(("GET", "POST"))]
    assert len({f.request for f in errors}) >= 2, report.human()  # the unknown task and the empty body
    assert any(f.path == "$.detail" for f in report.additions)


@pytest.mark.parametrize("api", APIS)
async def test_a_result_file_of_the_wrong_type(proxy: Proxy, api: str) -> None:
    proxy.file = lambda body, content_type: (b"<html>gone</html>", content_type)
    report = await _verify(proxy.base, api)
    found = [f for f in report.violations if f.check == "result"]
    assert len(found) >= 2, report.human()
    assert all(f.path == "body" for f in found)
    assert found[0].observed == repr(b"<html>gone</html"[:16].hex())


@pytest.mark.parametrize("api", APIS)
async def test_a_result_file_served_as_another_media_type(proxy: Proxy, api: str) -> None:
    proxy.file = lambda body, content_type: (body, "text/html")
    report = await _verify(proxy.base, api)
    found = [f for f in report.violations if f.check == "result"]
    assert found
    assert all(f.path == "Content-Type" and f.observed == "text/html" for f in found), report.human()


async def test_a_result_link_to_a_host_nobody_serves_is_drift_not_an_unreachable_server(proxy: Proxy) -> None:
    port = free_port()
    dead = f"http://127.0.0.1:{port}/gone.png"
    files = re.compile(r'"http://127\.0\.0\.1:\d+/files/[^"]*"')

    def dead_links(kind: str, path: str, data: Any) -> Any:
        return json.loads(files.sub(json.dumps(dead), json.dumps(data)))

    proxy.distort = dead_links
    report = await _verify(proxy.base, "rixapi")
    assert report.unreachable is None, report.human()
    assert report.exit_code == 1
    found = [f for f in report.violations if f.check == "result"]
    assert found, report.human()
    assert {(f.request, f.expected, f.observed) for f in found} == {
        (f"GET {dead}", "a downloadable file", f"cannot connect to 127.0.0.1:{port}: connection refused")
    }


@pytest.mark.parametrize("api", CALLBACK_APIS)
async def test_a_callback_that_differs_from_the_poll_answer(proxy: Proxy, api: str) -> None:
    stamp = _task_field(api)

    def distort(kind: str, path: str, data: Any) -> Any:
        if kind == "callback":
            _set(data, stamp, _get(data, stamp) + 1)
        return data

    proxy.distort = distort
    report = await _verify(proxy.base, api, callbacks=True)
    found = _violations_at(report, f"$.{stamp}", "callback")
    assert found, report.human()
    assert found[0].expected.endswith("(as the poll answered)")
    assert int(found[0].observed) == int(found[0].expected.split()[0]) + 1


@pytest.mark.parametrize(("status", "retry_after"), [(429, "0"), (503, None), (500, None)])
async def test_a_passing_refusal_of_a_get_is_asked_again(
    proxy: Proxy, status: int, retry_after: str | None
) -> None:
    proxy.refusals = [(status, retry_after)] * 3
    report = await _verify(proxy.base, "rixapi")
    assert report.violations == [], report.human()
    assert proxy.refusals == []
    assert (
        report.requests.count("GET /v1/task/task_000000000000") == 3 + 2
    )  # the missing key, the unknown task


async def test_rixapi_a_state_change_without_a_callback(proxy: Proxy) -> None:
    def distort(kind: str, path: str, data: Any) -> Any:
        if kind == "callback" and data["status"] == "in_progress":
            data["status"] = "completed"  # answered in place of the in_progress delivery
        return data

    proxy.distort = distort
    report = await _verify(proxy.base, "rixapi", callbacks=True)
    missing = [f for f in report.violations if f.expected == "a delivery of 'in_progress'"]
    assert missing, report.human()
    assert missing[0].path == "$.status"


@pytest.mark.parametrize("api", ["apixo", "foxapi"])
async def test_a_callback_before_the_end_where_only_the_end_is_delivered(proxy: Proxy, api: str) -> None:
    lifecycle = LIFECYCLES[api]

    def distort(kind: str, path: str, data: Any) -> Any:
        if kind != "callback":
            return data
        early = json.loads(json.dumps(data))
        _set(early, lifecycle.status, lifecycle.order[1])
        return [early, data]

    proxy.distort = distort
    report = await _verify(proxy.base, api, callbacks=True)
    found = [f for f in report.violations if f.expected == "terminal states only"]
    assert found, report.human()
    assert found[0].request.startswith("callback #1 ")
    assert found[0].path == f"$.{lifecycle.status}"
    assert found[0].observed == repr(lifecycle.order[1])


# -- RixAPI: fields by state, 429s --------------------------------------------------------------


async def test_rixapi_outputs_before_completion(proxy: Proxy) -> None:
    def change(data: Any) -> None:
        if data.get("status") == "in_progress":
            data["outputs"] = []

    proxy.distort = _answers(change)
    report = await _verify(proxy.base, "rixapi")
    found = _violations_at(report, "$.outputs", "lifecycle")
    assert found, report.human()
    assert found[0].expected == "absent while in_progress (only when completed)"


async def test_rixapi_a_429_without_retry_after(proxy: Proxy) -> None:
    answered: list[int] = []

    async def too_many(request: web.Request) -> web.Response:
        answered.append(1)
        return web.json_response(
            {"error": {"message": "slow down", "type": "rix_api_error", "code": ""}}, status=429
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", too_many)
    runner, port = await listen(app, "127.0.0.1", 0)
    try:
        report = await _verify(f"http://127.0.0.1:{port}", "rixapi", max_submits=0)
    finally:
        await runner.cleanup()
    assert answered
    found = [f for f in report.violations if f.check == "headers"]
    assert found, report.human()
    assert found[0].path == "Retry-After"


# -- the command line -----------------------------------------------------------------------------


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    """A socket that listens and is never accepted from: any connection would be queued on it."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


def test_dry_run_prices_the_cheapest_models(
    listening: socket.socket, capsys: pytest.CaptureFixture[str]
) -> None:
    port = listening.getsockname()[1]
    code = main(
        ["contract", "verify", "--api", "pixapi", "--base-url", f"http://127.0.0.1:{port}", "--dry-run"]
    )
    assert code == 0
    out = capsys.readouterr().out
    # The cheapest image model (1 credit) and video model (veo, 1 credit a second for 4 s).
    assert "one image job with gpt-image-1.5 (1 credits ($0.01 each))" in out
    assert "one video job with veo (4 credits ($0.01 each))" in out
    assert "estimated cost: 5 credits ($0.01 each)" in out
    with pytest.raises(BlockingIOError):
        listening.accept()


@pytest.mark.parametrize("api", APIS)
def test_dry_run_sends_nothing(
    api: str, listening: socket.socket, capsys: pytest.CaptureFixture[str]
) -> None:
    port = listening.getsockname()[1]
    more = ["--callback-host", "127.0.0.1"] if api in CALLBACK_APIS else []
    args = ["--api", api, "--base-url", f"http://127.0.0.1:{port}/{api}", "--max-submits", "1", *more]
    assert main(["contract", "verify", *args, "--key", "sk-1", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "nothing is sent" in out
    assert "jobs: 1 (at most --max-submits 1)" in out
    with pytest.raises(BlockingIOError):
        listening.accept()


@pytest.mark.parametrize(
    "args",
    [
        ["--api", "nope", "--base-url", "http://127.0.0.1:1"],
        ["--api", "rixapi", "--base-url", "ftp://127.0.0.1:1", "--key", "k"],
        ["--api", "rixapi", "--base-url", "http://127.0.0.1:1", "--max-submits", "-1", "--key", "k"],
        ["--api", "rixapi", "--base-url", "http://127.0.0.1:1", "--timeout", "soon", "--key", "k"],
        ["--api", "rixapi", "--base-url", "http://127.0.0.1:1", "--report", "xml", "--key", "k"],
        ["--api", "rixapi"],
    ],
)
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["contract", "verify", *args])
    assert exit.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--api", "pixapi", "--callback-host", "127.0.0.1", "--key", "k"], "documents no callbacks"),
        (["--api", "rixapi"], "--key"),
        (["--api", "foxapi", "--model", "scribe-v2", "--key", "k"], "no canonical job"),
        (["--api", "rixapi", "--callback-host", "203.0.113.7", "--key", "k"], "cannot listen there"),
    ],
)
def test_options_that_cannot_be_verified_exit_2(
    args: list[str],
    message: str,
    listening: socket.socket,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FAKEAPI_VERIFY_KEY", raising=False)
    port = listening.getsockname()[1]
    assert main(["contract", "verify", "--base-url", f"http://127.0.0.1:{port}", *args]) == 2
    assert message in capsys.readouterr().err
    with pytest.raises(BlockingIOError):
        listening.accept()


def test_the_help_tells_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["contract", "verify", "--help"])
    assert exit.value.code == 0
    assert " ".join(capsys.readouterr().out.split()).endswith(
        "exit status: 0 the server conforms, 1 drift, 2 a usage error or a server it cannot reach"
    )


def test_the_command_as_a_user_runs_it() -> None:
    """The console entry point, in a process of its own, against a fake on a thread: a JSON report
    that conforms."""
    with BackgroundServer(FakeServer("poll-count")) as background:
        url = background.server.url_for("rixapi")
        done = run_verify(url, "--poll-every", "0", "--report", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["conforms"] is True
    assert report["unreachable"] is None
    assert report["violations"] == []
    assert any(r.startswith("POST /v1/task/submit") for r in report["requests"])


def test_nothing_listening_is_no_drift_and_fails_at_once() -> None:
    """A port nobody listens on: one line that says so, the environment's exit status (2), not
    drift's (1), and no retrying first."""
    port = free_port()
    started = time.perf_counter()
    done = run_verify(f"http://127.0.0.1:{port}/rixapi")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == (
        f"rixapi at http://127.0.0.1:{port}/rixapi: UNREACHABLE: GET /v1/task/task_000000000000: "
        f"cannot connect to 127.0.0.1:{port}: connection refused; nothing was checked\n"
    )
    assert done.stderr == ""
    assert time.perf_counter() - started < 10.0  # the process's start included; the API's pace is 5 s


def test_an_unreachable_server_in_a_junit_report_is_an_error() -> None:
    """For CI: the JUnit report has an error (it could not run), no failure (no drift); stderr has
    the reason for the job's log."""
    port = free_port()
    done = run_verify(f"http://127.0.0.1:{port}/rixapi", "--report", "junit")
    assert done.returncode == 2, done.stdout + done.stderr
    suite = ElementTree.fromstring(done.stdout)
    assert (suite.get("failures"), suite.get("errors")) == ("0", "1")
    assert suite.findall("testcase/failure") == []
    (error,) = suite.findall("testcase/error")
    assert error.get("message") == f"cannot connect to 127.0.0.1:{port}: connection refused"
    assert done.stderr == (
        f"fakeapi contract verify: rixapi at http://127.0.0.1:{port}/rixapi: stopped at "
        f"GET /v1/task/task_000000000000: cannot connect to 127.0.0.1:{port}: connection refused\n"
    )


def test_a_server_that_never_answers_is_given_up_within_the_timeout(listening: socket.socket) -> None:
    """A server that takes the connection and never answers: given up within ``--timeout``, saying so."""
    port = listening.getsockname()[1]
    started = time.perf_counter()
    done = run_verify(f"http://127.0.0.1:{port}/rixapi", "--timeout", "1", "--report", "json")
    assert done.returncode == 2, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["conforms"] is False
    assert report["violations"] == []
    assert report["unreachable"] == {
        "request": "GET /v1/task/task_000000000000",
        "reason": f"127.0.0.1:{port} sent no answer within 1 s",
    }
    assert time.perf_counter() - started < 10.0


async def _going_away_after_the_submit(fake: FakeServer, change: Callable[[Any], None]) -> tuple[Report, str]:
    """Verify RixAPI through a proxy to ``fake`` that stops listening once it has answered the first
    submit (``change`` applied to that answer); the report and the proxy's base URL."""
    runners: list[web.AppRunner] = []
    stopping: list[asyncio.Task[None]] = []

    def stop_after_the_submit(kind: str, path: str, data: Any) -> Any:
        submitted = path == "/rixapi/v1/task/submit" and "status" in data  # not the invalid body's error
        if submitted and not stopping and runners:
            change(data)
            stopping.append(asyncio.create_task(runners[0].cleanup()))
        return data

    proxy = Proxy(fake.base_url, distort=stop_after_the_submit)
    async with served(proxy) as runner:
        runners.append(runner)
        report = await _verify(proxy.base, "rixapi")
    assert stopping, "the submit was answered"
    return report, proxy.base


async def test_a_server_that_closes_each_connection_unanswered_is_asked_again_then_unreachable() -> None:
    asked = 0

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal asked
        asked += 1
        await reader.read(1000)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        report = await _verify(f"http://127.0.0.1:{port}", "rixapi")
    assert report.exit_code == 2
    assert report.unreachable is not None
    assert report.unreachable.request == "GET /v1/task/task_000000000000"
    assert report.unreachable.reason == f"127.0.0.1:{port} closed the connection without answering"
    assert len(report.requests) == 4  # a GET is asked again, three times
    assert asked >= 4  # aiohttp may open a second connection for an attempt


async def test_a_server_that_goes_away_after_the_submit(fake: FakeServer) -> None:
    """What was checked before is reported, the request it went away at is named, and it is no drift."""
    report, base = await _going_away_after_the_submit(fake, lambda data: None)
    assert report.violations == [], report.human()
    assert report.exit_code == 2
    assert report.unreachable is not None
    assert report.unreachable.request.startswith("GET /v1/task/task_")
    address = base.removeprefix("http://")
    assert report.unreachable.reason == f"cannot connect to {address}: connection refused"
    assert report.answered == 4  # the three error probes and the submit
    (job,) = report.jobs
    assert job.endswith(": queued; then unreachable")
    first = report.human().splitlines()[0]
    assert first == (
        f"rixapi at {base}/rixapi: {len(report.requests)} requests, UNREACHABLE after 4 answer(s) "
        "with no drift, 0 addition(s)"
    )


async def test_drift_found_before_the_server_went_away_is_drift(fake: FakeServer) -> None:
    report, _ = await _going_away_after_the_submit(fake, lambda data: data.pop("created_at"))
    assert [f.path for f in report.violations] == ["$.created_at"], report.human()
    assert report.unreachable is not None
    assert report.exit_code == 1
    assert report.human().splitlines()[0].endswith("DRIFT: 1 violation(s), 0 addition(s)")
    assert f"UNREACHABLE {report.unreachable.request}: " in report.human()


async def test_answers_that_are_no_http_before_the_server_went_away_are_drift_in_every_report() -> None:
    """Four answers that are no HTTP, then nothing listening: drift (1), which the human report shows
    too, beside where the run stopped."""
    answered = 0

    async def not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        answered += 1
        await reader.read(1000)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        writer.close()
        if answered == 4:
            server.close()

    server = await asyncio.start_server(not_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    report = await _verify(f"http://127.0.0.1:{port}", "rixapi", max_submits=1)
    assert report.exit_code == 1
    assert [f.check for f in report.violations] == ["http"]
    lines = report.human().splitlines()
    assert lines[0].endswith("DRIFT: 1 violation(s), 0 addition(s)")
    assert (
        lines[1]
        == f"UNREACHABLE {report.requests[-1]}: cannot connect to 127.0.0.1:{port}: connection refused"
    )
    assert lines[2] == "VIOLATION [http] GET /v1/task/task_000000000000  $"


async def test_drift_in_a_junit_report_is_a_failure_in_the_request_s_case(proxy: Proxy) -> None:
    def without_created_at(kind: str, path: str, data: Any) -> Any:
        if path == "/rixapi/v1/task/submit" and isinstance(data, dict) and "status" in data:
            data.pop("created_at")
        return data

    proxy.distort = without_created_at
    report = await _verify(proxy.base, "rixapi")
    assert report.exit_code == 1
    suite = ElementTree.fromstring(report.junit())
    assert (suite.get("failures"), suite.get("errors")) == ("1", "0")
    assert int(suite.get("tests") or 0) == len(set(report.requests)) > 1
    (case,) = [case for case in suite.findall("testcase") if case.find("failure") is not None]
    assert case.get("name") == "POST /v1/task/submit"
    failures = [(failure.get("message"), failure.text) for failure in case.findall("failure")]
    missing = ("[schema] $.created_at", "$.created_at: expected a required field; observed absent")
    assert failures  # each submit's answer, in the one case of its request
    assert failures == [missing] * len(report.violations)


async def test_a_time_out_is_a_violation() -> None:
    async with FakeServer("manual") as manual:
        options = Options(
            "rixapi", manual.url_for("rixapi"), "sk-1", max_submits=1, timeout=0.2, poll_every=0.05
        )
        report = await verify(options)
    found = _violations_at(report, "$.status", "lifecycle")
    assert found, report.human()
    assert found[0].expected == "a terminal state within 0.2 s"
    polls = [r for r in report.requests if r.startswith("GET /v1/task/task_") and "0000" not in r]
    assert 2 <= len(polls) <= 6  # every 0.05 s for 0.2 s, not as fast as it can
