"""Every body the fake sends, checked against its API's wire models.

For every bundled scenario and every API, a small driver submits tasks, polls them through every
state until they end, collects the callbacks, and provokes the errors the API can answer; every
answer body (and callback body) is validated with the model ``CONTRACT`` names for its
(api, method, route, status), a table read from the providers' own declarations. The models
forbid extra fields, so an undocumented field fails.

Gateway pages (``text/html``, from status faults an API has no envelope for) are not JSON and are
skipped explicitly; a connection a fault resets has no body at all.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from fakeapi import FakeApi, SurpriseError
from fakeapi.providers import REGISTRY
from fakeapi.providers.apixo import wire as apixo
from fakeapi.providers.base import PollRoute, Route, SubmitRoute
from fakeapi.providers.foxapi import wire as foxapi
from fakeapi.providers.pixapi import wire as pixapi
from fakeapi.providers.rixapi import wire as rixapi
from fakeapi.scenario import bundled_names
from fakeapi.sink import CallbackSink

Key = tuple[str, str, str, int | None]  # api, method, route, HTTP status (None: a callback we receive)
CALLBACK = "{callback_url}"
NO_ROUTE = "<no route>"  # any path the API does not serve

PROVIDERS = {p.name: p for p in REGISTRY.providers()}


def _routes(api: str) -> list[Route]:
    return list(PROVIDERS[api].routes())


def _contract() -> dict[Key, type[BaseModel]]:
    """Each answer's model, read from the providers' declarations: every route's 200 answer (and
    the answer a body flag makes wait), the callback body, and the error envelope for every status
    of the API's error table on every route, on a route it does not serve and on a wrong method."""
    table: dict[Key, type[BaseModel]] = {}
    for api, provider in PROVIDERS.items():
        routes = [(r.method, r.path) for r in provider.routes()]
        for route in provider.routes():
            table[api, route.method, route.path, 200] = route.answer
            if isinstance(route, SubmitRoute) and route.waited_answer is not None:
                routes.append((route.method, route.path + "?sync"))
                table[api, route.method, route.path + "?sync", 200] = route.waited_answer
            if isinstance(route, PollRoute):
                routes.append(("DELETE", route.path))
        if provider.callback_model is not None:
            table[api, "POST", CALLBACK, None] = provider.callback_model
        statuses = {row.status for row in provider.errors.values()}
        for method, path in [*routes, ("GET", NO_ROUTE)]:
            for status in statuses:
                table[api, method, path, status] = provider.error_model
    return table


CONTRACT = _contract()
_FOX_SUBMITS = [(r.method, r.path) for r in _routes("foxapi") if isinstance(r, SubmitRoute)]
_PIX_SUBMITS = [
    (r.method, r.path)
    for r in _routes("pixapi")
    if isinstance(r, SubmitRoute) and r.answer is pixapi.SubmitAnswer
]
_PIX_SYNC = [
    (r.method, r.path)
    for r in _routes("pixapi")
    if r.answer is pixapi.SyncImagesAnswer and r.request is not None
]
_PIX_LEGACY = [(r.method, r.path) for r in _routes("pixapi") if r.answer is pixapi.LegacyAnswer]

