"""``fakeapi scenarios from-recording``: a recording of a known service becomes a scenario under which
the fake behaves as the service did. The recordings are made here by driving the fake over HTTP on
a virtual clock and writing the lines the proxy would write."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fakeapi.cli import main
from fakeapi.contract.proxy import ValidatingProxy
from fakeapi.providers import REGISTRY
from fakeapi.scenario import FailureSpec, load_scenario, merge_overrides, parse_scenario
from fakeapi.scenario.recording import failure_counts, failure_of, scenario_from_recording
from fakeapi.scenario.schema import Uniform
from fakeapi.server import FakeServer

FAKEAPI = Path(sys.executable).parent / "fakeapi"
KEY = {"Authorization": "Bearer sk-test"}
TASKS = 10
POLLS = 16

# The recorded service: queued 3 s, running 10 s, and 1 task in 5 refused as a content violation
# after its 3 s in the queue.
RECORDED = """\
rules:
  - name: refused
    match: {nth: [5, 10]}
    phases:
      - {state: queued, for: 3s}
      - {state: failed, error: {reason: content_violation}}
  - name: everything
    phases:
      - {state: queued, for: 3s}
      - {state: running, for: 10s}
      - {state: succeeded}
"""


@dataclass(frozen=True)
class Api:
    """How a client submits to and polls one API, and where its answers put the task's state."""

    name: str
    submit_path: str
    body: dict[str, Any]
    poll: Callable[[str], tuple[str, str]]  # task id -> path, query
    task_id: Callable[[Any], str]
    state: Callable[[Any], str]
    failure: Callable[[Any], Any]  # the failed answer's words for the failure


APIS = [
    Api(
        "rixapi",
        "/v1/task/submit",
        {"model": "flux-pro", "input": {"prompt": "a red fox"}},
        lambda task_id: (f"/v1/task/{task_id}", ""),
        lambda answer: answer["id"],
        lambda answer: answer["status"],
        lambda answer: answer["error"],
    ),
    Api(
        "apixo",
        "/api/v1/generateTask/nano-banana",
        {"input": {"mode": "text-to-image", "prompt": "a red fox"}},
        lambda task_id: ("/api/v1/statusTask/nano-banana", f"taskId={task_id}"),
        lambda answer: answer["data"]["taskId"],
        lambda answer: answer["data"]["state"],
        lambda answer: (answer["data"]["failCode"], answer["data"]["failMsg"]),
    ),
    Api(
        "foxapi",
        "/v1/images/generations",
        {"model": "gemini-3-pro-image-preview", "prompt": "a red fox"},
        lambda task_id: (f"/v1/tasks/{task_id}", ""),
        lambda answer: answer["id"],
        lambda answer: answer["status"],
        lambda answer: answer["error"],
    ),
    Api(
        "pixapi",
        "/v1/async/images/generations",
        {"model": "gemini-2.5-flash-image", "prompt": "a red fox"},
        lambda task_id: (f"/v1/tasks/{task_id}", ""),
        lambda answer: answer["id"],
        lambda answer: answer["status"],
        lambda answer: answer["error"],
    ),
]


@dataclass
class Observed:
    """What a client saw of one task: its state at each poll (seconds after its submit)."""

    states: list[tuple[float, str]]
    failure: Any = None

    def first(self, word: str) -> float | None:
        return next((at for at, state in self.states if state == word), None)


