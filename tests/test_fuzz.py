"""A seeded fuzz of every route of every API and of the admin API: no bad input gets a 5xx.

Hypothesis draws batches of malformed and extreme requests (random and invalid JSON, deep nesting,
huge numbers, NaN and out-of-range floats, lone surrogates, wrong types, odd Authorization,
Content-Type and Content-Encoding headers, odd path segments, multipart oddities, wrong methods)
for the routes the providers declare, and sends them to one real server on 127.0.0.1 running the
default scenario (which scripts no 5xx). Every answer must be below 500, an error under an API's
mount must be that API's own envelope, no surprise may say the fake crashed, and afterwards the
fake must still serve and deliver a callback. Derandomized: the same requests every run.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from yarl import URL

from fakeapi import FakeServer
from fakeapi.media import png
from fakeapi.providers import REGISTRY, Provider
from fakeapi.providers.base import AnyRoute
from fakeapi.scenario import merge_overrides, resolve_scenario
from fakeapi.server import BackgroundServer
from fakeapi.sink import CallbackSink

BATCH = 50
# Batches of BATCH requests: 10,500 requests in about 20 s; FUZZ_EXAMPLES=700 fuzzes longer (35,000,
# about 70 s); below 200 the count check fails.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 210))
CONCURRENCY = 8
ANSWER_WITHIN = 10.0  # seconds: a request left unanswered fails the fuzz instead of holding it
REQUEST_BYTES = 64 * 1024
KEY = "sk-fuzz"
# Callbacks only ever go to a closed port on this machine (discard), never to a drawn address.
CLOSED_PORT_URL = "http://127.0.0.1:9/callback"
SCENARIO = {
    "limits": {"request_bytes": REQUEST_BYTES, "body_timeout": 5},
    "apis": {"apixo": {"rpm": None, "max_concurrent": None}},
}
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
ADMIN_ROUTES: list[tuple[str, str]] = [
    ("POST", "/reset"),
    ("GET", "/seed"),
    ("POST", "/load_scenario"),
    ("GET", "/clock"),
    ("POST", "/clock/shift"),
    ("POST", "/clock/move_to"),
    ("POST", "/clock/speed"),
    ("GET", "/tasks"),
    ("GET", "/tasks/{task_id}"),
    ("POST", "/tasks/{task_id}/complete"),
    ("POST", "/tasks/{task_id}/fail"),
    ("GET", "/journal"),
    ("GET", "/deliveries"),
    ("GET", "/balance"),
    ("GET", "/surprises"),
]
FIELDS = [
    "model",
    "prompt",
    "input",
    "n",
    "num",
    "size",
    "duration",
    "quality",
    "response_format",
    "image",
    "image_size",
    "image_urls",
    "input_image",
    "messages",
    "system_prompt",
    "sync",
    "stream",
    "max_tokens",
    "temperature",
    "name",
    "language_code",
    "seed",
    "num_outputs",
    "request_type",
    "provider",
    "callback_url",
    "input.prompt",
    "input.mode",
    "input.n",
    "input.duration",
    "input.image_urls",
    "input.num_images",
    "input.aspect_ratio",
    # the admin bodies
    "seconds",
    "t",
    "speed",
    "scenario",
    "overrides",
    "message",
    "code",
    "reason",
]
SAFE_CALLBACKS = [CLOSED_PORT_URL, "ftp://127.0.0.1/", "", "http://127.0.0.1:9/" + "a" * 3000, 7]
LITERALS = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e400",
    b"-1e400",
    b"1e308",
    b"-0.0",
    b"5e-324",
    b'"\\ud800"',
    b'"\\udfff x"',
    b'"\\u0000"',
    b'"\\uffff"',
    b"9" * 4300,
    b"9" * 4301,
    b"-" + b"9" * 10_000,
    b"1" + b"0" * 400 + b".5",
    b"true",
    b"[]",
    b"{}",
]
SEGMENTS = [
    "",
    "²",
    "\u0660",
    "..",
    "%00",
    "%2F",
    "a" * 1000,
    "task_none",
    "null",
    "-1",
    "0",
    "1.png",
    "0².png",
]


@dataclass(repr=False)
class Shot:
    """One request to send, and what may happen to it besides an answer below 500."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    query: str = ""
    may_drop: bool = False  # a body over the cap: the server may close before reading it all

    def __repr__(self) -> str:
        body = self.body or b""
        return f"{self.method} {self.path}?{self.query} {self.headers} body[{len(body)}]={body[:200]!r}"

    def provider(self) -> Provider | None:
        return next((p for p in REGISTRY.providers() if self.path.startswith(p.mount + "/")), None)