KEY = "sk-test"
APIS = ("rixapi", "apixo", "foxapi", "pixapi")
TERMINAL = {"completed", "failed", "success"}
# Each API's state words: every one must be seen across the scenarios.
STATES = {
    "rixapi": {"queued", "in_progress", "completed", "failed"},
    "apixo": {"pending", "processing", "success", "failed"},
    "foxapi": {"pending", "processing", "completed", "failed"},
    "pixapi": {"submitted", "processing", "completed", "failed"},
}
# Scenarios whose tasks end by themselves, so Pixapi's synchronous endpoints answer.
SYNC_OK = {"default", "instant", "poll-count", "content-violation", "out-of-credits", "rate-limited"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64

COVERED: dict[str, set[Key]] = {api: set() for api in APIS}
SEEN_STATES: dict[str, set[str]] = {api: set() for api in APIS}
SKIPPED_HTML: set[Key] = set()
RAN: set[tuple[str, str]] = set()
FOX_RESULTS: set[str] = set()  # the results[i] models FoxAPI's completed tasks matched
_FOX_RESULT: TypeAdapter[foxapi.Result] = TypeAdapter(foxapi.Result)


@dataclass
class Probe:
    """Calls one API and checks every answer against ``CONTRACT``."""

    api: str
    http: aiohttp.ClientSession
    base: str
    fakeapi: FakeApi
    scenario: str
    key: str = KEY
    covered: set[Key] = field(default_factory=set)

    async def call(
        self,
        method: str,
        route: str,
        path: str | None = None,
        *,
        anonymous: bool = False,
        **kwargs: Any,
    ) -> tuple[int, Any]:
        """One request (with no API key if ``anonymous``); its answer validated. ``(0, None)`` when
        a fault reset the connection, ``(status, None)`` for a gateway's HTML page."""
        headers = {} if anonymous else {"Authorization": f"Bearer {self.key}"}
        headers |= kwargs.pop("headers", {})
        url = self.base + (path if path is not None else route.split("?")[0])
        try:
            async with self.http.request(method, url, headers=headers, **kwargs) as r:
                status, content_type, body = r.status, r.content_type, await r.read()
        except aiohttp.ClientError:
            return 0, None  # a reset connection (flaky-5xx): no body to check
        where: Key = (self.api, method, route, status)
        if content_type == "text/html":
            SKIPPED_HTML.add(where)  # a gateway page in front of the API: not JSON, not the API's contract
            return status, None
        assert content_type == "application/json", (where, content_type, body[:200])
        return status, self.check(where, body)

    def check(self, where: Key, body: bytes) -> Any:
        model = CONTRACT.get(where)
        assert model is not None, f"{where} is not in CONTRACT; body {body[:300]!r}"
        try:
            model.model_validate_json(body)
        except ValidationError as exc:
            pytest.fail(f"{where} ({self.scenario}) does not match {model.__name__}:\n{exc}\nbody: {body!r}")
        self.covered.add(where)
        COVERED[self.api].add(where)
        return json.loads(body)

    def state(self, word: str) -> str:
        SEEN_STATES[self.api].add(word)
        return word


# -- per-API drivers: submit one task, poll one, and the API's own extra routes and errors ----------

Submit = Callable[[Probe, str | None], Awaitable[str | None]]
Poll = Callable[[Probe, str], Awaitable[str | None]]


async def rix_submit(p: Probe, callback_url: str | None, model: str = "flux-pro") -> str | None:
    body: dict[str, Any] = {"model": model, "input": {"prompt": "a red fox"}}
    if callback_url is not None:
        body["callback_url"] = callback_url
    status, answer = await p.call("POST", "/v1/task/submit", json=body)
    return answer["id"] if status == 200 else None


async def rix_poll(p: Probe, task_id: str) -> str | None:
    status, answer = await p.call("GET", "/v1/task/{task_id}", f"/v1/task/{task_id}")
    return p.state(answer["status"]) if status == 200 else None


async def rix_extra(p: Probe) -> list[str | None]:
    """Token- and duration-billed models, so ``usage`` of both kinds is rendered."""
    return [await rix_submit(p, None, "kling-v2"), await rix_submit(p, None, "sora-2")]


async def rix_errors(p: Probe) -> None:
    submit = "/v1/task/submit"
    await p.call("POST", submit, anonymous=True, json={"model": "flux-pro", "input": {}})
    await p.call("GET", "/v1/task/{task_id}", "/v1/task/task_nope", anonymous=True)
    await p.call("GET", "/v1/task/{task_id}", "/v1/task/task_nope")
    await p.call("POST", submit, json={"model": "flux-pro"})
    await p.call("POST", submit, data=b"{not json", headers={"Content-Type": "application/json"})
    await p.call("POST", submit, json={"model": "no-such-model", "input": {"prompt": "x"}})


APIXO_MODEL = "nano-banana"


async def apixo_submit(p: Probe, callback_url: str | None) -> str | None:
    body: dict[str, Any] = {"input": {"mode": "text-to-image", "prompt": "a red fox"}}
    if callback_url is not None:
        body |= {"request_type": "callback", "callback_url": callback_url}
    path = f"/api/v1/generateTask/{APIXO_MODEL}"
    status, answer = await p.call("POST", "/api/v1/generateTask/{model}", path, json=body)
    return answer["data"]["taskId"] if status == 200 else None


async def apixo_poll(p: Probe, task_id: str) -> str | None:
    path = f"/api/v1/statusTask/{APIXO_MODEL}"
    status, answer = await p.call("GET", "/api/v1/statusTask/{model}", path, params={"taskId": task_id})
    return p.state(answer["data"]["state"]) if status == 200 else None


async def apixo_extra(p: Probe) -> list[str | None]:
    await p.call("GET", "/api/v1/apikeys/current-balance")
    return []


async def apixo_errors(p: Probe) -> None:
    submit, status = "/api/v1/generateTask/{model}", "/api/v1/statusTask/{model}"
    good = {"input": {"mode": "text-to-image", "prompt": "x"}}
    await p.call("POST", submit, f"/api/v1/generateTask/{APIXO_MODEL}", anonymous=True, json=good)
    await p.call("GET", status, f"/api/v1/statusTask/{APIXO_MODEL}", anonymous=True, params={"taskId": "t"})
    await p.call("GET", "/api/v1/apikeys/current-balance", anonymous=True)
    await p.call("GET", status, f"/api/v1/statusTask/{APIXO_MODEL}", params={"taskId": "task_nope"})
    await p.call("GET", status, f"/api/v1/statusTask/{APIXO_MODEL}")  # no taskId: 400
    await p.call("POST", submit, f"/api/v1/generateTask/{APIXO_MODEL}", json={"provider": "auto"})
    await p.call("POST", submit, "/api/v1/generateTask/no-such-model", json=good)
    await p.call(
        "POST",
        submit,
        f"/api/v1/generateTask/{APIXO_MODEL}",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )


# FoxAPI: one model per shape of results[i] (the catalogue's shapes), by submit endpoint.
FOX_SHAPES: list[tuple[str, dict[str, Any]]] = [
    ("images", {"model": "patina-pbr-maps", "prompt": "rusty metal"}),
    ("images", {"model": "patina-material", "prompt": "rusty metal"}),
    ("images", {"model": "phota-create-profile", "prompt": "me"}),
    ("videos", {"model": "seedance-2.0-fast", "prompt": "a fox"}),
    ("videos", {"model": "kling-video-create-voice", "prompt": "a deep voice"}),
    ("videos", {"model": "sora-2-character", "prompt": "a fox", "name": "Fenn"}),
    ("audios", {"model": "minimax-voice-clone", "audio_url": "https://x.test/a.wav", "text": "hello"}),
    ("audios", {"model": "scribe-v2", "audio_url": "https://x.test/a.wav"}),
    ("audios", {"model": "suno-v4", "prompt": "lofi"}),
    ("llm", {"model": "gpt-5.5", "prompt": "count to 3"}),
]


async def fox_submit(p: Probe, callback_url: str | None) -> str | None:
    body: dict[str, Any] = {"model": "gemini-3-pro-image-preview", "prompt": "a red fox"}
    if callback_url is not None:
        body["callback_url"] = callback_url
    status, answer = await p.call("POST", "/v1/images/generations", json=body)
    return answer["id"] if status == 200 else None


async def fox_poll(p: Probe, task_id: str) -> str | None:
    status, answer = await p.call("GET", "/v1/tasks/{task_id}", f"/v1/tasks/{task_id}")
    if status != 200:
        return None
    for entry in answer["results"] or ():
        FOX_RESULTS.add(type(_FOX_RESULT.validate_python(entry)).__name__)
    return p.state(answer["status"])


async def fox_extra(p: Probe) -> list[str | None]:
    ids: list[str | None] = []
    for kind, body in FOX_SHAPES:
        status, answer = await p.call("POST", f"/v1/{kind}/generations", json=body)
        ids.append(answer["id"] if status == 200 else None)
    sync = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}], "sync": True}
    await p.call("POST", "/v1/llm/generations?sync", json=sync)
    return ids


