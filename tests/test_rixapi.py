"""RixAPI over HTTP, through the fixture as a downstream suite would use it."""

from __future__ import annotations

import json
import socket
from typing import Any

import aiohttp
import pytest

from fakeapi import FakeApi, FakeServer, SurpriseError
from fakeapi.sink import CallbackSink

KEY = {"Authorization": "Bearer sk-test"}
VIDEO: dict[str, Any] = {
    "model": "kling-v2",
    "input": {"prompt": "a cat surfing", "duration": "5", "aspect_ratio": "16:9"},
}
IMAGE: dict[str, Any] = {"model": "flux-pro", "input": {"prompt": "a red fox"}}


class Rix:
    """A tiny RixAPI client, as the code under test would have."""

    def __init__(self, http: aiohttp.ClientSession, base: str, key: str | None = "sk-test") -> None:
        self.http, self.base = http, base
        self.headers = {"Authorization": f"Bearer {key}"} if key is not None else {}

    async def submit(self, body: Any) -> tuple[int, Any]:
        async with self.http.post(f"{self.base}/v1/task/submit", json=body, headers=self.headers) as r:
            return r.status, await r.json()

    async def get(self, task_id: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.base}/v1/task/{task_id}", headers=self.headers) as r:
            return r.status, await r.json()

    async def raw(self, method: str, path: str, data: bytes | None = None) -> tuple[int, Any, Any]:
        async with self.http.request(method, self.base + path, data=data, headers=self.headers) as r:
            return r.status, await r.json(), r.headers


@pytest.fixture
def rix(http: aiohttp.ClientSession, fakeapi: FakeApi) -> Rix:
    return Rix(http, fakeapi.url_for("rixapi"))


async def test_video_lifecycle_on_the_virtual_clock(rix: Rix, fakeapi: FakeApi) -> None:
    status, task = await rix.submit(VIDEO)
    assert status == 200
    assert task == {"id": task["id"], "status": "queued", "created_at": 1767225600}
    assert task["id"].startswith("task_")
    await fakeapi.clock.ashift(3)
    assert (await rix.get(task["id"]))[1]["status"] == "in_progress"
    await fakeapi.clock.ashift(27)
    status, done = await rix.get(task["id"])
    assert status == 200
    assert done["status"] == "completed"
    assert done["completed_at"] == 1767225630
    assert "error" not in done
    [url] = done["outputs"]
    async with rix.http.get(url) as r:
        body = await r.read()
        assert (r.status, r.content_type) == (200, "video/mp4")
    assert body[4:8] == b"ftyp"


async def test_image_output_is_a_png(rix: Rix, fakeapi: FakeApi) -> None:
    _, task = await rix.submit(IMAGE)
    await fakeapi.clock.ashift(5)
    _, done = await rix.get(task["id"])
    assert "usage" not in done  # flux is billed per call
    async with rix.http.get(done["outputs"][0]) as r:
        assert r.content_type == "image/png"
        assert (await r.read()).startswith(b"\x89PNG\r\n\x1a\n")


async def test_audio_output_is_a_wav_on_request(rix: Rix, fakeapi: FakeApi) -> None:
    input = {"gpt_description_prompt": "lofi", "output_format": "wav"}
    _, task = await rix.submit({"model": "suno/music", "input": input})
    await fakeapi.clock.ashift(20)
    _, done = await rix.get(task["id"])
    async with rix.http.get(done["outputs"][0]) as r:
        assert r.content_type == "audio/wav"
        assert (await r.read())[:4] == b"RIFF"


