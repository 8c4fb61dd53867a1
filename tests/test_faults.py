"""Faults and scenario v2 rules, observed by real HTTP clients."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fakeapi import FakeApi, FakeServer, SurpriseError
from fakeapi.errors import ScenarioError
from fakeapi.scenario import parse_scenario
from fakeapi.sink import CallbackSink

KEY = {"Authorization": "Bearer sk-test"}
RIX_IMAGE: dict[str, Any] = {"model": "flux-pro", "input": {"prompt": "a red fox"}}
INSTANT: list[dict[str, Any]] = [{"phases": [{"state": "succeeded"}]}]
FIVE_SECONDS: list[dict[str, Any]] = [{"phases": [{"state": "running", "for": "5s"}, {"state": "succeeded"}]}]
# One minimal submit per API: (path under its mount, JSON body).
SUBMITS: dict[str, tuple[str, dict[str, Any]]] = {
    "rixapi": ("/v1/task/submit", RIX_IMAGE),
    "apixo": ("/api/v1/generateTask/vidu-q3", {"input": {"mode": "text-to-video", "prompt": "waves"}}),
    "foxapi": ("/v1/images/generations", {"model": "gemini-3-pro-image-preview", "prompt": "a fox"}),
    "pixapi": ("/v1/async/images/generations", {"model": "gemini-2.5-flash-image", "prompt": "a fox"}),
}


def faults(*specs: dict[str, Any], rules: list[dict[str, Any]] = INSTANT) -> dict[str, Any]:
    return {"faults": list(specs), "rules": rules}


async def submit(http: aiohttp.ClientSession, fakeapi: FakeApi, api: str = "rixapi", **kw: Any) -> Any:
    path, body = SUBMITS[api]
    headers = {**KEY, **kw.pop("headers", {})}
    async with http.post(fakeapi.url_for(api) + path, json=body, headers=headers, **kw) as r:
        return r.status, r.headers, await r.read()


# -- each effect, as a client sees it -------------------------------------------------------------


@pytest.mark.fakeapi(scenario=faults({"at": "submit", "effect": "reset"}))
async def test_a_reset_connection_raises_in_aiohttp(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    with pytest.raises(aiohttp.ClientOSError):
        await submit(http, fakeapi)
    assert fakeapi.tasks == [], "the submit was dropped before it took effect"
    assert [(e.status, e.notes) for e in fakeapi.journal] == [(499, ("fault: reset",))]


@pytest.mark.fakeapi(scenario=faults({"at": "submit", "effect": "reset", "process": True}))
async def test_process_lets_the_request_take_effect_before_the_answer_is_lost(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    with pytest.raises(aiohttp.ClientOSError):
        await submit(http, fakeapi)
    assert len(fakeapi.tasks) == 1, "the task exists although the client never heard of it"


@pytest.mark.fakeapi(scenario=faults({"at": "poll", "effect": "truncate"}))
async def test_a_truncated_body_fails_to_read(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    _, _, body = await submit(http, fakeapi)
    task_id = json.loads(body)["id"]
    async with http.get(f"{fakeapi.url_for('rixapi')}/v1/task/{task_id}", headers=KEY) as r:
        assert r.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await r.read()


@pytest.mark.fakeapi(scenario=faults({"at": "submit", "effect": "malformed"}))
async def test_a_malformed_body_fails_to_parse(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    status, headers, body = await submit(http, fakeapi)
    assert (status, headers["Content-Type"]) == (200, "application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert len(fakeapi.tasks) == 1, "malformed answers come from a request that was handled"


async def test_a_hang_times_the_client_out_and_does_not_hold_up_the_server(
    http: aiohttp.ClientSession,
) -> None:
    server = FakeServer(faults({"at": "submit", "effect": "hang", "latency": "60s"}), clock="virtual")
    async with server:
        url = server.url_for("rixapi") + "/v1/task/submit"
        with pytest.raises(asyncio.TimeoutError):
            await http.post(url, json=RIX_IMAGE, headers=KEY, timeout=aiohttp.ClientTimeout(total=0.3))
        started = time.monotonic()
    assert time.monotonic() - started < 5, "stopping the server ends a hanging request"


@pytest.mark.fakeapi(scenario=faults({"at": "submit", "effect": "latency", "latency": "300ms"}))
async def test_latency_delays_the_answer(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    started = time.monotonic()
    status, _, _ = await submit(http, fakeapi)
    assert status == 200
    assert time.monotonic() - started >= 0.3


ENVELOPES: dict[str, Any] = {
    "rixapi": {
        "error": {
            "message": "down for maintenance (request id: 20260101000000urf9iesa)",
            "type": "rix_api_error",
            "code": "",
        }
    },
    "apixo": {"code": 503, "message": "Service unavailable", "data": None},  # APIXO's fixed words
    "foxapi": {"error": {"message": "down for maintenance", "type": "service_unavailable_error"}},
    "pixapi": {"error": {"code": 503, "message": "down for maintenance", "type": "model_unavailable"}},
}


@pytest.mark.parametrize("api", SUBMITS)
async def test_a_scripted_status_comes_in_the_apis_own_envelope(
    http: aiohttp.ClientSession, fakeapi: FakeApi, api: str
) -> None:
    fakeapi.load_scenario(
        faults({"at": "submit", "effect": "status", "status": 503, "message": "down for maintenance"})
    )
    status, headers, body = await submit(http, fakeapi, api)
    assert status == 503
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == ENVELOPES[api]
    assert fakeapi.tasks == []


@pytest.mark.parametrize(("status", "title"), [(520, "520 Error"), (504, "504 Gateway Timeout")])
async def test_any_status_without_an_api_error_is_a_gateway_page(
    http: aiohttp.ClientSession, fakeapi: FakeApi, status: int, title: str
) -> None:
    fakeapi.load_scenario(faults({"at": "submit", "effect": "status", "status": status}))
    answer, _, body = await submit(http, fakeapi)
    assert answer == status
    assert f"<title>{title}</title>".encode() in body
    assert fakeapi.surprises == []


async def test_a_request_held_across_a_reset_does_not_reach_the_new_run(http: aiohttp.ClientSession) -> None:
    async with FakeServer(
        faults({"at": "submit", "effect": "latency", "latency": "5s"}), clock="virtual"
    ) as server:
        url = server.url_for("rixapi") + "/v1/task/submit"
        held = asyncio.ensure_future(http.post(url, json=RIX_IMAGE, headers=KEY))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await server.reset("instant")
        with pytest.raises(aiohttp.ClientError):
            await held
        assert time.monotonic() - started < 2, "the reset ends the wait"
        assert server.engine.tasks == {}


@pytest.mark.fakeapi(
    scenario=faults({"at": ["submit", "download"], "effect": "status", "status": 502, "retry_after": 7})
)
async def test_a_status_the_api_never_sends_is_a_gateway_page(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    status, headers, body = await submit(http, fakeapi)
    assert (status, headers["Content-Type"], headers["Retry-After"]) == (502, "text/html; charset=utf-8", "7")
    assert b"<title>502 Bad Gateway</title>" in body
    async with http.get(fakeapi.base_url + "/files/task_x/0.png") as r:
        assert r.status == 502


# -- triggers ------------------------------------------------------------------------------------


@pytest.mark.fakeapi(
    scenario=faults({"at": "submit", "effect": "status", "status": 500, "when": {"first": 2}})
)
async def test_first_n_then_the_service_recovers(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    statuses = [(await submit(http, fakeapi))[0] for _ in range(4)]
    assert statuses == [500, 500, 200, 200]


@pytest.mark.fakeapi(
    scenario=faults({"at": "submit", "effect": "status", "status": 500, "when": {"nth": [2, 4]}})
)
async def test_nth_requests(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    statuses = [(await submit(http, fakeapi))[0] for _ in range(5)]
    assert statuses == [200, 500, 200, 500, 200]


async def test_a_probability_is_seeded(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    scenario = faults({"at": "submit", "effect": "status", "status": 503, "when": {"probability": 0.5}})
    runs = []
    for seed in (7, 7, 8):
        fakeapi.load_scenario(scenario, seed=seed)
        runs.append([(await submit(http, fakeapi))[0] for _ in range(16)])
    assert runs[0] == runs[1], "the same seed gives the same failures"
    assert runs[0] != runs[2]
    assert 2 <= runs[0].count(503) <= 14


@pytest.mark.fakeapi(
    scenario=faults(
        {"at": "submit", "effect": "status", "status": 503, "header": {"X-Fakeapi-Scenario": "flaky"}},
        {"at": "submit", "effect": "status", "status": 500, "key": "sk-broken*", "api": "rixapi"},
    )
)
async def test_faults_match_a_header_or_a_key(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    assert (await submit(http, fakeapi))[0] == 200
    assert (await submit(http, fakeapi, headers={"x-fakeapi-scenario": "flaky"}))[0] == 503
    assert (await submit(http, fakeapi, headers={"Authorization": "Bearer sk-broken-1"}))[0] == 500
    assert (await submit(http, fakeapi, "foxapi", headers={"Authorization": "Bearer sk-broken-1"}))[0] == 200


# -- webhook faults ------------------------------------------------------------------------------


async def submit_with_callback(http: aiohttp.ClientSession, fakeapi: FakeApi, sink: CallbackSink) -> None:
    path, body = SUBMITS["foxapi"]
    async with http.post(
        fakeapi.url_for("foxapi") + path, json={**body, "callback_url": sink.url}, headers=KEY
    ) as r:
        assert r.status == 200


@pytest.mark.fakeapi(
    scenario=faults(
        {"at": "webhook", "effect": "status", "status": 500, "when": {"first": 1}}, rules=FIVE_SECONDS
    )
)
async def test_a_failed_delivery_is_retried(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    await submit_with_callback(http, fakeapi, callback_sink)
    await fakeapi.clock.ashift(5)
    await fakeapi.clock.ashift(1)  # FoxAPI retries after 1 s
    [received] = await callback_sink.await_for(1)
    assert received.json()["status"] == "completed"
    assert [(d.attempt, d.status, d.delivered) for d in fakeapi.deliveries] == [
        (1, 500, False),
        (2, 200, True),
    ]


@pytest.mark.fakeapi(
    scenario=faults(
        {"at": "webhook", "effect": "latency", "latency": "1s", "when": {"nth": 1}},
        {"at": "webhook", "effect": "status", "status": 500, "when": {"nth": 2}},
        rules=[
            {
                "phases": [
                    {"state": "queued", "for": "5s"},
                    {"state": "running", "for": "5s"},
                    {"state": "succeeded"},
                ]
            }
        ],
    )
)
async def test_a_delayed_delivery_is_not_counted_twice(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    _, body = SUBMITS["rixapi"]
    async with http.post(
        fakeapi.url_for("rixapi") + "/v1/task/submit",
        json={**body, "callback_url": callback_sink.url},
        headers=KEY,
    ) as r:
        assert r.status == 200
    await fakeapi.clock.ashift(10)
    await callback_sink.await_for(2)
    # RixAPI calls back on every change: queued (held 1 s), running (the 2nd delivery: 500), completed.
    assert [(d.state, d.status) for d in fakeapi.deliveries][:3] == [
        ("queued", 200),
        ("running", 500),
        ("succeeded", 200),
    ]


@pytest.mark.fakeapi(scenario=faults({"at": "download", "effect": "reset", "header": {"X-Chaos": "on"}}))
async def test_a_download_fault_matches_a_header(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    task_id = json.loads((await submit(http, fakeapi))[2])["id"]
    url = fakeapi.task(task_id).outputs[0]
    async with http.get(url) as r:
        assert r.status == 200
    with pytest.raises(aiohttp.ClientError):
        async with http.get(url, headers={"X-Chaos": "on"}) as r:
            await r.read()


@pytest.mark.fakeapi(
    scenario=faults({"at": "webhook", "effect": "latency", "latency": "30s"}, rules=FIVE_SECONDS)
)
async def test_webhook_latency_is_clock_time(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    await submit_with_callback(http, fakeapi, callback_sink)
    await fakeapi.clock.ashift(30)
    assert fakeapi.deliveries == []
    await fakeapi.clock.ashift(5)
    await callback_sink.await_for(1)
    assert [d.at - fakeapi.tasks[0].created_at for d in fakeapi.deliveries] == [35.0]


@pytest.mark.parametrize(("effect", "error"), [("hang", "timed out"), ("reset", "connection reset")])
async def test_a_delivery_that_hangs_or_is_reset_is_a_failed_attempt(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink, effect: str, error: str
) -> None:
    fakeapi.load_scenario(
        faults({"at": "webhook", "effect": effect, "when": {"first": 1}}, rules=FIVE_SECONDS)
    )
    await submit_with_callback(http, fakeapi, callback_sink)
    await fakeapi.clock.ashift(6)  # FoxAPI retries after 1 s
    await callback_sink.await_for(1)
    first, second = fakeapi.deliveries
    assert (first.status, first.delivered, first.error) == (None, False, f"fault: {effect}: {error}")
    assert (second.attempt, second.delivered) == (2, True)


@pytest.mark.fakeapi(scenario=faults({"at": "webhook", "effect": "truncate"}, rules=FIVE_SECONDS))
async def test_a_truncated_callback_body(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    await submit_with_callback(http, fakeapi, callback_sink)
    await fakeapi.clock.ashift(5)
    [received] = await callback_sink.await_for(1)
    assert received.body == fakeapi.deliveries[0].body.encode(), "the log shows the cut body sent"
    assert received.body.startswith(b'{"id":')
    with pytest.raises(json.JSONDecodeError):
        received.json()


@pytest.mark.fakeapi(scenario=faults({"at": "webhook", "effect": "malformed"}, rules=FIVE_SECONDS))
async def test_a_malformed_callback_body(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    await submit_with_callback(http, fakeapi, callback_sink)
    await fakeapi.clock.ashift(5)
    [received] = await callback_sink.await_for(1)
    with pytest.raises(json.JSONDecodeError):
        received.json()


# -- webhook delivery faults a client must survive ------------------------------------------------

RIX_STEPS: list[dict[str, Any]] = [
    {"phases": [{"state": "queued", "for": "1s"}, {"state": "running", "for": "1s"}, {"state": "succeeded"}]}
]


async def rix_submit_with_callback(
    http: aiohttp.ClientSession, fakeapi: FakeApi, sink: CallbackSink
) -> tuple[str, int]:
    """Submit a RixAPI task calling back to ``sink``; the task id, and how many callbacks the sink
    had received when the submit's answer arrived."""
    _, body = SUBMITS["rixapi"]
    async with http.post(
        fakeapi.url_for("rixapi") + "/v1/task/submit", json={**body, "callback_url": sink.url}, headers=KEY
    ) as r:
        received = len(sink.received)
        assert r.status == 200
        return str((await r.json())["id"]), received