async def drive(
    api: Api, scenario: str, recording: Path | None = None, through_proxy: bool = False
) -> list[Observed]:
    """Submit ``TASKS`` tasks at once and poll each every second until it ends; write each exchange
    to ``recording`` as the proxy records it, or (``through_proxy``) have ``fakeapi proxy`` in front
    of the fake record them."""
    lines: list[str] = []
    # APIXO's documented caps (60 requests a minute, 10 unfinished tasks) would refuse this client.
    unlimited = merge_overrides(
        parse_scenario(scenario), {"apis": {"apixo": {"rpm": None, "max_concurrent": None}}}
    )
    async with FakeServer(unlimited, clock="virtual") as server, aiohttp.ClientSession() as http:
        base, clock = server.url_for(api.name), server.engine.clock
        start = clock.now()
        proxy = None
        if through_proxy:
            proxy = ValidatingProxy(api.name, base, record=recording, clock=clock, emit=lambda line: None)
            await proxy.start()
            base = proxy.base_url

        async def call(method: str, path: str, query: str = "", body: Any = None) -> Any:
            url = base + path + (f"?{query}" if query else "")
            async with http.request(method, url, headers=KEY, json=body) as response:
                answer = await response.json(content_type=None)
                assert response.status == 200, answer
            exchange = {
                "at": clock.now(),
                "elapsed": 0.0,
                "api": api.name,
                "method": method,
                "path": path,
                "query": query,
                "request_headers": {"Authorization": "Bearer <redacted>"},
                "request_body": body if body is not None else "",
                "status": 200,
                "response_headers": {"Content-Type": "application/json"},
                "response_body": answer,
                "violations": [],
            }
            if proxy is None:
                lines.append(json.dumps(exchange))
            return answer

        ids = [api.task_id(await call("POST", api.submit_path, body=api.body)) for _ in range(TASKS)]
        observed = {task_id: Observed([]) for task_id in ids}
        terminal = {"completed", "success", "failed"}
        for _ in range(POLLS):
            await server.engine.shift(1)
            for task_id, seen in observed.items():
                if seen.states and seen.states[-1][1] in terminal:
                    continue
                answer = await call("GET", *api.poll(task_id))
                seen.states.append((clock.now() - start, api.state(answer)))
                if api.state(answer) == "failed":
                    seen.failure = api.failure(answer)
        if proxy is not None:
            await proxy.stop()
            return list(observed.values())
    if recording is not None:
        await asyncio.to_thread(recording.write_text, "\n".join(lines) + "\n")
    return list(observed.values())


@pytest.mark.parametrize("api", APIS, ids=[api.name for api in APIS])
async def test_a_recorded_service_is_reproduced_within_the_poll_interval(api: Api, tmp_path: Path) -> None:
    recording = tmp_path / "recorded.jsonl"
    original = await drive(api, RECORDED, recording)
    text = scenario_from_recording(recording)
    replayed = await drive(api, text)

    running, done = {"rixapi": "in_progress"}.get(api.name, "processing"), ("completed", "success")
    for before, after in zip(original, replayed, strict=True):
        for word in (running, *done, "failed"):
            seen, again = before.first(word), after.first(word)
            assert (seen is None) == (again is None), (word, before.states, after.states)
            if seen is not None and again is not None:
                assert abs(seen - again) <= 1.0, (word, before.states, after.states)
    assert [o.failure for o in replayed] == [o.failure for o in original]
    assert sum(o.failure is not None for o in original) == 2
    assert "reason: content_violation" in text
    assert "2 of 10 finished task(s) failed (20%)" in text


@pytest.mark.parametrize("api", APIS, ids=[api.name for api in APIS])
async def test_a_recording_made_through_the_proxy_is_reproduced(api: Api, tmp_path: Path) -> None:
    recording = tmp_path / "proxied.jsonl"
    original = await drive(api, RECORDED, recording, through_proxy=True)
    assert len(recording.read_text().splitlines()) == TASKS + sum(len(o.states) for o in original)
    text = scenario_from_recording(recording)
    parse_scenario(text)  # it validates
    replayed = await drive(api, text)
    for before, after in zip(original, replayed, strict=True):
        for word in {state for _, state in before.states}:
            seen, again = before.first(word), after.first(word)
            assert seen is not None
            assert again is not None, (word, before.states, after.states)
            assert abs(seen - again) <= 1.0, (word, before.states, after.states)
    assert [o.failure for o in replayed] == [o.failure for o in original]
    assert sum(o.failure is not None for o in original) == 2


async def test_the_scenario_says_where_each_figure_came_from(tmp_path: Path) -> None:
    recording = tmp_path / "recorded.jsonl"
    await drive(APIS[0], RECORDED, recording)
    text = scenario_from_recording(recording)
    rules = {rule.name: rule for rule in parse_scenario(text).rules}

    refused, succeeded = rules["rixapi flux-pro: content_violation"], rules["rixapi flux-pro"]
    assert refused.match.model == "flux-pro"
    assert refused.match.nth is not None
    assert refused.match.nth[:3] == [5, 10, 15]
    assert [p.state for p in refused.phases] == ["queued", "failed"]
    assert [p.state for p in succeeded.phases] == ["queued", "running", "succeeded"]
    queued, running = succeeded.phases[0].duration, succeeded.phases[1].duration
    assert isinstance(queued, float)
    assert abs(queued - 3) <= 0.5
    assert isinstance(running, float)
    assert abs(running - 10) <= 0.5
    queued_line = next(
        line for line in text.splitlines() if "{state: queued" in line and "8 succeeded" in line
    )
    assert "from the submit to midway between the last poll showing queued and the first" in queued_line
    assert "polls 1s apart (median)" in queued_line
    assert "lines 1-" in queued_line


