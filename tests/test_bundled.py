"""Every bundled scenario, shown over HTTP on each API it applies to.

One small uniform client per API (submit a prompt, poll a task, read the API's state word) lets one
test per scenario run against all four APIs; each API's own words, statuses and error envelopes are
in the tables below.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from fakeapi import FakeApi
from fakeapi.providers.apixo import provider as apixo_provider
from fakeapi.providers.foxapi import provider as foxapi_provider
from fakeapi.providers.rixapi import provider as rixapi_provider
from fakeapi.scenario import bundled_names
from fakeapi.sink import CallbackSink

KEY = "sk-test"
APIS = ("rixapi", "apixo", "foxapi", "pixapi")
WITH_CALLBACKS = ("rixapi", "apixo", "foxapi")  # Pixapi documents no webhooks
T0 = 1767225600  # the fixture's clock start, 2026-01-01T00:00:00Z
# Each API's word for the canonical states queued, running, succeeded, failed.
WORDS: dict[str, tuple[str, str, str, str]] = {
    "rixapi": ("queued", "in_progress", "completed", "failed"),
    "apixo": ("pending", "processing", "success", "failed"),
    "foxapi": ("pending", "processing", "completed", "failed"),
    "pixapi": ("submitted", "processing", "completed", "failed"),
}
QUEUED, RUNNING, DONE, FAILED = range(4)
REQUEST_ID = re.compile(r" \(request id: \d{14}[a-z0-9]{8}\)$")

Submitted = tuple[int, Any, str | None]  # HTTP status, JSON body, task id (None if refused)
Polled = tuple[int, Any, str | None]  # HTTP status, JSON body, the API's state word (None if an error)


class Client(Protocol):
    api: str
    headers: CIMultiDictProxy[str] | None  # the last answer's headers

    async def submit(self, prompt: str, callback_url: str | None = None) -> Submitted: ...

    async def poll(self, task_id: str) -> Polled: ...


@dataclass
class _Http:
    http: aiohttp.ClientSession
    base: str
    headers: CIMultiDictProxy[str] | None = field(default=None, init=False)

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        auth = {"Authorization": f"Bearer {KEY}"}
        async with self.http.request(method, self.base + path, headers=auth, **kwargs) as r:
            self.headers = r.headers
            return r.status, await r.json(content_type=None)


@dataclass
class Rix(_Http):
    api: str = "rixapi"

    async def submit(self, prompt: str, callback_url: str | None = None) -> Submitted:
        body: dict[str, Any] = {"model": "flux-pro", "input": {"prompt": prompt}}
        if callback_url is not None:
            body["callback_url"] = callback_url
        status, answer = await self.call("POST", "/v1/task/submit", json=body)
        return status, answer, answer["id"] if status == 200 else None

    async def poll(self, task_id: str) -> Polled:
        status, answer = await self.call("GET", f"/v1/task/{task_id}")
        return status, answer, answer["status"] if status == 200 else None


@dataclass
class Apixo(_Http):
    """nano-banana, an image model, so that the default scenario's image timings apply."""

    api: str = "apixo"
    model: str = "nano-banana"

    async def submit(self, prompt: str, callback_url: str | None = None) -> Submitted:
        body: dict[str, Any] = {"input": {"mode": "text-to-image", "prompt": prompt}}
        if callback_url is not None:
            body |= {"request_type": "callback", "callback_url": callback_url}
        status, answer = await self.call("POST", f"/api/v1/generateTask/{self.model}", json=body)
        return status, answer, answer["data"]["taskId"] if status == 200 else None

    async def poll(self, task_id: str) -> Polled:
        status, answer = await self.call(
            "GET", f"/api/v1/statusTask/{self.model}", params={"taskId": task_id}
        )
        return status, answer, answer["data"]["state"] if status == 200 else None