# -- strategies ----------------------------------------------------------------------------------

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=5,
)


def models_of(provider: Provider) -> list[str]:
    return [glob.replace("*", "") for glob, _ in provider.profile.catalogue.entries]


def template(model: str) -> dict[str, Any]:
    """A plausible body for any JSON route: the fuzz changes one thing in it."""
    return {
        "model": model,
        "prompt": "a cat",
        "input": {"prompt": "a cat", "mode": "text-to-image"},
        "callback_url": CLOSED_PORT_URL,
    }


def with_value(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    if path == "callback_url" and value not in SAFE_CALLBACKS:
        value = CLOSED_PORT_URL
    out: dict[str, Any] = json.loads(json.dumps(body))
    if "." in path:
        outer, inner = path.split(".", 1)
        target = out.setdefault(outer, {})
        if isinstance(target, dict):
            target[inner] = value
    else:
        out[path] = value
    return out


BOUNDARY = "fuzzBoundary"
PART_ODDITIES = [
    b"",
    b"\r\nContent-Transfer-Encoding: x-rot13",
    b"\r\nContent-Transfer-Encoding: base64",
    b"\r\nContent-Transfer-Encoding: quoted-printable",
    b"\r\nContent-Type: text/plain; charset=x-none",
    b"\r\nContent-Encoding: gzip",
    b"\r\nContent-Length: -5",
    b"\r\nX-Long: " + b"a" * 9000,
    b"\r\nX-A: b" * 200,
    b"\r\nX-\xff: \xfe",
]
AS_GIVEN = "(as given)"
# Strategies are built once: building one per draw costs more than the requests it makes.
KINDS = st.sampled_from(
    ["mutated"] * 3 + ["random", "deep", "deep", "literal", "literal", "bytes", "empty", "large"]
)
ANY_FIELD = st.sampled_from(FIELDS) | st.text(max_size=10)
FIELD = st.sampled_from(FIELDS)
SAFE_CALLBACK = st.sampled_from(SAFE_CALLBACKS)
DEPTHS = st.sampled_from([150, 199, 200, 201, 1000, 20_000])
BRACKETS = st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")])
LITERAL = st.sampled_from(LITERALS)
BYTE_KINDS = st.sampled_from(["binary", "truncated", "latin1", "bom"])
BINARY = st.binary(max_size=64)
LARGE_SIZES = st.sampled_from([REQUEST_BYTES - 100, REQUEST_BYTES + 1, 2 * REQUEST_BYTES])
FRACTIONS = st.floats(0, 1)
PART_NAMES = st.lists(st.sampled_from(["model", "prompt", "n", "size", "image", "image[]", "x"]), max_size=6)
ODDITY = st.sampled_from(PART_ODDITIES)
IMAGE_CONTENT = st.sampled_from([png(), b"", b"GIF89a", b"not an image", b"RIFF0000WEBP"])
FIELD_CONTENT = st.sampled_from([AS_GIVEN.encode(), b"", b"\xff\xfe", b"99999999999999999999"])
BIG_PARTS = st.sampled_from([0, 0, 0, 0, 0, 4])
CLOSINGS = st.sampled_from([b"--" + BOUNDARY.encode() + b"--\r\n", b"", b"--wrong--\r\n"])
MULTIPART_TYPES = st.sampled_from(
    [
        f"multipart/form-data; boundary={BOUNDARY}",
        "multipart/form-data",
        f"multipart/form-data; boundary={'b' * 80}",
        f"multipart/mixed; boundary={BOUNDARY}",
        "application/json",
    ]
)
AUTHORIZATIONS = st.sampled_from(
    [f"Bearer {KEY}"] * 4
    + ["", "Bearer ", "Basic a2V5", "bearer  spaced ", "Bearer " + "k" * 2000, "Bearer ²"]
)
CONTENT_TYPES = st.sampled_from(
    [AS_GIVEN] * 4 + ["", "text/plain", "application/json; charset=latin-1", "*/*;;"]
)
ENCODINGS = st.sampled_from(["none"] * 6 + ["gzip", "deflate", "gzip-bad", "deflate-bad", "x-unknown"])
PROVIDERS = st.sampled_from(REGISTRY.providers())
ROUTES = {p.name: st.sampled_from(list(p.routes())) for p in REGISTRY.providers()}
MODELS = {p.name: st.sampled_from(models_of(p)) | st.text(max_size=12) for p in REGISTRY.providers()}
METHOD = st.sampled_from([AS_GIVEN] * 6 + METHODS)
CLEAN = st.booleans()
ONE_IN_TEN = st.integers(0, 9).map(lambda n: n == 0)
QUERIES = st.sampled_from(["", "taskId={task_id}", "taskId=", "x=%ff"])
ADMIN_ROUTE = st.sampled_from(ADMIN_ROUTES)
ADMIN_KEYS = st.sampled_from(["seconds", "t", "speed", "seed", "scenario", "overrides", "reason", "api"])
# Clock values stay small, so the clock never reaches the year 9999 (tests/test_bad_input.py covers it).
ADMIN_VALUES = json_values.filter(lambda v: not isinstance(v, int | float) or abs(v) < 1e6) | st.sampled_from(
    ["x" * 300, "../../etc/passwd", "no-such-scenario", {"rules": []}]
)
ADMIN_QUERIES = st.sampled_from(["", "api=rixapi&key=k", "api=nope&key=", "api=%ff"])
FILE_NAMES = st.sampled_from(["0.png", "1.png", "0.mp4", "0.wav", "0.gif", "².png", "0².png", ".png", "0"])
FILE_METHOD = st.sampled_from(["GET"] * 4 + METHODS)


@st.composite
def json_bodies(draw: st.DrawFn, base: dict[str, Any]) -> tuple[bytes, bool]:
    """A JSON-ish body (most often ``base`` with one thing wrong) and whether it is over the cap."""
    kind = draw(KINDS)
    if kind == "mutated":
        key = draw(ANY_FIELD)
        value = draw(SAFE_CALLBACK) if key == "callback_url" else draw(json_values)
        return json.dumps(with_value(base, key, value)).encode(), False
    if kind == "random":
        return json.dumps(draw(json_values)).encode(), False
    if kind == "deep":
        depth = draw(DEPTHS)
        opener, closer = draw(BRACKETS)
        return opener * depth + b"1" + closer * depth, False
    if kind == "literal":
        raw = json.dumps(with_value(base, draw(FIELD), "__LITERAL__")).encode()
        return raw.replace(b'"__LITERAL__"', draw(LITERAL)), False
    if kind == "bytes":
        good = json.dumps(base).encode()
        choice = draw(BYTE_KINDS)
        if choice == "binary":
            return draw(BINARY), False
        if choice == "truncated":
            return good[: int(draw(FRACTIONS) * len(good))], False
        if choice == "latin1":
            return good.replace(b"a cat", b"a \xe9t\xff"), False
        return b"\xef\xbb\xbf" + good, False
    if kind == "empty":
        return b"", False
    size = draw(LARGE_SIZES)
    return json.dumps({**base, "prompt": "x" * size}).encode(), size > REQUEST_BYTES - 100


@st.composite
def multipart_bodies(draw: st.DrawFn, model: str) -> tuple[bytes, str, bool]:
    """A multipart body, its Content-Type and whether it is over the cap."""
    parts: list[bytes] = []
    fields = {"model": model, "prompt": "a cat", "n": "1", "size": "1024x1024"}
    for name in draw(PART_NAMES):
        oddity = draw(ODDITY)
        if name.startswith("image"):
            content = draw(IMAGE_CONTENT)
            header = f'Content-Disposition: form-data; name="{name}"; filename="a.png"'.encode()
        else:
            content = draw(FIELD_CONTENT).replace(AS_GIVEN.encode(), fields.get(name, "x").encode())
            header = f'Content-Disposition: form-data; name="{name}"'.encode()
        parts.append(b"--" + BOUNDARY.encode() + b"\r\n" + header + oddity + b"\r\n\r\n" + content + b"\r\n")
    big = draw(BIG_PARTS)
    filler = b"x" * (REQUEST_BYTES // 4)
    parts += [
        b"--" + BOUNDARY.encode() + b'\r\nContent-Disposition: form-data; name="f"\r\n\r\n' + filler
    ] * big
    return b"".join(parts) + draw(CLOSINGS), draw(MULTIPART_TYPES), big > 0


def segments(known: list[str]) -> st.SearchStrategy[str]:
    drawn = st.sampled_from(known + SEGMENTS) | st.text(min_size=1, max_size=20)
    return drawn.map(lambda text: quote(text, safe=""))


def fill(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def headers_for(draw: st.DrawFn, content_type: str) -> dict[str, str]:
    auth = draw(AUTHORIZATIONS)
    headers = {"Authorization": auth} if auth else {}
    drawn = draw(CONTENT_TYPES).replace(AS_GIVEN, content_type)
    if drawn:
        headers["Content-Type"] = drawn
    return headers


def encode(draw: st.DrawFn, headers: dict[str, str], body: bytes) -> bytes:
    """The body with a drawn Content-Encoding: mostly none, else a valid or an undecodable one."""
    encoding = draw(ENCODINGS)
    if encoding == "none":
        return body
    headers["Content-Encoding"] = encoding.removesuffix("-bad")
    if encoding == "gzip":
        return gzip.compress(body, 1)
    if encoding == "deflate":
        return zlib.compress(body, 1)
    return body


@st.composite
def api_shots(draw: st.DrawFn, segment: st.SearchStrategy[str]) -> Shot:
    provider = draw(PROVIDERS)
    route: AnyRoute = draw(ROUTES[provider.name])
    model = draw(MODELS[provider.name])
    values = {"task_id": draw(segment), "model": quote(model, safe="") or "m"}
    method = draw(METHOD).replace(AS_GIVEN, route.method)
    path = provider.mount + fill(route.path, values)
    if draw(ONE_IN_TEN):
        path += "/" + draw(segment)
    query = fill(draw(QUERIES), values)
    if route.body == "multipart":
        body, content_type, large = draw(multipart_bodies(model))
    elif route.body == "json" or draw(ONE_IN_TEN):
        body, large = draw(json_bodies(template(model)))
        content_type = "application/json"
    else:
        body, large, content_type = b"", False, "application/json"
    if draw(CLEAN):
        # Half the shots get past the front door (key, Content-Type, no Content-Encoding) to the parser.
        headers = {"Authorization": f"Bearer {KEY}", "Content-Type": content_type}
    else:
        headers = headers_for(draw, content_type)
        body = encode(draw, headers, body)
    return Shot(method, path, headers, body or None, query, large)


@st.composite
def admin_shots(draw: st.DrawFn, segment: st.SearchStrategy[str]) -> Shot:
    method, path = draw(ADMIN_ROUTE)
    method = draw(METHOD).replace(AS_GIVEN, method)
    path = "/_fakeapi" + fill(path, {"task_id": draw(segment)})
    if draw(st.booleans()):
        body, large = json.dumps({draw(ADMIN_KEYS): draw(ADMIN_VALUES)}).encode(), False
    else:
        body, large = draw(json_bodies({}))
    headers = headers_for(draw, "application/json")
    if draw(ONE_IN_TEN):
        headers["Origin"] = "http://evil.example"
    return Shot(method, path, headers, encode(draw, headers, body), draw(ADMIN_QUERIES), large)


@st.composite
def file_shots(draw: st.DrawFn, segment: st.SearchStrategy[str]) -> Shot:
    path = f"/files/{draw(segment)}/{quote(draw(FILE_NAMES))}"
    return Shot(draw(FILE_METHOD), path)


def shots(known_ids: list[str]) -> st.SearchStrategy[Shot]:
    segment = segments(known_ids)
    api = api_shots(segment)
    return st.one_of(api, api, api, admin_shots(segment), file_shots(segment))


# -- the server and the client -------------------------------------------------------------------


@dataclass
class Fuzzed:
    """The server under fuzz and what the fuzz learnt of it."""

    background: BackgroundServer
    known_ids: list[str]
    sent: int = 0
    answers: dict[int, int] = field(default_factory=dict)

    @property
    def server(self) -> FakeServer:
        return self.background.server


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Fuzzed]:
    scenario = merge_overrides(resolve_scenario("default"), SCENARIO)
    with BackgroundServer(FakeServer(scenario, clock="virtual")) as background:
        known = asyncio.run(_some_tasks(background.server))
        yield Fuzzed(background, known)


async def _some_tasks(server: FakeServer) -> list[str]:
    """A finished task per API, so that drawn paths can name real ids."""
    bodies = {
        "rixapi": ("/v1/task/submit", {"model": "sora-2", "input": {"prompt": "a cat"}}),
        "foxapi": ("/v1/images/generations", {"model": "gpt-image-1", "prompt": "a cat"}),
        "pixapi": ("/v1/async/images/generations", {"model": "gpt-image-1", "prompt": "a cat"}),
    }
    ids = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as http:
        for api, (path, body) in bodies.items():
            async with http.post(server.url_for(api) + path, json=body) as response:
                assert response.status == 200
                ids.append((await response.json())["id"])
    return ids


async def _send(http: aiohttp.ClientSession, base: str, shot: Shot) -> int | None:
    """The status of ``shot``'s answer; ``None`` when the connection closed without one."""
    url = URL(base + shot.path + ("?" + shot.query if shot.query else ""), encoded=True)
    try:
        async with http.request(
            shot.method, url, headers=shot.headers, data=shot.body, skip_auto_headers={"Content-Type"}
        ) as response:
            raw = await response.read()
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
        assert shot.may_drop, f"the connection closed without an answer: {shot}"
        return None
    assert response.status < 500, f"{response.status} {raw[:300]!r} for {shot}"
    provider = shot.provider()
    # aiohttp's HTTP parser answers a message it cannot frame (a deflate stream cut short) itself,
    # in plain text, before any handler or middleware sees the request.
    framed = response.content_type != "text/plain"
    if provider is not None and response.status >= 400 and framed and raw:
        provider.error_model.model_validate_json(raw)
    return response.status


async def _fire(fuzzed: Fuzzed, batch: list[Shot]) -> None:
    # A connection per request: a connection the server closed after an answer (aiohttp's own 400 to a
    # message it cannot parse) is never picked again from the pool, only to be found reset.
    connector = aiohttp.TCPConnector(limit=CONCURRENCY, force_close=True)
    timeout = aiohttp.ClientTimeout(total=ANSWER_WITHIN)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False, timeout=timeout) as http:
        statuses = await asyncio.gather(*(_send(http, fuzzed.server.base_url, shot) for shot in batch))
    for status in statuses:
        if status is not None:
            fuzzed.answers[status] = fuzzed.answers.get(status, 0) + 1
    fuzzed.sent += len(batch)


def _crashes(fuzzed: Fuzzed) -> list[str]:
    surprises = fuzzed.background.call(lambda: list(fuzzed.server.recorder.surprises))
    return [s for s in surprises if "raised in the fake" in s]


# -- the fuzz ------------------------------------------------------------------------------------


def test_no_bad_input_gets_a_5xx_and_the_fake_still_serves_and_delivers(fuzzed: Fuzzed) -> None:
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure names its request
        suppress_health_check=list(HealthCheck),
    )
    @given(batch=st.lists(shots(fuzzed.known_ids), min_size=BATCH, max_size=BATCH))
    def fuzz(batch: list[Shot]) -> None:
        asyncio.run(_fire(fuzzed, batch))
        assert not _crashes(fuzzed)

    fuzz()
    assert fuzzed.sent >= 10_000
    assert sum(fuzzed.answers.values()) > 0.95 * fuzzed.sent
    # The fuzz reached past the front door: bodies were parsed and some requests succeeded.
    assert fuzzed.answers.get(200, 0) > 100
    assert {400, 401, 404}.issubset(fuzzed.answers)
    asyncio.run(_still_serves_and_delivers(fuzzed.server))
    assert not _crashes(fuzzed)