def test_failures_are_spread_evenly_and_each_rule_counts_what_the_earlier_left() -> None:
    assert failure_counts([2], 10, horizon=20) == [[5, 10, 15, 20]]
    # 3 of 4 fail, 2 one way and 1 another: submits 2, 3, 4, 6, 7, 8 of 8 fail, the first way at
    # 2, 4, 6, 8; the second rule sees only the submits the first left (1, 3, 5, 7): its 2nd and 4th.
    assert failure_counts([2, 1], 4, horizon=8) == [[2, 4, 6, 8], [2, 4]]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(FAKEAPI), *args], capture_output=True, text=True, timeout=30, check=False)


async def test_the_cli_writes_a_scenario_that_validates(tmp_path: Path) -> None:
    recording, out = tmp_path / "recorded.jsonl", tmp_path / "out.yaml"
    await drive(APIS[1], RECORDED, recording)
    done = run("scenarios", "from-recording", str(recording), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert load_scenario(out).rules[0].name == "apixo nano-banana: content_violation"
    assert run("scenarios", "validate", str(out)).returncode == 0
    printed = run("scenarios", "from-recording", str(recording))
    assert printed.stdout == out.read_text()


GOOD_LINE = {
    "at": 1.0,
    "elapsed": 0.1,
    "api": "rixapi",
    "method": "GET",
    "path": "/v1/task/task_x",
    "query": "",
    "request_headers": {},
    "request_body": "",
    "status": 404,
    "response_headers": {},
    "response_body": {"error": "not found"},
    "violations": [],
}


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ([GOOD_LINE, "{not json"], ":2: not a recorded exchange: Invalid JSON"),
        ([GOOD_LINE, {**GOOD_LINE, "colour": "blue"}], ":2: not a recorded exchange: colour: Extra inputs"),
        (
            [{**GOOD_LINE, "status": "200"}],
            ":1: not a recorded exchange: status: Input should be a valid integer",
        ),
        (
            [{**GOOD_LINE, "api": "openai"}],
            ":1: not a recorded exchange: api: must be one of rixapi, apixo, foxapi, pixapi",
        ),
        ([], ": the recording is empty"),
        ([GOOD_LINE], ": no task in the recording (1 exchange(s), none a submit whose answer names a task)"),
    ],
    ids=["not-json", "unknown-field", "mistyped", "unknown-api", "empty", "no-task"],
)
def test_a_bad_recording_is_an_error_naming_file_and_line(
    lines: list[Any], error: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recording = tmp_path / "bad.jsonl"
    recording.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    )
    assert main(["scenarios", "from-recording", str(recording)]) == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith(f"fakeapi: {recording}{error}"), stderr
    assert stderr.count("\n") == 1


def test_a_recording_whose_tasks_never_end_is_an_error(tmp_path: Path) -> None:
    submit = {
        **GOOD_LINE,
        "method": "POST",
        "path": "/v1/task/submit",
        "request_body": {"model": "flux-pro", "input": {"prompt": "a fox"}},
        "status": 200,
        "response_body": {"id": "task_1", "status": "queued", "created_at": 1},
    }
    recording = tmp_path / "unfinished.jsonl"
    recording.write_text(json.dumps(submit) + "\n")
    done = run("scenarios", "from-recording", str(recording))
    assert done.returncode == 2
    assert done.stderr == f"fakeapi: {recording}: none of the 1 task(s) submitted was seen to end\n"


