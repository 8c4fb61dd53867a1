"""Catalogues, kinds from the request, output formats and music tracks, over HTTP on all four APIs.

Every result file is fetched and read as a client would: its signature, its header and its size.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import aiohttp
import pytest

from fakeapi import FakeApi
from fakeapi.catalogue import ACCEPT_UNKNOWN_HINT

DONE = [{"phases": [{"state": "succeeded"}]}]
pytestmark = pytest.mark.fakeapi(scenario={"rules": DONE})
ACCEPTING = {"models": {"accept_unknown": True}, "rules": DONE}
HEADERS = {"Authorization": "Bearer sk-test"}


async def call(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with http.request(method, url, headers=HEADERS, **kwargs) as r:
        return r.status, await r.json(content_type=None)


async def fetch(http: aiohttp.ClientSession, url: str) -> tuple[str, bytes]:
    async with http.get(url) as r:
        assert r.status == 200, url
        return r.content_type, await r.read()


def jpeg_size(data: bytes) -> tuple[int, int]:
    """The size in a baseline JPEG's SOF0 segment, walking the segments from SOI to the scan."""
    assert (data[:2], data[-2:]) == (b"\xff\xd8", b"\xff\xd9")
    at = 2
    while data[at] == 0xFF and data[at + 1] != 0xDA:
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
        if marker == 0xC0:
            precision, height, width, components = struct.unpack(">BHHB", data[at + 4 : at + 10])
            assert (precision, components) == (8, 3)
            return width, height
        at += 2 + length
    raise AssertionError("no SOF0 before the scan")


def webp_size(data: bytes) -> tuple[int, int]:
    """The size in a lossless WebP's VP8L header, inside a RIFF container of the right length."""
    assert (data[:4], data[8:16]) == (b"RIFF", b"WEBPVP8L")
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    assert data[20] == 0x2F
    bits = int.from_bytes(data[21:25], "little")
    assert bits >> 29 == 0  # version
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1


def mp3_frames(data: bytes) -> int:
    """How many MPEG-1 Layer III frames follow each other from the first byte to the last."""
    frames, at = 0, 0
    while at < len(data):
        header = data[at : at + 4]
        assert (header[0], header[1] & 0xE0) == (0xFF, 0xE0), f"no frame sync at {at}"
        assert ((header[1] >> 3) & 3, (header[1] >> 1) & 3) == (3, 1)  # MPEG-1, Layer III
        bitrate = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)[header[2] >> 4]
        rate = (44100, 48000, 32000)[(header[2] >> 2) & 3]
        at += 144 * bitrate * 1000 // rate + ((header[2] >> 1) & 1)
        frames += 1
    assert at == len(data)
    return frames


# -- APIXO ----------------------------------------------------------------------------------------