async def fox_errors(p: Probe) -> None:
    images = "/v1/images/generations"
    await p.call("POST", images, anonymous=True, json={"model": "gemini-3-pro-image-preview", "prompt": "x"})
    await p.call("GET", "/v1/tasks/{task_id}", "/v1/tasks/task-unified-1-nope", anonymous=True)
    await p.call("GET", "/v1/tasks/{task_id}", "/v1/tasks/task-unified-1-nope")
    await p.call("POST", images, data=b"model=x", headers={"Content-Type": "text/plain"})
    await p.call("POST", images, data=b"{not json", headers={"Content-Type": "application/json"})
    await p.call("POST", images, json={"model": "gemini-3-pro-image-preview", "num_outputs": 0})
    await p.call("POST", images, json={"model": "no-such-model", "prompt": "x"})
    await p.call("POST", "/v1/llm/generations", json={"model": "gpt-5.5"})  # neither prompt nor messages


PIX_IMAGE = {"model": "gemini-2.5-flash-image", "prompt": "a red fox"}


async def pix_submit(p: Probe, callback_url: str | None) -> str | None:
    status, answer = await p.call("POST", "/v1/async/images/generations", json=PIX_IMAGE)
    return answer["id"] if status == 200 else None


async def pix_poll(p: Probe, task_id: str) -> str | None:
    status, answer = await p.call("GET", "/v1/tasks/{task_id}", f"/v1/tasks/{task_id}")
    return p.state(answer["status"]) if status == 200 else None


