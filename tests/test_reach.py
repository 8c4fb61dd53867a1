"""Reaching the fake as clients of the real services do: each API at its real root paths (on a port of
its own, or addressed by the real host's name), result URLs that resolve where the client runs,
result files a player can seek in, and browsers' CORS checks."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import pytest
from admin_client import write_ini
from test_cli import Served, http

from fakeapi import FakeApi, SurpriseError
from fakeapi.cli import main
from fakeapi.server import FakeServer

KEY = {"Authorization": "Bearer sk-reach"}


@dataclass(frozen=True)
class Job:
    """One API's job as its own client runs it: absolute paths, joined to the base URL."""

    host: str
    submit: str
    body: dict[str, Any]
    task_id: Callable[[Any], str]
    poll: Callable[[str], str]
    result_url: Callable[[Any], str]


JOBS = {
    "rixapi": Job(
        "api.ephone.ai",
        "/v1/task/submit",
        {"model": "flux-pro", "input": {"prompt": "a red fox"}},
        lambda answer: answer["id"],
        lambda task_id: f"/v1/task/{task_id}",
        lambda answer: answer["outputs"][0],
    ),
    "apixo": Job(
        "api.apixo.ai",
        "/api/v1/generateTask/vidu-q3",
        {"input": {"mode": "text-to-video", "prompt": "waves"}},
        lambda answer: answer["data"]["taskId"],
        lambda task_id: f"/api/v1/statusTask/vidu-q3?taskId={task_id}",
        lambda answer: json.loads(answer["data"]["resultJson"])["resultUrls"][0],
    ),
    "foxapi": Job(
        "api.foxapi.cc",
        "/v1/images/generations",
        {"model": "gemini-3-pro-image-preview", "prompt": "a red fox"},
        lambda answer: answer["id"],
        lambda task_id: f"/v1/tasks/{task_id}",
        lambda answer: answer["results"][0]["url"],
    ),
    "pixapi": Job(
        "api.pixapi.ai",
        "/v1/async/images/generations",
        {"model": "gemini-3.1-flash-image-preview", "prompt": "a ceramic cup"},
        lambda answer: answer["id"],
        lambda task_id: f"/v1/tasks/{task_id}",
        lambda answer: answer["result"]["data"][0]["url"],
    ),
}


async def call(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str] | None = None, **kwargs: Any
) -> tuple[int, Any, bytes]:
    async with http.request(method, url, headers={**KEY, **(headers or {})}, **kwargs) as r:
        return r.status, r.headers, await r.read()


async def run_job(
    http: aiohttp.ClientSession, fakeapi: FakeApi, api: str, base: str, headers: dict[str, str]
) -> tuple[str, str]:
    """Submit, let the clock run, poll: the task id and its first result URL."""
    job = JOBS[api]
    status, _, raw = await call(http, "POST", urljoin(base, job.submit), headers, json=job.body)
    assert status == 200, raw
    task_id = job.task_id(json.loads(raw))
    await fakeapi.clock.ashift(120)
    status, _, raw = await call(http, "GET", urljoin(base, job.poll(task_id)), headers)
    assert status == 200, raw
    return task_id, job.result_url(json.loads(raw))


# -- each API at its real root paths ---------------------------------------------------------------


@pytest.mark.parametrize("api", list(JOBS))
async def test_a_client_of_the_real_host_root_completes_a_job_on_the_api_port(
    http: aiohttp.ClientSession, fakeapi: FakeApi, api: str
) -> None:
    root = fakeapi.root_url_for(api)
    assert root.startswith("http://127.0.0.1:")
    assert root != fakeapi.base_url
    task_id, url = await run_job(http, fakeapi, api, root + "/", {})
    assert url.startswith(f"{root}/files/{task_id}/0.")  # where the client sent the submit
    status, headers, media = await call(http, "GET", url)
    assert (status, len(media) > 100) == (200, True)
    assert headers["Content-Type"].startswith(("image/", "video/"))
    mount = fakeapi.url_for(api).removeprefix(fakeapi.base_url)
    # The journal shows each request to the API under its mount, which names the API.
    poll = urlsplit(JOBS[api].poll(task_id)).path
    assert [entry.path for entry in fakeapi.journal] == [
        mount + JOBS[api].submit,
        mount + poll,
        urlsplit(url).path,
    ]


