"""``fakeapi serve`` as a user watches it: a line per request and per callback (text, coloured on a
terminal, or JSON Lines), ``--quiet``, the banner's clock; and the rest of the command line a user
reads: ``--version``, every ``--help``, ``scenarios list`` in a narrow terminal, clock flags that
cannot go together."""

from __future__ import annotations

import asyncio
import importlib.metadata
import io
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
from admin_client import free_port
from test_cli import BUNDLED, FAKEAPI, Served, http, run

from fakeapi import DISTRIBUTION, FakeServer
from fakeapi.cli import main
from fakeapi.server.request_log import RequestLog
from fakeapi.sink import CallbackSink

TIME = r"\d\d:\d\d:\d\d\.\d{3}"


def started(served: Served) -> tuple[str, str]:
    """The rixapi base URL and the admin URL of a ``fakeapi serve`` that printed its banner."""
    base = served.wait_for_line(r"^\s+rixapi\s+(http://127\.0\.0\.1:(\d+)/rixapi)$")
    served.wait_for_line(r"^Press Ctrl-C to stop\.$")
    return base.group(1), f"http://127.0.0.1:{base.group(2)}/_fakeapi"


def submit(base_url: str, callback_url: str | None = None) -> str:
    body = {"model": "flux-pro", "input": {"prompt": "a boat"}}
    if callback_url is not None:
        body["callback_url"] = callback_url
    status, _, raw = http("POST", base_url + "/v1/task/submit", body)
    assert status == 200, raw
    task_id: str = json.loads(raw)["id"]
    return task_id


def test_serve_logs_each_request_its_state_change_and_each_callback(callback_sink: CallbackSink) -> None:
    served = Served("--port", "0", "--virtual-clock", "--seed", "3")
    try:
        base_url, admin = started(served)
        task_id = submit(base_url, callback_sink.url)
        served.wait_for_line(rf"^00:00:00\.000 rixapi\s+POST /rixapi/v1/task/submit 200 {task_id} queued$")
        served.wait_for_line(
            rf"^00:00:00\.000 callback {task_id} queued → {re.escape(callback_sink.url)} 200 delivered "
            r"\(attempt 1\)$"
        )
        callback_sink.fail_next(1, 503)
        assert http("POST", admin + "/clock/shift", {"seconds": 2})[0] == 200
        served.wait_for_line(
            rf"^00:00:01\.000 callback {task_id} running → {re.escape(callback_sink.url)} 503 refused "
            r"\(attempt 1\)$"
        )
        assert http("GET", f"{base_url}/v1/task/{task_id}")[0] == 200
        served.wait_for_line(
            rf"^00:00:02\.000 rixapi\s+GET /rixapi/v1/task/{task_id} 200 {task_id} queued→running$"
        )
        assert http("POST", admin + "/clock/shift", {"seconds": 10})[0] == 200
        assert http("GET", f"{base_url}/v1/task/{task_id}")[0] == 200
        served.wait_for_line(
            rf"^00:00:12\.000 rixapi\s+GET /rixapi/v1/task/{task_id} 200 {task_id} running→succeeded$"
        )
        assert http("GET", f"{base_url}/v1/task/{task_id}")[0] == 200
        served.wait_for_line(
            rf"^00:00:12\.000 rixapi\s+GET /rixapi/v1/task/{task_id} 200 {task_id} succeeded$"
        )
        assert http("GET", f"{base_url}/v1/task/task_nope")[0] == 404
        served.wait_for_line(r"^00:00:12\.000 rixapi\s+GET /rixapi/v1/task/task_nope 404 task_nope$")
        unreachable = f"http://127.0.0.1:{free_port()}/cb"
        other = submit(base_url, unreachable)
        served.wait_for_line(
            rf"^00:00:12\.000 callback {other} queued → {re.escape(unreachable)} failed: .+ \(attempt 1\)$"
        )
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=10) == 0
        rest = served.rest()
        logged = rest[rest.index("Press Ctrl-C to stop.") + 1 :]
        assert not [line for line in logged if "/_fakeapi" in line], "admin requests are not API requests"
        assert not [line for line in rest if "\033[" in line], "no colour down a pipe"
    finally:
        served.stop()