@pytest.mark.fakeapi(
    scenario={
        "rules": [
            {
                "match": {"prompt": "(?i)forbidden"},
                "phases": [
                    {"state": "queued", "for": "2s"},
                    {"state": "failed", "error": {"message": "content policy violation"}},
                ],
            },
            {"phases": [{"state": "queued", "for": "10m"}, {"state": "succeeded"}]},
        ]
    }
)
async def test_failed_lifecycle_and_a_ten_minute_job(rix: Rix, fakeapi: FakeApi) -> None:
    _, bad = await rix.submit({"model": "kling-v2", "input": {"prompt": "something FORBIDDEN"}})
    _, slow = await rix.submit(VIDEO)
    await fakeapi.clock.ashift(2)
    _, failed = await rix.get(bad["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == "content policy violation"
    assert failed["completed_at"] == failed["created_at"] + 2
    assert "outputs" not in failed
    assert (await rix.get(slow["id"]))[1]["status"] == "queued"
    await fakeapi.clock.ashift(598)
    assert (await rix.get(slow["id"]))[1]["status"] == "completed"


async def test_usage_by_billing_unit(rix: Rix, fakeapi: FakeApi) -> None:
    _, sora = await rix.submit({"model": "sora-2", "input": {"prompt": "waves", "duration": "8"}})
    _, seedance = await rix.submit(
        {"model": "doubao-seedance-1-0-pro", "input": {"prompt": "city", "duration": 5, "resolution": "480p"}}
    )
    assert "usage" not in (await rix.get(sora["id"]))[1]
    await fakeapi.clock.ashift(30)
    assert (await rix.get(sora["id"]))[1]["usage"] == {"type": "duration", "seconds": 8.0}
    usage = (await rix.get(seedance["id"]))[1]["usage"]
    assert usage["type"] == "tokens"
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["input_token_details"] == {"text_tokens": 2}  # zero image_tokens omitted
    assert usage["output_tokens"] == 854 * 480 * 24 * 5 // 1024


@pytest.mark.fakeapi("content-violation")
async def test_a_failed_task_reports_its_input_tokens_only(rix: Rix, fakeapi: FakeApi) -> None:
    _, seedance = await rix.submit(
        {
            "model": "doubao-seedance-1-0-pro",
            "input": {"prompt": "city", "duration": 5, "image": "https://x/a.png"},
        }
    )
    _, sora = await rix.submit({"model": "sora-2", "input": {"prompt": "waves", "duration": "8"}})
    await fakeapi.clock.ashift(1)
    failed = (await rix.get(seedance["id"]))[1]
    assert failed["status"] == "failed"
    assert failed["usage"] == {
        "type": "tokens",
        "input_tokens": 1026,
        "input_token_details": {"text_tokens": 2, "image_tokens": 1024},
        "output_tokens": 0,
        "total_tokens": 1026,
    }
    assert "usage" not in (await rix.get(sora["id"]))[1]  # no seconds of video were made


async def test_forced_outcomes_are_what_the_client_sees(rix: Rix, fakeapi: FakeApi) -> None:
    _, one = await rix.submit(VIDEO)
    _, two = await rix.submit(VIDEO)
    fakeapi.complete(one["id"])
    fakeapi.fail(two["id"], "upstream timeout")
    assert (await rix.get(one["id"]))[1]["status"] == "completed"
    assert (await rix.get(two["id"]))[1]["error"] == "upstream timeout"


async def test_unknown_fields_and_routing_headers_are_accepted(rix: Rix) -> None:
    body = {**VIDEO, "metadata": {"x": 1}, "input": {**VIDEO["input"], "watermark": False}}
    async with rix.http.post(
        f"{rix.base}/v1/task/submit",
        json=body,
        headers={**rix.headers, "X-Provider-Order": "official", "X-Provider-Only": "true"},
    ) as r:
        assert r.status == 200


@pytest.mark.parametrize("duration", ["inf", "nan", "-3", "soon", True])
async def test_odd_durations_fall_back_to_the_default(rix: Rix, fakeapi: FakeApi, duration: object) -> None:
    status, task = await rix.submit({"model": "sora-2", "input": {"prompt": "x", "duration": duration}})
    assert status == 200
    await fakeapi.clock.ashift(30)
    assert (await rix.get(task["id"]))[1]["usage"] == {"type": "duration", "seconds": 5.0}


@pytest.mark.fakeapi("instant")
async def test_marker_takes_the_scenario_positionally(rix: Rix) -> None:
    assert (await rix.submit(IMAGE))[1]["status"] == "completed"


async def test_tasks_are_private_to_their_key(rix: Rix, fakeapi: FakeApi) -> None:
    _, task = await rix.submit(VIDEO)
    other = Rix(rix.http, rix.base, key="sk-someone-else")
    status, body = await other.get(task["id"])
    assert status == 404
    assert body["error"]["code"] == "task_not_exist"


# -- errors --------------------------------------------------------------------------------------


def _envelope(body: Any, code: str = "") -> str:
    error = body["error"]
    assert error["type"] == "rix_api_error"
    assert error["code"] == code
    assert "(request id: " in error["message"]
    return str(error["message"])


@pytest.mark.parametrize("key", [None, ""])
async def test_missing_key_is_401(http: aiohttp.ClientSession, fakeapi: FakeApi, key: str | None) -> None:
    status, body = await Rix(http, fakeapi.url_for("rixapi"), key).submit(VIDEO)
    assert status == 401
    _envelope(body)


@pytest.mark.fakeapi(
    scenario={
        "accounts": {"open": False, "keys": {"sk-known": {}}},
        "rules": [{"phases": [{"state": "succeeded"}]}],
    }
)
async def test_unknown_key_is_401_when_accounts_are_closed(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    base = fakeapi.url_for("rixapi")
    assert (await Rix(http, base, "sk-stranger").submit(VIDEO))[0] == 401
    assert (await Rix(http, base, "sk-known").submit(VIDEO))[0] == 200


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "body: Input should be an object"),
        (json.dumps({"input": {}}).encode(), "model"),
        (json.dumps({"model": 7, "input": {}}).encode(), "model"),
        (json.dumps({"model": "kling-v2"}).encode(), "input"),
        (json.dumps({"model": "kling-v2", "input": "a cat"}).encode(), "input"),
        (json.dumps({"model": "kling-v2", "input": {}, "callback_url": "ftp://x"}).encode(), "callback_url"),
    ],
)
async def test_bad_bodies_are_400(rix: Rix, fakeapi: FakeApi, data: bytes, fragment: str) -> None:
    status, body, _ = await rix.raw("POST", "/v1/task/submit", data)
    assert status == 400
    assert fragment in _envelope(body, "invalid_request")
    assert fakeapi.tasks == []


