"""Bad input of every kind found to crash the fake, each answered in the API's own words (never a 5xx).

Every test talks HTTP to a real server on 127.0.0.1, as a buggy or hostile client would.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from fakeapi import FakeServer
from fakeapi.engine import LAST_TIME
from fakeapi.errors import ErrorKind
from fakeapi.media import png
from fakeapi.providers import REGISTRY, Provider
from fakeapi.providers.base import Route
from fakeapi.scenario import merge_overrides, resolve_scenario
from fakeapi.sink import CallbackSink

KEY = {"Authorization": "Bearer sk-bad-input"}
START = 1767225600.0
REQUEST_BYTES = 1024 * 1024
BODY_TIMEOUT = 0.5
LIMITS = {"request_bytes": REQUEST_BYTES, "body_timeout": BODY_TIMEOUT}
DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE_INT = b'{"model": "x", "n": ' + b"9" * 5000 + b"}"
# One valid body per JSON route: the bad bodies below are each one of these with one thing wrong.
GOOD: dict[str, dict[str, Any]] = {
    "rixapi": {"model": "sora-2", "input": {"prompt": "a cat"}},
    "apixo": {"input": {"prompt": "a cat"}},
    "foxapi": {"model": "gpt-image-1", "prompt": "a cat"},
    "pixapi": {"model": "gpt-image-1", "prompt": "a cat"},
}
ADMIN_JSON = ["/reset", "/load_scenario", "/clock/shift", "/clock/move_to", "/clock/speed"]


def json_routes() -> list[tuple[Provider, Route]]:
    return [(p, r) for p in REGISTRY.providers() for r in p.routes() if r.body == "json"]


def provider_named(api: str) -> Provider:
    return next(p for p in REGISTRY.providers() if p.name == api)


def url_of(server: FakeServer, provider: Provider, route: Route) -> str:
    path = route.path.replace("{model}", "nano-banana").replace("{task_id}", "task_none")
    return server.url_for(provider.name) + path


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    scenario = merge_overrides(resolve_scenario("default"), {"limits": LIMITS})
    async with FakeServer(scenario, clock="virtual") as fake:
        fake.engine.clock.set(START)
        yield fake


async def send(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    headers = {**KEY, "Content-Type": "application/json", **kwargs.pop("headers", {})}
    async with http.request(method, url, headers=headers, **kwargs) as response:
        answer = await response.json(content_type=None)
        assert response.content_type == "application/json"
        assert isinstance(answer, dict)
        return response.status, answer


def assert_api_error(provider: Provider, status: int, answer: dict[str, Any], expected: int) -> None:
    """``answer`` is the API's own error envelope with status ``expected``."""
    assert status == expected, answer
    provider.error_model.model_validate(answer)


def no_crash(server: FakeServer) -> None:
    assert not [s for s in server.recorder.surprises if "raised in the fake" in s]


# -- JSON the parser used to let through ---------------------------------------------------------

BAD_JSON = {
    "nested 100,000 levels": DEEP,
    "an integer of 5,000 digits": HUGE_INT,
    "NaN": b'{"model": "x", "prompt": NaN}',
    "Infinity": b'{"model": "x", "prompt": "a", "duration": Infinity}',
    "a float beyond range": b'{"model": "x", "prompt": "a", "duration": 1e400}',
    "a lone surrogate": b'{"model": "x", "prompt": "\\ud800"}',
    "not UTF-8": b'{"model": "\xff\xfe"}',
}


@pytest.mark.parametrize("body", BAD_JSON.values(), ids=BAD_JSON.keys())
async def test_json_the_api_cannot_read_is_its_400_on_every_json_route(
    server: FakeServer, http: aiohttp.ClientSession, body: bytes
) -> None:
    for provider, route in json_routes():
        status, answer = await send(http, route.method, url_of(server, provider, route), data=body)
        bad_request = provider.errors[ErrorKind.MALFORMED_BODY].status
        assert_api_error(provider, status, answer, bad_request)
    no_crash(server)