@dataclass
class Fox(_Http):
    api: str = "foxapi"

    async def submit(self, prompt: str, callback_url: str | None = None) -> Submitted:
        body: dict[str, Any] = {"model": "gemini-3-pro-image-preview", "prompt": prompt}
        if callback_url is not None:
            body["callback_url"] = callback_url
        status, answer = await self.call("POST", "/v1/images/generations", json=body)
        return status, answer, answer["id"] if status == 200 else None

    async def poll(self, task_id: str) -> Polled:
        status, answer = await self.call("GET", f"/v1/tasks/{task_id}")
        return status, answer, answer["status"] if status == 200 else None


@dataclass
class Pix(_Http):
    api: str = "pixapi"

    async def submit(self, prompt: str, callback_url: str | None = None) -> Submitted:
        assert callback_url is None, "Pixapi has no callbacks"
        body = {"model": "gemini-2.5-flash-image", "prompt": prompt}
        status, answer = await self.call("POST", "/v1/async/images/generations", json=body)
        return status, answer, answer["id"] if status == 200 else None

    async def poll(self, task_id: str) -> Polled:
        status, answer = await self.call("GET", f"/v1/tasks/{task_id}")
        return status, answer, answer["status"] if status == 200 else None


CLIENTS: dict[str, type[Rix | Apixo | Fox | Pix]] = {
    "rixapi": Rix,
    "apixo": Apixo,
    "foxapi": Fox,
    "pixapi": Pix,
}