async def test_unknown_model_is_400_model_not_support(rix: Rix) -> None:
    status, body = await rix.submit({"model": "no-such-model", "input": {}})
    assert status == 400
    assert _envelope(body).startswith("Model not support")


@pytest.mark.fakeapi(
    scenario={
        "models": {"accept_unknown": True, "unknown_kind": "video"},
        "rules": [{"phases": [{"state": "succeeded"}]}],
    }
)
async def test_unknown_models_accepted_on_request(rix: Rix) -> None:
    status, body = await rix.submit({"model": "no-such-model", "input": {}})
    assert (status, body["status"]) == (200, "completed")
    assert body["outputs"][0].endswith(".mp4")


async def test_unknown_task_is_404(rix: Rix) -> None:
    status, body = await rix.get("task_doesnotexist")
    assert status == 404
    _envelope(body, "task_not_exist")


@pytest.mark.fakeapi(
    scenario={
        "accounts": {"open": False, "keys": {"sk-test": {"balance": 1.0}}},
        "prices": {"kling-*": {"per_second": 0.1}},
        "rules": [{"phases": [{"state": "succeeded"}]}],
    }
)
async def test_balance_that_cannot_cover_the_job_is_403(rix: Rix, fakeapi: FakeApi) -> None:
    assert (await rix.submit(VIDEO))[0] == 200  # 5 s x 0.1
    assert fakeapi.balance("rixapi", "sk-test") == pytest.approx(0.5)
    status, body = await rix.submit({**VIDEO, "input": {"prompt": "x", "duration": "6"}})
    assert status == 403
    assert body["error"]["param"] == ""
    _envelope(body, "insufficient_user_quota")
    assert fakeapi.balance("rixapi", "sk-test") == pytest.approx(0.5)
    assert len(fakeapi.tasks) == 1