def _edit_form(n: int = 1) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("model", "gemini-2.5-flash-image")
    form.add_field("prompt", "make it blue")
    form.add_field("n", str(n))
    form.add_field("image", PNG, filename="in.png", content_type="image/png")
    return form


async def pix_extra(p: Probe) -> list[str | None]:
    ids: list[str | None] = []
    status, answer = await p.call("POST", "/v1/async/images/edits", data=_edit_form())
    ids.append(answer["id"] if status == 200 else None)
    video = {"model": "veo", "prompt": "a fox", "duration": 4}
    status, answer = await p.call("POST", "/v1/async/videos/generations", json=video)
    ids.append(answer["id"] if status == 200 else None)
    await p.call("POST", "/v1/videos/generations", json=video)  # async-only: 400
    if p.scenario in SYNC_OK:
        await p.call("POST", "/v1/images/generations", json=PIX_IMAGE)
        await p.call("POST", "/v1/images/generations", json={**PIX_IMAGE, "response_format": "b64_json"})
        await p.call("POST", "/v1/images/edits", data=_edit_form(2))
        await p.call("POST", "/v1/images/generate", json={**PIX_IMAGE, "image_size": "16:9"})
        await p.call("POST", "/v1/images/generate", json={**PIX_IMAGE, "num": 2})
        await p.call("POST", "/v1/images/edit", json={**PIX_IMAGE, "image": "https://x.test/in.png"})
    return ids


