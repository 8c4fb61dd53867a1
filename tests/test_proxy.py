"""``fakeapi proxy`` and ``fakeapi contract check``: the fake as the upstream, the proxy in front of it
(both in this process, on port 0, sharing the fake's virtual clock), clients through the proxy."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from fakeapi import FakeServer
from fakeapi.cli import main
from fakeapi.contract.proxy import ValidatingProxy
from fakeapi.server.app import listen

FAKEAPI = Path(sys.executable).parent / "fakeapi"
SCENARIO: dict[str, Any] = {
    "clock": {"mode": "virtual"},
    "accounts": {"keys": {"sk-limited": {"rpm": 1}}},
    "rules": [
        {
            "phases": [
                {"state": "queued", "for": "1s"},
                {"state": "running", "for": "4s"},
                {"state": "succeeded"},
            ]
        }
    ],
}
BODY = {"model": "flux-pro", "input": {"prompt": "a red fox in the snow"}}


class Client:
    """A client of RixAPI through the proxy, with one key."""

    def __init__(self, http: aiohttp.ClientSession, base: str, key: str) -> None:
        self.http, self.base, self.key = http, base, key

    async def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        async with self.http.request(method, self.base + path, json=body, headers=headers) as answer:
            return answer.status, await answer.json(content_type=None)

    async def submit(self, body: Any = BODY) -> str:
        status, data = await self.call("POST", "/v1/task/submit", body)
        assert status == 200, data
        return str(data["id"])

    async def poll(self, task_id: str, key: str | None = None) -> tuple[int, Any]:
        return await self.call("GET", f"/v1/task/{task_id}", key=key)


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    async with FakeServer(SCENARIO) as server:
        yield server


@pytest.fixture
async def proxied(fake: FakeServer, tmp_path: Path) -> AsyncIterator[tuple[ValidatingProxy, list[str]]]:
    printed: list[str] = []
    proxy = ValidatingProxy(
        "rixapi",
        fake.url_for("rixapi"),
        record=tmp_path / "rec.jsonl",
        clock=fake.engine.clock,
        emit=printed.append,
    )
    await proxy.start()
    try:
        yield proxy, printed
    finally:
        await proxy.stop()


def _rules(printed: list[str]) -> Counter[str]:
    return Counter(line.split(" ")[3].rstrip(":") for line in printed)


def _recording(proxy: ValidatingProxy) -> list[dict[str, Any]]:
    assert proxy.record_path is not None
    return [json.loads(line) for line in proxy.record_path.read_text().splitlines()]


def _check(path: Path, *more: str) -> subprocess.CompletedProcess[str]:
    """``fakeapi contract check`` as a user runs it: the console script in a subprocess."""
    return subprocess.run(
        [str(FAKEAPI), "contract", "check", str(path), *more], capture_output=True, text=True, timeout=60
    )


def _check_here(capsys: pytest.CaptureFixture[str], path: Path, *more: str) -> tuple[int, str, str]:
    """``fakeapi contract check`` in this process (milliseconds, not a second): status, out, err."""
    status = main(["contract", "check", str(path), *more])
    out, err = capsys.readouterr()
    return status, out, err


async def test_a_careful_client_breaks_no_rule(
    fake: FakeServer,
    proxied: tuple[ValidatingProxy, list[str]],
    http: aiohttp.ClientSession,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy, printed = proxied
    client = Client(http, proxy.base_url, "sk-careful")
    task_id = await client.submit()
    states: list[str] = []
    while not states or states[-1] not in ("completed", "failed"):
        await fake.engine.shift(4)
        status, data = await client.poll(task_id)
        assert status == 200
        states.append(data["status"])
    assert states == ["in_progress", "completed"]
    assert printed == []
    assert proxy.tally.summary() == "3 exchange(s), no violations"
    await proxy.stop()
    status, out, err = _check_here(capsys, proxy.record_path or Path())
    assert status == 0, out + err
    assert out.strip().endswith("3 exchange(s), no violations")


async def test_a_careless_client_is_told_each_rule_it_breaks(
    fake: FakeServer,
    proxied: tuple[ValidatingProxy, list[str]],
    http: aiohttp.ClientSession,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy, printed = proxied
    client = Client(http, proxy.base_url, "sk-careless")
    task_id = await client.submit()
    await client.submit()  # the same body again at once
    await client.poll(task_id)
    await client.poll(task_id)  # no pause
    await fake.engine.shift(10)
    assert (await client.poll(task_id))[1]["status"] == "completed"
    await fake.engine.shift(5)
    await client.poll(task_id)  # already ended
    await fake.engine.shift(5)
    assert (await client.poll(task_id, key="sk-someone-else"))[0] == 404
    status, _ = await client.call("POST", "/v1/task/submit", {"model": "flux-pro"})  # no input
    assert status == 400
    limited = Client(http, proxy.base_url, "sk-limited")
    await limited.submit()
    assert (await limited.call("GET", "/v1/dashboard/billing/usage"))[0] == 429
    await limited.call("GET", "/v1/dashboard/billing/usage")  # before its Retry-After
    rules = _rules(printed)
    assert {
        "poll-too-fast",
        "poll-after-terminal",
        "poll-other-key",
        "repeated-submit",
        "request-contract",
        "ignored-retry-after",
    } <= rules.keys(), printed
    assert "answer-contract" not in rules, printed
    # The fake behind the proxy, which checks the same rules itself, saw the same client break the
    # same ones (a refused request is the proxy's to call a contract violation).
    assert {v.rule for v in fake.etiquette.violations} == rules.keys() - {"request-contract"}
    [refused] = [line for line in printed if "request-contract" in line]
    assert refused.split(" ")[1:3] == ["POST", "/v1/task/submit"]
    assert "input" in refused
    # Each line: an ISO time, the method, the path, then `rule: message`.
    assert all(line[:4] == "2026" and line.endswith(line.split(": ", 1)[1]) for line in printed)
    await proxy.stop()

    lines = _recording(proxy)
    assert len(lines) == proxy.tally.exchanges == 11
    assert all(
        set(line) - {"request_body_base64", "response_body_base64"}
        == {
            "at",
            "elapsed",
            "api",
            "method",
            "path",
            "query",
            "request_headers",
            "request_body",
            "status",
            "response_headers",
            "response_body",
            "violations",
        }
        for line in lines
    )
    first = lines[0]
    assert (first["api"], first["method"], first["path"], first["query"]) == (
        "rixapi",
        "POST",
        "/v1/task/submit",
        "",
    )
    assert first["request_body"] == BODY
    assert first["response_body"]["id"] == task_id
    assert first["at"] == fake.engine.clock.now() - 20
    assert first["elapsed"] == 0
    text = proxy.record_path.read_text() if proxy.record_path else ""
    assert "sk-careless" not in text
    assert "sk-limited" not in text
    assert "sk-someone-else" not in text
    keys = [line["request_headers"]["Authorization"] for line in lines]
    assert keys[0] == "Bearer <redacted 1>"
    assert "Bearer <redacted 2>" in keys
    assert "Bearer <redacted 3>" in keys
    recorded = Counter((v["rule"], v["message"]) for line in lines for v in line["violations"])
    assert sum(recorded.values()) == len(printed)

    # Offline, the same violations.
    status, out, err = _check_here(capsys, proxy.record_path or Path(), "--report", "json")
    assert status == 1, err
    report = json.loads(out)
    assert report["exchanges"] == 11
    assert Counter((v["rule"], v["message"]) for v in report["violations"]) == recorded
    status, out, _ = _check_here(capsys, proxy.record_path or Path())
    assert status == 1
    assert [line.split(": ", 1)[1] for line in out.splitlines()[:-1]] == printed


async def test_an_upstream_status_past_599_is_forwarded_and_recorded(
    http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    async def odd(request: web.Request) -> web.Response:
        return web.json_response({"id": "task_abc"}, status=600)

    app = web.Application()
    app.router.add_get("/v1/task/{task_id}", odd)
    runner, port = await listen(app, "127.0.0.1", 0)
    proxy = ValidatingProxy("rixapi", f"http://127.0.0.1:{port}", record=tmp_path / "r.jsonl", emit=print)
    await proxy.start()
    try:
        status, data = await Client(http, proxy.base_url, "sk-x").poll("task_abc")
    finally:
        await proxy.stop()
        await runner.cleanup()
    assert (status, data) == (600, {"id": "task_abc"})
    assert [line["status"] for line in _recording(proxy)] == [600]


async def test_answers_that_break_the_contract_are_violations(http: aiohttp.ClientSession) -> None:
    created = 1767225600
    answers = [
        {
            "id": "task_abc",
            "status": "completed",
            "created_at": created,
            "completed_at": created,
            "outputs": [],
        },
        {"id": "task_abc", "status": "queued", "created_at": created},  # back from the end
        {"id": "task_abc", "status": "done", "created_at": created * 1000},  # no such word; milliseconds
        {"id": "task_abc", "status": "queued", "created_at": created},  # another task than asked for
    ]

    async def drifted(request: web.Request) -> web.Response:
        return web.json_response(answers.pop(0))

    app = web.Application()
    app.router.add_get("/v1/task/{task_id}", drifted)
    runner, port = await listen(app, "127.0.0.1", 0)
    printed: list[str] = []
    proxy = ValidatingProxy("rixapi", f"http://127.0.0.1:{port}", emit=printed.append)
    await proxy.start()
    client = Client(http, proxy.base_url, "sk-x")
    seen: list[str] = []
    try:
        for task_id in ("task_abc", "task_abc", "task_abc", "task_xyz"):
            status, data = await client.poll(task_id)
            assert status == 200
            seen.append(data["status"])
    finally:
        await proxy.stop()
        await runner.cleanup()
    assert seen == ["completed", "queued", "done", "queued"]  # the upstream's answers, unchanged
    drift = [line.split(" answer-contract: ")[1] for line in printed if " answer-contract: " in line]
    assert drift[0] == "[lifecycle] $.status: expected 'completed' or a later state, observed 'queued'"
    assert any(line.startswith("[schema] $.status") for line in drift), drift
    assert any(line.startswith("[units] $.created_at") and "milliseconds" in line for line in drift), drift
    assert drift[-1] == "[id] $.id: expected 'task_xyz', observed 'task_abc'"


async def test_an_unreachable_upstream_is_a_502(http: aiohttp.ClientSession) -> None:
    printed: list[str] = []
    proxy = ValidatingProxy("rixapi", "http://127.0.0.1:9", emit=printed.append)
    await proxy.start()
    try:
        async with http.get(proxy.base_url + "/v1/task/task_abc") as answer:
            assert answer.status == 502
    finally:
        await proxy.stop()
    assert len(printed) == 1
    assert "no answer from http://127.0.0.1:9" in printed[0]
    assert proxy.tally.exchanges == 0


def test_malformed_recording_lines_are_errors_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = {
        "at": 1767225600.0,
        "elapsed": 0.01,
        "api": "rixapi",
        "method": "GET",
        "path": "/v1/task/task_abc",
        "query": "",
        "request_headers": {"Authorization": "Bearer <redacted 1>"},
        "request_body": "",
        "status": 404,
        "response_headers": {},
        "response_body": {
            "error": {"message": "not found", "type": "rix_api_error", "code": "task_not_exist"}
        },
        "violations": [],
    }
    cases = {
        "{not json": "Invalid JSON",
        json.dumps({**good, "status": "404"}): "status: Input should be a valid integer",
        json.dumps({k: v for k, v in good.items() if k != "elapsed"}): "elapsed: Field required",
        json.dumps({**good, "extra": 1}): "extra: Extra inputs are not permitted",
        json.dumps({**good, "api": "nope"}): "api: must be one of rixapi",
        json.dumps([1]): "Input should be an object",
        json.dumps({**good, "at": 1e308}): "at: Input should be less than or equal to 253402300799",
        '{"at": NaN' + json.dumps(good)[len('{"at": 1767225600.0') :]: "at: Input should be a finite number",
        json.dumps(
            {**good, "request_body": "%%", "request_body_base64": True}
        ): "request_body must be base64",
    }
    for bad, message in cases.items():
        path = tmp_path / "bad.jsonl"
        path.write_text(json.dumps(good) + "\n\n" + bad + "\n")
        status, _, err = _check_here(capsys, path)
        assert status == 2
        assert err.startswith(f"fakeapi contract check: {path}:3: "), err
        assert message in err
    path.write_text(json.dumps(good) + "\n")
    assert _check_here(capsys, path)[0] == 0
    status, _, err = _check_here(capsys, tmp_path / "absent.jsonl")
    assert status == 2
    assert "absent.jsonl: cannot read it" in err
    # As a user runs it: the message, no traceback.
    path.write_text(json.dumps(good) + "\n{not json\n")
    result = _check(path)
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"fakeapi contract check: {path}:2: not a recorded exchange: Invalid JSON"
    ), result.stderr
    assert "Traceback" not in result.stderr


async def test_contract_notes_are_violations(fake: FakeServer, http: aiohttp.ClientSession) -> None:
    printed: list[str] = []
    proxy = ValidatingProxy("apixo", fake.url_for("apixo"), clock=fake.engine.clock, emit=printed.append)
    await proxy.start()
    try:
        body = {
            "request_type": "async",
            "input": {"prompt": "a fox", "mode": "text-to-image"},
            "colour": "red",
        }
        headers = {"Authorization": "Bearer sk-x"}
        url = f"{proxy.base_url}/api/v1/generateTask/nano-banana"
        async with http.post(url, json=body, headers=headers) as answer:
            assert answer.status == 200
    finally:
        await proxy.stop()
    [note] = printed
    assert note.split(" ", 3)[3].startswith("contract-note: ")
    assert "colour is not a documented field of generateTask" in note


async def test_the_proxy_command_prints_violations_and_a_summary_on_sigterm(
    fake: FakeServer, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    record = tmp_path / "rec.jsonl"
    command = [str(FAKEAPI), "proxy", "--api", "rixapi", "--upstream", fake.url_for("rixapi"), "--port", "0"]
    process = await asyncio.create_subprocess_exec(
        *command, "--record", str(record), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    try:
        banner = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        base = re.search(r"rixapi at (http://127\.0\.0\.1:\d+) -> ", banner)
        assert base is not None, banner
        async with http.post(base[1] + "/v1/task/submit", json={"model": "flux-pro"}) as answer:
            assert answer.status == 401  # no key
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, err
    lines = out.decode().splitlines()
    assert lines[0] == "Press Ctrl-C to stop."
    assert " POST /v1/task/submit request-contract: no API key" in lines[1]
    assert lines[-1] == "fakeapi proxy stopped: 1 exchange(s), 2 violation(s): request-contract 2"
    [line] = record.read_text().splitlines()
    assert json.loads(line)["status"] == 401


async def test_multipart_bodies_are_checked_and_recorded_in_base64(
    fake: FakeServer, tmp_path: Path, http: aiohttp.ClientSession, capsys: pytest.CaptureFixture[str]
) -> None:
    printed: list[str] = []
    record = tmp_path / "rec.jsonl"
    proxy = ValidatingProxy(
        "pixapi", fake.url_for("pixapi"), record=record, clock=fake.engine.clock, emit=printed.append
    )
    await proxy.start()
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    try:
        for image in (png, b"GIF? no: \xff\xfe not an image"):
            form = aiohttp.FormData()
            form.add_field("model", "gpt-image-1.5")
            form.add_field("prompt", "a fox")
            form.add_field("image", image, filename="in.png", content_type="image/png")
            async with http.post(
                f"{proxy.base_url}/v1/async/images/edits", data=form, headers={"Authorization": "Bearer sk-x"}
            ) as answer:
                assert answer.status == (200 if image == png else 400)
    finally:
        await proxy.stop()
    [refused] = printed
    assert "request-contract: the API refuses it (invalid_request): image: in.png is not a PNG" in refused
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [line.get("request_body_base64") for line in lines] == [True, True]
    assert png in base64.b64decode(lines[0]["request_body"])
    assert _check_here(capsys, record)[1].splitlines()[0].endswith(refused)


def test_a_recording_that_cannot_be_written_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "missing" / "rec.jsonl"
    args = [
        "proxy",
        "--api",
        "rixapi",
        "--upstream",
        "http://127.0.0.1:9",
        "--port",
        "0",
        "--record",
        str(record),
    ]
    assert main(args) == 1
    _, err = capsys.readouterr()
    assert err == f"fakeapi proxy: cannot write {record}: No such file or directory\n"
