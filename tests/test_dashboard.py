"""The live dashboard at ``/_fakeapi/``: its page and files over HTTP, its event stream read as a
client reads it, its access rules, and the page itself in real headless Chromium (Debian's, which
``scripts/install-chromium`` installs; ``make test`` runs it first) driven by Playwright."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import aiohttp
import pytest
from admin_client import call
from aiohttp import web
from playwright.async_api import Page, async_playwright, expect

from fakeapi import FakeApi, FakeServer, TaskView, dashboard
from fakeapi.dashboard import TICK
from fakeapi.server.app import SHUTDOWN_GRACE, listen
from fakeapi.sink import CallbackSink

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A job waits 5 s in the queue and runs 20 s: one shift of a minute finishes it.
SLOW = {
    "rules": [
        {
            "phases": [
                {"state": "queued", "for": "5s"},
                {"state": "running", "for": "20s"},
                {"state": "succeeded"},
            ]
        }
    ]
}
KEY = "sk-dashboard"


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    async with FakeServer(SLOW, clock="virtual") as fake:
        yield fake


async def submit(http: aiohttp.ClientSession, server: FakeServer, **extra: Any) -> str:
    """A RixAPI job submitted as a client submits it; its task id."""
    async with http.post(
        server.url_for("rixapi") + "/v1/task/submit",
        json={"model": "flux-pro", "input": {"prompt": "a red fox"}, **extra},
        headers={"Authorization": f"Bearer {KEY}"},
    ) as response:
        answer = await response.json()
        assert response.status == 200, answer
        task_id: str = answer["id"]
        return task_id


class Events:
    """A reader of the dashboard's event stream, as a page's EventSource gets it: the snapshots, and
    the clock events between them (kept in ``clocks``, their bytes counted in ``clock_bytes``)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.clocks: list[dict[str, Any]] = []
        self.clock_bytes = 0

    async def next(self, timeout: float = 2.0) -> dict[str, Any]:
        """The next snapshot (``TimeoutError`` if none comes within ``timeout`` seconds)."""
        return await asyncio.wait_for(self._read(), timeout)

    async def _read(self) -> dict[str, Any]:
        name, data = "message", list[bytes]()
        async for line in self.response.content:
            if line == b"\n" and data:
                event: dict[str, Any] = json.loads(b"".join(data))
                if name == "message":
                    return event
                assert name == "clock", name
                self.clocks.append(event)
                self.clock_bytes += sum(map(len, data))
                name, data = "message", []
            elif line.startswith(b"event: "):
                name = line.removeprefix(b"event: ").rstrip(b"\n").decode()
            elif line.startswith(b"data: "):
                data.append(line.removeprefix(b"data: ").rstrip(b"\n"))
        raise AssertionError("the event stream ended")


@pytest.fixture
async def events(server: FakeServer, http: aiohttp.ClientSession) -> AsyncIterator[Events]:
    async with http.get(server.base_url + "/_fakeapi/events") as response:
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        yield Events(response)


# -- the page and its files over HTTP -------------------------------------------------------------


