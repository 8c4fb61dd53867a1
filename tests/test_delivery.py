"""Webhook delivery isolated: no lock held while sending, receivers that never wait on each other,
failures recorded on their delivery, no redirects, capped answers, private receivers refused."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from fakeapi import FakeApi, FakeServer
from fakeapi.addresses import literal, refusal
from fakeapi.clock import Clock, ManualClock, SystemClock
from fakeapi.engine import DELIVERIES_PER_RECEIVER, SubmitRequest, TaskEngine, TaskView
from fakeapi.errors import ScenarioError
from fakeapi.providers.rixapi.provider import PROFILE as RIX_PROFILE
from fakeapi.providers.rixapi.provider import RixApi
from fakeapi.scenario import ApiSettings, Scenario, validate_scenario
from fakeapi.server.app import listen
from fakeapi.sink import CallbackSink

KEY = {"Authorization": "Bearer sk-test"}
INSTANT: list[dict[str, Any]] = [{"phases": [{"state": "succeeded"}]}]
STEPS: list[dict[str, Any]] = [
    {"phases": [{"state": "queued", "for": "1s"}, {"state": "running", "for": "1s"}, {"state": "succeeded"}]}
]
FOX_IMAGE: dict[str, Any] = {"model": "gemini-3-pro-image-preview", "prompt": "a fox"}
RIX_IMAGE: dict[str, Any] = {"model": "flux-pro", "input": {"prompt": "a red fox"}}


def scenario(rules: list[dict[str, Any]] = INSTANT, **sections: Any) -> dict[str, Any]:
    return {**sections, "rules": rules}


# -- receivers ------------------------------------------------------------------------------------


class Hanging:
    """A receiver that reads each request and never answers, until the sender hangs up."""

    def __init__(self) -> None:
        self.connections = 0
        self.hung_up = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            while await reader.read(65536):
                pass
            self.hung_up += 1
        finally:
            writer.close()

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()


@pytest.fixture
async def hanging() -> AsyncIterator[Hanging]:
    receiver = Hanging()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def sink() -> AsyncIterator[CallbackSink]:
    receiver = CallbackSink()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def odd() -> AsyncIterator[str]:
    """A receiver at ``/moved/{status}`` answering that redirect to ``/target``, ``/huge`` answering
    200 with an endless body, and ``/target`` which must never be reached; yields its base URL."""
    reached: list[str] = []

    async def moved(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["status"]), headers={"Location": "/target"})

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        chunk = b"x" * 65536
        while True:
            await response.write(chunk)

    async def target(request: web.Request) -> web.Response:
        reached.append(request.method)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/moved/{status}", moved)
    app.router.add_get("/huge", huge)
    app.router.add_post("/huge", huge)
    app.router.add_route("*", "/target", target)
    runner, port = await listen(app, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()
    assert reached == [], "a redirect was followed"


async def post(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    async with http.post(url, json=body, headers=KEY) as response:
        return response.status, await response.json()


async def fox_submit(http: aiohttp.ClientSession, server: FakeServer, callback_url: str) -> str:
    status, task = await post(
        http, server.url_for("foxapi") + "/v1/images/generations", {**FOX_IMAGE, "callback_url": callback_url}
    )
    assert status == 200, task
    return str(task["id"])


async def rix_submit(
    http: aiohttp.ClientSession, server: FakeServer, callback_url: str, prompt: str = ""
) -> str:
    body = {**RIX_IMAGE, "input": {"prompt": prompt or "a red fox"}, "callback_url": callback_url}
    status, task = await post(http, server.url_for("rixapi") + "/v1/task/submit", body)
    assert status == 200, task
    return str(task["id"])


# -- the engine, without sockets ------------------------------------------------------------------


@dataclass
class Receivers:
    """Callback receivers by URL: ``hang`` ones wait until cancelled, ``slow`` ones answer 200 after
    ``pause`` seconds, ``broken`` ones raise an error the sender does not expect; others answer 200."""

    hang: set[str] = field(default_factory=set)
    slow: set[str] = field(default_factory=set)
    broken: set[str] = field(default_factory=set)
    pause: float = 0.05
    calls: list[tuple[str, bytes]] = field(default_factory=list)
    cancelled: int = 0
    in_flight: dict[str, int] = field(default_factory=dict)
    most_in_flight: dict[str, int] = field(default_factory=dict)

    async def __call__(self, url: str, body: bytes, timeout: float) -> int:
        self.calls.append((url, body))
        self.in_flight[url] = self.in_flight.get(url, 0) + 1
        self.most_in_flight[url] = max(self.most_in_flight.get(url, 0), self.in_flight[url])
        try:
            if url in self.broken:
                raise RuntimeError("the sender broke")
            if url in self.hang:
                await asyncio.Event().wait()
            if url in self.slow:
                await asyncio.sleep(self.pause)
            return 200
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight[url] -= 1

    def states(self, url: str) -> list[str]:
        return [json.loads(body)["status"] for to, body in self.calls if to == url]


def engine_with(
    receivers: Receivers, rules: list[dict[str, Any]] = INSTANT, clock: Clock | None = None, **sections: Any
) -> TaskEngine:
    sc: Scenario = validate_scenario(scenario(rules, **sections))
    return TaskEngine(sc, clock or ManualClock(), {"rixapi": RIX_PROFILE}, receivers)


def submit(engine: TaskEngine, callback_url: str, prompt: str = "a cat") -> TaskView:
    return engine.submit(
        SubmitRequest(api="rixapi", key="k1", model="flux-pro", prompt=prompt, callback_url=callback_url)
    )


async def test_a_receiver_that_hangs_holds_neither_the_lock_nor_other_tasks() -> None:
    receivers = Receivers(hang={"http://hangs.test/"})
    engine = engine_with(receivers, rules=[{"phases": [{"state": "queued"}, {"state": "succeeded"}]}])
    submit(engine, "http://hangs.test/")
    other = submit(engine, "http://answers.test/")
    await asyncio.wait_for(engine.run_due(), 1)
    assert receivers.calls[0][0] == "http://hangs.test/", "the hanging delivery is in flight"
    assert receivers.states("http://answers.test/") == ["queued"]
    engine.complete(other.id)
    await asyncio.wait_for(engine.run_due(), 1)  # the lock is free while the first receiver hangs
    assert receivers.states("http://answers.test/") == ["queued", "completed"]
    assert [(d.url, d.delivered) for d in engine.deliveries] == [("http://answers.test/", True)] * 2
    started = time.monotonic()
    await engine.aclose()
    assert time.monotonic() - started < 0.5
    assert receivers.cancelled == 1


async def test_a_shift_of_the_system_clock_starts_what_is_due_and_does_not_wait() -> None:
    receivers = Receivers(hang={"http://hangs.test/"})
    engine = engine_with(receivers, rules=STEPS, clock=SystemClock())
    submit(engine, "http://hangs.test/")
    submit(engine, "http://answers.test/")
    started = time.monotonic()
    await asyncio.wait_for(engine.shift(60), 1)
    assert time.monotonic() - started < 0.5
    assert receivers.states("http://answers.test/") == ["queued", "in_progress", "completed"]
    assert receivers.states("http://hangs.test/") == ["queued"], "the rest wait behind it, in order"
    await engine.aclose()
    assert receivers.cancelled == 1


async def test_one_tasks_callbacks_go_one_at_a_time_in_order_while_tasks_overlap() -> None:
    urls = [f"http://r{i}.test/" for i in range(3)]
    receivers = Receivers(slow=set(urls), pause=0.2)
    engine = engine_with(receivers, rules=STEPS)
    for url in urls:
        submit(engine, url)
    started = time.monotonic()
    await engine.shift(5)
    elapsed = time.monotonic() - started
    for url in urls:
        assert receivers.states(url) == ["queued", "in_progress", "completed"]
        assert receivers.most_in_flight[url] == 1
    assert [d.delivered for d in engine.deliveries] == [True] * 9
    assert elapsed < 2 * 3 * 0.2, f"the tasks' callbacks did not overlap: {elapsed:.2f}s"


async def test_the_delivery_log_reads_in_the_order_deliveries_fell_due_not_the_order_they_ended() -> None:
    receivers = Receivers(slow={"http://slow.test/"}, pause=0.2)
    engine = engine_with(receivers, rules=STEPS)
    slow, quick = submit(engine, "http://slow.test/"), submit(engine, "http://quick.test/")
    await engine.shift(60)
    names = {slow.id: "slow", quick.id: "quick"}
    assert [(names[d.task_id], d.state) for d in engine.deliveries] == [
        ("slow", "queued"),
        ("quick", "queued"),
        ("slow", "running"),
        ("quick", "running"),
        ("slow", "succeeded"),
        ("quick", "succeeded"),
    ]
    first = slow.created_at
    assert [d.at - first for d in engine.deliveries] == [0, 0, 1, 1, 2, 2]


async def test_a_busy_receiver_gets_a_bounded_share_and_others_do_not_queue_behind_it() -> None:
    busy = [f"http://busy.test/{i}" for i in range(DELIVERIES_PER_RECEIVER + 4)]
    receivers = Receivers(slow={*busy, "http://quiet.test/"}, pause=0.2)
    engine = engine_with(receivers)
    for url in busy:
        submit(engine, url)
    submit(engine, "http://quiet.test/")
    started = time.monotonic()
    await engine.shift(1)
    assert 0.4 <= time.monotonic() - started < 0.8, "two rounds to the busy receiver"
    calls = [url for url, _ in receivers.calls]
    assert calls.index("http://quiet.test/") == DELIVERIES_PER_RECEIVER, "sent in the first round"
    assert len(engine.deliveries) == len(busy) + 1


async def test_a_sender_that_raises_is_a_failed_attempt_and_a_surprise_and_is_retried() -> None:
    receivers = Receivers(broken={"http://broken.test/"})
    engine = engine_with(receivers, webhooks={"retry_delays": ["1s"]})
    surprises: list[str] = []
    engine.on_surprise = surprises.append
    submit(engine, "http://broken.test/")
    submit(engine, "http://fine.test/")
    await engine.shift(2)
    attempts = [(d.url, d.attempt, d.status, d.error, d.delivered) for d in engine.deliveries]
    failure = "failed in the fake: RuntimeError: the sender broke"
    assert attempts == [
        ("http://broken.test/", 1, None, failure, False),
        ("http://fine.test/", 1, 200, None, True),
        ("http://broken.test/", 2, None, failure, False),
    ]
    assert len(surprises) == 2
    assert "RuntimeError: the sender broke" in surprises[0]


# -- over HTTP: isolation -------------------------------------------------------------------------


def _brittle_render(view: TaskView, settings: ApiSettings) -> bytes:
    if view.params.get("prompt") == "unrenderable":
        "\ud800".encode()  # what a lone surrogate echoed into a callback did
    return RIX_PROFILE.render_callback(view, settings)


class BrittleRix(RixApi):
    """RixAPI whose callback cannot be rendered for a task whose prompt says so."""

    profile = replace(RIX_PROFILE, render_callback=_brittle_render)


async def test_a_callback_that_cannot_be_rendered_stops_nothing(
    http: aiohttp.ClientSession, sink: CallbackSink
) -> None:
    async with FakeServer(scenario(STEPS), clock="virtual", providers=[BrittleRix()]) as server:
        broken = await rix_submit(http, server, sink.url, prompt="unrenderable")
        fine = await rix_submit(http, server, sink.url)
        await server.engine.shift(5)
        async with http.get(f"{server.url_for('rixapi')}/v1/task/{broken}", headers=KEY) as response:
            assert response.status == 200
            assert (await response.json())["status"] == "completed"
        received = [(body["id"], body["status"]) for body in sink.bodies()]
        assert received == [(fine, "queued"), (fine, "in_progress"), (fine, "completed")]
        failed = [(d.state, d.status, d.delivered) for d in server.engine.deliveries if d.task_id == broken]
        assert failed == [("queued", None, False), ("running", None, False), ("succeeded", None, False)]
        assert all(
            "UnicodeEncodeError" in (d.error or "") for d in server.engine.deliveries if d.task_id == broken
        )
        surprises = list(server.recorder.surprises)
        assert len(surprises) == 3
        assert all(f"callback of task {broken} could not be rendered" in s for s in surprises)
        later = await rix_submit(http, server, sink.url)
        await sink.await_for(4)  # the clock stands still: the event runner sent it
        assert (sink.bodies()[3]["id"], sink.bodies()[3]["status"]) == (later, "queued")


async def test_a_shift_over_hanging_receivers_costs_a_timeout_per_round_not_per_task(
    http: aiohttp.ClientSession, hanging: Hanging, sink: CallbackSink
) -> None:
    rules = [{"phases": [{"state": "running", "for": "30s"}, {"state": "succeeded"}]}]
    webhooks = {"timeout": "1s", "retry_delays": ["1s"]}
    count = 10
    async with FakeServer(scenario(rules, webhooks=webhooks), clock="virtual") as server:
        for _ in range(count):
            await fox_submit(http, server, hanging.url)
            await server.engine.shift(1)  # every task ends at its own time
        good = await fox_submit(http, server, sink.url)
        started = time.monotonic()
        await server.engine.shift(60)
        elapsed = time.monotonic() - started
        assert elapsed < 2 * 2 * 1.0, f"two rounds of 1 s timeouts took {elapsed:.1f}s ({count} tasks)"
        [received] = sink.bodies()
        assert (received["id"], received["status"]) == (good, "completed")
        failed = [(d.attempt, d.error) for d in server.engine.deliveries if d.url == hanging.url]
        assert sorted(failed) == [(1, "no answer within 1s")] * count + [(2, "no answer within 1s")] * count
        assert hanging.connections == 2 * count


async def test_on_the_system_clock_a_hanging_receiver_delays_no_one(
    http: aiohttp.ClientSession, hanging: Hanging, sink: CallbackSink
) -> None:
    async with FakeServer(scenario(webhooks={"timeout": "10s"}), clock="system") as server:
        for _ in range(5):
            await fox_submit(http, server, hanging.url)
        started = time.monotonic()
        good = await fox_submit(http, server, sink.url)
        [received] = await sink.await_for(1, timeout=3)
        assert received.json()["id"] == good
        assert time.monotonic() - started < 1.0
        started = time.monotonic()
    assert time.monotonic() - started < 1.0, "stopping cancels the deliveries in flight"
    assert hanging.hung_up == 5


async def test_reset_and_stop_drop_deliveries_in_flight_at_once(
    http: aiohttp.ClientSession, hanging: Hanging
) -> None:
    sc = scenario(webhooks={"timeout": "60s"})
    server = FakeServer(sc, clock="virtual")
    await server.start()
    await rix_submit(http, server, hanging.url)
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await server.reset()
    assert time.monotonic() - started < 1.0
    await rix_submit(http, server, hanging.url)
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await server.stop()
    assert time.monotonic() - started < 1.0
    await asyncio.sleep(0.1)
    assert (hanging.connections, hanging.hung_up) == (2, 2)


async def test_after_a_reset_the_system_clock_runs_the_new_run_s_events_when_due(
    http: aiohttp.ClientSession, sink: CallbackSink
) -> None:
    hour = [{"phases": [{"state": "queued", "for": "1h"}, {"state": "succeeded"}]}]
    moment = [{"phases": [{"state": "queued", "for": "0.2s"}, {"state": "succeeded"}]}]
    async with FakeServer(scenario(hour), clock="system") as server:
        await rix_submit(http, server, sink.url)  # the event runner now waits an hour for its end
        await asyncio.sleep(0.1)
        await server.reset(scenario(moment))
        sink.clear()
        task_id = await rix_submit(http, server, sink.url)
        started = time.monotonic()
        received = await sink.await_for(2, timeout=3)
        assert [(r.json()["id"], r.json()["status"]) for r in received] == [
            (task_id, "queued"),
            (task_id, "completed"),
        ]
        assert time.monotonic() - started < 1.0


async def test_on_the_system_clock_a_submit_s_answer_waits_for_a_before_answer_callback(
    http: aiohttp.ClientSession, sink: CallbackSink
) -> None:
    faults = [{"at": "webhook", "effect": "before_answer"}]
    async with FakeServer(scenario(STEPS, faults=faults), clock="system") as server:
        sink.delay = 0.05  # without the fault the answer would come first
        task_id = await rix_submit(http, server, sink.url)
        [received] = sink.received
        assert (received.json()["id"], received.json()["status"]) == (task_id, "queued")


async def test_a_reset_to_a_bad_scenario_leaves_delivery_running(
    http: aiohttp.ClientSession, sink: CallbackSink
) -> None:
    async with FakeServer(scenario(), clock="virtual") as server:
        with pytest.raises(ScenarioError, match="rules"):
            await server.reset({"rules": []})
        task = await rix_submit(http, server, sink.url)
        [received] = await sink.await_for(1)  # sent by the event runner: the clock stands still
        assert received.json()["id"] == task


# -- over HTTP: what the sender does --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("//host/path", "invalid callback URL: //host/path has no scheme"),
        ("http://[::1/hook", "invalid callback URL: Invalid IPv6 URL"),
        ("ftp://host/hook", "NonHttpUrlClientError: ftp://host/hook"),
        # How a host name is refused is worded differently by each Python and yarl version.
        ("http://a..b/hook", "invalid callback URL: "),
        ("http://\ud800/hook", "invalid callback URL: "),
    ],
)
async def test_a_callback_url_that_cannot_be_posted_to_is_a_failed_attempt_not_a_surprise(
    url: str, error: str
) -> None:
    server = FakeServer(scenario(webhooks={"retry_delays": []}), clock="virtual")  # never listens
    try:
        server.engine.submit(SubmitRequest(api="rixapi", key="sk-test", model="flux-pro", callback_url=url))
        await server.engine.shift(1)
        [attempt] = server.engine.deliveries
        assert (attempt.status, attempt.delivered) == (None, False)
        assert re.match(error, attempt.error or ""), attempt.error
        assert list(server.recorder.surprises) == []
    finally:
        await server.stop()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_not_followed_and_is_not_a_delivery(
    http: aiohttp.ClientSession, odd: str, status: int
) -> None:
    async with FakeServer(scenario(webhooks={"retry_delays": ["1s"]}), clock="virtual") as server:
        await fox_submit(http, server, f"{odd}/moved/{status}")
        await server.engine.shift(5)
        attempts = [(d.attempt, d.status, d.error, d.delivered) for d in server.engine.deliveries]
        assert attempts == [(1, status, None, False), (2, status, None, False)]


async def test_an_endless_answer_is_read_up_to_the_cap(http: aiohttp.ClientSession, odd: str) -> None:
    sc = scenario(webhooks={"timeout": "5s"}, limits={"callback_answer_bytes": 1024})
    async with FakeServer(sc, clock="virtual") as server:
        await fox_submit(http, server, f"{odd}/huge")
        started = time.monotonic()
        await server.engine.shift(1)
        assert time.monotonic() - started < 2, "the answer was not read to its (missing) end"
        [delivery] = server.engine.deliveries
        assert (delivery.status, delivery.error, delivery.delivered) == (200, None, True)


# -- private receivers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "block_private", "refused"),
    [
        ("127.0.0.1", None, False),
        ("192.0.2.10", None, True),
        ("192.0.2.10", False, False),
        ("127.0.0.1", True, True),
    ],
)
async def test_private_receivers_are_refused_on_every_attempt_when_blocked(
    sink: CallbackSink, host: str, block_private: bool | None, refused: bool
) -> None:
    webhooks: dict[str, Any] = {"retry_delays": ["1s"], "block_private": block_private}
    server = FakeServer(scenario(webhooks=webhooks), clock="virtual", host=host)  # never listens
    try:
        by_name = sink.url.replace("127.0.0.1", "localhost")  # resolved before it is checked
        for url in (sink.url, by_name):
            request = SubmitRequest(api="rixapi", key="sk-test", model="flux-pro", callback_url=url)
            server.engine.submit(request)
        await server.engine.shift(5)
        attempts = [(d.url, d.delivered) for d in server.engine.deliveries]
        if not refused:
            assert attempts == [(sink.url, True), (by_name, True)]
            return
        assert sorted(attempts) == sorted([(sink.url, False), (by_name, False)] * 2)
        for delivery in server.engine.deliveries:
            assert delivery.status is None
            assert "is a loopback address; refused by webhooks.block_private" in (delivery.error or "")
        assert sink.received == []
    finally:
        await server.stop()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::a00:1",
        "2002:7f00:1::1",
    ],
)
def test_private_loopback_link_local_metadata_and_their_ipv6_forms_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1"])
def test_every_way_of_writing_an_ipv4_address_is_read_as_one(host: str) -> None:
    assert literal(host) == ipaddress.ip_address("127.0.0.1")


FOX_RULE: Mapping[str, Any] = scenario(apis={"foxapi": {"public_https_callbacks": True}})


@pytest.mark.fakeapi(scenario=FOX_RULE)
@pytest.mark.parametrize(
    "url",
    [
        "https://[::ffff:127.0.0.1]/hook",
        "https://[::ffff:a9fe:a9fe]/hook",
        "https://[64:ff9b::a00:1]/hook",
        "https://[64:ff9b::a9fe:a9fe]/hook",
        "https://[fd00:ec2::254]/hook",
        "https://169.254.169.254/latest",
        "https://127.1/hook",
        "https://2130706433/hook",
        "https://0x7f.0.0.1/hook",
        "https://localhost./hook",
        "https://app.localhost/hook",
        "https://printer.local/hook",
        "https://[::1/hook",
    ],
)
async def test_foxapis_rule_refuses_private_literals_in_any_form_and_local_names(
    http: aiohttp.ClientSession, fakeapi: FakeApi, url: str
) -> None:
    path = fakeapi.url_for("foxapi") + "/v1/images/generations"
    status, answer = await post(http, path, {**FOX_IMAGE, "callback_url": url})
    assert status == 422, answer
    assert answer["error"]["message"].startswith("callback_url must be an HTTPS URL on a public address")


@pytest.mark.fakeapi(scenario=FOX_RULE)
@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/fox", "https://[64:ff9b::808:808]/hook", "https://8.8.8.8/hook"]
)
async def test_foxapis_rule_lets_public_hosts_through(
    http: aiohttp.ClientSession, fakeapi: FakeApi, url: str
) -> None:
    status, answer = await post(
        http, fakeapi.url_for("foxapi") + "/v1/images/generations", {**FOX_IMAGE, "callback_url": url}
    )
    assert status == 200, answer


async def test_a_submit_waiting_on_a_before_answer_callback_is_answered_503_when_the_run_ends(
    http: aiohttp.ClientSession, sink: CallbackSink
) -> None:
    faults = [{"at": "webhook", "effect": "before_answer"}]
    async with FakeServer(scenario(STEPS, faults=faults), clock="system") as server:
        sink.delay = 30.0  # a receiver that does not answer in this test's time
        body = {**RIX_IMAGE, "input": {"prompt": "a red fox"}, "callback_url": sink.url}
        submit = asyncio.ensure_future(post(http, server.url_for("rixapi") + "/v1/task/submit", body))
        await asyncio.sleep(0.3)
        assert not submit.done()
        started = time.monotonic()
        await asyncio.wait_for(server.reset(), 5)  # the task goes with the run: its id must not be handed out
        status, answer = await asyncio.wait_for(submit, 5)
        assert time.monotonic() - started < 2.0
        assert status == 503, answer
        assert server.engine.tasks == {}