def test_serve_logs_json_lines_and_says_the_rest_on_stderr(callback_sink: CallbackSink) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(FAKEAPI), "serve", "--port", str(port), "--virtual-clock", "--log-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = f"http://127.0.0.1:{port}/rixapi"
        deadline = time.monotonic() + 10
        while not _listening(port):
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        task_id = submit(base_url, callback_sink.url)
        callback_sink.wait_for(1)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    events = [json.loads(line) for line in stdout.splitlines()]  # every line is JSON
    request, callback = events
    assert request == {
        "event": "request",
        "at": 1767225600.0,
        "time": "2026-01-01T00:00:00.000Z",
        "api": "rixapi",
        "method": "POST",
        "path": "/rixapi/v1/task/submit",
        "status": 200,
        "task_id": task_id,
        "state_before": None,
        "state": "queued",
    }
    expected = {"event": "callback", "task_id": task_id, "state": "queued", "url": callback_sink.url}
    assert {name: callback[name] for name in expected} == expected
    assert (callback["attempt"], callback["status"], callback["delivered"], callback["error"]) == (
        1,
        200,
        True,
        None,
    )
    assert stderr.splitlines()[0] == "fakeapi serving scenario 'default' (seed 0)"
    assert stderr.splitlines()[-1] == "fakeapi stopped."


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_serve_quiet_prints_no_line_per_request(callback_sink: CallbackSink) -> None:
    served = Served("--port", "0", "--virtual-clock", "--quiet")
    try:
        base_url, _ = started(served)
        submit(base_url, callback_sink.url)
        callback_sink.wait_for(1)
        assert http("GET", base_url + "/v1/task/task_nope")[0] == 404
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=10) == 0
        rest = served.rest()
        assert "  quiet: no line per request" in rest
        assert rest[rest.index("Press Ctrl-C to stop.") + 1 :] == ["fakeapi stopped."]
    finally:
        served.stop()


@pytest.mark.parametrize("no_color", [None, "1"], ids=["terminal", "NO_COLOR"])
def test_serve_colours_its_lines_on_a_terminal_unless_no_color(no_color: str | None) -> None:
    env = {name: value for name, value in os.environ.items() if name != "NO_COLOR"}
    if no_color is not None:
        env["NO_COLOR"] = no_color
    port = free_port()
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(FAKEAPI), "serve", "--port", str(port), "--virtual-clock"],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    os.close(follower)
    try:
        seen = _read_until(leader, b"Press Ctrl-C to stop.")
        submit(f"http://127.0.0.1:{port}/rixapi")
        seen += _read_until(leader, b"queued")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        os.close(leader)
    line = seen.decode().rpartition("POST /rixapi/v1/task/submit")[2]
    if no_color is None:
        assert "\033[32m200\033[0m" in line, repr(line)
    else:
        assert "\033[" not in seen.decode(), repr(seen)


def _read_until(fd: int, marker: bytes, timeout: float = 10.0) -> bytes:
    """What a terminal shows, read until ``marker`` appears."""
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {marker!r} in {data!r}"
        if select.select([fd], [], [], remaining)[0]:
            data += os.read(fd, 4096)
    return data


@pytest.mark.parametrize(
    ("args", "clock_line"),
    [
        (["--virtual-clock"], "  clock: virtual, standing still until shifted (POST /_fakeapi/clock/shift)"),
        (["--speed", "60"], "  clock: system, speed 60x"),
        ([], "  clock: system, speed 1x"),
    ],
    ids=["virtual", "speed-60", "system"],
)
def test_serve_banner_says_the_clock_dashboard_and_health(args: list[str], clock_line: str) -> None:
    served = Served("--port", "0", *args)
    try:
        _, admin = started(served)
        assert clock_line in served.seen
        assert f"  dashboard {admin}/ (in a browser)" in served.seen
        assert f"  health    {admin}/health" in served.seen
    finally:
        served.stop()


def test_serve_refuses_a_speed_for_a_clock_that_stands_still(tmp_path: Path) -> None:
    result = run("serve", "--port", "0", "--virtual-clock", "--speed", "60")
    assert result.returncode == 2
    assert "argument --speed: not allowed with argument --virtual-clock" in result.stderr
    assert "Traceback" not in result.stderr
    (tmp_path / "still.yaml").write_text(
        "clock: {mode: virtual}\nrules:\n  - phases: [{state: succeeded}]\n", encoding="utf-8"
    )
    result = run("serve", "--port", "0", "--scenario", "still.yaml", "--speed", "60", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "fakeapi serve: error: --speed 60 for the scenario still.yaml, whose clock is virtual (clock.mode: "
        "virtual): it stands still until shifted (POST /_fakeapi/clock/shift); drop --speed, or give "
        "--speed with a scenario on the system clock\n"
    )
    assert result.stdout == ""


def test_version_names_the_distribution() -> None:
    result = run("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{DISTRIBUTION} {importlib.metadata.version(DISTRIBUTION)}\n"


COMMANDS = [
    [],
    ["serve"],
    ["scenarios"],
    ["scenarios", "list"],
    ["scenarios", "validate"],
    ["scenarios", "schema"],
    ["scenarios", "from-recording"],
    ["contract"],
    ["contract", "openapi"],
    ["contract", "verify"],
    ["contract", "check"],
    ["proxy"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) or "fakeapi" for c in COMMANDS])