async def test_the_admin_index_serves_the_dashboard_page(
    server: FakeServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(server.base_url + "/_fakeapi/") as response:
        page = await response.text()
        assert (response.status, response.content_type) == (200, "text/html")
        # Its own files only, never framed by another site.
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self';")
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert '<script src="dashboard/dashboard.js"' in page
    assert "http" not in page.replace('href="dashboard/', "").replace('src="dashboard/', "")  # no CDN
    for name, kind in [("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")]:
        async with http.get(server.base_url + "/_fakeapi/dashboard/" + name) as response:
            assert (response.status, response.content_type) == (200, kind)
            assert len(await response.read()) > 1000


async def test_the_dashboard_has_no_other_files(server: FakeServer, http: aiohttp.ClientSession) -> None:
    for name in ["index.html", "__init__.py", "..%2f__init__.py", "nothing.js"]:
        status, answer = await call(http, server.base_url, "GET", "/dashboard/" + name)
        assert status == 404, name
        assert "the dashboard has no file" in answer["error"]["message"]


# -- the event stream -----------------------------------------------------------------------------


async def test_the_event_stream_sends_the_run_at_once(
    server: FakeServer, events: Events, http: aiohttp.ClientSession
) -> None:
    snapshot = await events.next()
    assert (200, snapshot["clock"]) == await call(http, server.base_url, "GET", "/clock")
    assert snapshot["clock"]["virtual"] is True
    assert snapshot["seed"] == 0
    assert "manual" in snapshot["scenarios"]
    assert snapshot["tasks"] == {"total": 0, "items": []}
    assert snapshot["journal"] == {"total": 0, "items": []}
    assert snapshot["deliveries"] == {"total": 0, "items": []}


async def test_a_change_sends_a_new_snapshot_and_no_change_none(
    server: FakeServer, events: Events, http: aiohttp.ClientSession
) -> None:
    first = await events.next()
    with pytest.raises(asyncio.TimeoutError):
        await events.next(timeout=3 * TICK)  # nothing changed: nothing sent
    task_id = await submit(http, server)
    submitted = await events.next()
    [task] = submitted["tasks"]["items"]
    assert (task["id"], task["state"], task["timeline"]) == (
        task_id,
        "queued",
        [{"state": "queued", "at": first["clock"]["now"]}],
    )
    [entry] = submitted["journal"]["items"]
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/rixapi/v1/task/submit", 200)
    assert json.loads(entry["body"])["input"] == {"prompt": "a red fox"}
    assert (200, [entry]) == await call(http, server.base_url, "GET", "/journal")  # one shape
    status, _ = await call(http, server.base_url, "POST", "/clock/shift", {"seconds": 15})
    assert status == 200
    midway = await events.next()
    [task] = midway["tasks"]["items"]
    assert (task["state"], task["progress"]) == ("running", 50)  # 10 s of its 20 s running
    status, _ = await call(http, server.base_url, "POST", "/clock/shift", {"seconds": 45})
    assert status == 200
    shifted = await events.next()
    assert shifted["clock"]["now"] == first["clock"]["now"] + 60
    [task] = shifted["tasks"]["items"]
    assert [step["state"] for step in task["timeline"]] == ["queued", "running", "succeeded"]
    assert (task["state"], task["terminal"]) == ("succeeded", True)


async def test_a_snapshot_shows_the_callbacks_delivered(
    server: FakeServer, events: Events, http: aiohttp.ClientSession
) -> None:
    sink = CallbackSink()
    await sink.start()
    try:
        await events.next()
        task_id = await submit(http, server, callback_url=sink.url)
        status, _ = await call(http, server.base_url, "POST", "/clock/shift", {"seconds": 60})
        assert status == 200  # the shift returns once its callbacks are answered
        snapshot = await events.next()
        while snapshot["deliveries"]["total"] < 3:
            snapshot = await events.next()
    finally:
        await sink.stop()
    shown = [(d["task_id"], d["state"], d["status"], d["delivered"]) for d in snapshot["deliveries"]["items"]]
    assert shown == [
        (task_id, state, 200, True) for state in ("succeeded", "running", "queued")
    ]  # newest first
    assert json.loads(snapshot["deliveries"]["items"][0]["body"])["status"] == "completed"


async def test_pages_watching_a_quiet_run_share_one_snapshot_and_get_only_the_clock(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeServer(SLOW, clock="system") as server:  # its time moves on every tick
        await submit(http, server, input={"prompt": "a fox " * 2000})  # a 12 KB body
        builds: list[float] = []
        build = server.dashboard.snapshot

        def counted(tasks: list[TaskView] | None = None) -> dict[str, Any]:
            builds.append(time.monotonic())
            return build(tasks)

        monkeypatch.setattr(server.dashboard, "snapshot", counted)
        async with contextlib.AsyncExitStack() as pages:
            streams = []
            for _ in range(3):
                response = await pages.enter_async_context(http.get(server.base_url + "/_fakeapi/events"))
                streams.append(Events(response))
            for events in streams:
                first = await events.next()
                [entry] = first["journal"]["items"]
                assert len(entry["body"]) == dashboard.SHOWN_BODY_BYTES, "the page gets the body cut"
                assert entry["truncated"]
            assert len(builds) == 1, "one snapshot for every page"
            with pytest.raises(asyncio.TimeoutError):
                await streams[0].next(timeout=6 * TICK)  # nothing changed: no snapshot, the clock only
            assert len(builds) == 1
            assert len(streams[0].clocks) >= 3
            assert streams[0].clock_bytes < 100 * len(streams[0].clocks)
            assert streams[0].clocks[-1]["now"] > first["clock"]["now"]
            task_id = await submit(http, server)
            for events in streams:
                changed = await events.next()
                assert (changed["tasks"]["total"], changed["tasks"]["items"][0]["id"]) == (2, task_id)
            assert len(builds) == 2


async def test_the_stream_shows_no_api_key_whole(
    server: FakeServer, events: Events, http: aiohttp.ClientSession
) -> None:
    await events.next()
    await submit(http, server)
    snapshot = await events.next()
    assert snapshot["tasks"]["items"][0]["key"] == "sk-d…rd"
    assert snapshot["journal"]["items"][0]["key"] == "sk-d…rd"
    assert KEY not in json.dumps(snapshot, ensure_ascii=False)


async def test_the_snapshot_holds_the_newest_tasks_first(
    server: FakeServer, http: aiohttp.ClientSession
) -> None:
    ids = [await submit(http, server) for _ in range(3)]
    snapshot = server.dashboard.snapshot()
    assert [task["id"] for task in snapshot["tasks"]["items"]] == ids[::-1]
    assert snapshot["journal"]["total"] == 3


async def test_the_event_stream_ends_when_the_server_stops(http: aiohttp.ClientSession) -> None:
    server = FakeServer(SLOW, clock="virtual")
    await server.start()
    async with http.get(server.base_url + "/_fakeapi/events") as response:
        await Events(response).next()
        started = time.monotonic()
        await server.stop()
        assert time.monotonic() - started < SHUTDOWN_GRACE  # the stream did not wait out the grace
        assert await response.content.read() == b""


async def test_a_quiet_stream_sends_keepalive_comments(
    server: FakeServer, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard, "KEEPALIVE", 2 * TICK)
    async with http.get(server.base_url + "/_fakeapi/events") as response:
        await Events(response).next()
        line = await asyncio.wait_for(response.content.readline(), 4 * TICK)
        assert line == b": keepalive\n"


async def test_a_page_that_goes_away_leaves_nothing_behind(
    server: FakeServer, http: aiohttp.ClientSession
) -> None:
    for _ in range(3):
        async with http.get(server.base_url + "/_fakeapi/events") as response:
            await Events(response).next()
            response.close()  # the connection, not just the response
        await submit(http, server)  # a change the stream would send
    await asyncio.sleep(3 * TICK)
    assert list(server.recorder.surprises) == []
    status, _ = await call(http, server.base_url, "GET", "/seed")
    assert status == 200


def test_the_fixture_s_server_streams_the_run(fakeapi: FakeApi) -> None:
    """The fixture's server runs in a thread of its own: the stream follows it from there."""
    with urllib.request.urlopen(fakeapi.base_url + "/_fakeapi/events", timeout=5) as stream:
        first = next_event(stream)
        fakeapi.clock.shift(10)
        assert next_event(stream)["clock"]["now"] == first["clock"]["now"] + 10


def next_event(stream: IO[bytes]) -> dict[str, Any]:
    """The next snapshot of an event stream read without a loop."""
    data = b""
    for line in stream:
        if line.startswith(b"data: "):
            data = line.removeprefix(b"data: ")
        elif line == b"\n" and data:
            snapshot: dict[str, Any] = json.loads(data)
            return snapshot
    raise AssertionError("the event stream ended")


# -- access ---------------------------------------------------------------------------------------


async def test_the_page_s_own_origin_may_drive_the_admin_api(
    server: FakeServer, http: aiohttp.ClientSession
) -> None:
    own = {"Origin": server.base_url}
    status, answer = await call(http, server.base_url, "POST", "/clock/shift", {"seconds": 5}, headers=own)
    assert (status, answer["now"]) == (200, server.engine.clock.now())
    status, _ = await call(http, server.base_url, "POST", "/reset", {"seed": 4}, headers=own)
    assert (status, server.engine.seed) == (200, 4)


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "http://127.0.0.1:1",  # another port: another server's pages
        "http://localhost:{port}",  # another name: a page with its own origin
        "ftp://127.0.0.1:{port}",
    ],
)
async def test_a_page_of_another_origin_is_refused(
    server: FakeServer, http: aiohttp.ClientSession, origin: str
) -> None:
    headers = {"Origin": origin.format(port=server.port), "Content-Type": "text/plain"}
    status, answer = await call(http, server.base_url, "POST", "/reset", {"seed": 9}, headers=headers)
    assert status == 403
    assert "web pages of other origins" in answer["error"]["message"]
    assert server.engine.seed != 9
    async with http.get(server.base_url + "/_fakeapi/events", headers=headers) as response:
        assert response.status == 403