@pytest.mark.fakeapi(
    scenario={"accounts": {"open_key": {"rpm": 3}}, "rules": [{"phases": [{"state": "succeeded"}]}]}
)
async def test_requests_per_minute_cap_is_429_with_retry_after(rix: Rix, fakeapi: FakeApi) -> None:
    _, task = await rix.submit(VIDEO)
    await fakeapi.clock.ashift(20)
    await rix.get(task["id"])
    await rix.get(task["id"])
    status, body, headers = await rix.raw("GET", f"/v1/task/{task['id']}")
    assert status == 429
    assert headers["Retry-After"] == "40"
    _envelope(body)
    await fakeapi.clock.ashift(40)
    assert (await rix.get(task["id"]))[0] == 200


@pytest.mark.fakeapi(
    scenario={
        "accounts": {"open_key": {"max_concurrent": 2}},
        "rules": [{"phases": [{"state": "running", "for": "30s"}, {"state": "succeeded"}]}],
    }
)
async def test_concurrency_cap_is_429_until_a_task_finishes(rix: Rix, fakeapi: FakeApi) -> None:
    assert (await rix.submit(VIDEO))[0] == 200
    await fakeapi.clock.ashift(10)
    assert (await rix.submit(VIDEO))[0] == 200
    status, body, headers = await rix.raw("POST", "/v1/task/submit", json.dumps(VIDEO).encode())
    assert status == 429
    assert headers["Retry-After"] == "20"
    _envelope(body)
    await fakeapi.clock.ashift(20)
    assert (await rix.submit(VIDEO))[0] == 200


# -- billing routes -------------------------------------------------------------------------------

SUBSCRIPTION = "/v1/dashboard/billing/subscription"
BILLING_USAGE = "/v1/dashboard/billing/usage?start_date=2026-01-01&end_date=2026-01-31"


def subscription(limit: float) -> dict[str, Any]:
    return {
        "object": "billing_subscription",
        "has_payment_method": True,
        "soft_limit_usd": limit,
        "hard_limit_usd": limit,
        "system_hard_limit_usd": limit,
        "access_until": 0,
    }


@pytest.mark.fakeapi(
    scenario={
        "accounts": {"open": False, "keys": {"sk-test": {"balance": 2.0}}},
        "prices": {"kling-*": {"per_second": 0.1}},
        "apis": {"rixapi": {"charge": "success"}},
        "rules": [{"phases": [{"state": "queued", "for": "10s"}, {"state": "succeeded"}]}],
    }
)
async def test_billing_routes_follow_the_account(rix: Rix, fakeapi: FakeApi) -> None:
    assert (await rix.raw("GET", SUBSCRIPTION))[:2] == (200, subscription(2))
    assert (await rix.raw("GET", BILLING_USAGE))[:2] == (200, {"object": "list", "total_usage": 0})
    await rix.submit(VIDEO)  # 5 s x 0.1, held until it succeeds
    # What a client computes, hard_limit_usd - total_usage / 100, is what the key may still spend.
    assert (await rix.raw("GET", SUBSCRIPTION))[1] == subscription(2)
    assert (await rix.raw("GET", BILLING_USAGE))[1] == {"object": "list", "total_usage": 50}
    await fakeapi.clock.ashift(10)
    assert fakeapi.balance("rixapi", "sk-test") == pytest.approx(1.5)
    assert (await rix.raw("GET", SUBSCRIPTION))[1] == subscription(2)
    # The same routes without /v1, as new-api also serves them.
    assert (await rix.raw("GET", "/dashboard/billing/subscription"))[1] == subscription(2)
    assert (await rix.raw("GET", "/dashboard/billing/usage"))[1] == {"object": "list", "total_usage": 50}