def test_every_help_says_what_each_option_is_in_80_columns(
    command: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # In this process (the console script only calls main): a dozen starts would cost seconds.
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    help_text = capsys.readouterr().out
    lines = help_text.splitlines()
    assert max(map(len, lines)) <= 80, help_text
    assert "``" not in help_text
    assert not re.search(r"\{(serve|list|openapi),", help_text), "subcommands show as COMMAND or ACTION"
    # After the usage, a sentence saying what the command does.
    description = " ".join(lines[lines.index("") + 1 : lines.index("", lines.index("") + 1)])
    assert description[0].isupper(), description
    assert description.endswith("."), description
    alone = [line for line in lines if re.fullmatch(r"    [a-z][\w-]*", line)]
    assert not alone, "a subcommand's summary begins on its line"
    # Each option (or subcommand) has words after it, on its line or the next, more indented.
    for i, line in enumerate(lines):
        if re.match(r"^  [-\w]", line) and i + 1 < len(lines):
            said = re.match(r"^  \S.*?\s{2,}\S", line) is not None
            after = len(lines[i + 1]) - len(lines[i + 1].lstrip()) > 2 and lines[i + 1].strip() != ""
            assert said or after, f"no description for {line.strip()!r}"


def test_scenarios_list_fits_an_80_column_terminal() -> None:
    narrow = run("scenarios", "list", columns=80)
    assert narrow.returncode == 0, narrow.stderr
    lines = narrow.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    assert [line.split()[0] for line in lines if not line.startswith(" ")] == BUNDLED
    wide = run("scenarios", "list").stdout.splitlines()  # a pipe: one line each
    assert max(map(len, wide)) > 80
    assert " ".join(" ".join(lines).split()) == " ".join(" ".join(wide).split()), "wrapped, nothing cut"


class _GoneReader(io.StringIO):
    """A stream whose reader went away: every flush finds the pipe broken; counts the writes."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_log_whose_reader_is_gone_stops_without_failing_requests() -> None:
    out = _GoneReader()
    log = RequestLog(out)
    for _ in range(2):  # the first line's flush finds the pipe broken, the second line is not tried
        log.request(0.0, "rixapi", "GET", "/rixapi/v1/task/t", 200, "t", "queued", "running")
    assert out.writes == 1


def test_serve_logs_every_line_to_a_terminal_that_cannot_show_an_arrow(callback_sink: CallbackSink) -> None:
    served = Served("--port", "0", "--virtual-clock", env={"PYTHONIOENCODING": "ascii"})
    try:
        base_url, admin = started(served)
        task_id = submit(base_url, callback_sink.url)
        served.wait_for_line(rf"^00:00:00\.000 callback {task_id} queued \\u2192 ")
        assert http("POST", admin + "/clock/shift", {"seconds": 2})[0] == 200
        assert http("GET", f"{base_url}/v1/task/{task_id}")[0] == 200
        served.wait_for_line(rf"GET /rixapi/v1/task/{task_id} 200 {task_id} queued\\u2192running$")
        assert http("GET", f"{base_url}/v1/task/task_nope")[0] == 404
        served.wait_for_line(r"GET /rixapi/v1/task/task_nope 404 task_nope$")
    finally:
        served.stop()


def test_serve_with_an_admin_token_says_the_dashboard_is_off_and_why() -> None:
    served = Served("--port", "0", "--admin-token", "t0ken")
    try:
        _, admin = started(served)
        assert f"  admin     {admin}/ (token required)" in served.seen
        assert (
            "  dashboard off: a browser cannot send the admin token; use the admin API with "
            "'Authorization: Bearer TOKEN'" in served.seen
        )
    finally:
        served.stop()


async def test_the_lines_of_one_turn_of_the_loop_go_out_in_one_flush() -> None:
    class Counted(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1
            super().flush()

    out = Counted()
    log = RequestLog(out)
    for _ in range(20):  # a burst of requests answered in one turn
        log.request(0.0, "rixapi", "GET", "/rixapi/v1/task/t", 200, "t", "queued", "running")
    assert out.flushes == 0
    await asyncio.sleep(0)
    assert (out.flushes, len(out.getvalue().splitlines())) == (1, 20)


@pytest.mark.parametrize("waits", [{"for": "5s"}, {"polls": 2}], ids=["for a time", "for polls"])
async def test_a_poll_after_a_synchronous_submit_shows_no_second_change(waits: dict[str, object]) -> None:
    out = io.StringIO()
    phases = [{"state": "queued", **waits}, {"state": "succeeded"}]
    async with (
        FakeServer({"rules": [{"phases": phases}]}, clock="virtual", request_log=RequestLog(out)) as server,
        aiohttp.ClientSession() as session,
    ):
        headers = {"Authorization": "Bearer sk-downstream"}
        llm = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}], "sync": True}
        async with session.post(
            server.url_for("foxapi") + "/v1/llm/generations", json=llm, headers=headers
        ) as r:
            assert r.status == 200, await r.text()
        (task_id,) = server.engine.tasks
        async with session.get(server.url_for("foxapi") + f"/v1/tasks/{task_id}", headers=headers) as r:
            assert r.status == 200, await r.text()
        await asyncio.sleep(0)  # the log's flush
    submit, poll = out.getvalue().splitlines()
    assert submit.endswith(f" {task_id} queued→succeeded")
    assert poll.endswith(f" GET /foxapi/v1/tasks/{task_id} 200 {task_id} succeeded")