async def test_the_dashboard_keeps_the_host_check_and_the_token(http: aiohttp.ClientSession) -> None:
    async with FakeServer("manual", clock="virtual", admin_token="t0k") as server:
        for path in ["/", "/events", "/dashboard/dashboard.js"]:
            status, _ = await call(http, server.base_url, "GET", path)
            assert status == 401, path
            status, answer = await call(
                http,
                server.base_url,
                "GET",
                path,
                headers={"Authorization": "Bearer t0k", "Host": "rebind.example"},
            )
            assert status == 403, path
            assert "--allowed-host" in answer["error"]["message"]
        # With a token, even its own origin needs it.
        own = {"Origin": server.base_url}
        status, _ = await call(http, server.base_url, "POST", "/clock/shift", {"seconds": 1}, headers=own)
        assert status == 401


# -- in Chromium ----------------------------------------------------------------------------------


@pytest.fixture
def chromium() -> Path:
    """Debian's chromium; a missing one fails the test, saying how to install it."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the dashboard is tested in Debian's chromium; run "
            "`sh scripts/install-chromium` (as root, or with passwordless sudo; `make test` runs it)",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture
async def page(chromium: Path, tmp_path: Path) -> AsyncIterator[Page]:
    """A page of headless chromium with a fresh profile."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            tmp_path / "profile", executable_path=chromium, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield context.pages[0] if context.pages else await context.new_page()
        finally:
            await context.close()