@pytest.fixture(params=APIS)
def api(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def client(api: str, http: aiohttp.ClientSession, fakeapi: FakeApi) -> Client:
    return CLIENTS[api](http, fakeapi.url_for(api))


def word(api: str, state: int) -> str:
    return WORDS[api][state]


def plain(body: Any) -> Any:
    """An error body with RixAPI's per-request ``(request id: ...)`` suffix taken off its message."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("type") == "rix_api_error":
        message, found = REQUEST_ID.subn("", error["message"])
        assert found == 1, f"a RixAPI error message ends with its request id: {error['message']!r}"
        return {**body, "error": {**error, "message": message}}
    return body


async def submitted(client: Client, prompt: str = "a red fox", callback_url: str | None = None) -> str:
    """Submit and return the task id, failing the test on anything but success."""
    status, body, task_id = await client.submit(prompt, callback_url)
    assert status == 200, body
    assert task_id is not None
    return task_id


async def state_of(client: Client, task_id: str) -> str | None:
    status, body, state = await client.poll(task_id)
    assert status == 200, body
    return state


def test_every_bundled_scenario_is_exercised_here() -> None:
    exercised = {"default", "instant", "manual", "poll-count", "slow-queue", "content-violation"}
    exercised |= {"rate-limited", "out-of-credits", "flaky-5xx", "webhook-receiver-down"}
    assert set(bundled_names()) == exercised


# -- default, instant, manual, poll-count -------------------------------------------------------


@pytest.mark.fakeapi(scenario="default")
async def test_default_an_image_is_done_after_5_seconds(client: Client, fakeapi: FakeApi) -> None:
    task_id = await submitted(client)
    seen = [await state_of(client, task_id)]
    for _ in range(5):
        await fakeapi.clock.ashift(1)
        seen.append(await state_of(client, task_id))
    api = client.api
    assert seen == [word(api, QUEUED)] + [word(api, RUNNING)] * 4 + [word(api, DONE)]
    assert fakeapi.timeline(task_id) == [("queued", T0), ("running", T0 + 1), ("succeeded", T0 + 5)]


@pytest.mark.fakeapi(scenario="instant")
async def test_instant_is_completed_on_the_first_poll(client: Client, fakeapi: FakeApi) -> None:
    task_id = await submitted(client)
    assert await state_of(client, task_id) == word(client.api, DONE)
    assert fakeapi.clock.now() == T0, "no clock time passed"


@pytest.mark.fakeapi(scenario="manual")
async def test_manual_runs_until_the_test_completes_it(client: Client, fakeapi: FakeApi) -> None:
    task_id = await submitted(client)
    await fakeapi.clock.ashift(3600)
    assert await state_of(client, task_id) == word(client.api, RUNNING)
    fakeapi.complete(task_id)
    assert await state_of(client, task_id) == word(client.api, DONE)


@pytest.mark.fakeapi(scenario="poll-count")
async def test_poll_count_progresses_by_polls_whatever_the_clock(client: Client, fakeapi: FakeApi) -> None:
    task_id = await submitted(client)
    seen = []
    for _ in range(4):
        seen.append(await state_of(client, task_id))
        await fakeapi.clock.ashift(3600)  # time alone moves nothing
    api = client.api
    assert seen == [word(api, QUEUED), word(api, RUNNING), word(api, RUNNING), word(api, DONE)]
    fresh = await submitted(client)
    await fakeapi.clock.ashift(24 * 3600)
    assert await state_of(client, fresh) == word(api, QUEUED), "a day later, its first poll"


# -- slow-queue ---------------------------------------------------------------------------------


@pytest.mark.fakeapi(scenario="slow-queue")
async def test_slow_queue_is_long_and_seeded(client: Client, fakeapi: FakeApi) -> None:
    timelines = []
    for _ in range(2):
        task_id = await submitted(client)
        await fakeapi.clock.ashift(60)
        assert await state_of(client, task_id) == word(client.api, QUEUED), "still queued after a minute"
        await fakeapi.clock.ashift(2 * 3600)
        assert await state_of(client, task_id) == word(client.api, DONE)
        timelines.append(fakeapi.timeline(task_id))
        fakeapi.load_scenario("slow-queue")  # the same run again, with the scenario's seed (0)
    [(_, queued), (_, running), (_, done)] = timelines[0]
    assert queued == T0
    assert 60 < running - queued < 2 * 3600
    assert done - running == 30
    assert timelines[1] == timelines[0], "the same seed draws the same queue time"
    fakeapi.load_scenario("slow-queue", seed=1)
    other = await submitted(client)
    await fakeapi.clock.ashift(3 * 3600)
    assert fakeapi.timeline(other)[1] != timelines[0][1], "another seed, another queue time"


# -- content-violation --------------------------------------------------------------------------

# Where each API says why a task failed, and what it says for a content violation.
FAILURE_FIELDS: dict[str, Callable[[Any], Any]] = {
    "rixapi": lambda body: body["error"],  # a string: RixAPI has no failure code
    "apixo": lambda body: {k: body["data"][k] for k in ("failCode", "failMsg")},
    "foxapi": lambda body: body["error"],
    "pixapi": lambda body: body["error"],
}
FLAGGED = "the request was flagged by content moderation"
VIOLATIONS: dict[str, Any] = {
    "rixapi": FLAGGED,
    "apixo": {"failCode": "CONTENT_VIOLATION", "failMsg": "The request violates safety guidelines"},
    "foxapi": {"code": "content_violation", "message": FLAGGED, "type": "task_error"},
    "pixapi": {"code": 422, "message": FLAGGED, "type": "prompt_rejected"},
}


@pytest.mark.fakeapi(scenario="content-violation")
async def test_content_violation_fails_in_the_apis_words(client: Client, fakeapi: FakeApi) -> None:
    task_id = await submitted(client, "a perfectly harmless cat")
    assert await state_of(client, task_id) == word(client.api, QUEUED)
    await fakeapi.clock.ashift(1)
    status, body, state = await client.poll(task_id)
    assert (status, state) == (200, word(client.api, FAILED))
    assert FAILURE_FIELDS[client.api](body) == VIOLATIONS[client.api]
    assert fakeapi.timeline(task_id) == [("queued", T0), ("failed", T0 + 1)]


@pytest.mark.fakeapi(scenario="content-violation")
async def test_content_violation_on_pixapis_sync_endpoint_is_a_422(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    body = {"model": "gemini-2.5-flash-image", "prompt": "a cat"}
    url = fakeapi.url_for("pixapi") + "/v1/images/generations"
    async with http.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}) as r:
        assert r.status == 422
        assert await r.json() == {"error": {"code": 422, "message": FLAGGED, "type": "prompt_rejected"}}
    assert fakeapi.clock.now() == T0 + 1, "the sync request waited for the task's 1 s in the queue"
    assert fakeapi.balance("pixapi", KEY) is None


# -- rate-limited -------------------------------------------------------------------------------

# The 429 of each API: the body of a refused 3rd unfinished task, then of the 6th request in a minute.
TOO_MANY_TASKS: dict[str, Any] = {
    "rixapi": {
        "error": {
            "message": "concurrency limit of 2 unfinished tasks reached",
            "type": "rix_api_error",
            "code": "",
        }
    },
    "apixo": {"code": 429, "message": "Concurrent task limit exceeded", "data": None},
    "foxapi": {
        "error": {"message": "concurrency limit of 2 unfinished tasks reached", "type": "rate_limit_error"}
    },
    "pixapi": {
        "error": {
            "code": 429,
            "message": "concurrency limit of 2 unfinished tasks reached",
            "type": "rate_limited",
        }
    },
}
RATE_LIMITED: dict[str, Any] = {
    "rixapi": {
        "error": {
            "message": "rate limit of 5 requests per minute reached",
            "type": "rix_api_error",
            "code": "",
        }
    },
    "apixo": {"code": 429, "message": "Rate limit exceeded", "data": None},
    "foxapi": {
        "error": {"message": "rate limit of 5 requests per minute reached", "type": "rate_limit_error"}
    },
    "pixapi": {
        "error": {
            "code": 429,
            "message": "rate limit of 5 requests per minute reached",
            "type": "rate_limited",
        }
    },
}


@pytest.mark.fakeapi(scenario="rate-limited")
async def test_rate_limited_caps_requests_and_unfinished_tasks(client: Client, fakeapi: FakeApi) -> None:
    api = client.api
    first = await submitted(client)  # request 1
    second = await submitted(client)  # request 2
    status, body, task_id = await client.submit("a third one")  # request 3: a 3rd unfinished task
    assert (status, task_id, plain(body)) == (429, None, TOO_MANY_TASKS[api])
    assert client.headers is not None
    assert client.headers["Retry-After"] == "10", "the first unfinished task ends in 10 s"
    assert len(fakeapi.tasks) == 2
    assert await state_of(client, first) == word(api, QUEUED)  # request 4
    assert await state_of(client, second) == word(api, QUEUED)  # request 5

    status, body, state = await client.poll(first)  # request 6 within the minute
    assert (status, state, plain(body)) == (429, None, RATE_LIMITED[api])
    assert client.headers["Retry-After"] == "60"
    await fakeapi.clock.ashift(59)
    assert (await client.poll(first))[0] == 429, "the window has not moved on yet"

    await fakeapi.clock.ashift(1)
    assert await state_of(client, first) == word(api, DONE)
    assert await state_of(client, second) == word(api, DONE)
    await submitted(client, "now there is room")
    await submitted(client, "for two")
    assert (await client.submit("but not three"))[0] == 429
    assert len(fakeapi.tasks) == 4


# -- out-of-credits -----------------------------------------------------------------------------

INSUFFICIENT: dict[str, tuple[int, Any]] = {
    "rixapi": (
        403,
        {
            "error": {
                "message": "预扣费额度失败, 用户剩余额度不足",
                "type": "rix_api_error",
                "param": "",
                "code": "insufficient_user_quota",
            }
        },
    ),
    "apixo": (402, {"code": 402, "message": "Insufficient balance", "data": None}),
    "foxapi": (402, {"error": {"message": "Insufficient account balance", "type": "insufficient_quota"}}),
    "pixapi": (
        402,
        {
            "error": {
                "code": 402,
                "message": "Not enough credits for this request.",
                "type": "insufficient_credits",
            }
        },
    ),
}


@pytest.mark.fakeapi(scenario="out-of-credits")
async def test_out_of_credits_refuses_the_third_task(client: Client, fakeapi: FakeApi) -> None:
    api = client.api
    assert fakeapi.balance(api, KEY) == 2
    first = await submitted(client)
    second = await submitted(client)
    # Pixapi holds the price at submit and takes it on success; the others take it at submit.
    assert fakeapi.balance(api, KEY) == (2 if api == "pixapi" else 0)
    refused, envelope = INSUFFICIENT[api]
    status, body, task_id = await client.submit("one too many")
    assert (status, task_id, plain(body)) == (refused, None, envelope)
    assert len(fakeapi.tasks) == 2, "the refused submit created nothing"

    await fakeapi.clock.ashift(5)
    assert await state_of(client, first) == word(api, DONE)
    assert await state_of(client, second) == word(api, DONE)
    assert fakeapi.balance(api, KEY) == 0
    assert (await client.submit("still broke"))[0] == refused
    assert len(fakeapi.tasks) == 2


@pytest.mark.fakeapi(scenario="out-of-credits")
async def test_out_of_credits_pixapi_takes_held_credits_when_the_task_succeeds(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    client = Pix(http, fakeapi.url_for("pixapi"))
    task_id = await submitted(client)
    await fakeapi.clock.ashift(5)
    assert fakeapi.task(task_id).state == "succeeded"
    assert fakeapi.balance("pixapi", KEY) == 1, "its credit is taken once it has succeeded, polled or not"


# -- flaky-5xx ----------------------------------------------------------------------------------

UNAVAILABLE: dict[str, Any] = {
    "rixapi": {"error": {"message": "Service Unavailable", "type": "rix_api_error", "code": ""}},
    "apixo": {"code": 503, "message": "Service unavailable", "data": None},
    "foxapi": {"error": {"message": "Service Unavailable", "type": "service_unavailable_error"}},
    "pixapi": {"error": {"code": 503, "message": "Service Unavailable", "type": "model_unavailable"}},
}
SERVER_ERROR: dict[str, Any] = {
    "rixapi": {"error": {"message": "Internal Server Error", "type": "rix_api_error", "code": ""}},
    "apixo": {"code": 500, "message": "Internal server error", "data": None},
    "foxapi": {"error": {"message": "Internal Server Error", "type": "server_error"}},
    "pixapi": {"error": {"code": 500, "message": "Internal Server Error", "type": "internal_error"}},
}
SUBMITS = 20
# Seed 0's draws, the same on every API (each fault draws once per request it matches): submits 1, 8,
# 13 and 20 answer 503. aiohttp retries a GET once when its connection is reset, so a client sees a
# reset only when the retry is reset too: on the 162nd poll, after 32 answered 500 and 129 answered
# 200, and after 12 resets that the journal shows but aiohttp hid.
SUBMIT_503S = [1, 8, 13, 20]
VISIBLE_RESET_AT, POLL_500S, POLL_RESETS = 162, 32, 12


async def flaky_submits(client: Client, fakeapi: FakeApi) -> tuple[list[int], list[str]]:
    """``SUBMITS`` submits, 6 s of clock apart so each task ends first (APIXO caps unfinished tasks)."""
    statuses, ids = [], []
    for n in range(SUBMITS):
        status, body, task_id = await client.submit(f"attempt {n}")
        statuses.append(status)
        if status == 503:
            assert plain(body) == UNAVAILABLE[client.api]
        else:
            assert status == 200, body
            assert task_id is not None
            ids.append(task_id)
        await fakeapi.clock.ashift(6)
    return statuses, ids


@pytest.mark.fakeapi(scenario="flaky-5xx")
async def test_flaky_5xx_fails_some_requests_the_same_way_every_run(client: Client, fakeapi: FakeApi) -> None:
    api = client.api
    statuses, ids = await flaky_submits(client, fakeapi)
    assert [n for n, status in enumerate(statuses, 1) if status == 503] == SUBMIT_503S
    assert statuses.count(200) == SUBMITS - len(SUBMIT_503S)
    assert [t.id for t in fakeapi.tasks] == ids, "a 503 created no task"

    outcomes: list[int | str] = []
    while not outcomes or isinstance(outcomes[-1], int):
        assert len(outcomes) < VISIBLE_RESET_AT, "no reset reached the client"
        try:
            status, body, state = await client.poll(ids[0])
        except aiohttp.ClientError as exc:  # ServerDisconnectedError or ClientOSError
            outcomes.append(type(exc).__name__)
            continue
        outcomes.append(status)
        if status == 500:
            assert plain(body) == SERVER_ERROR[api]
        else:
            assert (status, state) == (200, word(api, DONE)), body
        await fakeapi.clock.ashift(2)  # keeps APIXO under its 60 requests a minute
    assert len(outcomes) == VISIBLE_RESET_AT
    assert outcomes[-1] in ("ServerDisconnectedError", "ClientOSError")
    assert (outcomes.count(500), outcomes.count(200)) == (POLL_500S, VISIBLE_RESET_AT - 1 - POLL_500S)
    resets = [e.status for e in fakeapi.journal if "fault 'poll-reset': reset" in e.notes]
    assert resets == [499] * POLL_RESETS

    fakeapi.load_scenario("flaky-5xx")
    again, _ = await flaky_submits(client, fakeapi)
    assert again == statuses, "the same seed fails the same submits"


# -- webhook-receiver-down ----------------------------------------------------------------------

POLICIES = {
    "rixapi": rixapi_provider.PROFILE.callbacks,
    "apixo": apixo_provider.PROFILE.callbacks,
    "foxapi": foxapi_provider.PROFILE.callbacks,
}
# Attempts in all: RixAPI calls back on each of 3 states, 1 + 3 retries each; the others once at
# the end, 1 + 3 retries.
ATTEMPTS = {"rixapi": 12, "apixo": 4, "foxapi": 4}


@pytest.mark.parametrize("api", WITH_CALLBACKS, indirect=True)
@pytest.mark.fakeapi(scenario="webhook-receiver-down")
async def test_webhook_receiver_down_retries_then_gives_up(
    client: Client, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    api = client.api
    policy = POLICIES[api]
    task_id = await submitted(client, callback_url=callback_sink.url)
    await fakeapi.clock.ashift(5 + sum(policy.retry_delays) + 1)

    assert callback_sink.received == []
    # RixAPI calls back on every state change, the others once at the end.
    states = ["queued", "running", "succeeded"] if policy.on == "every_change" else ["succeeded"]
    attempts = [(d.state, d.attempt) for d in fakeapi.deliveries]
    assert sorted(attempts) == sorted((s, n) for s in states for n in range(1, 2 + len(policy.retry_delays)))
    assert len(attempts) == ATTEMPTS[api] == len(states) * (1 + len(policy.retry_delays))
    for delivery in fakeapi.deliveries:
        assert (delivery.task_id, delivery.url) == (task_id, callback_sink.url)
        assert (delivery.status, delivery.delivered) == (None, False)
        assert delivery.error == "fault 'receiver-down': reset: connection reset"
    final = [d.at for d in fakeapi.deliveries if d.state == "succeeded"]
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(final)]
    assert final[0] == T0 + 5
    assert gaps == list(policy.retry_delays), "retried on the API's own schedule"

    await fakeapi.clock.ashift(24 * 3600)
    assert len(fakeapi.deliveries) == len(attempts), "then it gives up"
    assert await state_of(client, task_id) == word(api, DONE), "polling still finds the result"