@pytest.mark.parametrize("api", list(JOBS))
async def test_a_client_with_the_real_host_name_completes_a_job_through_host_routing(
    http: aiohttp.ClientSession, fakeapi: FakeApi, api: str
) -> None:
    host = {"Host": JOBS[api].host}
    task_id, url = await run_job(http, fakeapi, api, fakeapi.base_url, host)
    assert url.startswith(f"http://{JOBS[api].host}/files/{task_id}/0.")
    # As a hosts-file entry for the real host name would take it to the fake:
    status, _, media = await call(http, "GET", fakeapi.base_url + urlsplit(url).path, host)
    assert (status, len(media) > 100) == (200, True)


async def test_a_client_of_the_real_http_host_through_the_fake_as_its_proxy(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    job, proxy = JOBS["apixo"], fakeapi.base_url
    status, _, raw = await call(http, "POST", "http://api.apixo.ai" + job.submit, json=job.body, proxy=proxy)
    assert status == 200, raw
    task_id = job.task_id(json.loads(raw))
    await fakeapi.clock.ashift(120)
    status, _, raw = await call(http, "GET", "http://api.apixo.ai" + job.poll(task_id), proxy=proxy)
    url = job.result_url(json.loads(raw))
    assert url == f"http://api.apixo.ai/files/{task_id}/0.mp4"
    status, headers, _ = await call(http, "GET", url, proxy=proxy)
    assert (status, headers["Content-Type"]) == (200, "video/mp4")


async def test_host_routing_ignores_case_port_and_a_final_dot(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    for host in ("API.ElkAPI.com:8443", "api.ephone.ai."):
        status, _, raw = await call(
            http, "POST", fakeapi.base_url + "/v1/task/submit", {"Host": host}, json=JOBS["rixapi"].body
        )
        assert (status, json.loads(raw)["status"]) == (200, "queued")


async def test_a_host_name_of_your_own_matches_as_the_real_ones_do(http: aiohttp.ClientSession) -> None:
    async with FakeServer("instant", api_hosts={"apixo": ["Apixo.Test."]}) as server:
        for host in ("apixo.test", "APIXO.test.:8080"):
            status, _, raw = await call(
                http, "GET", server.base_url + "/api/v1/apikeys/current-balance", {"Host": host}
            )
            assert status == 200, (host, raw)


async def test_a_proxy_request_is_routed_by_its_target_whatever_its_host_header(fakeapi: FakeApi) -> None:
    # RFC 9112, 3.2.2: a request in absolute form names its host in its target; Host is ignored.
    reader, writer = await asyncio.open_connection("127.0.0.1", int(fakeapi.base_url.rpartition(":")[2]))
    writer.write(
        b"GET http://api.apixo.ai/api/v1/apikeys/current-balance HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer sk-reach\r\nConnection: close\r\n\r\n"
    )
    head, _, body = (await reader.read()).partition(b"\r\n\r\n")
    writer.close()
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert json.loads(body)["code"] == 200


async def test_a_restarted_server_routes_nothing_by_its_old_api_ports(http: aiohttp.ClientSession) -> None:
    server = FakeServer("instant", api_ports={"apixo": 0})
    async with server:
        old = int(server.root_url_for("apixo").rpartition(":")[2])
    server.port = old  # the main port now where the API's was
    async with server:
        assert server.root_url_for("apixo") != server.base_url
        status, _, raw = await call(http, "GET", server.base_url + "/api/v1/apikeys/current-balance")
        assert status == 404, raw  # the main port serves APIs under their prefixes only
        status, _, raw = await call(
            http, "GET", server.root_url_for("apixo") + "/api/v1/apikeys/current-balance"
        )
        assert status == 200, raw


async def test_prefixed_mounts_still_serve_every_host(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    url = fakeapi.url_for("apixo") + JOBS["apixo"].submit
    status, _, raw = await call(http, "POST", url, {"Host": "api.apixo.ai"}, json=JOBS["apixo"].body)
    assert (status, json.loads(raw)["code"]) == (200, 200)


async def test_the_stream_url_of_a_task_submitted_at_the_api_root_works_there(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    # A prefixed route the fast path does not index (its parameter is not last) is served on an
    # API's port and host too.
    body = {"model": "gpt-5.5", "prompt": "hi", "stream": True}
    ways: list[tuple[str, dict[str, str]]] = [
        (fakeapi.root_url_for("foxapi"), {}),
        (fakeapi.base_url, {"Host": "api.foxapi.cc"}),
    ]
    for root, headers in ways:
        status, _, raw = await call(http, "POST", root + "/v1/llm/generations", headers, json=body)
        assert status == 200, raw
        stream_url = json.loads(raw)["stream"]["url"]
        await fakeapi.clock.ashift(120)
        path = urlsplit(stream_url).path
        status, answer_headers, raw = await call(http, "GET", root + path, headers)
        assert (status, answer_headers["Content-Type"]) == (200, "text/event-stream"), raw
        assert raw.endswith(b"data: [DONE]\n\n")


async def test_an_unknown_root_path_is_the_api_s_own_404_and_a_surprise(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    _, _, under_mount = await call(http, "GET", fakeapi.url_for("apixo") + "/api/v1/nope")
    with pytest.raises(SurpriseError):
        fakeapi.check()
    for base, headers in ((fakeapi.root_url_for("apixo"), {}), (fakeapi.base_url, {"Host": "api.apixo.ai"})):
        status, _, raw = await call(http, "GET", base + "/api/v1/nope", headers)
        assert (status, raw) == (404, under_mount)
        assert fakeapi.surprises == [
            "GET /apixo/api/v1/nope matched no route; routes served: "
            "POST /apixo/api/v1/generateTask/{model}, GET /apixo/api/v1/statusTask/{model}, "
            "GET /apixo/api/v1/apikeys/current-balance, "
            "GET /files/{task_id}/{name}"
        ]
        with pytest.raises(SurpriseError):
            fakeapi.check()


async def test_a_path_no_api_root_serves_is_a_plain_404_on_the_main_port(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    status, _, raw = await call(http, "GET", fakeapi.base_url + "/api/v1/nope", {"Host": "example.com"})
    assert (status, json.loads(raw)) == (404, {"error": "Invalid URL (GET /api/v1/nope)"})
    with pytest.raises(SurpriseError):
        fakeapi.check()


async def test_a_fault_matches_the_path_after_the_mount_however_the_api_was_reached(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    fault = {
        "at": "submit",
        "api": "apixo",
        "path": "/api/v1/generateTask/*",
        "effect": "status",
        "status": 503,
    }
    fakeapi.load_scenario(overrides={"faults": [fault]})
    job, root = JOBS["apixo"], fakeapi.root_url_for("apixo")
    _, _, under_mount = await call(http, "POST", fakeapi.url_for("apixo") + job.submit, json=job.body)
    assert json.loads(under_mount)["code"] == 503
    # The last one names its model with a percent-escape: aiohttp's router serves it.
    for url in (root + job.submit, root + "/api/v1/generateTask/vidu%2Dq3"):
        status, _, raw = await call(http, "POST", url, json=job.body)
        assert (status, raw) == (503, under_mount)
    assert fakeapi.tasks == []


@pytest.mark.parametrize(
    "target",
    [
        "/%zz",
        "/..%2f..%2f",
        "//x",
        "/api/v1/statusTask/%7Bx%7D?taskId=1",
        "/api/v1/statusTask/vidu-q3?taskId=%ff",
    ],
)
async def test_odd_root_paths_get_the_api_s_own_errors(fakeapi: FakeApi, target: str) -> None:
    port = int(fakeapi.root_url_for("apixo").rpartition(":")[2])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    head, _, body = (await reader.read()).partition(b"\r\n\r\n")
    writer.close()
    status = int(head.split()[1])
    assert status in (401, 404), head
    assert set(json.loads(body)) == {"code", "message"} | ({"data"} if status == 404 else set())
    surprises = fakeapi.surprises
    if surprises:
        assert "raised in the fake" not in surprises[0]
        with pytest.raises(SurpriseError):
            fakeapi.check()


async def test_document_and_admin_api_on_an_api_port(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    root = fakeapi.root_url_for("pixapi")
    status, _, raw = await call(http, "GET", root + "/openapi.json")
    assert status == 200
    document = json.loads(raw)
    assert document.pop("servers") == [{"url": root}]
    _, _, raw = await call(http, "GET", fakeapi.url_for("pixapi") + "/openapi.json")
    under_mount = json.loads(raw)
    assert under_mount.pop("servers") == [{"url": fakeapi.url_for("pixapi")}]
    # The same document, its examples' result URLs on the root it was read from.
    assert json.loads(json.dumps(document).replace(root, fakeapi.base_url)) == under_mount
    _, _, raw = await call(http, "GET", fakeapi.base_url + "/openapi.json", {"Host": "api.pixapi.ai"})
    assert json.loads(raw)["servers"] == [{"url": "http://api.pixapi.ai"}]
    # Behind a reverse proxy, as result URLs are.
    proxied = {"Host": "api.pixapi.ai", "X-Forwarded-Proto": "https"}
    _, _, raw = await call(http, "GET", fakeapi.base_url + "/openapi.json", proxied)
    assert json.loads(raw)["servers"] == [{"url": "https://api.pixapi.ai"}]
    _, _, raw = await call(http, "GET", fakeapi.url_for("pixapi") + "/openapi.json", {"Host": "fake.lan:81"})
    assert json.loads(raw)["servers"] == [{"url": "http://fake.lan:81/pixapi"}]
    # HTTP/1.0 without a Host: the port it came to.
    port = int(root.rpartition(":")[2])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /openapi.json HTTP/1.0\r\n\r\n")
    body = (await reader.read()).partition(b"\r\n\r\n")[2]
    writer.close()
    assert json.loads(body)["servers"] == [{"url": root}]
    status, _, raw = await call(http, "GET", root + "/_fakeapi/seed")
    assert (status, json.loads(raw)) == (200, {"seed": fakeapi.seed})
    # The real host name is no name of the admin API's: a DNS-rebinding page would send it.
    status, _, raw = await call(http, "GET", fakeapi.base_url + "/_fakeapi/seed", {"Host": "api.pixapi.ai"})
    assert status == 403, raw


def test_ports_and_hosts_are_checked() -> None:
    with pytest.raises(KeyError, match="no API named 'nope'"):
        FakeServer(api_ports={"nope": 0})
    with pytest.raises(ValueError, match="api_ports: apixo's port 65536 is no port number"):
        FakeServer(api_ports={"apixo": 65536})
    with pytest.raises(ValueError, match=r"host 'api\.apixo\.ai' already routes to apixo, not pixapi"):
        FakeServer(api_hosts={"pixapi": ["API.apixo.ai"]})
    with pytest.raises(ValueError, match=r"'apixo\.test:8080' is not a host name"):
        FakeServer(api_hosts={"apixo": ["apixo.test:8080"]})
    with pytest.raises(KeyError, match="apixo has no port of its own"):
        FakeServer().root_url_for("apixo")
    with pytest.raises(ValueError, match="public_url must be an http:// or https:// URL"):
        FakeServer(public_url="192.0.2.2:8000")


# -- result URLs ----------------------------------------------------------------------------------


@pytest.mark.fakeapi("instant")
@pytest.mark.parametrize(
    ("headers", "base"),
    [
        ({"Host": "myfake.internal:9000"}, "http://myfake.internal:9000"),
        ({"Host": "192.0.2.2:8000"}, "http://192.0.2.2:8000"),
        (
            {"X-Forwarded-Host": "fake.example.com, proxy.internal", "X-Forwarded-Proto": "https"},
            "https://fake.example.com",
        ),
        ({"X-Forwarded-Host": "fake.example.com/evil"}, None),
        ({"X-Forwarded-Host": "a b", "Host": "myfake.internal:9000"}, "http://myfake.internal:9000"),
        ({"X-Forwarded-Host": "x:99999999999999999999"}, None),
        ({"X-Forwarded-Host": "x:65536"}, None),
        ({"X-Forwarded-Host": "[2001:db8::1]:65535"}, "http://[2001:db8::1]:65535"),
    ],
    ids=["name", "address", "proxy", "not-a-host", "bad-forwarded-host", "long-port", "port", "ipv6"],
)
async def test_result_urls_follow_the_host_the_submit_was_sent_to(
    http: aiohttp.ClientSession, fakeapi: FakeApi, headers: dict[str, str], base: str | None
) -> None:
    url = fakeapi.url_for("rixapi") + "/v1/task/submit"
    status, _, raw = await call(http, "POST", url, headers, json=JOBS["rixapi"].body)
    assert status == 200, raw
    task = json.loads(raw)
    assert task["outputs"] == [f"{base or fakeapi.base_url}/files/{task['id']}/0.png"]


async def test_result_urls_follow_the_public_url_whatever_the_host(http: aiohttp.ClientSession) -> None:
    async with FakeServer("instant", public_url="http://192.0.2.2:8000/fake/") as server:
        url = server.url_for("pixapi") + "/v1/async/images/generations"
        status, _, raw = await call(http, "POST", url, {"Host": "elsewhere:1"}, json=JOBS["pixapi"].body)
        assert status == 200, raw
        task_id = json.loads(raw)["id"]
        _, _, raw = await call(http, "GET", server.url_for("pixapi") + JOBS["pixapi"].poll(task_id))
        assert (
            JOBS["pixapi"].result_url(json.loads(raw)) == f"http://192.0.2.2:8000/fake/files/{task_id}/0.png"
        )


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


@pytest.mark.parametrize(
    "header",
    ["bytes=0-1,4-5", "items=0-1", "bytes=9-2", "bytes=-", "bytes=0-" + "9" * 4301],
)
async def test_several_or_malformed_ranges_get_the_whole_file(
    http: aiohttp.ClientSession, video: tuple[str, bytes], header: str
) -> None:
    url, whole = video
    status, headers, body = await call(http, "GET", url, {"Range": header})
    assert (status, body, "Content-Range" in headers) == (200, whole, False)


async def test_a_result_file_is_only_at_its_own_index_and_extension(
    http: aiohttp.ClientSession, fakeapi: FakeApi, video: tuple[str, bytes]
) -> None:
    url, _ = video
    stem = url.rpartition("/")[0]
    for name in ("0.png", "0.mp3", "1.mp4", "0" * 4301 + ".mp4", "1" * 4301 + ".mp4"):
        status, _, raw = await call(http, "GET", f"{stem}/{name}")
        assert status == 404, (name, raw[:100])
    assert fakeapi.surprises == []


# -- CORS -----------------------------------------------------------------------------------------

PREFLIGHT = {
    "Origin": "http://app.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


async def test_cors_answers_preflights_and_opens_answers_but_not_the_admin_api(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeServer("instant", cors=True, api_ports={"apixo": 0}) as server:
        submit = JOBS["apixo"].submit
        for url in (server.url_for("apixo") + submit, server.root_url_for("apixo") + submit):
            status, headers, _ = await call(http, "OPTIONS", url, PREFLIGHT)
            assert status == 204
            assert headers["Access-Control-Allow-Origin"] == "*"
            assert headers["Access-Control-Allow-Headers"] == "authorization, content-type"
            assert "POST" in headers["Access-Control-Allow-Methods"].split(", ")
        assert server.admin.journal() == []  # a browser's preflight is no API request

        origin = {"Origin": "http://app.example"}
        status, headers, raw = await call(
            http, "POST", server.url_for("apixo") + submit, origin, json=JOBS["apixo"].body
        )
        assert (status, headers["Access-Control-Allow-Origin"]) == (200, "*")
        assert "Retry-After" in headers["Access-Control-Expose-Headers"]
        status, _, raw = await call(
            http, "GET", server.url_for("apixo") + JOBS["apixo"].poll(JOBS["apixo"].task_id(json.loads(raw)))
        )
        status, headers, _ = await call(http, "GET", JOBS["apixo"].result_url(json.loads(raw)), origin)
        assert (status, headers["Access-Control-Allow-Origin"]) == (200, "*")
        assert "Content-Range" in headers["Access-Control-Expose-Headers"]

        for method in ("OPTIONS", "GET"):
            for path in ("/_fakeapi/seed", "/_fakeapi"):
                status, headers, raw = await call(http, method, server.base_url + path, PREFLIGHT)
                assert status == 403, raw
                assert "Access-Control-Allow-Origin" not in headers


async def test_without_cors_no_preflight_is_answered(http: aiohttp.ClientSession) -> None:
    async with FakeServer("instant") as server:
        url = server.url_for("apixo") + JOBS["apixo"].submit
        status, headers, _ = await call(http, "OPTIONS", url, PREFLIGHT)
        assert (status, "Access-Control-Allow-Origin" in headers) == (405, False)
        status, headers, _ = await call(http, "POST", url, {"Origin": "http://app.example"}, json={})
        assert "Access-Control-Allow-Origin" not in headers


# -- the sandbox and the fixture, as users run them -----------------------------------------------


def test_serve_with_api_ports_an_api_host_a_public_url_and_cors() -> None:
    served = Served(
        *("--host", "127.0.0.1", "--port", "0", "--scenario", "instant", "--api-ports", "0"),
        *("--api-host", "apixo=apixo.test", "--public-url", "http://192.0.2.2:8000/", "--cors"),
    )
    try:
        roots = {}
        for api in JOBS:
            line = served.wait_for_line(
                rf"^\s+{api}\s+(http://127\.0\.0\.1:\d+)/{api}  \(root paths: (http://127\.0\.0\.1:\d+)/\)$"
            )
            main, roots[api] = line.group(1), line.group(2)
        assert len({main, *roots.values()}) == 5
        served.wait_for_line(r"^\s+result URLs begin with http://192\.0\.2\.2:8000$")
        served.wait_for_line(r"^\s+CORS: web pages of any origin may call the APIs$")
        served.wait_for_line(r"^Press Ctrl-C to stop\.$")

        status, _, raw = http("POST", urljoin(roots["rixapi"], "/v1/task/submit"), JOBS["rixapi"].body)
        assert status == 200, raw
        task = json.loads(raw)
        assert task["outputs"] == [f"http://192.0.2.2:8000/files/{task['id']}/0.png"]
        status, ctype, media = http("GET", main + urlsplit(task["outputs"][0]).path)
        assert (status, ctype, media[:4]) == (200, "image/png", b"\x89PNG")
        status, _, raw = http("POST", main + JOBS["apixo"].submit, JOBS["apixo"].body, host="apixo.test")
        assert (status, json.loads(raw)["code"]) == (200, 200)

        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=10) == 0
    finally:
        served.stop()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (("--api-port", "nope=8001"), "must be API=VALUE with API one of rixapi, apixo, foxapi, pixapi"),
        (("--api-port", "apixo=99999"), "must be a port number, 0 to 65535"),
        (("--api-host", "apixo=http://x"), "is not a host name"),
        (("--public-url", "192.0.2.2"), "must be an http:// or https:// URL"),
        (("--api-ports", "65533"), "--api-ports 65533: the last of 4 ports is past 65535"),
    ],
)
def test_serve_refuses_bad_reach_options(
    option: tuple[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", *option])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_the_fixture_serves_each_api_at_its_root_on_a_port_of_its_own(pytester: pytest.Pytester) -> None:
    write_ini(pytester)
    pytester.makepyfile(
        test_root="""
        import json
        import urllib.request
        from urllib.parse import urljoin

        OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


        def test_apixo_client_of_the_real_host(fakeapi):
            base = fakeapi.root_url_for("apixo")
            assert base.startswith("http://127.0.0.1:") and base != fakeapi.base_url
            body = json.dumps({"input": {"mode": "text-to-video", "prompt": "waves"}}).encode()
            request = urllib.request.Request(
                urljoin(base, "/api/v1/generateTask/vidu-q3"),
                data=body,
                headers={"Authorization": "Bearer sk", "Content-Type": "application/json"},
                method="POST",
            )
            with OPENER.open(request, timeout=10) as response:
                task_id = json.loads(response.read())["data"]["taskId"]
            fakeapi.clock.shift(60)
            (url,) = fakeapi.task(task_id).outputs
            assert url == f"{base}/files/{task_id}/0.mp4"
            with OPENER.open(url, timeout=10) as response:
                assert response.headers["Content-Type"] == "video/mp4"
        """
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=1)