def task_row(page: Page, task_id: str) -> Any:
    return page.locator(f'#tasks tr[data-task-id="{task_id}"]')


async def test_the_dashboard_shows_a_job_and_drives_the_fake_live(
    server: FakeServer, http: aiohttp.ClientSession, page: Page, tmp_path: Path
) -> None:
    await page.goto(server.base_url + "/_fakeapi/")
    await expect(page.locator("#connection")).to_have_text("live")
    await page.evaluate("window.loadedOnce = true")  # gone if the page reloads

    first = await submit(http, server)
    await expect(task_row(page, first)).to_have_attribute("data-state", "queued")
    kept = await task_row(page, first).get_by_role("button", name="Complete").element_handle()
    await page.get_by_role("button", name="+60 s").click()
    await expect(task_row(page, first)).to_have_attribute("data-state", "succeeded")
    # Updated in place: a click on a row's button is never lost to a re-render.
    assert await kept.evaluate("button => button.isConnected && button.disabled") is True
    await expect(task_row(page, first).locator(".timeline .state")).to_have_text(
        ["queued", "running", "succeeded"]
    )
    await expect(page.locator("#clock-now")).to_contain_text(":01:00")  # a minute after the start

    second = await submit(http, server)
    await expect(task_row(page, second)).to_have_attribute("data-state", "queued")
    await task_row(page, second).get_by_role("button", name="Complete").click()
    await expect(task_row(page, second)).to_have_attribute("data-state", "succeeded")
    await expect(task_row(page, second).get_by_role("button", name="Complete")).to_be_disabled()
    assert server.dashboard.snapshot()["tasks"]["items"][0]["state"] == "succeeded"

    third = await submit(http, server)
    await task_row(page, third).get_by_role("button", name="Fail").click()
    await expect(task_row(page, third)).to_have_attribute("data-state", "failed")
    await expect(task_row(page, third).locator(".failure")).to_have_text("generation failed")

    await expect(page.locator("#journal tbody tr")).to_have_count(3)
    await page.locator("#journal tbody tr").first.get_by_text("request").click()
    await expect(page.locator("#journal tbody tr").first.locator("pre").first).to_contain_text("a red fox")
    assert await page.evaluate("window.loadedOnce") is True
    assert list(server.recorder.surprises) == []  # the page asked for nothing the fake does not serve
    screenshot = tmp_path / "dashboard.png"
    await page.screenshot(path=screenshot, full_page=True)
    print(f"dashboard screenshot: {screenshot}")
    assert screenshot.stat().st_size > 10_000