@pytest.mark.parametrize("body", BAD_JSON.values(), ids=BAD_JSON.keys())
async def test_json_the_admin_api_cannot_read_is_a_400_without_pythons_words(
    server: FakeServer, http: aiohttp.ClientSession, body: bytes
) -> None:
    for path in ADMIN_JSON:
        status, answer = await send(http, "POST", server.base_url + "/_fakeapi" + path, data=body)
        assert status == 400, (path, answer)
        assert "Exceeds the limit" not in answer["error"]["message"]
    no_crash(server)


async def test_a_lone_surrogate_in_an_echoed_field_is_refused_and_callbacks_go_on(
    server: FakeServer, http: aiohttp.ClientSession
) -> None:
    sink = CallbackSink()
    await sink.start()
    try:
        url = server.url_for("foxapi") + "/v1/videos/generations"
        bad = b'{"model":"sora-2-character","prompt":"x","name":"\\ud800","callback_url":"%s"}'
        status, answer = await send(http, "POST", url, data=bad % sink.url.encode())
        assert status == 400, answer
        body = {"model": "sora-2-character", "prompt": "x", "name": "Ada", "callback_url": sink.url}
        status, answer = await send(http, "POST", url, json=body)
        assert status == 200, answer
        await server.engine.shift(60)
        [delivery] = await sink.await_for(1, timeout=5)
        assert delivery.json()["results"][0]["name"] == "Ada"
    finally:
        await sink.stop()
    no_crash(server)


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "x" * 257), ("name", ["Ada"]), ("language_code", "e" * 36), ("seed", 2**64), ("seed", "42")],
)
async def test_foxapi_echoes_a_field_only_when_it_is_short_and_of_its_type(
    server: FakeServer, http: aiohttp.ClientSession, field: str, value: object
) -> None:
    model, path = {
        "name": ("sora-2-character", "videos"),
        "language_code": ("scribe-v2", "audios"),
        "seed": ("seedance-2.0", "videos"),
    }[field]
    body = {"model": model, "prompt": "x", field: value}
    url = server.url_for("foxapi") + f"/v1/{path}/generations"
    status, answer = await send(http, "POST", url, json=body)
    assert_api_error(provider_named("foxapi"), status, answer, 422)
    assert answer["error"]["message"].startswith(field)


# -- pydantic's words kept out of the APIs' messages ----------------------------------------------


def error_message(answer: dict[str, Any]) -> str:
    """The message of an error envelope, without RixAPI's request id."""
    message = answer["data"]["error"] if "data" in answer else answer["error"]["message"]
    return str(message).partition(" (request id: ")[0]


@pytest.mark.parametrize("body", [[], "a cat", 7])
async def test_a_body_that_is_no_object_is_named_the_body_on_every_json_route(
    server: FakeServer, http: aiohttp.ClientSession, body: object
) -> None:
    for provider, route in json_routes():
        status, answer = await send(http, route.method, url_of(server, provider, route), json=body)
        assert status in (400, 422), (provider.name, route.path, answer)
        assert error_message(answer) == "body: Input should be an object", (provider.name, route.path)