class Apixo:
    def __init__(self, http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
        self.http, self.base = http, fakeapi.url_for("apixo") + "/api/v1"

    async def generate(self, model: str, input: dict[str, Any]) -> tuple[int, Any]:
        return await call(self.http, "POST", f"{self.base}/generateTask/{model}", json={"input": input})

    async def results(self, model: str, input: dict[str, Any]) -> list[str]:
        status, answer = await self.generate(model, input)
        assert status == 200, answer
        params = {"taskId": answer["data"]["taskId"]}
        _, done = await call(self.http, "GET", f"{self.base}/statusTask/{model}", params=params)
        urls: list[str] = json.loads(done["data"]["resultJson"])["resultUrls"]
        return urls

    async def balance(self) -> float:
        balance: float = (await call(self.http, "GET", f"{self.base}/apikeys/current-balance"))[1]["data"]
        return balance


@pytest.fixture
def apixo(http: aiohttp.ClientSession, fakeapi: FakeApi) -> Apixo:
    return Apixo(http, fakeapi)


NANO_BANANA_2 = {"mode": "text-to-image", "prompt": "a fox", "aspect_ratio": "16:9", "resolution": "2k"}
SUNO = {"mode": "V5", "customMode": False, "instrumental": False, "prompt": "upbeat pop about summer"}


@pytest.mark.parametrize(
    ("output_format", "ext"), [(None, "png"), ("png", "png"), ("jpeg", "jpeg"), ("jpg", "jpeg")]
)
async def test_apixo_nano_banana_2_in_each_documented_format(
    apixo: Apixo, http: aiohttp.ClientSession, output_format: str | None, ext: str
) -> None:
    input = NANO_BANANA_2 if output_format is None else {**NANO_BANANA_2, "output_format": output_format}
    [url] = await apixo.results("nano-banana-2", input)
    assert url.endswith(f"/0.{ext}")
    content_type, data = await fetch(http, url)
    if ext == "jpeg":
        assert (content_type, jpeg_size(data)) == ("image/jpeg", (64, 64))
    else:
        assert (content_type, data[:8]) == ("image/png", b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    ("model", "input", "field"),
    [
        ("nano-banana-2", {**NANO_BANANA_2, "output_format": "webp"}, "output_format"),
        ("nano-banana-2", {"mode": "text-to-image", "prompt": "a fox", "aspect_ratio": "1:1"}, "resolution"),
        (
            "nano-banana",
            {"mode": "text-to-image", "prompt": "a fox", "output_format": "jpg"},
            "output_format",
        ),
        ("suno", {**SUNO, "customMode": True}, "style"),
        ("suno", {**SUNO, "mode": "V3"}, "mode"),
        ("suno", {**SUNO, "prompt": "x" * 501}, "prompt"),
    ],
)
async def test_apixo_refuses_what_the_model_pages_do_not_allow(
    apixo: Apixo, fakeapi: FakeApi, model: str, input: dict[str, Any], field: str
) -> None:
    status, answer = await apixo.generate(model, input)
    assert (status, answer["code"], answer["message"]) == (400, 400, "Invalid request")
    assert field in answer["data"]["error"]
    assert fakeapi.tasks == []


async def test_apixo_suno_makes_two_mp3_tracks(apixo: Apixo, http: aiohttp.ClientSession) -> None:
    urls = await apixo.results("suno", SUNO)
    assert [url.rsplit("/", 1)[1] for url in urls] == ["0.mp3", "1.mp3"]
    for url in urls:
        content_type, data = await fetch(http, url)
        assert content_type == "audio/mpeg"
        assert mp3_frames(data) >= 27  # a second at 32 kHz, 1152 samples a frame


async def test_apixo_custom_instrumental_suno_needs_no_lyrics(apixo: Apixo) -> None:
    input = {"mode": "V4", "customMode": True, "instrumental": True, "style": "lofi", "title": "Rain"}
    assert len(await apixo.results("suno", input)) == 2


@pytest.mark.fakeapi(scenario={"accounts": {"keys": {"sk-test": {"balance": 1.0}}}, "rules": DONE})
async def test_apixo_published_prices(apixo: Apixo) -> None:
    await apixo.results("sora-2", {"mode": "text-to-video", "prompt": "a fox", "duration": 8})
    assert await apixo.balance() == pytest.approx(0.92)  # $0.01 per second of duration
    await apixo.results("suno", SUNO)
    assert await apixo.balance() == pytest.approx(0.80)  # $0.12 a task, for its two tracks
    await apixo.results("nano-banana", {"mode": "text-to-image", "prompt": "a fox"})
    assert await apixo.balance() == pytest.approx(0.77)  # $0.03 an image
    await apixo.results("nano-banana-2", NANO_BANANA_2)
    assert await apixo.balance() == pytest.approx(0.77)  # no published price


async def test_apixo_new_video_models(apixo: Apixo, http: aiohttp.ClientSession) -> None:
    pro = {"mode": "text-to-video", "prompt": "a fox", "duration": 12, "size": "1280*720"}
    ltx = {"mode": "image-to-video-LoRA", "prompt": "a fox", "image_urls": ["https://example.com/a.png"]}
    for model, input in (("sora-2-pro", pro), ("ltx-2-19b", ltx)):
        [url] = await apixo.results(model, input)
        content_type, data = await fetch(http, url)
        assert (content_type, data[4:8]) == ("video/mp4", b"ftyp")
    status, answer = await apixo.generate("sora-2-pro", {**pro, "mode": "image-to-video"})
    assert status == 400
    assert "image_urls" in answer["data"]["error"]


IMAGE_URL = "https://example.com/a.png"


@pytest.mark.parametrize(
    ("model", "input", "names"),
    [
        (
            "seedream-5-0",
            {"mode": "text-to-image", "prompt": "a fox", "max_images": 3},
            ["0.jpeg", "1.jpeg", "2.jpeg"],
        ),
        ("seedream-5-0", {"mode": "text-to-image", "prompt": "a fox", "output_format": "png"}, ["0.png"]),
        ("seedream-4-5", {"mode": "image-to-image", "prompt": "a fox", "image_urls": [IMAGE_URL]}, ["0.png"]),
        ("gpt-image-2", {"mode": "text-to-image", "prompt": "a fox", "resolution": "2k"}, ["0.png"]),
        (
            "kling-3-0-std",
            {"mode": "motion-control", "image_urls": [IMAGE_URL], "video_urls": [IMAGE_URL]},
            ["0.mp4"],
        ),
        ("hailuo-2-3", {"mode": "standard-text-to-video", "prompt": "a fox", "duration": "10"}, ["0.mp4"]),
        (
            "hailuo-2-3",
            {"mode": "pro-image-to-video", "prompt": "a fox", "image_urls": [IMAGE_URL]},
            ["0.mp4"],
        ),
        (
            "wan-2-5",
            {"mode": "text-to-video", "prompt": "a fox", "duration": 10, "resolution": "1080p"},
            ["0.mp4"],
        ),
        (
            "grok-video",
            {"mode": "image-to-video", "prompt": "a fox", "task_id": "task_1", "index": 0},
            ["0.mp4"],
        ),
    ],
)
async def test_apixo_more_model_pages(
    apixo: Apixo, model: str, input: dict[str, Any], names: list[str]
) -> None:
    urls = await apixo.results(model, input)
    assert [url.rsplit("/", 1)[1] for url in urls] == names


@pytest.mark.parametrize(
    ("model", "input", "field"),
    [
        ("hailuo-2-3", {"mode": "standard-text-to-video", "prompt": "a fox"}, "duration"),
        ("kling-3-0-std", {"mode": "motion-control", "image_urls": [IMAGE_URL]}, "video_urls"),
        ("kling-3-0-std", {"mode": "text-to-video"}, "prompt"),
        ("seedream-5-0", {"mode": "text-to-image", "prompt": "a fox", "max_images": 11}, "max_images"),
        ("grok-video", {"mode": "text-to-video", "prompt": "a fox", "image_urls": [IMAGE_URL]}, "image_urls"),
    ],
)
async def test_apixo_more_model_pages_refuse_what_they_do_not_allow(
    apixo: Apixo, model: str, input: dict[str, Any], field: str
) -> None:
    status, answer = await apixo.generate(model, input)
    assert status == 400
    assert field in answer["data"]["error"]


async def test_apixo_unknown_model_says_how_to_accept_it(apixo: Apixo, fakeapi: FakeApi) -> None:
    assert await apixo.generate("nano-banana-9", NANO_BANANA_2) == (
        404,
        {"code": 404, "message": f"Model not found; {ACCEPT_UNKNOWN_HINT}", "data": None},
    )
    assert fakeapi.journal[0].notes == ()


@pytest.mark.fakeapi(scenario=ACCEPTING)
async def test_apixo_accepted_unknown_model_is_a_contract_note(apixo: Apixo, fakeapi: FakeApi) -> None:
    [url] = await apixo.results("nano-banana-9", {"prompt": "a fox", "output_format": "jpeg"})
    assert url.endswith(".jpeg")
    assert fakeapi.journal[0].notes == (
        "model nano-banana-9 is not in this API's catalogue: the real API may refuse it",
    )


# -- RixAPI ---------------------------------------------------------------------------------------


async def rix_outputs(http: aiohttp.ClientSession, fakeapi: FakeApi, model: str, **input: Any) -> list[str]:
    body = {"model": model, "input": {"prompt": "a fox", **input}}
    status, task = await call(http, "POST", fakeapi.url_for("rixapi") + "/v1/task/submit", json=body)
    assert (status, task["status"]) == (200, "completed"), task
    outputs: list[str] = task["outputs"]
    return outputs


@pytest.mark.parametrize(
    ("model", "input", "ext"),
    [
        # The ElkAPI table's "Video / Image" models: their first kind unless the inputs ask otherwise.
        ("kling-v2", {}, "mp4"),
        ("kling-v2", {"duration": "5"}, "mp4"),
        ("kling-v2", {"num_images": 1}, "png"),
        # A count is no kind: video models take one too.
        ("kling-v2", {"n": 1}, "mp4"),
        ("jimeng-v2", {}, "mp4"),
        ("jimeng-v2", {"mode": "text-to-image"}, "png"),
        ("wanx-v2", {}, "png"),
        ("wanx-v2", {"first_frame": "https://example.com/a.png"}, "mp4"),
        ("replicate/black-forest-labs/flux-dev", {}, "png"),
        ("replicate/some/model", {"mode": "image-to-video"}, "mp4"),
        # Listed as video, named and made upstream as images: images unless the inputs ask for video.
        ("luma-photon", {}, "png"),
        ("luma-photon", {"duration": 5}, "mp4"),
        ("grok-2-image", {"output_format": "jpeg"}, "jpeg"),
        ("grok-2-image", {"type": "video"}, "mp4"),
        ("kling-v2", {"output_format": "png"}, "png"),
        ("wanx-v2", {"output_format": "mp4"}, "mp4"),
        # A single-kind model keeps its kind whatever the inputs say.
        ("flux-pro", {"duration": 5}, "png"),
        ("kling-v3/text-to-video", {"n": 1}, "mp4"),
    ],
)
async def test_rixapi_kind_from_the_request(
    http: aiohttp.ClientSession, fakeapi: FakeApi, model: str, input: dict[str, Any], ext: str
) -> None:
    [url] = await rix_outputs(http, fakeapi, model, **input)
    assert url.endswith(f"/0.{ext}")
    content_type, data = await fetch(http, url)
    assert content_type == {"png": "image/png", "jpeg": "image/jpeg", "mp4": "video/mp4"}[ext]
    assert data[:3] in (b"\x89PN", b"\xff\xd8\xff") if ext != "mp4" else data[4:8] == b"ftyp"


async def test_rixapi_count_of_videos(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    urls = await rix_outputs(http, fakeapi, "kling-v2", n=2)
    assert [url.rsplit("/", 1)[1] for url in urls] == ["0.mp4", "1.mp4"]


async def test_rixapi_suno_makes_two_mp3_tracks_or_wav_on_request(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    urls = await rix_outputs(http, fakeapi, "suno/music", gpt_description_prompt="lofi")
    assert [url.rsplit(".", 1)[1] for url in urls] == ["mp3", "mp3"]
    content_type, data = await fetch(http, urls[0])
    assert (content_type, mp3_frames(data) > 0) == ("audio/mpeg", True)
    urls = await rix_outputs(http, fakeapi, "suno/music", output_format="wav", n=1)
    [url] = urls
    content_type, data = await fetch(http, url)
    assert (content_type, data[:4], data[8:12]) == ("audio/wav", b"RIFF", b"WAVE")


@pytest.mark.parametrize("output_format", ["webp", "WEBP"])
async def test_rixapi_image_formats(
    http: aiohttp.ClientSession, fakeapi: FakeApi, output_format: str
) -> None:
    [url] = await rix_outputs(http, fakeapi, "flux-pro", output_format=output_format, size="320x200")
    content_type, data = await fetch(http, url)
    assert (content_type, webp_size(data)) == ("image/webp", (320, 200))


async def test_rixapi_unknown_model_says_how_to_accept_it(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    body = {"model": "no-such-model", "input": {}}
    status, answer = await call(http, "POST", fakeapi.url_for("rixapi") + "/v1/task/submit", json=body)
    assert status == 400
    assert answer["error"]["message"].startswith(f"Model not support; {ACCEPT_UNKNOWN_HINT} (request id: ")


# -- Pixapi ---------------------------------------------------------------------------------------

IMAGE = {"model": "gpt-image-2", "prompt": "a fox", "size": "1536x1024", "quality": "low"}


@pytest.mark.parametrize(("output_format", "size"), [("jpeg", jpeg_size), ("webp", webp_size)])
async def test_pixapi_output_formats(
    http: aiohttp.ClientSession, fakeapi: FakeApi, output_format: str, size: Any
) -> None:
    base = fakeapi.url_for("pixapi") + "/v1"
    body = {**IMAGE, "output_format": output_format}
    _, submitted = await call(http, "POST", f"{base}/async/images/generations", json=body)
    _, task = await call(http, "GET", f"{base}/tasks/{submitted['id']}")
    [item] = task["result"]["data"]
    assert item["url"].endswith(f".{output_format}")
    content_type, data = await fetch(http, item["url"])
    assert (content_type, size(data)) == (f"image/{output_format}", (1536, 1024))
    assert fakeapi.journal[0].notes == ("output_format is OpenAI's field: Pixapi's pages do not document it",)
    body = {**body, "response_format": "b64_json"}
    status, answer = await call(http, "POST", f"{base}/images/generations", json=body)
    assert status == 200
    assert size(base64.b64decode(answer["data"][0]["b64_json"])) == (1536, 1024)


async def test_pixapi_unknown_output_format_is_400(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    body = {**IMAGE, "output_format": "gif"}
    status, answer = await call(http, "POST", fakeapi.url_for("pixapi") + "/v1/images/generations", json=body)
    assert (status, answer["error"]["type"]) == (400, "invalid_request_error")
    assert "output_format" in answer["error"]["message"]


async def test_pixapi_sora_2_costs_what_the_docs_example_shows(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    base = fakeapi.url_for("pixapi") + "/v1"
    body = {"model": "sora-2", "prompt": "a fox"}
    _, submitted = await call(http, "POST", f"{base}/async/videos/generations", json=body)
    _, task = await call(http, "GET", f"{base}/tasks/{submitted['id']}")
    assert (task["model"], task["credits_cost"], task["result"]["type"]) == ("sora-2", 1.5, "video")


async def test_pixapi_unknown_model_says_how_to_accept_it(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    body = {**IMAGE, "model": "dall-e-9"}
    status, answer = await call(http, "POST", fakeapi.url_for("pixapi") + "/v1/images/generations", json=body)
    assert (status, answer["error"]["type"]) == (404, "model_not_found")
    assert answer["error"]["message"] == f"model dall-e-9 is not supported; {ACCEPT_UNKNOWN_HINT}"


# -- FoxAPI ---------------------------------------------------------------------------------------


async def fox_results(http: aiohttp.ClientSession, fakeapi: FakeApi, kind: str, body: dict[str, Any]) -> Any:
    base = fakeapi.url_for("foxapi") + "/v1"
    status, task = await call(http, "POST", f"{base}/{kind}/generations", json=body)
    assert status == 200, task
    _, done = await call(http, "GET", f"{base}/tasks/{task['id']}")
    return done["results"]


@pytest.mark.parametrize(("output_format", "ext"), [("jpg", "jpeg"), ("png", "png"), ("webp", "webp")])
async def test_foxapi_image_formats(
    http: aiohttp.ClientSession, fakeapi: FakeApi, output_format: str, ext: str
) -> None:
    body = {"model": "grok-imagine-image", "prompt": "a fox", "output_format": output_format}
    [result] = await fox_results(http, fakeapi, "images", body)
    assert result["url"].endswith(f"/0.{ext}")
    content_type, data = await fetch(http, result["url"])
    assert content_type == f"image/{ext}"
    assert {"jpeg": jpeg_size, "webp": webp_size}.get(ext, lambda d: (64, 64))(data) == (64, 64)


async def test_foxapi_unknown_image_format_is_422(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    body = {"model": "grok-imagine-image", "prompt": "a fox", "output_format": "bmp"}
    status, answer = await call(http, "POST", fakeapi.url_for("foxapi") + "/v1/images/generations", json=body)
    assert (status, answer["error"]["code"]) == (422, "invalid_parameter")
    assert fakeapi.tasks == []


async def test_foxapi_audio_tracks_and_formats(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    suno = await fox_results(http, fakeapi, "audios", {"model": "suno-v5", "prompt": "lofi"})
    assert [r["url"].rsplit("/", 1)[1] for r in suno] == ["0.mp3", "1.mp3"]
    content_type, data = await fetch(http, suno[1]["url"])
    assert (content_type, mp3_frames(data) > 0) == ("audio/mpeg", True)
    speech = {"model": "elevenlabs-v3", "prompt": "hello", "output_format": "pcm_16000"}
    [result] = await fox_results(http, fakeapi, "audios", speech)
    content_type, data = await fetch(http, result["url"])
    assert (content_type, data[:4]) == ("audio/wav", b"RIFF")
    [result] = await fox_results(http, fakeapi, "audios", {**speech, "output_format": "mp3_44100_128"})
    assert result["url"].endswith(".mp3")


@pytest.mark.parametrize(
    ("kind", "model", "ext"),
    [
        ("images", "wan-2.7-image-pro", "png"),
        ("images", "grok-imagine-image", "png"),
        ("videos", "grok-imagine-text-to-video", "mp4"),
        ("videos", "grok-imagine-image-to-video", "mp4"),
        ("videos", "grok-imagine-video-extension", "mp4"),
    ],
)
async def test_foxapi_model_pages_kinds(
    http: aiohttp.ClientSession, fakeapi: FakeApi, kind: str, model: str, ext: str
) -> None:
    [result] = await fox_results(http, fakeapi, kind, {"model": model, "prompt": "a fox"})
    assert result["url"].endswith(f"/0.{ext}")


async def test_foxapi_unknown_model_says_how_to_accept_it(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    body = {"model": "no-such-model", "prompt": "a fox"}
    status, answer = await call(http, "POST", fakeapi.url_for("foxapi") + "/v1/images/generations", json=body)
    assert (status, answer["error"]["code"]) == (422, "model_not_supported")
    assert answer["error"]["message"] == f"model no-such-model is not supported; {ACCEPT_UNKNOWN_HINT}"


async def test_foxapi_nemotron_is_an_llm(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    [completion] = await fox_results(http, fakeapi, "llm", {"model": "nemotron-3-nano-omni", "prompt": "hi"})
    assert (completion["object"], completion["model"]) == ("chat.completion", "nemotron-3-nano-omni")
    assert fakeapi.journal[0].notes == ()


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("images", {"model": "patina-pbr-maps", "image_urls": [IMAGE_URL], "output_format": "webp"}),
        (
            "audios",
            {"model": "minimax-voice-clone", "audio_url": IMAGE_URL, "text": "hi", "output_format": "mp3"},
        ),
    ],
)
async def test_foxapi_content_types_name_the_files_served(
    http: aiohttp.ClientSession, fakeapi: FakeApi, kind: str, body: dict[str, Any]
) -> None:
    files = [r for r in await fox_results(http, fakeapi, kind, body) if "url" in r]
    assert files
    for result in files:
        content_type, _ = await fetch(http, result["url"])
        assert result["content_type"] == content_type
        assert content_type in ("image/webp", "audio/mpeg")


# -- Every API ------------------------------------------------------------------------------------

MYSTERY = "mystery-model"
UNLISTED = f"model {MYSTERY} is not in this API's catalogue: the real API may refuse it"
MYSTERY_SUBMITS = {
    "rixapi": ("/v1/task/submit", {"model": MYSTERY, "input": {"prompt": "a fox"}}),
    "apixo": (f"/api/v1/generateTask/{MYSTERY}", {"input": {"prompt": "a fox"}}),
    "foxapi": ("/v1/images/generations", {"model": MYSTERY, "prompt": "a fox"}),
    "pixapi": ("/v1/async/images/generations", {"model": MYSTERY, "prompt": "a fox"}),
}


@pytest.mark.parametrize("api", sorted(MYSTERY_SUBMITS))
async def test_refused_unknown_model_is_no_contract_note(
    http: aiohttp.ClientSession, fakeapi: FakeApi, api: str
) -> None:
    path, body = MYSTERY_SUBMITS[api]
    status, _ = await call(http, "POST", fakeapi.url_for(api) + path, json=body)
    assert status in (400, 404, 422)
    [entry] = fakeapi.journal
    assert UNLISTED not in entry.notes


@pytest.mark.fakeapi(scenario=ACCEPTING)
@pytest.mark.parametrize("api", sorted(MYSTERY_SUBMITS))
async def test_accepted_unknown_model_is_one_contract_note(
    http: aiohttp.ClientSession, fakeapi: FakeApi, api: str
) -> None:
    path, body = MYSTERY_SUBMITS[api]
    status, _ = await call(http, "POST", fakeapi.url_for(api) + path, json=body)
    assert status == 200
    [entry] = fakeapi.journal
    assert entry.notes.count(UNLISTED) == 1


@pytest.mark.fakeapi(scenario={**ACCEPTING, "models": {"accept_unknown": True, "unknown_kind": "text"}})
async def test_text_task_has_no_result_files(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    assert await rix_outputs(http, fakeapi, "mystery-llm") == []
    apixo = Apixo(http, fakeapi)
    assert await apixo.results("mystery-llm", {"prompt": "hi"}) == []
