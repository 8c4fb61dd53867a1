"""Reaching the fake as clients of the real services do: result files a player can seek in."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from fakeapi import FakeApi

KEY = {"Authorization": "Bearer sk-reach"}


async def call(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str] | None = None, **kwargs: Any
) -> tuple[int, Any, bytes]:
    async with http.request(method, url, headers={**KEY, **(headers or {})}, **kwargs) as r:
        return r.status, r.headers, await r.read()


# -- result files: HEAD and Range -----------------------------------------------------------------


@pytest.fixture
async def video(http: aiohttp.ClientSession, fakeapi: FakeApi) -> tuple[str, bytes]:
    """A finished video's result URL and its whole file."""
    body = {"model": "kling-v2", "input": {"prompt": "a cat surfing"}}
    status, _, raw = await call(http, "POST", fakeapi.url_for("rixapi") + "/v1/task/submit", json=body)
    assert status == 200, raw
    await fakeapi.clock.ashift(120)
    _, _, raw = await call(http, "GET", fakeapi.url_for("rixapi") + "/v1/task/" + json.loads(raw)["id"])
    url = json.loads(raw)["outputs"][0]
    status, headers, whole = await call(http, "GET", url)
    assert (status, headers["Accept-Ranges"], headers["Content-Type"]) == (200, "bytes", "video/mp4")
    assert "Content-Range" not in headers
    return url, whole


async def test_head_of_a_result_file(http: aiohttp.ClientSession, video: tuple[str, bytes]) -> None:
    url, whole = video
    status, headers, body = await call(http, "HEAD", url)
    assert (status, body, headers["Content-Type"]) == (200, b"", "video/mp4")
    assert (headers["Content-Length"], headers["Accept-Ranges"]) == (str(len(whole)), "bytes")


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [("bytes=0-7", 0, 8), ("bytes=10-", 10, None), ("bytes=-5", -5, None), ("bytes=5-99999999", 5, None)],
)
async def test_a_byte_range_of_a_result_file(
    http: aiohttp.ClientSession, video: tuple[str, bytes], header: str, start: int, stop: int | None
) -> None:
    url, whole = video
    status, headers, body = await call(http, "GET", url, {"Range": header})
    assert (status, body) == (206, whole[start:stop])
    first = start % len(whole)
    assert headers["Content-Range"] == f"bytes {first}-{first + len(body) - 1}/{len(whole)}"
    assert (headers["Content-Type"], headers["Content-Length"]) == ("video/mp4", str(len(body)))


async def test_a_range_past_the_end_is_416(http: aiohttp.ClientSession, video: tuple[str, bytes]) -> None:
    url, whole = video
    for header in (f"bytes={len(whole)}-", "bytes=-0"):
        status, headers, _ = await call(http, "GET", url, {"Range": header})
        assert (status, headers["Content-Range"]) == (416, f"bytes */{len(whole)}")


@pytest.mark.parametrize("header", ["bytes=0-1,4-5", "items=0-1", "bytes=9-2", "bytes=-"])
async def test_several_or_malformed_ranges_get_the_whole_file(
    http: aiohttp.ClientSession, video: tuple[str, bytes], header: str
) -> None:
    url, whole = video
    status, headers, body = await call(http, "GET", url, {"Range": header})
    assert (status, body, "Content-Range" in headers) == (200, whole, False)
