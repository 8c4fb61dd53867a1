"""Pixapi over HTTP, through the fixture as a downstream suite would use it."""

from __future__ import annotations

import base64
import re
import struct
from typing import Any

import aiohttp
import pytest

from fakeapi import FakeApi, SurpriseError
from fakeapi.media import png
from fakeapi.providers.pixapi import provider as pixapi_provider

T0 = 1767225600
IMAGE: dict[str, Any] = {
    "model": "gemini-3.1-flash-image-preview",
    "prompt": "a ceramic cup",
    "size": "2048x2048",
}
VIDEO: dict[str, Any] = {"model": "veo", "prompt": "a cat surfing", "duration": 8, "size": "1280x720"}
REJECTING: dict[str, Any] = {
    "rules": [
        {
            "match": {"prompt": "forbidden"},
            "phases": [
                {
                    "state": "failed",
                    "error": {"reason": "content_violation", "message": "prompt rejected by provider"},
                }
            ],
        },
        {"phases": [{"state": "queued", "for": "2s"}, {"state": "succeeded"}]},
    ]
}


class Pix:
    """A small Pixapi client, as the code under test would have."""

    def __init__(self, http: aiohttp.ClientSession, base: str, key: str | None = "sk_test") -> None:
        self.http, self.base = http, base
        self.headers = {"Authorization": f"Bearer {key}"} if key is not None else {}

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.request(method, self.base + path, headers=self.headers, **kwargs) as r:
            return r.status, await r.json(content_type=None)

    async def task(self, task_id: str) -> Any:
        status, body = await self.call("GET", f"/v1/tasks/{task_id}")
        assert status == 200, body
        return body


@pytest.fixture
def pix(http: aiohttp.ClientSession, fakeapi: FakeApi) -> Pix:
    return Pix(http, fakeapi.url_for("pixapi"))


def form(images: list[tuple[str, bytes, str]], **fields: str) -> aiohttp.FormData:
    data = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields.items():
        data.add_field(name, value)
    for filename, content, content_type in images:
        data.add_field("image", content, filename=filename, content_type=content_type)
    return data


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_async_image_submit_then_query_switches_created_at_to_created(
    pix: Pix, fakeapi: FakeApi
) -> None:
    status, submitted = await pix.call("POST", "/v1/async/images/generations", json={**IMAGE, "n": 2})
    assert status == 200
    assert submitted == {
        "status": "submitted",
        "id": submitted["id"],
        "progress": 0,
        "created_at": T0,
        "model": IMAGE["model"],
    }
    assert re.fullmatch(r"task_[0-9A-HJKMNP-TV-Z]{26}", submitted["id"])
    assert await pix.task(submitted["id"]) == {
        "id": submitted["id"],
        "status": "submitted",
        "model": IMAGE["model"],
        "progress": 0,
        "created": T0,
    }
    await fakeapi.clock.ashift(3)
    processing = await pix.task(submitted["id"])
    assert (processing["status"], "created_at" in processing) == ("processing", False)
    await fakeapi.clock.ashift(2)
    completed = await pix.task(submitted["id"])
    assert list(completed) == [
        "id",
        "status",
        "credits_cost",
        "model",
        "progress",
        "result",
        "created",
        "completed",
    ]
    assert (completed["progress"], completed["created"], completed["completed"]) == (100, T0, T0 + 5)
    assert completed["credits_cost"] == 12  # 6 credits per 2K image of this model, n = 2
    assert completed["result"]["type"] == "image"
    urls = [d["url"] for d in completed["result"]["data"]]
    assert len(urls) == 2
    for url in urls:
        async with pix.http.get(url) as r:
            assert (r.status, r.content_type) == (200, "image/png")
            assert png_size(await r.read()) == (2048, 2048)


async def test_async_edits_take_a_real_multipart_upload_of_two_images(pix: Pix, fakeapi: FakeApi) -> None:
    images = [("a.png", png(8, 8), "image/png"), ("b.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image/jpeg")]
    status, submitted = await pix.call(
        "POST",
        "/v1/async/images/edits",
        data=form(images, model="gpt-image-2", prompt="merge them", n="1", size="1536x1024"),
    )
    assert status == 200, submitted
    task = fakeapi.task(submitted["id"])
    assert [i["filename"] for i in task.params["images"]] == ["a.png", "b.jpg"]
    await fakeapi.clock.ashift(5)
    [item] = (await pix.task(submitted["id"]))["result"]["data"]
    async with pix.http.get(item["url"]) as r:
        assert png_size(await r.read()) == (1536, 1024)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        ([], "image: at least one image file is required"),
        ([("notes.txt", b"hello", "text/plain")], "image: notes.txt is not a PNG, JPEG, WebP or GIF image"),
    ],
)
async def test_edits_need_image_files(pix: Pix, images: list[tuple[str, bytes, str]], message: str) -> None:
    status, body = await pix.call(
        "POST", "/v1/async/images/edits", data=form(images, model="gpt-image-2", prompt="p")
    )
    assert (status, body) == (
        400,
        {"error": {"code": 400, "message": message, "type": "invalid_request_error"}},
    )