async def pix_errors(p: Probe) -> None:
    await p.call("POST", "/v1/async/images/generations", anonymous=True, json=PIX_IMAGE)
    await p.call("GET", "/v1/tasks/{task_id}", "/v1/tasks/task_nope", anonymous=True)
    await p.call("GET", "/v1/tasks/{task_id}", "/v1/tasks/task_nope")
    await p.call("POST", "/v1/async/images/generations", json={"model": "gemini-2.5-flash-image"})
    await p.call("POST", "/v1/async/images/generations", json={**PIX_IMAGE, "model": "no-such-model"})
    await p.call("POST", "/v1/async/images/edits", json=PIX_IMAGE)  # not multipart: 400
    await p.call("POST", "/v1/images/edit", json=PIX_IMAGE)  # legacy edit without an image: 400


@dataclass(frozen=True)
class Driver:
    submit: Submit
    poll: Poll
    extra: Callable[[Probe], Awaitable[list[str | None]]]
    errors: Callable[[Probe], Awaitable[None]]
    callbacks: bool
    wrong_method: tuple[str, str, str]  # a method a route does not take: method, route, path


DRIVERS = {
    "rixapi": Driver(
        rix_submit, rix_poll, rix_extra, rix_errors, True, ("DELETE", "/v1/task/{task_id}", "/v1/task/t")
    ),
    "apixo": Driver(
        apixo_submit,
        apixo_poll,
        apixo_extra,
        apixo_errors,
        True,
        ("DELETE", "/api/v1/statusTask/{model}", f"/api/v1/statusTask/{APIXO_MODEL}"),
    ),
    "foxapi": Driver(
        fox_submit, fox_poll, fox_extra, fox_errors, True, ("DELETE", "/v1/tasks/{task_id}", "/v1/tasks/t")
    ),
    "pixapi": Driver(
        pix_submit, pix_poll, pix_extra, pix_errors, False, ("DELETE", "/v1/tasks/{task_id}", "/v1/tasks/t")
    ),
}


async def run_to_the_end(p: Probe, driver: Driver, ids: list[str]) -> None:
    """Poll every task until it ends: 1 s steps, then 30 s; tasks the scenario leaves running
    (manual) are ended by the test, the first one failed and the rest completed."""
    open_ids = list(ids)
    for step in range(80):
        for task_id in list(open_ids):
            state = await driver.poll(p, task_id)
            if state in TERMINAL:
                await driver.poll(p, task_id)  # a terminal task answers the same again
                open_ids.remove(task_id)
        if not open_ids:
            return
        if step == 60:
            p.fakeapi.fail(open_ids[0], "the test failed it")
            for task_id in open_ids[1:]:
                p.fakeapi.complete(task_id)
        await p.fakeapi.clock.ashift(1 if step < 10 else 30)
    pytest.fail(f"{p.api} tasks {open_ids} did not end")


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("scenario", bundled_names())
async def test_every_answer_matches_the_wire_models(
    scenario: str,
    api: str,
    http: aiohttp.ClientSession,
    fakeapi: FakeApi,
    callback_sink: CallbackSink,
) -> None:
    await drive_scenario(scenario, api, http, fakeapi, callback_sink)