@pytest.mark.parametrize(
    ("api", "answer", "failure"),
    [
        ("rixapi", {"error": "the prompt is too long"}, FailureSpec(reason="prompt_too_long")),
        ("pixapi", {"error": {"code": 422, "message": "NSFW content detected"}}, FailureSpec(reason="nsfw")),
        (
            "foxapi",
            {"error": {"code": "timeout", "message": "took too long"}},
            FailureSpec(reason="timeout", message="took too long"),
        ),
        (
            "apixo",
            {"data": {"failCode": "SensitiveContentDetected", "failMsg": "x"}},
            FailureSpec(reason="content_violation", message="x", code="SensitiveContentDetected"),
        ),
        (
            "apixo",
            {"data": {"failCode": "NSFW_DETECTED", "failMsg": "NSFW content detected"}},
            FailureSpec(reason="nsfw"),
        ),
        (
            "apixo",
            {"data": {"failCode": "GPU_ON_FIRE", "failMsg": "the GPU caught fire"}},
            FailureSpec(message="the GPU caught fire", code="GPU_ON_FIRE"),
        ),
        ("rixapi", {"error": "上游错误"}, FailureSpec(message="上游错误")),
    ],
    ids=[
        "rixapi-message",
        "pixapi-message",
        "foxapi-code",
        "apixo-provider-code",
        "apixo-upper-snake",
        "apixo-unknown",
        "rixapi-unknown",
    ],
)
def test_a_failure_is_read_back_in_each_apis_words(api: str, answer: Any, failure: FailureSpec) -> None:
    [lifecycle] = [p.lifecycle for p in REGISTRY.providers() if p.name == api]
    assert lifecycle is not None
    assert failure_of(lifecycle, answer) == failure


ALL_REFUSED = """\
rules:
  - name: refused
    phases:
      - {state: queued, for: 2s}
      - {state: failed, error: {reason: nsfw}}
"""

VARIED = """\
rules:
  - name: varied
    phases:
      - {state: queued, for: {uniform: [2s, 6s]}}
      - {state: running, for: 4s}
      - {state: succeeded}
"""


async def test_a_model_that_always_failed_fails_every_time(tmp_path: Path) -> None:
    recording = tmp_path / "recorded.jsonl"
    original = await drive(APIS[2], ALL_REFUSED, recording)
    text = scenario_from_recording(recording)
    [refused, _] = parse_scenario(text).rules
    assert refused.match.nth is None
    assert "10 of 10 finished task(s) failed (100%)" in text
    replayed = await drive(APIS[2], text)
    assert [o.failure for o in replayed] == [o.failure for o in original]
    assert {o.failure["code"] for o in replayed} == {"nsfw"}


async def test_durations_that_varied_are_drawn_between_the_shortest_and_the_longest(tmp_path: Path) -> None:
    recording = tmp_path / "recorded.jsonl"
    await drive(APIS[0], VARIED, recording)
    [rule, _] = parse_scenario(scenario_from_recording(recording)).rules
    queued, running = rule.phases[0].duration, rule.phases[1].duration
    assert isinstance(queued, Uniform)
    low, high = queued.uniform
    assert 1.5 <= low < high <= 6.5
    assert running == 4.0


async def test_each_api_and_model_of_a_recording_gets_its_rules(tmp_path: Path) -> None:
    rix, apixo, both = tmp_path / "rix.jsonl", tmp_path / "apixo.jsonl", tmp_path / "both.jsonl"
    await drive(APIS[0], RECORDED, rix)
    await drive(APIS[1], ALL_REFUSED, apixo)
    both.write_text(rix.read_text() + apixo.read_text())
    rules = parse_scenario(scenario_from_recording(both)).rules
    assert [rule.name for rule in rules] == [
        "apixo nano-banana: nsfw",
        "rixapi flux-pro: content_violation",
        "rixapi flux-pro",
        "fallback",
    ]
    assert rules[0].phases[-1].error == FailureSpec(reason="nsfw")


async def test_a_services_own_failure_words_are_kept(tmp_path: Path) -> None:
    recording = tmp_path / "recorded.jsonl"
    original = await drive(APIS[1], RECORDED + "apis: {apixo: {fail_codes: provider}}\n", recording)
    text = scenario_from_recording(recording)
    replayed = await drive(APIS[1], text)
    assert 'code: "SensitiveContentDetected"' in text
    assert {o.failure for o in replayed if o.failure} == {
        ("SensitiveContentDetected", "The request violates safety guidelines")
    }
    assert [o.failure for o in replayed] == [o.failure for o in original]