async def test_edits_refuse_an_image_over_20_mb(pix: Pix, fakeapi: FakeApi) -> None:
    big = png(8, 8) + b"\x00" * (20 * 1024 * 1024)
    status, body = await pix.call(
        "POST",
        "/v1/async/images/edits",
        data=form([("big.png", big, "image/png")], model="gpt-image-2", prompt="p"),
    )
    assert (status, body["error"]["message"]) == (400, "image: big.png is larger than 20 MB")
    assert fakeapi.tasks == []


async def test_a_model_on_the_wrong_endpoint_is_not_found(pix: Pix, fakeapi: FakeApi) -> None:
    status, body = await pix.call("POST", "/v1/async/images/generations", json={**IMAGE, "model": "veo"})
    assert status == 404
    assert error(404, "model_not_found", body) == "model veo makes video, not image"
    assert fakeapi.tasks == []


async def test_async_video(pix: Pix, fakeapi: FakeApi) -> None:
    status, submitted = await pix.call("POST", "/v1/async/videos/generations", json=VIDEO)
    assert status == 200
    await fakeapi.clock.ashift(30)
    completed = await pix.task(submitted["id"])
    assert completed["result"]["type"] == "video"
    async with pix.http.get(completed["result"]["data"][0]["url"]) as r:
        assert (r.status, r.content_type) == (200, "video/mp4")
        assert (await r.read())[4:8] == b"ftyp"


async def test_sync_images_answer_after_the_scripted_delay(pix: Pix, fakeapi: FakeApi) -> None:
    status, body = await pix.call("POST", "/v1/images/generations", json={**IMAGE, "n": 2})
    assert status == 200
    assert body["created"] == T0
    assert len(body["data"]) == 2
    assert fakeapi.clock.now() == T0 + 5, "the clock ran through the task's phases"
    status, body = await pix.call(
        "POST", "/v1/images/generations", json={**IMAGE, "size": "1024x1536", "response_format": "b64_json"}
    )
    assert status == 200
    [item] = body["data"]
    assert png_size(base64.b64decode(item["b64_json"])) == (1024, 1536)
    status, body = await pix.call(
        "POST",
        "/v1/images/edits",
        data=form([("a.png", png(4, 4), "image/png")], model="gpt-image-2", prompt="p"),
    )
    assert (status, list(body)) == (200, ["created", "data"])


async def test_sync_video_is_refused(pix: Pix) -> None:
    status, body = await pix.call("POST", "/v1/videos/generations", json=VIDEO)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert "/v1/async/videos/generations" in body["error"]["message"]


