"""APIXO over HTTP, through the fixture as a downstream suite would use it."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
import pytest

from fakeapi import FakeApi, SurpriseError
from fakeapi.catalogue import ACCEPT_UNKNOWN_HINT
from fakeapi.providers.apixo import provider as apixo_provider
from fakeapi.scenario import FailureReason
from fakeapi.sink import CallbackSink

T0_MS = 1767225600000
DAY = 24 * 3600
TEXT_TO_VIDEO: dict[str, Any] = {
    "mode": "text-to-video",
    "prompt": "a cinematic flyover of a futuristic city at sunrise",
    "resolution": "720p",
    "duration": 8,
    "style": "general",
    "aspect_ratio": "16:9",
    "sound": True,
    "bgm": True,
}
IMAGE_TO_VIDEO: dict[str, Any] = {
    "mode": "image-to-video",
    "prompt": "the cat turns its head",
    "image_urls": ["https://example.com/cat.png"],
}
FAILING_SCENARIO: dict[str, Any] = {
    "rules": [
        {
            "match": {"prompt": "forbidden"},
            "phases": [
                {"state": "queued", "for": "2s"},
                {"state": "failed", "error": {"reason": "content_violation"}},
            ],
        },
        {"phases": [{"state": "queued", "for": "1s"}, {"state": "succeeded"}]},
    ]
}


class Apixo:
    """A small APIXO client, as the code under test would have."""

    def __init__(self, http: aiohttp.ClientSession, base: str, key: str | None = "sk-test") -> None:
        self.http, self.base = http, base
        self.headers = {"Authorization": f"Bearer {key}"} if key is not None else {}

    async def generate(self, model: str, body: Any) -> tuple[int, Any]:
        status, answer, _ = await self.call("POST", f"/api/v1/generateTask/{model}", json=body)
        return status, answer

    async def submit(self, model: str = "vidu-q3", **body: Any) -> str:
        """Submit and return the task id, failing the test on anything but success."""
        status, answer = await self.generate(model, {"input": TEXT_TO_VIDEO, **body})
        assert (status, answer["code"]) == (200, 200), answer
        task_id: str = answer["data"]["taskId"]
        return task_id

    async def status(self, task_id: str, model: str = "vidu-q3") -> tuple[int, Any]:
        status, answer, _ = await self.call("GET", f"/api/v1/statusTask/{model}", params={"taskId": task_id})
        return status, answer

    async def balance(self) -> Any:
        status, answer, _ = await self.call("GET", "/api/v1/apikeys/current-balance")
        assert status == 200, answer
        return answer["data"]

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any, Any]:
        async with self.http.request(method, self.base + path, headers=self.headers, **kwargs) as r:
            return r.status, await r.json(content_type=None), r.headers


@pytest.fixture
def apixo(http: aiohttp.ClientSession, fakeapi: FakeApi) -> Apixo:
    return Apixo(http, fakeapi.url_for("apixo"))


def error(status: int, message: str, data: Any = None) -> dict[str, Any]:
    return {"code": status, "message": message, "data": data}


def bad_request(detail: str) -> dict[str, Any]:
    return error(400, "Invalid request", {"error": detail})


# -- the task lifecycle ---------------------------------------------------------------------------


async def test_polling_client_on_the_virtual_clock(apixo: Apixo, fakeapi: FakeApi) -> None:
    status, answer = await apixo.generate("vidu-q3", {"request_type": "async", "input": TEXT_TO_VIDEO})
    assert status == 200
    task_id = answer["data"]["taskId"]
    assert answer == {"code": 200, "message": "success", "data": {"taskId": task_id}}
    assert re.fullmatch(r"task_[0-9a-f]{16}", task_id)

    _, pending = await apixo.status(task_id)
    assert pending == {
        "code": 200,
        "message": "success",
        "data": {"taskId": task_id, "state": "pending", "createTime": T0_MS},
    }
    seen = ["pending"]
    while (state := seen[-1]) not in ("success", "failed"):
        await fakeapi.clock.ashift(5)
        _, answer = await apixo.status(task_id)
        if answer["data"]["state"] != state:
            seen.append(answer["data"]["state"])
    assert seen == ["pending", "processing", "success"]
    data = answer["data"]
    assert list(data) == ["taskId", "state", "resultJson", "createTime", "completeTime", "costTime"]
    assert isinstance(data["resultJson"], str)
    [url] = json.loads(data["resultJson"])["resultUrls"]
    assert (data["createTime"], data["completeTime"], data["costTime"]) == (T0_MS, T0_MS + 30000, 30000)
    async with apixo.http.get(url) as r:
        assert (r.status, r.content_type) == (200, "video/mp4")
        assert (await r.read())[4:8] == b"ftyp"


async def test_submit_records_defaults_and_routing(apixo: Apixo, fakeapi: FakeApi) -> None:
    plain = await apixo.submit(input={"mode": "text-to-video", "prompt": "waves"})
    routed = await apixo.submit(provider="official")
    channel = await apixo.submit(provider="some-channel-7")
    params = fakeapi.task(plain).params
    assert {k: params[k] for k in ("resolution", "duration", "sound", "bgm", "provider", "request_type")} == {
        "resolution": "720p",
        "duration": 5,
        "sound": True,
        "bgm": True,
        "provider": "auto",
        "request_type": "async",
    }
    assert fakeapi.task(routed).params["provider"] == "official"
    assert fakeapi.task(channel).params["provider"] == "some-channel-7"


async def test_failed_task_still_answers_200_with_code_and_message(apixo: Apixo, fakeapi: FakeApi) -> None:
    task_id = await apixo.submit()
    await fakeapi.clock.ashift(3)
    fakeapi.fail(task_id, reason="invalid_image_url")
    status, answer = await apixo.status(task_id)
    assert (status, answer["code"], answer["message"]) == (200, 200, "success")
    assert answer["data"] == {
        "taskId": task_id,
        "state": "failed",
        "failCode": "INVALID_IMAGE_URL",
        "failMsg": "The provided image URL could not be fetched",
        "createTime": T0_MS,
        "completeTime": T0_MS + 3000,
    }


@pytest.mark.fakeapi(scenario=FAILING_SCENARIO)
async def test_scenario_failure_uses_the_model_page_fail_codes(apixo: Apixo, fakeapi: FakeApi) -> None:
    task_id = await apixo.submit(input={**TEXT_TO_VIDEO, "prompt": "something forbidden"})
    await fakeapi.clock.ashift(2)
    data = (await apixo.status(task_id))[1]["data"]
    assert (data["failCode"], data["failMsg"]) == (
        "CONTENT_VIOLATION",
        "The request violates safety guidelines",
    )
    other = await apixo.submit()
    fakeapi.fail(other, "Content violates usage policy", code="SensitiveContent")
    data = (await apixo.status(other))[1]["data"]
    assert (data["failCode"], data["failMsg"]) == ("SensitiveContent", "Content violates usage policy")


@pytest.mark.fakeapi(scenario={**FAILING_SCENARIO, "apis": {"apixo": {"fail_codes": "provider"}}})
async def test_provider_style_fail_codes_by_scenario(apixo: Apixo, fakeapi: FakeApi) -> None:
    task_id = await apixo.submit(input={**TEXT_TO_VIDEO, "prompt": "forbidden"})
    await fakeapi.clock.ashift(2)
    assert (await apixo.status(task_id))[1]["data"]["failCode"] == "SensitiveContentDetected"
    cases: list[tuple[FailureReason, str]] = [
        ("nsfw", "NSFW"),
        ("input_image_sensitive", "InputImageSensitiveContentDetected"),
        ("prompt_too_long", "PromptLengthExceeded"),
    ]
    for reason, code in cases:
        other = await apixo.submit()
        fakeapi.fail(other, reason=reason)
        assert (await apixo.status(other))[1]["data"]["failCode"] == code


# -- callbacks ------------------------------------------------------------------------------------


async def test_callback_client_gets_one_post_equal_to_the_status_answer(
    apixo: Apixo, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    task_id = await apixo.submit(request_type="callback", callback_url=callback_sink.url)
    await fakeapi.clock.ashift(29)
    assert callback_sink.received == []
    await fakeapi.clock.ashift(1)
    [delivery] = await callback_sink.await_for(1)
    _, answer = await apixo.status(task_id)
    assert delivery.json() == answer
    assert answer["data"]["state"] == "success"
    await fakeapi.clock.ashift(600)
    assert len(callback_sink.received) == 1
    assert [(d.attempt, d.status, d.delivered, d.at) for d in fakeapi.deliveries] == [
        (1, 200, True, fakeapi.task(task_id).finished_at)
    ]


async def test_failed_task_calls_back_too(
    apixo: Apixo, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    task_id = await apixo.submit(request_type="callback", callback_url=callback_sink.url)
    fakeapi.fail(task_id, reason="content_violation")
    [delivery] = await callback_sink.await_for(1)
    assert delivery.json() == (await apixo.status(task_id))[1]
    assert delivery.json()["data"]["failCode"] == "CONTENT_VIOLATION"


async def test_receiver_not_answering_200_is_retried_three_times(
    apixo: Apixo, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    callback_sink.fail_next(3, status=201)  # APIXO wants exactly 200
    task_id = await apixo.submit(request_type="callback", callback_url=callback_sink.url)
    finished = T0_MS / 1000 + 30
    await fakeapi.clock.ashift(30)
    await callback_sink.await_for(1)
    await fakeapi.clock.ashift(30)
    await callback_sink.await_for(2)
    await fakeapi.clock.ashift(120)
    await callback_sink.await_for(3)
    await fakeapi.clock.ashift(300)
    received = await callback_sink.await_for(4)
    assert len({r.body for r in received}) == 1
    assert [(d.attempt, d.status, d.delivered, d.at - finished) for d in fakeapi.deliveries] == [
        (1, 201, False, 0),
        (2, 201, False, 30),
        (3, 201, False, 150),
        (4, 200, True, 450),
    ]
    await fakeapi.clock.ashift(DAY)
    assert len(fakeapi.deliveries) == 4
    assert json.loads(received[-1].body)["data"]["taskId"] == task_id


async def test_callback_url_is_required_for_callback(apixo: Apixo) -> None:
    status, answer = await apixo.generate("vidu-q3", {"request_type": "callback", "input": TEXT_TO_VIDEO})
    assert (status, answer) == (400, bad_request("callback_url: required when request_type is callback"))
    status, answer = await apixo.generate(
        "vidu-q3", {"request_type": "callback", "callback_url": "ftp://x", "input": TEXT_TO_VIDEO}
    )
    assert status == 400
    assert answer["data"]["error"].startswith("callback_url: ")
    status, answer = await apixo.generate("vidu-q3", {"request_type": "webhook", "input": TEXT_TO_VIDEO})
    assert status == 400
    assert answer["data"]["error"].startswith("request_type: ")


async def test_async_request_ignores_its_callback_url_and_notes_it(
    apixo: Apixo, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    await apixo.submit(callback_url=callback_sink.url, source="mcp")
    await fakeapi.clock.ashift(60)
    assert callback_sink.received == []
    assert fakeapi.journal[0].notes == (
        "source is not a documented field of generateTask",
        "callback_url is ignored unless request_type is callback",
    )


async def test_undocumented_input_fields_are_accepted_and_noted(apixo: Apixo, fakeapi: FakeApi) -> None:
    task_id = await apixo.submit(input={**TEXT_TO_VIDEO, "negative_prompt": "blur"})
    assert fakeapi.task(task_id).params["negative_prompt"] == "blur"
    assert fakeapi.journal[0].notes == ("input.negative_prompt is not a documented field of vidu-q3",)


# -- vidu-q3 input rules --------------------------------------------------------------------------

TEXT = {"mode": "text-to-video", "prompt": "p"}
IMAGE = {"mode": "image-to-video", "prompt": "p", "image_urls": ["https://e.com/a.png"]}
TWO_IMAGES = ["https://e.com/a.png", "https://e.com/b.png"]


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"prompt": "p"}, "Missing required field: input.mode"),
        ({**TEXT, "mode": "video"}, "input.mode"),
        ({"mode": "text-to-video"}, "Missing required field: input.prompt"),
        ({**TEXT, "prompt": ""}, "input.prompt"),
        ({**TEXT, "prompt": "x" * 5001}, "input.prompt"),
        ({**TEXT, "resolution": "4k"}, "input.resolution"),
        ({**TEXT, "duration": 0}, "input.duration"),
        ({**TEXT, "duration": 17}, "input.duration"),
        ({**TEXT, "duration": "8"}, "input.duration"),
        ({**TEXT, "duration": 8.5}, "input.duration"),
        ({**TEXT, "style": "noir"}, "input.style"),
        ({**TEXT, "aspect_ratio": "21:9"}, "input.aspect_ratio"),
        ({**IMAGE, "style": "anime"}, "input.style"),
        ({**IMAGE, "aspect_ratio": "16:9"}, "input.aspect_ratio"),
        ({**IMAGE, "mode": "turbo-image-to-video", "aspect_ratio": "1:1"}, "input.aspect_ratio"),
        ({"mode": "image-to-video", "prompt": "p"}, "input.image_urls"),
        ({**IMAGE, "image_urls": []}, "input.image_urls"),
        ({**IMAGE, "image_urls": [*TWO_IMAGES, "https://e.com/c.png"]}, "input.image_urls"),
        ({**IMAGE, "image_urls": ["not a url"]}, "input.image_urls.0"),
        ({**TEXT, "image_urls": TWO_IMAGES}, "input.image_urls"),
        ({**TEXT, "mode": "turbo-text-to-video", "image_urls": TWO_IMAGES[:1]}, "input.image_urls"),
        ({**TEXT, "movement": "huge"}, "input.movement"),
        ({**TEXT, "sound": "yes"}, "input.sound"),
        ({**TEXT, "bgm": 1}, "input.bgm"),
        ({**TEXT, "seed": -2}, "input.seed"),
        ({**TEXT, "seed": 2147483648}, "input.seed"),
    ],
)
async def test_vidu_q3_input_violations_are_400_naming_the_field(
    apixo: Apixo, fakeapi: FakeApi, given: dict[str, Any], field: str
) -> None:
    status, answer = await apixo.generate("vidu-q3", {"input": given})
    assert status == 400
    assert set(answer) == {"code", "message", "data"}
    assert (answer["code"], answer["message"]) == (400, "Invalid request")
    detail = answer["data"]["error"]
    assert detail == field if field.startswith("Missing") else detail.startswith(field + ": "), detail
    assert fakeapi.tasks == []


@pytest.mark.parametrize(
    "given",
    [
        {**TEXT, "prompt": "x" * 5000, "duration": 1, "resolution": "540p", "style": "anime"},
        {**TEXT, "mode": "turbo-text-to-video", "duration": 16, "resolution": "1080p", "aspect_ratio": "1:1"},
        {**IMAGE, "movement": "large", "sound": False, "bgm": False, "seed": -1},
        {**IMAGE, "mode": "turbo-image-to-video", "image_urls": TWO_IMAGES, "seed": 2147483647},
    ],
)
async def test_vidu_q3_documented_inputs_are_accepted(apixo: Apixo, given: dict[str, Any]) -> None:
    status, answer = await apixo.generate("vidu-q3", {"input": given})
    assert (status, answer["code"]) == (200, 200), answer


@pytest.mark.parametrize(
    ("model", "given", "detail"),
    [
        ("nano-banana", {"mode": "image-to-image", "prompt": "p"}, "input.image_urls: takes 1 to 5 images"),
        ("flux-2", {"mode": "pro-text-to-image", "prompt": "ab"}, "input.prompt: "),
        ("gpt-image-1", {"mode": "gpt-image-1", "prompt": "p", "num_images": 3}, "input.num_images: "),
        ("sora-2", {"mode": "image-to-video", "prompt": "p", "image_urls": TWO_IMAGES}, "input.image_urls: "),
        ("sora-2", {"mode": "text-to-video", "prompt": "p", "duration": 10}, "input.duration: "),
        ("kling-2-6", {"mode": "text-to-video", "prompt": "p"}, "Missing required field: input.sound"),
        (
            "veo-3-1",
            {
                "mode": "quality",
                "prompt": "p",
                "generationType": "REFERENCE_2_VIDEO",
                "image_urls": TWO_IMAGES,
            },
            "input.generationType: REFERENCE_2_VIDEO needs mode fast",
        ),
        ("seedance-2-0", {"mode": "text-to-video", "prompt": "p", "duration": 3}, "input.duration: "),
    ],
)
async def test_other_models_check_their_documented_modes(
    apixo: Apixo, model: str, given: dict[str, Any], detail: str
) -> None:
    status, answer = await apixo.generate(model, {"input": given})
    assert status == 400
    assert answer["data"]["error"].startswith(detail), answer


async def test_gpt_image_1_num_images_gives_that_many_pngs(apixo: Apixo, fakeapi: FakeApi) -> None:
    task_id = await apixo.submit(
        "gpt-image-1", input={"mode": "gpt-image-1", "prompt": "a fox", "num_images": 4}
    )
    await fakeapi.clock.ashift(5)
    _, answer = await apixo.status(task_id, "gpt-image-1")
    urls = json.loads(answer["data"]["resultJson"])["resultUrls"]
    assert len(urls) == 4
    async with apixo.http.get(urls[3]) as r:
        assert (r.status, r.content_type) == (200, "image/png")


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer "}, {"Authorization": "Basic sk-test"}])
async def test_missing_key_is_401_without_data(apixo: Apixo, headers: dict[str, str]) -> None:
    apixo.headers = headers
    for method, path in [
        ("POST", "/api/v1/generateTask/vidu-q3"),
        ("GET", "/api/v1/statusTask/vidu-q3?taskId=task_1"),
        ("GET", "/api/v1/apikeys/current-balance"),
    ]:
        status, answer, _ = await apixo.call(method, path, json={"input": TEXT_TO_VIDEO})
        assert (status, answer) == (401, {"code": 401, "message": "Invalid or missing API key"})


@pytest.mark.fakeapi(
    scenario={
        "accounts": {"open": False, "keys": {"sk-live": {}}},
        "rules": [{"phases": [{"state": "succeeded"}]}],
    }
)
async def test_unknown_key_is_401_when_accounts_are_closed(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    known = Apixo(http, fakeapi.url_for("apixo"), "sk-live")
    stranger = Apixo(http, fakeapi.url_for("apixo"), "sk-test")
    assert (await known.generate("vidu-q3", {"input": TEXT_TO_VIDEO}))[0] == 200
    assert (await stranger.generate("vidu-q3", {"input": TEXT_TO_VIDEO}))[0] == 401


async def test_unknown_task_model_and_wrong_model_are_404(
    apixo: Apixo, http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    task_id = await apixo.submit()
    assert await apixo.status("task_0000000000000000") == (404, error(404, "Task not found"))
    assert await apixo.status(task_id, "sora-2") == (404, error(404, "Task not found"))
    other_key = Apixo(http, fakeapi.url_for("apixo"), "sk-other")
    assert await other_key.status(task_id) == (404, error(404, "Task not found"))
    unknown = error(404, f"Model not found; {ACCEPT_UNKNOWN_HINT}")
    assert await apixo.status(task_id, "vidu-q9") == (404, unknown)
    assert await apixo.generate("vidu-q9", {"input": TEXT_TO_VIDEO}) == (404, unknown)
    assert (await apixo.status(task_id))[0] == 200, "404s do not disturb the task"


async def test_missing_task_id_and_malformed_bodies_are_400(apixo: Apixo) -> None:
    status, answer, _ = await apixo.call("GET", "/api/v1/statusTask/vidu-q3")
    assert (status, answer) == (400, bad_request("Missing required query parameter: taskId"))
    status, answer, _ = await apixo.call("POST", "/api/v1/generateTask/vidu-q3", data=b"{not json")
    assert status == 400
    assert answer["data"]["error"].startswith("the request body is not valid JSON")
    status, answer = await apixo.generate("vidu-q3", ["input"])
    assert (status, answer["code"]) == (400, 400)
    assert await apixo.generate("vidu-q3", {"request_type": "async"}) == (
        400,
        bad_request("Missing required field: input"),
    )
    status, answer = await apixo.generate("vidu-q3", {"input": TEXT_TO_VIDEO, "provider": ""})
    assert status == 400
    assert answer["data"]["error"].startswith("provider: ")


async def test_unknown_route_wrong_method_and_huge_body(apixo: Apixo, fakeapi: FakeApi) -> None:
    status, answer, _ = await apixo.call("GET", "/api/v1/tasks")
    assert (status, answer) == (404, error(404, "Not found"))
    with pytest.raises(SurpriseError, match="GET /apixo/api/v1/tasks matched no route"):
        fakeapi.check()
    status, answer, _ = await apixo.call("DELETE", "/api/v1/statusTask/vidu-q3")
    assert (status, answer) == (405, error(405, "Method not allowed"))
    with pytest.raises(SurpriseError, match="DELETE /apixo/api/v1/statusTask/vidu-q3 matched no route"):
        fakeapi.check()
    status, answer, _ = await apixo.call(
        "POST", "/api/v1/generateTask/vidu-q3", data=b"x" * (33 * 1024 * 1024)
    )
    assert (status, answer) == (413, error(413, "Request entity too large"))


@pytest.mark.fakeapi(
    scenario={"models": {"unavailable": ["veo-*"]}, "rules": [{"phases": [{"state": "succeeded"}]}]}
)
async def test_unavailable_model_is_503(apixo: Apixo) -> None:
    status, answer = await apixo.generate("veo-3-1", {"input": {"mode": "fast", "prompt": "p"}})
    assert (status, answer) == (503, error(503, "Service unavailable"))
    assert (await apixo.generate("vidu-q3", {"input": TEXT_TO_VIDEO}))[0] == 200


async def test_a_fault_inside_the_fake_is_a_500_envelope_and_a_surprise(
    apixo: Apixo, fakeapi: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = await apixo.submit()

    def broken(*args: object) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(apixo_provider, "task_data", broken)
    assert await apixo.status(task_id) == (500, error(500, "Internal server error"))
    with pytest.raises(SurpriseError, match="RuntimeError: boom"):
        fakeapi.check()


# -- limits ---------------------------------------------------------------------------------------


async def test_61st_request_in_a_minute_is_429_with_retry_after(apixo: Apixo, fakeapi: FakeApi) -> None:
    task_id = await apixo.submit()
    for _ in range(58):
        await fakeapi.clock.ashift(0.5)
        assert (await apixo.status(task_id))[0] == 200
    assert await apixo.balance() == 1_000_000  # the 60th request
    status, answer, headers = await apixo.call(
        "GET", "/api/v1/statusTask/vidu-q3", params={"taskId": task_id}
    )
    assert (status, answer) == (429, error(429, "Rate limit exceeded"))
    assert headers["Retry-After"] == "31"  # the first request leaves the window 60 s after it came
    status, _, _ = await apixo.call("POST", "/api/v1/generateTask/vidu-q3", json={"input": TEXT_TO_VIDEO})
    assert status == 429
    await fakeapi.clock.ashift(31)
    assert (await apixo.status(task_id))[0] == 200


async def test_11th_unfinished_task_is_429_until_one_finishes(apixo: Apixo, fakeapi: FakeApi) -> None:
    for _ in range(10):
        await apixo.submit()
    await fakeapi.clock.ashift(10)
    status, answer, headers = await apixo.call(
        "POST", "/api/v1/generateTask/vidu-q3", json={"input": TEXT_TO_VIDEO}
    )
    assert (status, answer) == (429, error(429, "Concurrent task limit exceeded"))
    assert headers["Retry-After"] == "20"
    assert len(fakeapi.tasks) == 10
    await fakeapi.clock.ashift(20)
    await apixo.submit()


@pytest.mark.fakeapi(
    scenario={
        "apis": {"apixo": {"rpm": None, "max_concurrent": 2}},
        "rules": [{"phases": [{"state": "queued"}, {"state": "succeeded"}]}],
    }
)
async def test_limits_are_adjustable_by_scenario(apixo: Apixo) -> None:
    first = await apixo.submit()
    await apixo.submit()
    assert (await apixo.generate("vidu-q3", {"input": TEXT_TO_VIDEO}))[0] == 429
    for _ in range(100):
        assert (await apixo.status(first))[0] == 200


# -- billing --------------------------------------------------------------------------------------

PRICED = {
    "prices": {"vidu-q3": {"per_second": 0.05}, "nano-banana": 0.04},
    "accounts": {"keys": {"sk-test": {"balance": 1.0}}},
    "rules": [{"phases": [{"state": "queued", "for": "1s"}, {"state": "succeeded"}]}],
}


@pytest.mark.fakeapi(scenario=PRICED)
async def test_billing_and_402_when_the_balance_runs_out(apixo: Apixo, fakeapi: FakeApi) -> None:
    assert await apixo.balance() == 1.0
    await apixo.submit(input={**TEXT_TO_VIDEO, "duration": 8})  # 8 s x 0.05
    assert await apixo.balance() == pytest.approx(0.6)
    await apixo.submit("nano-banana", input={"mode": "text-to-image", "prompt": "a fox"})
    assert await apixo.balance() == pytest.approx(0.56)
    await apixo.submit(input={**TEXT_TO_VIDEO, "duration": 11})
    assert await apixo.balance() == pytest.approx(0.01)
    status, answer = await apixo.generate("vidu-q3", {"input": {**TEXT_TO_VIDEO, "duration": 1}})
    assert (status, answer) == (402, error(402, "Insufficient balance"))
    assert await apixo.balance() == pytest.approx(0.01)
    assert fakeapi.balance("apixo", "sk-test") == pytest.approx(0.01)
    assert len(fakeapi.tasks) == 3


@pytest.mark.fakeapi(scenario={**PRICED, "apis": {"apixo": {"balance_error": 400}}})
async def test_the_older_insufficient_credits_answer_by_scenario(apixo: Apixo) -> None:
    await apixo.submit(input={**TEXT_TO_VIDEO, "duration": 16})
    await apixo.submit(input={**TEXT_TO_VIDEO, "duration": 4})
    assert await apixo.generate("vidu-q3", {"input": TEXT_TO_VIDEO}) == (
        400,
        error(400, "Insufficient credits"),
    )


@pytest.mark.fakeapi(scenario={**PRICED, "apis": {"apixo": {"charge": "success"}}})
async def test_the_balance_endpoint_leaves_out_held_credits(apixo: Apixo, fakeapi: FakeApi) -> None:
    await apixo.submit(input={**TEXT_TO_VIDEO, "duration": 8})  # 0.4 held until it succeeds
    assert await apixo.balance() == pytest.approx(0.6)
    assert fakeapi.balance("apixo", "sk-test") == 1.0, "nothing taken yet"
    await fakeapi.clock.ashift(1)
    assert fakeapi.balance("apixo", "sk-test") == pytest.approx(0.6)
    assert await apixo.balance() == pytest.approx(0.6)


async def test_unlimited_balance_reports_a_large_number(apixo: Apixo) -> None:
    assert await apixo.balance() == 1_000_000


# -- result URLs ----------------------------------------------------------------------------------


async def test_result_url_expires_after_24_hours_of_clock_time(apixo: Apixo, fakeapi: FakeApi) -> None:
    task_id = await apixo.submit()
    await fakeapi.clock.ashift(30)
    [url] = json.loads((await apixo.status(task_id))[1]["data"]["resultJson"])["resultUrls"]
    await fakeapi.clock.ashift(DAY - 1)
    async with apixo.http.get(url) as r:
        assert r.status == 200
    await fakeapi.clock.ashift(2)
    async with apixo.http.get(url) as r:
        assert (r.status, await r.text()) == (404, "Not Found")
    assert (await apixo.status(task_id))[1]["data"]["state"] == "success"


@pytest.mark.fakeapi(
    scenario={"apis": {"apixo": {"result_ttl": "1h"}}, "rules": [{"phases": [{"state": "succeeded"}]}]}
)
async def test_result_lifetime_is_adjustable(apixo: Apixo, fakeapi: FakeApi) -> None:
    task_id = await apixo.submit()
    [url] = json.loads((await apixo.status(task_id))[1]["data"]["resultJson"])["resultUrls"]
    await fakeapi.clock.ashift(3601)
    async with apixo.http.get(url) as r:
        assert r.status == 404


async def test_rixapi_requests_do_not_count_against_the_apixo_window(
    apixo: Apixo, http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    for _ in range(61):
        async with http.get(fakeapi.url_for("rixapi") + "/v1/task/task_x", headers=apixo.headers) as r:
            assert r.status == 404
    for _ in range(60):
        assert (await apixo.status("task_x"))[0] == 404
    assert (await apixo.status("task_x"))[0] == 429