async def _still_serves_and_delivers(server: FakeServer) -> None:
    """Every admin listing of what the fuzz left answers 200; a normal submit and poll answer 200,
    and the task's callback arrives. The fuzz may have reset the fake or loaded another scenario:
    the fuzz scenario is loaded again first (an answer of 200 shows that loading still works)."""
    sink = CallbackSink()
    await sink.start()
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as http:
            for listing in (
                "tasks?limit=10000",
                "journal?limit=10000",
                "deliveries?limit=10000",
                "surprises",
            ):
                async with http.get(server.base_url + "/_fakeapi/" + listing) as response:
                    assert response.status == 200, await response.text()
            scenario = {"scenario": "default", "overrides": SCENARIO}
            async with http.post(server.base_url + "/_fakeapi/load_scenario", json=scenario) as response:
                assert response.status == 200, await response.text()
            body = {"model": "gpt-image-1", "prompt": "a cat", "callback_url": sink.url}
            async with http.post(server.url_for("foxapi") + "/v1/images/generations", json=body) as response:
                assert response.status == 200, await response.text()
                task_id = (await response.json())["id"]
            async with http.get(server.url_for("foxapi") + f"/v1/tasks/{task_id}") as response:
                assert response.status == 200
            async with http.post(server.base_url + "/_fakeapi/clock/shift", json={"seconds": 60}) as response:
                assert response.status == 200, await response.text()
            [delivery] = await sink.await_for(1, timeout=10)
            assert delivery.json()["id"] == task_id
            assert delivery.json()["status"] == "completed"
    finally:
        await sink.stop()