async def test_billing_of_an_unlimited_key(rix: Rix) -> None:
    status, answer, headers = await rix.raw("GET", SUBSCRIPTION)
    assert (status, answer) == (200, subscription(100_000_000))
    assert headers["Content-Type"].startswith("application/json")
    assert (await rix.raw("GET", BILLING_USAGE))[1] == {"object": "list", "total_usage": 0}


@pytest.mark.parametrize("path", [SUBSCRIPTION, BILLING_USAGE])
async def test_billing_routes_need_a_key(http: aiohttp.ClientSession, fakeapi: FakeApi, path: str) -> None:
    status, body, _ = await Rix(http, fakeapi.url_for("rixapi"), None).raw("GET", path)
    assert status == 401
    _envelope(body)


async def test_unknown_route_is_404_and_a_surprise(rix: Rix, fakeapi: FakeApi) -> None:
    status, body, _ = await rix.raw("GET", "/v1/tasks")
    assert status == 404
    assert _envelope(body).startswith("Invalid URL (GET /v1/tasks)")
    with pytest.raises(SurpriseError, match="GET /rixapi/v1/tasks matched no route"):
        fakeapi.check()


async def test_oversized_body_is_413(rix: Rix) -> None:
    status, body, _ = await rix.raw("POST", "/v1/task/submit", b"x" * (33 * 1024 * 1024))
    assert status == 413
    _envelope(body, "invalid_request")


# -- callbacks -----------------------------------------------------------------------------------


async def test_callback_on_every_status_change_equals_the_query(
    rix: Rix, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    _, task = await rix.submit({**VIDEO, "callback_url": callback_sink.url})
    await callback_sink.await_for(1)
    await fakeapi.clock.ashift(3)
    _, running = await rix.get(task["id"])
    await fakeapi.clock.ashift(60)
    _, done = await rix.get(task["id"])
    assert callback_sink.bodies() == [task, running, done]
    assert [r.headers["Content-Type"] for r in callback_sink.received] == ["application/json"] * 3


async def test_failing_receiver_is_retried_with_backoff(
    rix: Rix, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    callback_sink.fail_next(2, status=503)
    await rix.submit({**IMAGE, "callback_url": callback_sink.url})
    await callback_sink.await_for(1)
    await fakeapi.clock.ashift(0.5)  # the in_progress callback is due at 1 s: nothing new yet
    assert len(callback_sink.received) == 1
    await fakeapi.clock.ashift(70)
    attempts = [(d.state, d.attempt, d.status, d.delivered) for d in fakeapi.deliveries]
    assert attempts == [
        ("queued", 1, 503, False),
        ("running", 1, 503, False),
        ("succeeded", 1, 200, True),
        ("queued", 2, 200, True),
        ("running", 2, 200, True),
    ]


async def test_refused_connection_is_logged_and_retried(rix: Rix, fakeapi: FakeApi) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    await rix.submit({**IMAGE, "callback_url": dead})
    await fakeapi.clock.ashift(400)
    queued = [d for d in fakeapi.deliveries if d.state == "queued"]
    assert [d.attempt for d in queued] == [1, 2, 3, 4]
    assert [d.at - queued[0].at for d in queued] == [0, 10, 70, 370]
    assert all(d.status is None and d.error for d in queued)


# -- determinism ---------------------------------------------------------------------------------


async def _script(port: int) -> list[bytes]:
    server = FakeServer("default", seed=42, clock="virtual", port=port)
    out: list[bytes] = []
    async with server, aiohttp.ClientSession(headers=KEY) as http:
        base = server.url_for("rixapi")
        ids = []
        for body in (VIDEO, IMAGE, {"model": "nope", "input": {}}):
            async with http.post(f"{base}/v1/task/submit", json=body) as r:
                out.append(await r.read())
                ids.append(json.loads(out[-1]).get("id"))
        await server.engine.shift(40)
        for task_id in ids[:2]:
            async with http.get(f"{base}/v1/task/{task_id}") as r:
                out.append(await r.read())
        port = server.port
    return out


async def test_same_seed_gives_byte_identical_responses() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    first, second = await _script(port), await _script(port)
    assert first == second
    assert len(set(first)) == len(first)