# Each is named by the body's own path: no union member's tag (``int``, ``str``, ``list[str]``), no class.
WRONG_TYPES = {
    "foxapi duration": (
        "foxapi",
        "/v1/videos/generations",
        {"model": "sora-2", "prompt": "a cat", "duration": "eight"},
        "duration: Input should be a valid integer",
    ),
    "foxapi content": (
        "foxapi",
        "/v1/llm/generations",
        {"model": "gpt-5", "messages": [{"role": "user", "content": 5}]},
        "messages.0.content: Input should be a valid string",
    ),
    "foxapi message": (
        "foxapi",
        "/v1/llm/generations",
        {"model": "gpt-5", "messages": [5]},
        "messages.0: Input should be an object",
    ),
    "pixapi duration": (
        "pixapi",
        "/v1/async/videos/generations",
        {"model": "veo3", "prompt": "a cat", "duration": "8s"},
        "duration: Input should be a valid integer",
    ),
    "pixapi image": (
        "pixapi",
        "/v1/images/generate",
        {"model": "nano-banana", "prompt": "a cat", "image": 5},
        "image: Input should be a valid string",
    ),
    # Of a union's members, the one that went deepest into the body names the problem.
    "pixapi image list": (
        "pixapi",
        "/v1/images/generate",
        {"model": "nano-banana", "prompt": "a cat", "image": ["https://example.com/a.png", 5]},
        "image.1: Input should be a valid string",
    ),
    "foxapi content blocks": (
        "foxapi",
        "/v1/llm/generations",
        {"model": "gpt-5", "messages": [{"role": "user", "content": ["hi"]}]},
        "messages.0.content.0: Input should be an object",
    ),
}


@pytest.mark.parametrize(("api", "path", "body", "message"), WRONG_TYPES.values(), ids=WRONG_TYPES)
async def test_a_field_of_the_wrong_type_is_named_by_its_path_in_the_body(
    server: FakeServer, http: aiohttp.ClientSession, api: str, path: str, body: Any, message: str
) -> None:
    status, answer = await send(http, "POST", server.url_for(api) + path, json=body)
    assert status in (400, 422), answer
    assert error_message(answer) == message


async def test_a_validators_message_comes_without_pydantics_value_error(
    server: FakeServer, http: aiohttp.ClientSession
) -> None:
    body = {**GOOD["rixapi"], "callback_url": "ftp://example.com/hook"}
    status, answer = await send(http, "POST", server.url_for("rixapi") + "/v1/task/submit", json=body)
    assert status == 400, answer
    assert error_message(answer) == "callback_url: must be an http(s) URL"


# -- numbers out of range ------------------------------------------------------------------------


async def test_rixapi_refuses_a_duration_too_long_to_bill(
    server: FakeServer, http: aiohttp.ClientSession
) -> None:
    body = {"model": "sora-2", "input": {"prompt": "a cat", "duration": "1e308"}}
    status, answer = await send(http, "POST", server.url_for("rixapi") + "/v1/task/submit", json=body)
    assert status == 400, answer
    assert "duration" in answer["error"]["message"]
    no_crash(server)


@pytest.mark.parametrize("api", ["pixapi", "foxapi"])
async def test_a_video_duration_out_of_range_is_the_apis_invalid_request(
    server: FakeServer, http: aiohttp.ClientSession, api: str
) -> None:
    paths = {"pixapi": "/v1/async/videos/generations", "foxapi": "/v1/videos/generations"}
    body = {"model": {"pixapi": "veo3", "foxapi": "sora-2"}[api], "prompt": "a cat", "duration": 1e308}
    status, answer = await send(http, "POST", server.url_for(api) + paths[api], json=body)
    assert status in (400, 422), answer
    assert answer["error"]["message"].startswith("duration")
    no_crash(server)


# -- compressed bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_body_that_does_not_decompress_is_the_apis_400(
    server: FakeServer, http: aiohttp.ClientSession, encoding: str, caplog: pytest.LogCaptureFixture
) -> None:
    for provider, route in json_routes():
        headers = {"Content-Encoding": encoding}
        url = url_of(server, provider, route)
        status, answer = await send(http, route.method, url, data=b"not compressed at all", headers=headers)
        assert_api_error(provider, status, answer, provider.errors[ErrorKind.MALFORMED_BODY].status)
    no_crash(server)
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]  # no traceback logged