@pytest.mark.fakeapi(
    scenario=faults({"name": "twice", "at": "webhook", "effect": "duplicate", "times": 3}, rules=FIVE_SECONDS)
)
async def test_a_duplicated_callback_arrives_times_over_with_the_same_body(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    await submit_with_callback(http, fakeapi, callback_sink)
    await fakeapi.clock.ashift(5)
    received = await callback_sink.await_for(3)
    assert len(received) == 3
    assert received[0].json()["status"] == "completed"
    assert received[0].body == received[1].body == received[2].body
    assert [(d.attempt, d.state, d.delivered, d.note) for d in fakeapi.deliveries] == [
        (1, "succeeded", True, "fault 'twice': duplicate x3: copy 1 of 3"),
        (1, "succeeded", True, "fault 'twice': duplicate x3: copy 2 of 3"),
        (1, "succeeded", True, "fault 'twice': duplicate x3: copy 3 of 3"),
    ]
    assert {d.at - fakeapi.tasks[0].created_at for d in fakeapi.deliveries} == {5.0}


async def test_which_callbacks_are_duplicated_by_chance_is_seeded(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    scenario = faults({"at": "webhook", "effect": "duplicate", "when": {"probability": 0.5}})
    runs = []
    for seed in (7, 7, 8):
        fakeapi.load_scenario(scenario, seed=seed)
        callback_sink.clear()
        for _ in range(12):
            await submit_with_callback(http, fakeapi, callback_sink)  # each task ends at once
        await fakeapi.clock.ashift(0)  # returns once every callback due has been answered
        assert len(callback_sink.received) == len(fakeapi.deliveries)
        runs.append([d.note is not None for d in fakeapi.deliveries if d.note is None or "copy 1" in d.note])
    assert runs[0] == runs[1], "the same seed duplicates the same callbacks"
    assert runs[0] != runs[2]
    assert len(runs[0]) == 12
    assert 2 <= runs[0].count(True) <= 10


@pytest.mark.fakeapi(
    scenario=faults({"at": "webhook", "effect": "duplicate", "when": {"first": 1}}, rules=FIVE_SECONDS)
)
async def test_only_the_first_copy_of_a_duplicate_is_retried(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    callback_sink.fail_next(2)
    await submit_with_callback(http, fakeapi, callback_sink)
    await fakeapi.clock.ashift(5)
    await fakeapi.clock.ashift(1)  # FoxAPI retries after 1 s
    await callback_sink.await_for(3)
    await fakeapi.clock.ashift(10)
    assert [(d.attempt, d.status, d.note) for d in fakeapi.deliveries] == [
        (1, 500, "fault: duplicate x2: copy 1 of 2"),
        (1, 500, "fault: duplicate x2: copy 2 of 2"),
        (2, 200, None),
    ]
    assert len(callback_sink.received) == 3


@pytest.mark.fakeapi(
    scenario=faults({"at": "webhook", "effect": "out_of_order", "when": {"nth": 2}}, rules=RIX_STEPS)
)
async def test_an_out_of_order_callback_arrives_after_a_later_state(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    task_id, _ = await rix_submit_with_callback(http, fakeapi, callback_sink)
    await fakeapi.clock.ashift(1)
    await callback_sink.await_for(1)
    assert [body["status"] for body in callback_sink.bodies()] == ["queued"], "in_progress is held back"
    await fakeapi.clock.ashift(1)
    received = await callback_sink.await_for(3)
    assert [(r.json()["id"], r.json()["status"]) for r in received] == [
        (task_id, "queued"),
        (task_id, "completed"),
        (task_id, "in_progress"),
    ]
    created = fakeapi.tasks[0].created_at
    assert [(d.state, d.at - created, d.note) for d in fakeapi.deliveries] == [
        ("queued", 0.0, None),
        ("succeeded", 2.0, None),
        ("running", 2.0, "fault: out_of_order: sent after the succeeded callback"),
    ]


@pytest.mark.fakeapi(scenario=faults({"at": "webhook", "effect": "out_of_order"}, rules=RIX_STEPS))
async def test_every_earlier_callback_held_arrives_after_the_final_one_in_its_own_order(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    await rix_submit_with_callback(http, fakeapi, callback_sink)
    await fakeapi.clock.ashift(2)
    received = await callback_sink.await_for(3)
    assert [r.json()["status"] for r in received] == ["completed", "queued", "in_progress"]


@pytest.mark.fakeapi(
    scenario=faults(
        {"at": "webhook", "effect": "out_of_order", "when": {"nth": 2}},
        {"at": "webhook", "effect": "duplicate", "when": {"nth": 3}},
        rules=RIX_STEPS,
    )
)
async def test_a_held_callback_follows_every_copy_of_the_later_one(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    await rix_submit_with_callback(http, fakeapi, callback_sink)
    await fakeapi.clock.ashift(2)
    received = await callback_sink.await_for(4)
    assert [r.json()["status"] for r in received] == ["queued", "completed", "completed", "in_progress"]


@pytest.mark.fakeapi(scenario=faults({"at": "webhook", "effect": "out_of_order"}, rules=FIVE_SECONDS))
async def test_a_final_callback_is_never_held_back(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    await submit_with_callback(http, fakeapi, callback_sink)  # FoxAPI calls back only at the end
    await fakeapi.clock.ashift(5)
    [received] = await callback_sink.await_for(1)
    assert received.json()["status"] == "completed"
    assert [d.note for d in fakeapi.deliveries] == [None]


@pytest.mark.fakeapi(
    scenario=faults({"name": "eager", "at": "webhook", "effect": "before_answer"}, rules=RIX_STEPS)
)
async def test_a_callback_before_the_submit_s_answer(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    callback_sink.delay = 0.05  # the answer waits for the receiver's, however long it takes
    task_id, received_before_answer = await rix_submit_with_callback(http, fakeapi, callback_sink)
    assert received_before_answer == 1
    [received] = callback_sink.received
    assert (received.json()["id"], received.json()["status"]) == (task_id, "queued")
    await fakeapi.clock.ashift(2)
    await callback_sink.await_for(3)
    assert [(d.state, d.note) for d in fakeapi.deliveries] == [
        ("queued", "fault 'eager': before_answer"),
        ("running", None),
        ("succeeded", None),
    ]


@pytest.mark.fakeapi(
    scenario=faults({"at": "webhook", "effect": "before_answer", "when": {"first": 1}}, rules=FIVE_SECONDS)
)
async def test_before_answer_acts_only_on_a_callback_due_at_the_submit(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    await submit_with_callback(http, fakeapi, callback_sink)  # FoxAPI's one callback comes at the end
    assert callback_sink.received == []
    await fakeapi.clock.ashift(5)
    await callback_sink.await_for(1)
    assert [d.note for d in fakeapi.deliveries] == [None]
    fakeapi.load_scenario(faults({"at": "webhook", "effect": "before_answer", "when": {"first": 1}}))
    _, received_before_answer = await rix_submit_with_callback(http, fakeapi, callback_sink)
    assert received_before_answer == 2, "a task that ends at once calls back at the submit"


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ({"at": "submit", "effect": "duplicate"}, "acts on webhook deliveries only"),
        ({"at": ["webhook", "poll"], "effect": "before_answer"}, "acts on webhook deliveries only"),
        ({"at": "webhook", "effect": "duplicate", "times": 1}, "greater than or equal to 2"),
        ({"at": "webhook", "effect": "reset", "times": 2}, "'times' belongs to a 'duplicate' fault"),
        ({"at": "webhook", "api": "apixo", "effect": "out_of_order"}, "apixo calls back only when a task"),
        ({"at": "webhook", "api": "foxapi", "effect": "out_of_order"}, "foxapi calls back only when"),
    ],
)
def test_delivery_faults_that_cannot_act_are_refused_naming_file_line_and_path(
    fault: dict[str, Any], words: str
) -> None:
    text = "faults:\n  - {at: poll, effect: reset}\n  - FAULT\nrules: [{phases: [{state: succeeded}]}]\n"
    with pytest.raises(ScenarioError) as error:
        parse_scenario(text.replace("FAULT", json.dumps(fault)), source="s.yaml")
    assert str(error.value).startswith("s.yaml:3: faults[1]")
    assert words in str(error.value)


def test_the_scenario_schema_shows_the_delivery_effects() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "fakeapi"), "scenarios", "schema"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    effects = {
        name: definition
        for name, definition in json.loads(result.stdout)["$defs"].items()
        if name.endswith("Fault")
    }
    assert effects["DuplicateFault"]["properties"]["times"]["default"] == 2
    assert {"OutOfOrderFault", "BeforeAnswerFault"} <= set(effects)


# -- rules v2 ------------------------------------------------------------------------------------

FAILED = {"state": "failed", "error": {"reason": "generation_failed", "message": "upstream hiccup"}}


async def rix_status(http: aiohttp.ClientSession, fakeapi: FakeApi, prompt: str, **headers: str) -> str:
    body = {**RIX_IMAGE, "input": {"prompt": prompt}}
    async with http.post(
        fakeapi.url_for("rixapi") + "/v1/task/submit", json=body, headers={**KEY, **headers}
    ) as r:
        answer = await r.json()
    return str(answer["status"])


@pytest.mark.fakeapi(
    scenario={
        "rules": [
            {"match": {"prompt": "retry me", "first": 2, "count_by": "prompt"}, "phases": [FAILED]},
            {"phases": [{"state": "succeeded"}]},
        ]
    }
)
async def test_fail_twice_then_succeed_per_prompt(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    first = [await rix_status(http, fakeapi, "retry me") for _ in range(3)]
    other = [await rix_status(http, fakeapi, "retry me too") for _ in range(3)]
    assert first == ["failed", "failed", "completed"]
    assert other == ["failed", "failed", "completed"], "each prompt has its own count"


@pytest.mark.fakeapi(
    scenario={
        "rules": [
            {"match": {"header": {"X-Fakeapi-Scenario": "broken"}}, "phases": [FAILED]},
            {
                "match": {"key": "sk-slow*"},
                "phases": [{"state": "queued", "for": "1h"}, {"state": "succeeded"}],
            },
            {"match": {"nth": 3}, "phases": [FAILED]},
            {"phases": [{"state": "succeeded"}]},
        ]
    }
)
async def test_rules_match_header_key_and_nth(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    assert await rix_status(http, fakeapi, "a", **{"x-fakeapi-scenario": "broken"}) == "failed"
    assert await rix_status(http, fakeapi, "b", Authorization="Bearer sk-slow-1") == "queued"
    assert [await rix_status(http, fakeapi, "c") for _ in range(4)] == [
        "completed",
        "completed",
        "failed",
        "completed",
    ]


@pytest.mark.fakeapi(
    scenario=faults(
        {"at": "download", "api": "pixapi", "effect": "status", "status": 404, "when": {"first": 1}}
    )
)
async def test_a_download_fault_knows_the_task_api(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    rix = json.loads((await submit(http, fakeapi))[2])
    async with http.get(fakeapi.task(rix["id"]).outputs[0]) as r:
        assert r.status == 200, "the fault is for Pixapi's files only"
    pix = json.loads((await submit(http, fakeapi, "pixapi"))[2])
    statuses = []
    for _ in range(2):
        async with http.get(fakeapi.task(pix["id"]).outputs[0]) as r:
            statuses.append(r.status)
    assert statuses == [404, 200]


@pytest.mark.fakeapi(scenario=faults({"at": "poll", "effect": "status", "status": 503}))
async def test_a_fault_does_not_hide_a_request_to_no_route(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    async with http.get(fakeapi.url_for("rixapi") + "/v9/nowhere", headers=KEY) as r:
        assert r.status == 404
    assert fakeapi.surprises[0].startswith("GET /rixapi/v9/nowhere matched no route")
    with pytest.raises(SurpriseError):
        fakeapi.check()


@pytest.mark.parametrize(
    ("point", "method", "api", "path", "body"),
    [
        ("submit", "POST", "pixapi", "/v1/images/generations", SUBMITS["pixapi"][1]),  # a sync request
        ("poll", "GET", "apixo", "/api/v1/apikeys/current-balance", None),  # an account read
    ],
)
async def test_sync_requests_are_submits_and_account_reads_polls(
    http: aiohttp.ClientSession,
    fakeapi: FakeApi,
    point: str,
    method: str,
    api: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    other = "poll" if point == "submit" else "submit"
    url = fakeapi.url_for(api) + path
    fakeapi.load_scenario(faults({"at": other, "effect": "status", "status": 503}))
    async with http.request(method, url, json=body, headers=KEY) as r:
        assert r.status == 200, "a fault at the other point leaves it alone"
    fakeapi.load_scenario(faults({"at": point, "effect": "status", "status": 503}))
    async with http.request(method, url, json=body, headers=KEY) as r:
        answer = await r.json()
        assert r.status == 503
        # In the API's own envelope: Pixapi's {"error": {"code": 503}}, APIXO's {"code": 503}.
        assert (answer["error"] if api == "pixapi" else answer)["code"] == 503