@pytest.mark.fakeapi(scenario=REJECTING)
async def test_rejected_prompt_is_422_sync_and_a_failed_task_async(pix: Pix) -> None:
    status, body = await pix.call("POST", "/v1/images/generations", json={**IMAGE, "prompt": "forbidden"})
    assert (status, body) == (
        422,
        {"error": {"code": 422, "message": "prompt rejected by provider", "type": "prompt_rejected"}},
    )
    _, submitted = await pix.call(
        "POST", "/v1/async/images/generations", json={**IMAGE, "prompt": "forbidden"}
    )
    failed = await pix.task(submitted["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == {
        "code": 422,
        "message": "prompt rejected by provider",
        "type": "prompt_rejected",
    }
    assert (failed["created"], failed["completed"]) == (T0, T0)


def error(status: int, error_type: str, body: Any) -> str:
    assert list(body) == ["error"]
    assert (body["error"]["code"], body["error"]["type"]) == (status, error_type)
    message: str = body["error"]["message"]
    return message


async def test_error_statuses(pix: Pix, http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    status, body = await pix.call("POST", "/v1/async/images/generations", json={**IMAGE, "n": 0})
    assert status == 400
    assert error(400, "invalid_request_error", body).startswith("n: ")
    status, body = await pix.call("POST", "/v1/async/images/generations", json={**IMAGE, "model": "dall-e-9"})
    assert status == 404
    error(404, "model_not_found", body)
    status, body = await pix.call("GET", "/v1/tasks/task_01KPQ7J7DWB7QZ3WCEK3YVPBRA")
    assert status == 404
    error(404, "not_found", body)
    status, body = await Pix(http, fakeapi.url_for("pixapi"), None).call(
        "POST", "/v1/async/videos/generations", json=VIDEO
    )
    assert status == 401
    error(401, "unauthorized", body)


@pytest.mark.parametrize("size", ["2048", "1024x", "3K", "1024*1024", "big", "1024x1024\n", "auto\n"])
async def test_a_bad_size_is_refused_in_the_apis_words(pix: Pix, fakeapi: FakeApi, size: str) -> None:
    for path in ("/v1/images/generations", "/v1/async/images/generations"):
        status, body = await pix.call("POST", path, json={**IMAGE, "size": size})
        assert status == 400
        assert error(400, "invalid_request_error", body) == (
            "size: must be auto, 1K, 2K, 4K or WIDTHxHEIGHT, e.g. 1024x1024, 1536x1024 or 2048x2048"
        )
    status, body = await pix.call(
        "POST",
        "/v1/async/images/edits",
        data=form([("a.png", png(8, 8), "image/png")], model="gpt-image-2", prompt="x", size=size),
    )
    assert status == 400
    assert error(400, "invalid_request_error", body).startswith("size: must be auto, 1K, 2K, 4K")
    assert fakeapi.tasks == []


async def test_async_flags_work_as_without_them_and_are_noted(pix: Pix, fakeapi: FakeApi) -> None:
    status, task = await pix.call(
        "POST", "/v1/async/images/generations?async=true", json={**IMAGE, "async": True}
    )
    assert (status, task["status"]) == (200, "submitted")
    status, answer = await pix.call("POST", "/v1/images/generations", json={**IMAGE, "async": True})
    assert status == 200
    assert list(answer) == ["created", "data"], "still answered synchronously"
    status, task = await pix.call("POST", "/v1/async/videos/generations", json={**VIDEO, "async": False})
    assert (status, task["status"]) == (200, "submitted")
    assert [entry.notes for entry in fakeapi.journal] == [
        (
            "?async is not to be sent (the endpoint decides whether a request waits); ignored",
            '"async" is not to be sent (the endpoint decides whether a request waits); ignored',
        ),
        ('"async" is not to be sent (the endpoint decides whether a request waits); ignored',),
        ('"async" is not to be sent (the endpoint decides whether a request waits); ignored',),
    ]
    edit = form([("a.png", png(8, 8), "image/png")], model="gpt-image-2", prompt="x", **{"async": "true"})
    status, task = await pix.call("POST", "/v1/async/images/edits", data=edit)
    assert (status, task["status"]) == (200, "submitted")
    status, _ = await pix.call("POST", "/v1/async/images/generations", json=IMAGE)
    assert status == 200
    assert [entry.notes for entry in fakeapi.journal[-2:]] == [
        ('"async" is not to be sent (the endpoint decides whether a request waits); ignored',),
        (),
    ]


@pytest.mark.fakeapi(
    scenario={
        "prices": {"veo": 150, "gemini-*": 4},
        "accounts": {"keys": {"sk_test": {"balance": 200, "rpm": 4}}},
        "rules": [{"phases": [{"state": "succeeded"}]}],
    }
)
async def test_credits_402_and_429(pix: Pix, fakeapi: FakeApi) -> None:
    _, submitted = await pix.call("POST", "/v1/async/videos/generations", json=VIDEO)
    assert (await pix.task(submitted["id"]))["credits_cost"] == 150
    status, body = await pix.call("POST", "/v1/async/videos/generations", json=VIDEO)
    assert status == 402
    assert error(402, "insufficient_credits", body) == "Not enough credits for this request."
    assert fakeapi.balance("pixapi", "sk_test") == 50
    assert (await pix.call("GET", f"/v1/tasks/{submitted['id']}"))[0] == 200  # the 4th request this minute
    status, body = await pix.call("GET", f"/v1/tasks/{submitted['id']}")
    assert status == 429
    error(429, "rate_limited", body)


INSTANT = {"rules": [{"phases": [{"state": "succeeded"}]}]}


@pytest.mark.fakeapi(scenario=INSTANT)
@pytest.mark.parametrize(
    ("path", "body", "credits"),
    [
        ("images", {"model": "gpt-image-2", "size": "1536x1024", "quality": "medium", "n": 2}, 8),
        ("images", {"model": "gpt-image-2", "size": "4K"}, 133),  # quality left out is auto, billed as high
        ("images", {"model": "nano-banana-pro", "size": "4K"}, 16),
        ("images", {"model": "gemini-3.1-flash-image-preview-512", "n": 3}, 12),
        ("images", {"model": "gemini-2.5-flash-image"}, 2),
        ("images", {"model": "nano-banana-pro-4k"}, 16),  # the tier suffix on an alias
        ("images", {"model": "gemini-3.1-flash-image-preview", "size": "5000x5000"}, 8),
        ("videos", {"model": "veo", "duration": 8}, 8),
        ("videos", {"model": "kling", "duration": 5}, 11.2),
        ("videos", {"model": "wan", "duration": 4}, 8),
    ],
)
async def test_documented_prices_in_credits(
    pix: Pix, fakeapi: FakeApi, path: str, body: dict[str, Any], credits: float
) -> None:
    _, submitted = await pix.call("POST", f"/v1/async/{path}/generations", json={"prompt": "p", **body})
    assert (await pix.task(submitted["id"]))["credits_cost"] == credits
    assert fakeapi.balance("pixapi", "sk_test") is None  # open keys are unlimited


@pytest.mark.parametrize(("charge", "after"), [("success", 12.0), ("submit", 4.0)])
async def test_credits_are_taken_when_a_task_succeeds(
    pix: Pix, fakeapi: FakeApi, charge: str, after: float
) -> None:
    fail_later = {"state": "failed", "error": {"reason": "content_violation"}}
    fakeapi.load_scenario(
        {
            "rules": [
                {"match": {"prompt": "forbidden"}, "phases": [{"state": "running", "for": "2s"}, fail_later]},
                {"phases": [{"state": "running", "for": "2s"}, {"state": "succeeded"}]},
            ],
            "accounts": {"keys": {"sk_test": {"balance": 20}}},
            "apis": {"pixapi": {"charge": charge}},
        }
    )
    rejected = {**VIDEO, "prompt": "forbidden cat"}  # veo, 8 s: 8 credits
    _, failing = await pix.call("POST", "/v1/async/videos/generations", json=rejected)
    status, passing = await pix.call("POST", "/v1/async/videos/generations", json=VIDEO)
    assert status == 200
    # 8 + 8 credits are set aside (or taken): a third task's 8 would overdraw the 20.
    status, body = await pix.call("POST", "/v1/async/videos/generations", json=VIDEO)
    assert status == 402
    error(402, "insufficient_credits", body)
    await fakeapi.clock.ashift(2)
    assert (await pix.task(failing["id"]))["status"] == "failed"
    assert (await pix.task(passing["id"]))["credits_cost"] == 8
    assert fakeapi.balance("pixapi", "sk_test") == after


@pytest.mark.fakeapi(scenario=INSTANT)
async def test_legacy_generate_and_edit(pix: Pix) -> None:
    body = {"model": "gemini-3-pro-image-preview", "prompt": "a bottle", "num": 2, "image_size": "16:9"}
    status, answer = await pix.call("POST", "/v1/images/generate", json=body)
    assert status == 200
    assert (answer["code"], answer["message"], len(answer["data"]["url"])) == (0, "ok", 2)
    async with pix.http.get(answer["data"]["url"][1]) as r:
        assert png_size(await r.read()) == (1024, 576)
    edit = {"model": "gemini-3-pro-image-preview", "prompt": "ivory", "image": "https://example.com/in.png"}
    status, answer = await pix.call("POST", "/v1/images/edit", json=edit)
    assert status == 200
    assert isinstance(answer["data"]["url"], str)
    status, answer = await pix.call("POST", "/v1/images/edit", json={**edit, "image": None})
    assert status == 400
    assert error(400, "invalid_request_error", answer) == "image: an image URL is required"


@pytest.mark.fakeapi(
    scenario={
        "models": {"unavailable": ["veo*"]},
        "apis": {"pixapi": {"error_codes": "string"}},
        "rules": [{"phases": [{"state": "succeeded"}]}],
    }
)
async def test_503_and_the_string_code_envelope(pix: Pix) -> None:
    status, body = await pix.call("POST", "/v1/async/videos/generations", json=VIDEO)
    assert status == 503
    assert body == {"error": {"code": "model_unavailable", "message": "model veo is unavailable"}}


async def test_a_fault_in_the_fake_is_500_internal_error(
    pix: Pix, fakeapi: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, submitted = await pix.call("POST", "/v1/async/videos/generations", json=VIDEO)

    def broken(*args: object) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(pixapi_provider, "task_object", broken)
    status, body = await pix.call("GET", f"/v1/tasks/{submitted['id']}")
    assert status == 500
    error(500, "internal_error", body)
    with pytest.raises(SurpriseError):
        fakeapi.check()
