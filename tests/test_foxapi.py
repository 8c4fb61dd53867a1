"""FoxAPI over HTTP, through the fixture as a downstream suite would use it."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
import pytest

from fakeapi import FakeApi, SurpriseError
from fakeapi.providers.foxapi import provider as foxapi_provider
from fakeapi.providers.foxapi.wire import ChatCompletionChunk, LlmModels
from fakeapi.sink import CallbackSink

T0 = 1767225600
DAY = 24 * 3600
VIDEO: dict[str, Any] = {"model": "veo3.1-fast", "prompt": "a cat surfing", "duration": 8, "size": "16:9"}
IMAGE: dict[str, Any] = {"model": "gemini-3-pro-image-preview", "prompt": "a red fox", "aspect_ratio": "1:1"}
LLM: dict[str, Any] = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "count to three"}]}
ENDPOINT = {"image": "images", "video": "videos", "audio": "audios", "llm": "llm"}


class Fox:
    """A small FoxAPI client, as the code under test would have."""

    def __init__(self, http: aiohttp.ClientSession, base: str, key: str | None = "sk-test") -> None:
        self.http, self.base = http, base
        self.headers = {"Authorization": f"Bearer {key}"} if key is not None else {}

    async def post(self, kind: str, body: Any) -> tuple[int, Any]:
        status, answer, _ = await self.call("POST", f"/v1/{ENDPOINT[kind]}/generations", json=body)
        return status, answer

    async def submit(self, kind: str, body: Any) -> Any:
        status, answer = await self.post(kind, body)
        assert status == 200, answer
        return answer

    async def task(self, task_id: str, **params: str) -> Any:
        status, answer, _ = await self.call("GET", f"/v1/tasks/{task_id}", params=params)
        assert status == 200, answer
        return answer

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any, Any]:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        async with self.http.request(method, self.base + path, headers=headers, **kwargs) as r:
            return r.status, await r.json(content_type=None), r.headers


@pytest.fixture
def fox(http: aiohttp.ClientSession, fakeapi: FakeApi) -> Fox:
    return Fox(http, fakeapi.url_for("foxapi"))


async def done(fox: Fox, fakeapi: FakeApi, kind: str, body: dict[str, Any]) -> Any:
    """Submit, move the clock a minute and return the completed task."""
    task = await fox.submit(kind, body)
    await fakeapi.clock.ashift(60)
    answer = await fox.task(task["id"])
    assert answer["status"] == "completed", answer
    return answer


# -- submit and query -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "estimate"),
    [
        ("image", IMAGE, 5),
        ("video", VIDEO, 30),
        ("audio", {"model": "suno-v4.5", "prompt": "a sea shanty"}, 20),
        ("llm", {"model": "gpt-5.5", "prompt": "count to three"}, 5),
    ],
)
async def test_every_submit_endpoint_answers_the_pending_task(
    fox: Fox, kind: str, body: dict[str, Any], estimate: int
) -> None:
    task = await fox.submit(kind, body)
    prefix = "task-llmrouter" if kind == "llm" else "task-unified"
    assert re.fullmatch(rf"{prefix}-{T0}-[a-z0-9]{{8}}", task["id"])
    expected = {
        "id": task["id"],
        "object": f"{kind}.generation.task",
        "type": kind,
        "model": body["model"],
        "status": "pending",
        "progress": 0,
        "created": T0,
        **({"stream": None} if kind == "llm" else {}),
        "results": None,
        "error": None,
        "task_info": {"can_cancel": True, "estimated_time": estimate},
        "usage": {"credits_reserved": 0, "user_group": "default"},
    }
    assert task == expected
    assert list(task) == list(expected)


async def test_video_lifecycle_and_sync_upstream(fox: Fox, fakeapi: FakeApi) -> None:
    task = await fox.submit("video", VIDEO)
    await fakeapi.clock.ashift(16)
    running = await fox.task(task["id"])
    assert (running["status"], running["progress"]) == ("processing", 50)
    assert "task_info" not in running
    assert await fox.task(task["id"], sync_upstream="true") == running
    await fakeapi.clock.ashift(14)
    completed = await fox.task(task["id"])
    assert (completed["status"], completed["progress"], completed["error"]) == ("completed", 100, None)
    [result] = completed["results"]
    assert list(result) == ["url"]
    async with fox.http.get(result["url"]) as r:
        assert (r.status, r.content_type) == (200, "video/mp4")


async def test_failed_task_carries_a_task_error(fox: Fox, fakeapi: FakeApi) -> None:
    task = await fox.submit("video", VIDEO)
    fakeapi.fail(task["id"], "upstream rejected the prompt")
    failed = await fox.task(task["id"])
    assert (failed["status"], failed["progress"], failed["results"]) == ("failed", 0, None)
    assert failed["error"] == {
        "code": "generation_failed",
        "message": "upstream rejected the prompt",
        "type": "task_error",
    }
    other = await fox.submit("image", IMAGE)
    fakeapi.fail(other["id"], "blocked", reason="content_violation")
    assert (await fox.task(other["id"]))["error"]["code"] == "content_violation"


# -- results by model -----------------------------------------------------------------------------


async def test_images_give_one_url_per_output(fox: Fox, fakeapi: FakeApi) -> None:
    completed = await done(fox, fakeapi, "image", {**IMAGE, "num_outputs": 3})
    urls = [r["url"] for r in completed["results"]]
    assert len(set(urls)) == 3
    async with fox.http.get(urls[2]) as r:
        assert (r.status, r.content_type) == (200, "image/png")


@pytest.mark.parametrize(
    "model",
    [
        "seedance-2.0-text-to-video",
        "seedance-2.0-fast-text-to-video",
        "seedance-2.0-image-to-video",
        "seedance-2.0-fast-image-to-video",
        "seedance-2.0-reference-to-video",
        "seedance-2.0-fast-reference-to-video",
    ],
)
async def test_seedance_2_results_add_the_seed(fox: Fox, fakeapi: FakeApi, model: str) -> None:
    [result] = (await done(fox, fakeapi, "video", {"model": model, "prompt": "p"}))["results"]
    assert list(result) == ["url", "seed"]
    assert isinstance(result["seed"], int)
    [given] = (await done(fox, fakeapi, "video", {"model": model, "prompt": "p", "seed": 42}))["results"]
    assert given["seed"] == 42


async def test_id_results(fox: Fox, fakeapi: FakeApi) -> None:
    [voice] = (
        await done(
            fox, fakeapi, "video", {"model": "kling-video-create-voice", "video_url": "https://e.com/a.mp4"}
        )
    )["results"]
    assert list(voice) == ["voice_id"]
    [character] = (
        await done(fox, fakeapi, "video", {"model": "sora-2-character", "video_url": "https://e.com/a.mp4"})
    )["results"]
    assert list(character) == ["character_id", "name"]
    assert character["name"]
    [profile] = (
        await done(
            fox, fakeapi, "image", {"model": "phota-create-profile", "image_urls": ["https://e.com/a.png"]}
        )
    )["results"]
    assert profile["result_type"] == "profile"
    assert list(profile) == ["result_type", "profile_id"]
    [clone] = (
        await done(
            fox, fakeapi, "audio", {"model": "minimax-voice-clone", "audio_url": "https://e.com/a.wav"}
        )
    )["results"]
    assert list(clone) == ["voice_id"]
    with_preview = (
        await done(
            fox,
            fakeapi,
            "audio",
            {"model": "minimax-voice-clone", "audio_url": "https://e.com/a.wav", "text": "hello"},
        )
    )["results"]
    assert [list(r) for r in with_preview] == [["voice_id"], ["url", "content_type"]]
    assert with_preview[1]["content_type"] == "audio/wav"
    assert len({voice["voice_id"], clone["voice_id"], with_preview[0]["voice_id"]}) == 3


async def test_scribe_v2_transcript_is_consistent(fox: Fox, fakeapi: FakeApi) -> None:
    completed = await done(
        fox, fakeapi, "audio", {"model": "scribe-v2", "audio_url": "https://e.com/talk.wav"}
    )
    assert completed["results"] == (await fox.task(completed["id"]))["results"], "stable across polls"
    [transcript] = completed["results"]
    assert list(transcript) == ["text", "language_code", "language_probability", "words"]
    assert 0 <= transcript["language_probability"] <= 1
    words = transcript["words"]
    assert {w["type"] for w in words} == {"word", "spacing"}
    assert "".join(w["text"] for w in words) == transcript["text"]
    times = [t for w in words for t in (w["start"], w["end"])]
    assert times == sorted(times)
    assert times[0] >= 0
    assert all(w["start"] <= w["end"] for w in words)


async def test_patina_results(fox: Fox, fakeapi: FakeApi) -> None:
    maps = (
        await done(fox, fakeapi, "image", {"model": "patina-pbr-maps", "image_urls": ["https://e.com/a.png"]})
    )["results"]
    assert {r["result_type"] for r in maps} == {"pbr_map"}
    assert [r["map_type"] for r in maps] == ["albedo", "normal", "roughness", "metallic", "height"]
    assert all(r["content_type"] == "image/png" for r in maps)
    for model in ("patina-material", "patina-material-extract"):
        material = (await done(fox, fakeapi, "image", {"model": model, "prompt": "oak planks"}))["results"]
        assert [r["result_type"] for r in material] == ["texture"] + ["pbr_map"] * 5
        assert "map_type" not in material[0]
        async with fox.http.get(material[-1]["url"]) as r:
            assert (r.status, r.content_type) == (200, "image/png")


async def test_llm_task_gives_a_chat_completion(fox: Fox, fakeapi: FakeApi) -> None:
    completed = await done(fox, fakeapi, "llm", LLM)
    assert completed["object"] == "llm.generation.task"
    [completion] = completed["results"]
    assert completion["object"] == "chat.completion"
    assert completion["model"] == "gpt-5.5"
    assert completion["created"] == T0 + 5
    [choice] = completion["choices"]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"]
    usage = completion["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_sync_llm_answers_the_chat_completion_directly(fox: Fox, fakeapi: FakeApi) -> None:
    completion = await fox.submit("llm", {**LLM, "sync": True, "max_tokens": 5})
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["finish_reason"] == "length"
    assert completion["usage"]["completion_tokens"] == 5
    [task] = fakeapi.tasks
    assert task.id.startswith("task-llmrouter-")
    assert task.state == "succeeded"


# -- LLM models and streams -----------------------------------------------------------------------


async def test_llm_models_lists_what_the_llm_endpoint_takes(fox: Fox) -> None:
    status, answer, headers = await fox.call("GET", "/v1/configs/llm_generations_models")
    assert (status, headers["Content-Type"]) == (200, "application/json")
    listed = LlmModels.model_validate(answer)
    assert answer["object"] == "list"
    assert {"gpt-5.5", "claude-opus-4-7", "gemini-3.1-pro-preview"} <= {m.id for m in listed.data}
    assert next(m for m in listed.data if m.id == "gpt-5.5").capabilities == ["text", "vision"]
    for model in listed.data:
        await fox.submit("llm", {"model": model.id, "prompt": "hi"})
        assert (await fox.post("image", {"model": model.id, "prompt": "hi"}))[0] == 422
    unauthorized = Fox(fox.http, fox.base, None)
    status, answer, _ = await unauthorized.call("GET", "/v1/configs/llm_generations_models")
    assert status == 401
    envelope(answer, "authentication_error")


async def stream_of(fox: Fox, url: str) -> tuple[int, str, bytes]:
    async with fox.http.get(url, headers=fox.headers) as r:
        return r.status, r.content_type, await r.read()


def events(body: bytes) -> list[str]:
    """The data of each event; every event of the stream is one ``data:`` line."""
    assert body.endswith(b"\n\n")
    blocks = body.decode().split("\n\n")[:-1]
    assert all(block.startswith("data: ") and "\n" not in block for block in blocks), body
    return [block.removeprefix("data: ") for block in blocks]


async def test_llm_stream_sends_the_completion_as_chunks_then_done(fox: Fox, fakeapi: FakeApi) -> None:
    task = await fox.submit("llm", {**LLM, "stream": True})
    url = f"{fox.base}/v1/tasks/{task['id']}/stream"
    assert task["stream"] == {"url": url}
    assert await stream_of(fox, url) == (200, "text/event-stream", b"retry: 1000\n: pending\n\n")
    await fakeapi.clock.ashift(60)
    completed = await fox.task(task["id"])
    assert completed["stream"] == {"url": url}
    [completion] = completed["results"]
    status, content_type, body = await stream_of(fox, url)
    assert (status, content_type) == (200, "text/event-stream")
    *data, done = events(body)
    assert done == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate_json(one) for one in data]
    assert list(json.loads(data[0])) == ["id", "object", "created", "model", "choices"]  # OpenAI's order
    assert {(c.id, c.created, c.model) for c in chunks} == {(completion["id"], T0 + 5, "gpt-5.5")}
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == completion["choices"][0]["message"]["content"]
    assert len(chunks) > 3
    assert [c.choices[0].finish_reason for c in chunks] == [None] * (len(chunks) - 1) + ["stop"]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.model_dump() == completion["usage"]
    assert await stream_of(fox, url) == (200, "text/event-stream", body)


async def test_llm_stream_of_a_failed_task_sends_its_error(fox: Fox, fakeapi: FakeApi) -> None:
    task = await fox.submit("llm", {**LLM, "stream": True})
    fakeapi.fail(task["id"], "upstream timed out")
    error = {"code": "generation_failed", "message": "upstream timed out", "type": "task_error"}
    _, _, body = await stream_of(fox, task["stream"]["url"])
    assert [json.loads(one) if one != "[DONE]" else one for one in events(body)] == [
        {"error": error},
        "[DONE]",
    ]


async def test_only_a_streamed_llm_task_has_a_stream(fox: Fox, fakeapi: FakeApi) -> None:
    plain = await fox.submit("llm", LLM)
    image = await fox.submit("image", {**IMAGE, "stream": True})
    assert plain["stream"] is None
    assert "stream" not in image
    await fakeapi.clock.ashift(60)
    for task_id in (plain["id"], image["id"], "task-llmrouter-0-00000000"):
        status, answer, _ = await fox.call("GET", f"/v1/tasks/{task_id}/stream")
        assert status == 404
        envelope(answer, "not_found")
    streamed = await fox.submit("llm", {**LLM, "stream": True})
    status, answer, _ = await Fox(fox.http, fox.base, None).call("GET", f"/v1/tasks/{streamed['id']}/stream")
    assert status == 401


ONE_POLL_RUNNING = {"rules": [{"phases": [{"state": "running", "polls": 1}, {"state": "succeeded"}]}]}


@pytest.mark.fakeapi(scenario=ONE_POLL_RUNNING)
async def test_a_refused_stream_read_is_not_a_poll(fox: Fox) -> None:
    image = await fox.submit("image", IMAGE)
    for _ in range(2):
        status, _, _ = await fox.call("GET", f"/v1/tasks/{image['id']}/stream")
        assert status == 404
    assert (await fox.task(image["id"]))["status"] == image["status"]
    assert (await fox.task(image["id"]))["status"] == "completed"


async def test_sync_stream_answers_the_task_and_notes_it(fox: Fox, fakeapi: FakeApi) -> None:
    task = await fox.submit("llm", {**LLM, "sync": True, "stream": True})
    assert task["status"] == "pending"
    assert task["stream"]["url"].endswith(f"/v1/tasks/{task['id']}/stream")
    [entry] = fakeapi.journal
    assert entry.notes == (
        "sync with stream: the real API answers this submit with the event stream itself; "
        "the fake answers the task, whose stream.url serves the same events",
    )


# Its polls come at once, one after another: their pace is not what this test is about.
@pytest.mark.fakeapi(overrides={"etiquette": {"disabled": ["poll-too-fast"]}})
async def test_sync_upstream_must_be_a_boolean(fox: Fox, fakeapi: FakeApi) -> None:
    task = await fox.submit("video", VIDEO)
    for word in ("true", "False", "1", "0"):
        assert (await fox.task(task["id"], sync_upstream=word))["id"] == task["id"]
    status, answer, _ = await fox.call(
        "GET", f"/v1/tasks/{task['id']}", params={"sync_upstream": "yes please"}
    )
    assert status == 422
    assert (
        envelope(answer, "invalid_request_error", "invalid_parameter")
        == "sync_upstream must be true or false"
    )
    # The journal keeps every query as sent: which polls asked for it shows there, with no contract note.
    queries = [(entry.query, entry.notes) for entry in fakeapi.journal[1:]]
    assert queries == [
        ("sync_upstream=true", ()),
        ("sync_upstream=False", ()),
        ("sync_upstream=1", ()),
        ("sync_upstream=0", ()),
        ("sync_upstream=yes please", ()),
    ]


# -- errors ---------------------------------------------------------------------------------------


def envelope(body: Any, error_type: str, code: str | None = None) -> str:
    assert list(body) == ["error"]
    error = body["error"]
    assert error["type"] == error_type
    assert error.get("code") == code
    assert set(error) <= {"code", "message", "type"}
    message: str = error["message"]
    return message


async def test_bad_json_and_content_type_are_400(fox: Fox) -> None:
    status, body, _ = await fox.call(
        "POST",
        "/v1/videos/generations",
        data=b"{oops",
        headers={**fox.headers, "Content-Type": "application/json"},
    )
    assert status == 400
    envelope(body, "invalid_request_error")
    status, body, _ = await fox.call("POST", "/v1/videos/generations", data=b"model=veo3.1-fast")
    assert status == 400
    assert envelope(body, "invalid_request_error") == "Content-Type must be application/json"


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("video", {"prompt": "p"}, "model"),
        ("video", {**VIDEO, "duration": -1}, "duration"),
        ("video", {**VIDEO, "callback_url": "ftp://x"}, "callback_url"),
        ("image", {**IMAGE, "num_outputs": 11}, "num_outputs"),
        ("image", {**IMAGE, "output_format": "bmp"}, "output_format"),
        ("image", {**IMAGE, "output_format": "JPG"}, "output_format"),
        ("llm", {"model": "gpt-5.5"}, "messages"),
        ("llm", {**LLM, "temperature": 3}, "temperature"),
        ("llm", {"model": "gpt-5.5", "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
    ],
)
async def test_validation_errors_are_422(
    fox: Fox, fakeapi: FakeApi, kind: str, body: dict[str, Any], field: str
) -> None:
    status, answer = await fox.post(kind, body)
    assert status == 422
    assert envelope(answer, "invalid_request_error", "invalid_parameter").startswith(field + ": ")
    assert fakeapi.tasks == []


async def test_unknown_model_or_wrong_endpoint_is_422_model_not_supported(fox: Fox) -> None:
    status, answer = await fox.post("video", {**VIDEO, "model": "veo-9"})
    assert status == 422
    assert "veo-9" in envelope(answer, "invalid_request_error", "model_not_supported")
    status, answer = await fox.post("video", IMAGE)
    assert status == 422
    envelope(answer, "invalid_request_error", "model_not_supported")


async def test_missing_key_is_401(fox: Fox) -> None:
    fox.headers = {}
    status, answer = await fox.post("video", VIDEO)
    assert status == 401
    assert envelope(answer, "authentication_error") == "Invalid or expired token"


async def test_unknown_or_foreign_task_is_404(
    fox: Fox, http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    task = await fox.submit("video", VIDEO)
    status, answer, _ = await fox.call("GET", "/v1/tasks/task-unified-1-abcdefgh")
    assert status == 404
    envelope(answer, "not_found")
    stranger = Fox(http, fakeapi.url_for("foxapi"), "sk-other")
    assert (await stranger.call("GET", f"/v1/tasks/{task['id']}"))[0] == 404


@pytest.mark.fakeapi(
    scenario={
        "prices": {"veo3.1-*": 2.5},
        "accounts": {"keys": {"sk-test": {"balance": 5, "rpm": 4}}},
        "rules": [{"phases": [{"state": "queued", "for": "1s"}, {"state": "succeeded"}]}],
    }
)
async def test_402_when_the_balance_runs_out_and_429_over_the_rate(fox: Fox, fakeapi: FakeApi) -> None:
    task = await fox.submit("video", VIDEO)
    assert task["usage"] == {"credits_reserved": 2.5, "user_group": "default"}
    await fox.submit("video", VIDEO)
    status, answer = await fox.post("video", VIDEO)
    assert status == 402
    assert envelope(answer, "insufficient_quota") == "Insufficient account balance"
    assert fakeapi.balance("foxapi", "sk-test") == 0
    status, answer, headers = await fox.call("GET", f"/v1/tasks/{task['id']}")
    assert status == 200
    status, answer, headers = await fox.call("GET", f"/v1/tasks/{task['id']}")
    assert status == 429
    envelope(answer, "rate_limit_error")
    assert int(headers["Retry-After"]) == 60


@pytest.mark.fakeapi(
    scenario={"models": {"unavailable": ["veo*"]}, "rules": [{"phases": [{"state": "succeeded"}]}]}
)
async def test_unavailable_model_is_503(fox: Fox) -> None:
    status, answer = await fox.post("video", VIDEO)
    assert status == 503
    envelope(answer, "service_unavailable_error")


async def test_a_fault_in_the_fake_is_a_500_server_error(
    fox: Fox, fakeapi: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = await fox.submit("video", VIDEO)

    def broken(*args: object) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(foxapi_provider, "task_object", broken)
    status, answer, _ = await fox.call("GET", f"/v1/tasks/{task['id']}")
    assert status == 500
    envelope(answer, "server_error")
    with pytest.raises(SurpriseError, match="RuntimeError: boom"):
        fakeapi.check()


async def test_unknown_route_is_404_not_found(fox: Fox, fakeapi: FakeApi) -> None:
    status, answer, _ = await fox.call("GET", "/v1/tasks")
    assert status == 404
    envelope(answer, "not_found")
    with pytest.raises(SurpriseError):
        fakeapi.check()


# -- callbacks ------------------------------------------------------------------------------------


async def test_callback_on_the_terminal_state_only_equals_the_query(
    fox: Fox, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    task = await fox.submit("video", {**VIDEO, "callback_url": callback_sink.url})
    await fakeapi.clock.ashift(29)
    assert callback_sink.received == []
    await fakeapi.clock.ashift(1)
    [delivery] = await callback_sink.await_for(1)
    assert delivery.json() == await fox.task(task["id"])
    assert delivery.json()["status"] == "completed"


async def test_callback_retried_after_1_2_and_4_seconds(
    fox: Fox, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    callback_sink.fail_next(3, status=500)
    task = await fox.submit("image", {**IMAGE, "callback_url": callback_sink.url})
    fakeapi.fail(task["id"], "no")
    for _ in range(4):
        await fakeapi.clock.ashift(4)
    await callback_sink.await_for(4)
    assert [(d.attempt, d.status, d.delivered, d.at - T0) for d in fakeapi.deliveries] == [
        (1, 500, False, 0),
        (2, 500, False, 1),
        (3, 500, False, 3),
        (4, 200, True, 7),
    ]
    assert len({r.body for r in callback_sink.received}) == 1


async def test_any_2xx_counts_as_delivered(fox: Fox, fakeapi: FakeApi, callback_sink: CallbackSink) -> None:
    callback_sink.fail_next(1, status=204)
    await fox.submit("image", {**IMAGE, "callback_url": callback_sink.url})
    await fakeapi.clock.ashift(60)
    assert [(d.status, d.delivered) for d in fakeapi.deliveries] == [(204, True)]


@pytest.mark.fakeapi(
    scenario={
        "apis": {"foxapi": {"public_https_callbacks": True}},
        "rules": [{"phases": [{"state": "succeeded"}]}],
    }
)
@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.9/hook",
        "https://[::1]/hook",
        "https://localhost/hook",
    ],
)
async def test_callback_url_rule_refuses_private_and_plain_http(fox: Fox, url: str) -> None:
    status, answer = await fox.post("video", {**VIDEO, "callback_url": url})
    assert status == 422
    assert envelope(answer, "invalid_request_error", "invalid_parameter").startswith("callback_url")


@pytest.mark.fakeapi(
    scenario={
        "apis": {"foxapi": {"public_https_callbacks": True}},
        "rules": [{"phases": [{"state": "succeeded"}]}],
    }
)
async def test_callback_url_rule_accepts_public_https(fox: Fox) -> None:
    status, _ = await fox.post("video", {**VIDEO, "callback_url": "https://hooks.example.com/fox"})
    assert status == 200


# -- result URLs ----------------------------------------------------------------------------------


async def test_result_urls_are_valid_for_24_hours(fox: Fox, fakeapi: FakeApi) -> None:
    completed = await done(fox, fakeapi, "image", IMAGE)
    url = completed["results"][0]["url"]
    await fakeapi.clock.ashift(DAY - 60)
    async with fox.http.get(url) as r:
        assert r.status == 200
    await fakeapi.clock.ashift(61)
    async with fox.http.get(url) as r:
        assert r.status == 404


@pytest.mark.fakeapi("content-violation")
async def test_sync_llm_under_content_violation_answers_the_failure(fox: Fox, fakeapi: FakeApi) -> None:
    status, body, _ = await fox.call("POST", "/v1/llm/generations", json={**LLM, "sync": True})
    assert status == 422
    assert envelope(body, "invalid_request_error", "prompt_rejected") == (
        "the request was flagged by content moderation"
    )
    [task] = fakeapi.tasks
    assert task.state == "failed"