async def test_the_page_s_clock_runs_with_a_system_clock_between_snapshots(page: Page) -> None:
    async with FakeServer(SLOW, clock="system", speed=3600) as server:  # an hour a second
        await page.goto(server.base_url + "/_fakeapi/")
        await expect(page.locator("#clock-now")).to_contain_text(" UTC")  # the first snapshot's
        shown = await page.locator("#clock-now").text_content()
        assert shown is not None
        await expect(page.locator("#clock-now")).not_to_have_text(shown)
        await expect(page.locator("#clock-mode")).to_have_text("system clock \u00d73600")


async def test_the_custom_shift_and_the_scenario_switcher(
    server: FakeServer, http: aiohttp.ClientSession, page: Page
) -> None:
    await page.goto(server.base_url + "/_fakeapi/")
    await expect(page.locator("#connection")).to_have_text("live")
    start = server.engine.clock.now()
    await page.locator("#shift-seconds").fill("7.5")
    await page.get_by_role("button", name="Shift", exact=True).click()
    await expect(page.locator("#clock-now")).to_contain_text(":00:07.500")
    assert server.engine.clock.now() == start + 7.5
    await page.locator("#scenario-select").select_option("instant")
    await page.get_by_role("button", name="Load").click()
    await expect(page.locator("#message")).to_contain_text("loaded the bundled scenario instant")
    await expect(page.locator("#scenario-description")).to_contain_text(
        server.engine.scenario.description[:20]
    )
    task_id = await submit(http, server)
    await expect(task_row(page, task_id)).to_have_attribute("data-state", "succeeded")  # instant
    await page.locator("#shift-seconds").fill("-1")
    await page.get_by_role("button", name="Shift", exact=True).click()
    await expect(page.locator("#message")).to_have_text(
        "clock/shift: seconds: Input should be greater than or equal to 0"
    )


EVIL_PAGE = """<!doctype html><script>
window.attempts = Promise.allSettled([
  fetch("{fake}/_fakeapi/clock/shift", {{method: "POST", mode: "no-cors", body: '{{"seconds": 60}}'}}),
  fetch("{fake}/_fakeapi/tasks"),
]);
</script>"""


async def test_a_page_of_another_site_cannot_drive_the_fake(server: FakeServer, page: Page) -> None:
    async def evil(request: web.Request) -> web.Response:
        return web.Response(text=EVIL_PAGE.format(fake=server.base_url), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", evil)
    runner, port = await listen(app, "127.0.0.1", 0)
    try:
        start = server.engine.clock.now()
        async with page.expect_response(server.base_url + "/_fakeapi/clock/shift") as refused:
            await page.goto(f"http://127.0.0.1:{port}/")
        assert (await refused.value).status == 403
        outcomes = await page.evaluate("window.attempts.then(all => all.map(a => a.status))")
        assert outcomes == ["fulfilled", "rejected"]  # the listing is unreadable to it
        assert server.engine.clock.now() == start
    finally:
        await runner.cleanup()