async def drive_scenario(
    scenario: str, api: str, http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    """Submit, poll to the end, collect callbacks and provoke errors on ``api`` under ``scenario``."""
    fakeapi.load_scenario(scenario)
    driver = DRIVERS[api]
    p = Probe(api, http, fakeapi.url_for(api), fakeapi, scenario)
    callback_url = callback_sink.url if driver.callbacks else None

    # Three submits: out-of-credits refuses the third (402/403), rate-limited too (429).
    ids = [await driver.submit(p, callback_url) for _ in range(3)]
    if scenario == "default":
        ids += await driver.extra(p)
    await run_to_the_end(p, driver, [i for i in ids if i is not None])
    if scenario != "default":
        await p.fakeapi.clock.ashift(61)  # a new rate-limit window
        await run_to_the_end(p, driver, [i for i in await driver.extra(p) if i is not None])

    await fakeapi.clock.ashift(61)
    await driver.errors(p)
    if scenario == "default":
        await p.call("GET", NO_ROUTE, "/v1/no-such-route")
        method, route, path = driver.wrong_method
        await p.call(method, route, path)
        with pytest.raises(SurpriseError):
            fakeapi.check()  # both were surprises, as they should be

    if driver.callbacks:
        await fakeapi.clock.ashift(3600)  # every retry falls due
        delivered = [d for d in fakeapi.deliveries if d.delivered]
        received = await callback_sink.await_for(len(delivered))
        assert len(received) == len(delivered)
        for callback in received:
            p.check((api, "POST", CALLBACK, None), callback.body)
        if scenario != "webhook-receiver-down":
            assert received, "callbacks were delivered"

    assert any(status == 200 for (*_, status) in p.covered), p.covered
    RAN.add((scenario, api))


# Statuses provoked by a status fault keyed to the API key, each answered in the API's envelope or,
# where the API has no error of that status, as a gateway's HTML page.
FAULT_STATUSES = (400, 401, 402, 403, 404, 405, 413, 422, 429, 500, 502, 503)
VARIANTS = {
    "apis": {"pixapi": {"error_codes": "string"}, "apixo": {"balance_error": 400, "fail_codes": "provider"}},
    "faults": [
        {"name": f"status-{s}", "at": ["submit", "poll"], "effect": "status", "status": s, "key": f"sk-{s}"}
        for s in FAULT_STATUSES
    ],
}


@pytest.mark.parametrize("api", APIS)
async def test_scenario_options_and_status_faults_match_the_wire_models(
    api: str, http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    """Pixapi's string error codes, APIXO's 400 balance answer and provider failCodes, and every
    error status a fault can script."""
    await drive_variants(api, http, fakeapi)


async def drive_variants(api: str, http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    fakeapi.load_scenario("out-of-credits", overrides=VARIANTS)
    driver = DRIVERS[api]
    p = Probe(api, http, fakeapi.url_for(api), fakeapi, "out-of-credits+variants")
    ids = [await driver.submit(p, None) for _ in range(3)]
    first = ids[0]
    assert first is not None
    fakeapi.fail(first, reason="content_violation")
    await run_to_the_end(p, driver, [i for i in ids if i is not None])
    await driver.errors(p)
    for status in FAULT_STATUSES:
        faulted = Probe(api, http, p.base, fakeapi, p.scenario, key=f"sk-{status}")
        await driver.submit(faulted, None)
        await driver.poll(faulted, first)
    RAN.add(("variants", api))


# What every API must have shown across the scenarios: its success answers, its lifecycle, and a
# good share of its error statuses.
REQUIRED: dict[str, set[tuple[str, str, int | None]]] = {
    "rixapi": {
        ("POST", "/v1/task/submit", 200),
        ("GET", "/v1/task/{task_id}", 200),
        ("POST", CALLBACK, None),
        *(("POST", "/v1/task/submit", s) for s in (400, 401, 403, 429, 503)),
        *(("GET", "/v1/task/{task_id}", s) for s in (401, 404, 429, 500)),
    },
    "apixo": {
        ("POST", "/api/v1/generateTask/{model}", 200),
        ("GET", "/api/v1/statusTask/{model}", 200),
        ("GET", "/api/v1/apikeys/current-balance", 200),
        ("POST", CALLBACK, None),
        *(("POST", "/api/v1/generateTask/{model}", s) for s in (400, 401, 402, 404, 429, 503)),
        *(("GET", "/api/v1/statusTask/{model}", s) for s in (400, 401, 404, 429, 500)),
    },
    "foxapi": {
        *((m, r, 200) for m, r in _FOX_SUBMITS),
        ("POST", "/v1/llm/generations?sync", 200),
        ("GET", "/v1/tasks/{task_id}", 200),
        ("POST", CALLBACK, None),
        *(("POST", "/v1/images/generations", s) for s in (400, 401, 402, 422, 429, 503)),
        *(("GET", "/v1/tasks/{task_id}", s) for s in (401, 404, 429, 500)),
    },
    "pixapi": {
        *((m, r, 200) for m, r in _PIX_SUBMITS),
        *((m, r, 200) for m, r in _PIX_SYNC),
        *((m, r, 200) for m, r in _PIX_LEGACY),
        ("GET", "/v1/tasks/{task_id}", 200),
        *(("POST", "/v1/async/images/generations", s) for s in (400, 401, 402, 404, 429, 503)),
        ("POST", "/v1/images/generations", 422),
        ("POST", "/v1/videos/generations", 400),
        *(("GET", "/v1/tasks/{task_id}", s) for s in (401, 404, 429, 500)),
    },
}


async def test_coverage_across_scenarios(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    """The union of what the cases above covered includes ``REQUIRED`` and every state word of each
    API. Whichever of them this process has not run yet (random order, a pytest-xdist worker that
    was given only some, ``-k``) run here first."""
    expected = {(s, a) for s in bundled_names() for a in APIS} | {("variants", a) for a in APIS}
    for scenario, api in sorted(expected - RAN):
        callback_sink.clear()
        if scenario == "variants":
            await drive_variants(api, http, fakeapi)
        else:
            await drive_scenario(scenario, api, http, fakeapi, callback_sink)
    for api in APIS:
        covered = {(m, r, s) for (_, m, r, s) in COVERED[api]}
        assert REQUIRED[api] <= covered, (api, REQUIRED[api] - covered)
        assert SEEN_STATES[api] == STATES[api], (api, SEEN_STATES[api])
        print(f"\n{api}: {len(covered)} (method, route, status) combinations")
        for m, r, s in sorted(covered, key=lambda c: (c[1], c[0], c[2] or 0)):
            print(f"  {m:6} {r:40} {s}")
    shapes = {m.__name__ for m in foxapi.Result.__args__}
    assert shapes == FOX_RESULTS, shapes - FOX_RESULTS
    print("\ngateway HTML pages skipped:", sorted(SKIPPED_HTML, key=str))


# An undocumented field, a wrong status word or a float timestamp fails each API's model.
VIOLATIONS: list[tuple[type[BaseModel], str]] = [
    (rixapi.Task, '{"id":"t","status":"queued","created_at":1,"progress":0}'),
    (rixapi.Task, '{"id":"t","status":"pending","created_at":1}'),
    (rixapi.Task, '{"id":"t","status":"queued","created_at":1.5}'),
    (rixapi.ErrorEnvelope, '{"error":{"message":"m","type":"rix_api_error","code":"","extra":1}}'),
    (
        apixo.StatusAnswer,
        '{"code":200,"message":"success","data":{"taskId":"t","state":"done","createTime":1}}',
    ),
    (apixo.SubmitAnswer, '{"code":200,"message":"success","data":{"taskId":"t","id":"t"}}'),
    (apixo.ErrorEnvelope, '{"code":401,"message":"m","data":null,"error":"x"}'),
    (foxapi.UrlResult, '{"url":"u","width":1}'),
    (foxapi.ChatCompletion, '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[]}'),
    (pixapi.SubmitAnswer, '{"status":"submitted","id":"t","progress":0,"created":1,"model":"m"}'),
    (pixapi.ErrorEnvelope, '{"error":{"code":"rate_limited","message":"m","type":"rate_limited"}}'),
    (pixapi.LegacyAnswer, '{"code":0,"message":"ok","data":{"urls":["u"]}}'),
]


@pytest.mark.parametrize(("model", "body"), VIOLATIONS)
def test_the_models_refuse_what_the_contract_does_not_allow(model: type[BaseModel], body: str) -> None:
    with pytest.raises(ValidationError):
        model.model_validate_json(body)