@pytest.mark.parametrize("compress", [gzip.compress, zlib.compress])
async def test_a_compressed_body_is_read(
    server: FakeServer, http: aiohttp.ClientSession, compress: Any
) -> None:
    encoding = "gzip" if compress is gzip.compress else "deflate"
    body = compress(json.dumps(GOOD["rixapi"]).encode())
    url = server.url_for("rixapi") + "/v1/task/submit"
    status, answer = await send(http, "POST", url, data=body, headers={"Content-Encoding": encoding})
    assert status == 200, answer


async def test_a_gzip_bomb_is_the_apis_413_once_the_cap_is_read(
    server: FakeServer, http: aiohttp.ClientSession
) -> None:
    bomb = gzip.compress(b"[" + b" " * (64 * 1024 * 1024) + b"]", 9)
    url = server.url_for("pixapi") + "/v1/async/images/generations"
    status, answer = await send(http, "POST", url, data=bomb, headers={"Content-Encoding": "gzip"})
    assert status == 413, answer
    assert answer["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("api", ["rixapi", "foxapi", "apixo", "pixapi"])
async def test_a_body_over_the_scenarios_cap_is_the_apis_413(
    server: FakeServer, http: aiohttp.ClientSession, api: str
) -> None:
    provider = provider_named(api)
    route = next(r for r in provider.routes() if r.body == "json")
    body = b'{"model": "' + b"x" * (REQUEST_BYTES + 1) + b'"}'
    status, answer = await send(http, route.method, url_of(server, provider, route), data=body)
    assert_api_error(provider, status, answer, 413)


# -- slow bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/rixapi/v1/task/submit", "/pixapi/v1/async/images/edits", "/_fakeapi/reset"]
)
async def test_a_body_that_never_arrives_is_dropped_after_the_body_timeout(
    server: FakeServer, path: str
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    content_type = "multipart/form-data; boundary=b" if "edits" in path else "application/json"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer k\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: 1000\r\n\r\n"
    )
    writer.write(head.encode() + b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n{"a')
    started = asyncio.get_running_loop().time()
    closed = await asyncio.wait_for(reader.read(), timeout=5)
    waited = asyncio.get_running_loop().time() - started
    writer.close()
    assert closed == b""  # dropped: no answer at all
    assert BODY_TIMEOUT <= waited < 3
    no_crash(server)


# -- multipart -----------------------------------------------------------------------------------

BOUNDARY = "fuzzboundary"


def multipart(*parts: tuple[bytes, bytes]) -> bytes:
    """A multipart body of (headers, content) parts, written by hand to say what aiohttp will not."""
    out = b""
    for headers, content in parts:
        out += b"--" + BOUNDARY.encode() + b"\r\n" + headers + b"\r\n\r\n" + content + b"\r\n"
    return out + b"--" + BOUNDARY.encode() + b"--\r\n"


IMAGE_PART = (b'Content-Disposition: form-data; name="image"; filename="a.png"', png())
BAD_PARTS = {
    "an unknown transfer encoding": (
        b'Content-Disposition: form-data; name="prompt"\r\nContent-Transfer-Encoding: x-rot13',
        b"a cat",
    ),
    "a non-ASCII header byte": (b'Content-Disposition: form-data; name="pr\xffompt"', b"a cat"),
    "a 9 KB header line": (b'Content-Disposition: form-data; name="' + b"p" * 9000 + b'"', b"a cat"),
    "200 headers": (
        b'Content-Disposition: form-data; name="prompt"' + b"\r\nX-A: b" * 200,
        b"a cat",
    ),
    "a broken base64 part": (
        b'Content-Disposition: form-data; name="prompt"\r\nContent-Transfer-Encoding: base64',
        b"!!!",
    ),
}


@pytest.mark.parametrize("part", BAD_PARTS.values(), ids=BAD_PARTS.keys())
@pytest.mark.parametrize("path", ["/v1/async/images/edits", "/v1/images/edits"])
async def test_a_malformed_multipart_part_is_pixapis_400(
    server: FakeServer, http: aiohttp.ClientSession, part: tuple[bytes, bytes], path: str
) -> None:
    body = multipart((b'Content-Disposition: form-data; name="model"', b"gpt-image-1"), part, IMAGE_PART)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    status, answer = await send(http, "POST", server.url_for("pixapi") + path, data=body, headers=headers)
    assert status == 400, answer
    assert answer["error"]["type"] == "invalid_request_error"
    no_crash(server)


async def test_a_part_in_an_unknown_charset_is_read_as_utf8(
    server: FakeServer, http: aiohttp.ClientSession
) -> None:
    prompt = (
        b'Content-Disposition: form-data; name="prompt"\r\nContent-Type: text/plain; charset=x-none',
        b"a cat",
    )
    body = multipart((b'Content-Disposition: form-data; name="model"', b"gpt-image-1"), prompt, IMAGE_PART)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    url = server.url_for("pixapi") + "/v1/async/images/edits"
    status, answer = await send(http, "POST", url, data=body, headers=headers)
    assert status == 200, answer
    assert server.engine.get(answer["id"]).prompt == "a cat"


async def test_multipart_parts_together_are_capped_at_the_scenarios_request_bytes(
    server: FakeServer, http: aiohttp.ClientSession
) -> None:
    quarter = b"x" * (REQUEST_BYTES // 4 + 1)
    fields = [(f'Content-Disposition: form-data; name="f{i}"'.encode(), quarter) for i in range(4)]
    body = multipart(*fields, IMAGE_PART)
    # Chunked, so that no Content-Length tells the size before the parts are read.
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    url = server.url_for("pixapi") + "/v1/async/images/edits"
    status, answer = await send(http, "POST", url, data=chunks(), headers=headers)
    assert status == 413, answer
    assert answer["error"]["type"] == "invalid_request_error"


# -- result files --------------------------------------------------------------------------------


async def test_a_result_file_name_with_a_unicode_digit_is_not_found(
    server: FakeServer, http: aiohttp.ClientSession
) -> None:
    body = {"model": "gpt-image-1", "prompt": "a cat"}
    status, task = await send(
        http, "POST", server.url_for("pixapi") + "/v1/async/images/generations", json=body
    )
    assert status == 200, task
    await server.engine.shift(60)
    for name in ("².png", "0².png", "\u0660.png"):
        async with http.get(f"{server.base_url}/files/{task['id']}/{name}") as response:
            assert response.status == 404
    async with http.get(f"{server.base_url}/files/{task['id']}/0.png") as response:
        assert response.status == 200
    no_crash(server)


async def test_a_large_png_does_not_block_the_loop(server: FakeServer, http: aiohttp.ClientSession) -> None:
    body = {"model": "gpt-image-1", "prompt": "a cat", "size": "4095x4096"}
    status, task = await send(
        http, "POST", server.url_for("pixapi") + "/v1/async/images/generations", json=body
    )
    assert status == 200, task
    await server.engine.shift(60)
    loop = asyncio.get_running_loop()
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.005)
            gaps.append(loop.time() - last)
            last = loop.time()

    ticking = asyncio.create_task(ticker())
    async with http.get(f"{server.base_url}/files/{task['id']}/0.png") as response:
        assert response.status == 200
        image = await response.read()
    done.set()
    await ticking
    assert max(gaps) < 0.1
    width, height = struct.unpack(">II", image[16:24])
    assert (width, height) == (4095, 4096)
    [idat] = [image[i + 8 : i + 8 + n] for i, n in _chunks(image) if image[i + 4 : i + 8] == b"IDAT"]
    rows = zlib.decompress(idat)  # checks the stream's checksum too
    assert rows == (b"\x00" + rows[1:4] * width) * height


def _chunks(image: bytes) -> Iterator[tuple[int, int]]:
    """The offset and data length of each chunk of a PNG."""
    offset = 8
    while offset < len(image):
        (length,) = struct.unpack(">I", image[offset : offset + 4])
        yield offset, length
        offset += 12 + length


# -- the admin API -------------------------------------------------------------------------------


async def test_admin_clock_speed_is_bounded(http: aiohttp.ClientSession) -> None:
    async with FakeServer("default", clock="system") as fake:
        status, answer = await send(
            http, "POST", fake.base_url + "/_fakeapi/clock/speed", json={"speed": 1e12}
        )
        assert status == 400, answer
        assert "speed" in answer["error"]["message"]
        status, answer = await send(
            http, "POST", fake.base_url + "/_fakeapi/clock/speed", json={"speed": 1e6}
        )
        assert status == 200, answer
        body = {"model": "flux-pro", "input": {"prompt": "a fox"}}
        status, answer = await send(http, "POST", fake.url_for("rixapi") + "/v1/task/submit", json=body)
        assert status == 200, "the fastest clock allowed still serves"
        status, answer = await send(http, "GET", fake.url_for("rixapi") + f"/v1/task/{answer['id']}")
        assert status == 200, answer


@pytest.mark.parametrize(
    ("path", "body"), [("/clock/move_to", {"t": LAST_TIME + 1}), ("/clock/shift", {"seconds": 1e300})]
)
async def test_admin_clock_moves_only_to_what_the_clock_can_show(
    server: FakeServer, http: aiohttp.ClientSession, path: str, body: dict[str, float]
) -> None:
    status, answer = await send(http, "POST", server.base_url + "/_fakeapi" + path, json=body)
    assert status == 400, answer
    assert server.engine.clock.now() == START


async def test_every_api_submits_at_the_last_second_the_clock_shows(
    server: FakeServer, http: aiohttp.ClientSession
) -> None:
    status, answer = await send(
        http, "POST", server.base_url + "/_fakeapi/clock/move_to", json={"t": LAST_TIME - 9}
    )
    assert status == 200, answer
    legacy = {"model": "nano-banana", "prompt": "a cat"}
    status, answer = await send(http, "POST", server.url_for("pixapi") + "/v1/images/generate", json=legacy)
    assert status == 200, answer
    status, answer = await send(http, "POST", server.url_for("pixapi") + "/v1/images/generate", json=legacy)
    assert status == 400, answer
    assert "9999-12-31T23:59:59Z" in answer["error"]["message"]
    for provider, route in json_routes():
        status, answer = await send(
            http, route.method, url_of(server, provider, route), json=GOOD[provider.name]
        )
        assert status < 500, (provider.name, route.path, answer)
    no_crash(server)


async def test_admin_load_scenario_with_a_long_name_is_a_400(
    server: FakeServer, http: aiohttp.ClientSession
) -> None:
    for name in ("x" * 256, "x" * 5000, "a/" * 200):
        url = server.base_url + "/_fakeapi/load_scenario"
        status, answer = await send(http, "POST", url, json={"scenario": name})
        assert status in (400, 404), answer
    no_crash(server)


async def test_a_non_utf8_api_key_is_a_401_and_leaves_the_listings_readable(
    server: FakeServer, http: aiohttp.ClientSession
) -> None:
    body = b'{"model":"flux-pro","input":{"prompt":"x"}}'
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST /rixapi/v1/task/submit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer sk-\xff\xfe\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    head = await asyncio.wait_for(reader.readline(), timeout=5)
    writer.close()
    assert head.startswith(b"HTTP/1.1 401"), "a key that is no text is no key"
    async with http.get(server.base_url + "/_fakeapi/tasks") as response:
        assert response.status == 200, await response.text()


async def test_a_non_utf8_admin_token_is_a_401(http: aiohttp.ClientSession) -> None:
    async with FakeServer("default", admin_token="secret") as fake:
        reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
        writer.write(
            b"GET /_fakeapi/seed HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \xff\xfe\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readline(), timeout=5)
        writer.close()
        assert head.startswith(b"HTTP/1.1 401")
