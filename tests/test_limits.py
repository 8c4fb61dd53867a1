"""Bounded memory: the scenario's ``limits`` on the journal, the delivery log, the surprises, the
tasks, the accounts and idle connections. Engine tests run without sockets; the rest over HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import time
import tracemalloc
from typing import Any

import aiohttp
import pytest

from fakeapi import FakeApi, FakeServer, SurpriseError
from fakeapi.clock import ManualClock
from fakeapi.engine import SubmitRequest, TaskEngine, TaskView
from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.providers.rixapi.provider import PROFILE
from fakeapi.recorder import Recorder
from fakeapi.scenario import validate_scenario
from fakeapi.scenario.schema import LimitsSpec

KEY = {"Authorization": "Bearer sk-limits"}
CB = "http://receiver.test/callback"
INSTANT: list[dict[str, Any]] = [{"phases": [{"state": "succeeded"}]}]
TIMED: list[dict[str, Any]] = [
    {"phases": [{"state": "queued", "for": "2s"}, {"state": "running", "for": "8s"}, {"state": "succeeded"}]}
]
WAITING: list[dict[str, Any]] = [{"phases": [{"state": "queued"}, {"state": "succeeded"}]}]


class Receiver:
    """A callback receiver that answers 200 and keeps each body it was sent."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, url: str, body: bytes, timeout: float) -> int:
        self.bodies.append(body)
        return 200


def engine(rules: list[dict[str, Any]], **settings: Any) -> TaskEngine:
    scenario = validate_scenario({**settings, "rules": rules})
    return TaskEngine(scenario, ManualClock(), {"rixapi": PROFILE}, Receiver())


def submit(e: TaskEngine, key: str = "k1", callback_url: str | None = None, prompt: str = "p") -> TaskView:
    return e.submit(
        SubmitRequest(api="rixapi", key=key, model="flux-pro", prompt=prompt, callback_url=callback_url)
    )


def poll(e: TaskEngine, task_id: str, key: str = "k1") -> TaskView:
    return e.query("rixapi", task_id, key)


def utf8(text: str) -> int:
    return len(text.encode())


def kept_bytes(entry: dict[str, Any]) -> int:
    """What a journal entry counts toward ``journal_bytes``: its request line, its headers as sent
    (the key unredacted) and both bodies."""
    headers = {**entry["headers"], **KEY}
    bodies = utf8(entry["body"]) + utf8(entry["response_body"])
    return (
        bodies + len(entry["path"]) + len(entry["query"]) + sum(len(k) + len(v) for k, v in headers.items())
    )


# -- the journal -----------------------------------------------------------------------------------


def rix_submit(prompt: str) -> dict[str, Any]:
    return {"model": "flux-pro", "input": {"prompt": prompt}}


@pytest.mark.fakeapi(scenario={"limits": {"logged_body_bytes": 256}, "rules": INSTANT})
async def test_a_journaled_body_is_cut_to_its_limit_and_marked(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    url = fakeapi.url_for("rixapi") + "/v1/task/submit"
    long, short = json.dumps(rix_submit("x" * 1000)), json.dumps(rix_submit("a fox"))
    for body in (long, short):
        async with http.post(url, data=body, headers={**KEY, "Content-Type": "application/json"}) as r:
            assert r.status == 200
    cut, whole = fakeapi.journal
    assert (cut.body, cut.truncated) == (long[:256], True)
    assert (whole.body, whole.truncated) == (short, False)


@pytest.mark.fakeapi(
    scenario={
        "limits": {"journal_entries": 1000, "journal_bytes": 16 * 1024, "logged_body_bytes": 1024},
        "rules": INSTANT,
    }
)
async def test_the_journal_at_its_caps_stays_under_its_bytes(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    url = fakeapi.url_for("rixapi") + "/v1/task/submit"
    for i in range(100):
        async with http.post(url, json=rix_submit(f"request {i:03d} " + "x" * 4096), headers=KEY) as r:
            assert r.status == 200
    async with http.get(fakeapi.base_url + "/_fakeapi/journal") as r:
        served = await r.read()
    journal = json.loads(served)
    sizes = [kept_bytes(e) for e in journal]
    assert sum(sizes) <= 16 * 1024 < sum(sizes) + sizes[0], "the newest that fit in the bytes"
    assert len(journal) == 11, "1 KiB bodies, their paths, headers and answers"
    assert all(e["truncated"] and utf8(e["body"]) == 1024 for e in journal)
    assert ["request 098 " in journal[-2]["body"], "request 099 " in journal[-1]["body"]] == [True, True]
    assert len(served) < 16 * 1024 + 16 * 512, "what the admin API answers is bounded too"


@pytest.mark.fakeapi(scenario={"limits": {"journal_entries": 5}, "rules": INSTANT})
async def test_the_journal_keeps_the_newest_entries(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    for i in range(12):
        async with http.get(fakeapi.url_for("rixapi") + f"/v1/task/task_{i:02d}", headers=KEY) as r:
            assert r.status == 404
    assert [e.path.rsplit("_", 1)[1] for e in fakeapi.journal] == ["07", "08", "09", "10", "11"]


def test_the_journal_memory_at_its_caps_stays_under_its_bytes() -> None:
    limits = LimitsSpec(journal_entries=10_000, journal_bytes=1024 * 1024, logged_body_bytes=64 * 1024)
    recorder = Recorder(limits)
    big = b"x" * (1024 * 1024)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(200):
            recorder.record(float(i), "POST", f"/rixapi/v1/task/submit/{i}", "", 200, big, ())
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(recorder.journal) == 15, "64 KiB bodies and their paths in 1 MiB"
    assert used < 1024 * 1024 + 16 * 1024, f"{used} bytes kept for a journal capped at 1 MiB of bodies"


def test_a_body_is_cut_between_characters_and_undecodable_bytes_are_replaced() -> None:
    recorder = Recorder(LimitsSpec(logged_body_bytes=10))
    recorder.record(0.0, "POST", "/", "", 200, "ééééééé".encode(), ())  # 14 bytes
    recorder.record(0.0, "POST", "/", "", 200, b"ab\xff\xfecd", ())
    recorder.record(0.0, "POST", "/", "", 200, b"\xff" * 8, ())  # 8 bytes, 24 once replaced
    cut, replaced, grown = recorder.journal
    assert (cut.body, cut.truncated) == ("ééééé", True)
    assert (replaced.body, replaced.truncated) == ("ab\ufffd\ufffdcd", False)
    assert (grown.body, grown.truncated) == ("\ufffd" * 3, True)


# -- the delivery log ------------------------------------------------------------------------------


async def test_the_delivery_log_keeps_the_newest_entries_with_bodies_cut() -> None:
    e = engine(TIMED, limits={"deliveries_entries": 4, "logged_body_bytes": 64})
    ids = [submit(e, callback_url=CB).id for _ in range(3)]
    await e.shift(10)
    receiver = e._sender
    assert isinstance(receiver, Receiver)
    assert len(receiver.bodies) == 9, "three callbacks per task were sent, whole"
    log = list(e.deliveries)
    assert len(log) == 4
    assert [(d.task_id, d.state) for d in log] == [
        (ids[2], "running"),
        (ids[0], "succeeded"),
        (ids[1], "succeeded"),
        (ids[2], "succeeded"),
    ]
    assert [(d.body, d.truncated) for d in log] == [(b.decode()[:64], True) for b in receiver.bodies[-4:]]


async def test_the_delivery_log_is_bounded_by_bytes() -> None:
    e = engine(TIMED, limits={"deliveries_bytes": 200, "logged_body_bytes": 64})
    for _ in range(3):
        submit(e, callback_url=CB)
    await e.shift(10)
    assert len(e.deliveries) == 3, "three bodies of 64 bytes fit in 200"
    assert sum(utf8(d.body) for d in e.deliveries) <= 200
    e.deliveries.clear()
    assert list(e.deliveries) == []


# -- surprises -------------------------------------------------------------------------------------


@pytest.mark.fakeapi(scenario={"limits": {"surprises": 3, "surprise_bytes": 200}, "rules": INSTANT})
async def test_surprises_are_bounded_and_each_cut(http: aiohttp.ClientSession, fakeapi: FakeApi) -> None:
    for i in range(5):
        async with http.get(fakeapi.url_for("rixapi") + f"/v9/nowhere-{i}-" + "x" * 500, headers=KEY) as r:
            assert r.status == 404
    surprises = fakeapi.surprises
    assert [s[: len("GET /rixapi/v9/nowhere-2")] for s in surprises] == [
        "GET /rixapi/v9/nowhere-2",
        "GET /rixapi/v9/nowhere-3",
        "GET /rixapi/v9/nowhere-4",
    ]
    assert all(utf8(s) <= 200 and s.endswith(" bytes in all]") for s in surprises)
    with pytest.raises(SurpriseError):
        fakeapi.check()


# -- tasks -----------------------------------------------------------------------------------------


async def test_a_finished_task_is_forgotten_task_ttl_after_it_finished() -> None:
    e = engine(TIMED, limits={"task_ttl": "60s"})
    polled, swept = submit(e), submit(e)
    await e.shift(69)
    assert poll(e, polled.id).state == "succeeded", "finished at 10 s: kept until 70 s"
    await e.shift(1)
    with pytest.raises(FakeApiError) as error:
        poll(e, polled.id)
    assert error.value.kind is ErrorKind.NOT_FOUND
    assert swept.id in e.tasks, "nothing has looked at it yet"
    fresh = submit(e)
    assert list(e.tasks) == [fresh.id], "a submit sweeps the tasks past their time"


async def test_beyond_limits_tasks_the_longest_finished_is_forgotten_first() -> None:
    e = engine(WAITING, limits={"tasks": 3})
    t1, t2, t3 = (submit(e).id for _ in range(3))
    await e.shift(1)
    e.complete(t2)
    await e.shift(1)
    e.complete(t1)
    t4 = submit(e).id
    assert list(e.tasks) == [t1, t3, t4], "t2 finished first"
    await e.shift(1)
    e.complete(t3)
    t5 = submit(e).id
    assert list(e.tasks) == [t3, t4, t5]
    t6 = submit(e).id
    assert list(e.tasks) == [t4, t5, t6]


async def test_unfinished_tasks_are_never_forgotten_a_submit_beyond_them_is_refused() -> None:
    e = engine(WAITING, limits={"tasks": 2}, prices={"*": 1}, accounts={"open_key": {"balance": 5}})
    kept = [submit(e).id, submit(e).id]
    with pytest.raises(FakeApiError) as error:
        submit(e)
    assert (error.value.kind, error.value.retry_after) == (ErrorKind.TOO_MANY_TASKS, 1)
    assert "limits.tasks" in error.value.message
    assert list(e.tasks) == kept
    assert e.accounts.authenticate("rixapi", "k1").balance == 3, "the refused submit cost nothing"


async def test_a_task_moved_on_by_time_alone_is_forgotten_without_being_read() -> None:
    e = engine(TIMED, limits={"tasks": 2})
    submit(e)
    await e.shift(5)
    second = submit(e).id
    with pytest.raises(FakeApiError) as error:
        submit(e)
    assert error.value.retry_after == 5, "the first ends at 10 s"
    await e.shift(10)
    third = submit(e).id
    assert list(e.tasks) == [second, third], "the first ended at 10 s, the second at 15 s"


async def test_a_task_ended_early_is_forgotten_by_when_it_ended() -> None:
    e = engine(TIMED, limits={"tasks": 2})
    running, failed = submit(e).id, submit(e).id
    await e.shift(1)
    e.fail(failed)
    await e.shift(1)
    third = submit(e).id
    assert list(e.tasks) == [running, third], "the failed one ended at 1 s; the other runs to 10 s"


async def test_a_task_moved_on_by_polls_is_forgotten_once_its_polls_end_it() -> None:
    e = engine([{"phases": [{"state": "running", "polls": 1}, {"state": "succeeded"}]}], limits={"tasks": 1})
    task = submit(e).id
    with pytest.raises(FakeApiError):
        submit(e)
    assert poll(e, task).state == "running"
    assert poll(e, task).state == "succeeded"
    following = submit(e).id
    assert list(e.tasks) == [following]


async def test_beyond_limits_tasks_bytes_the_longest_finished_is_forgotten_first() -> None:
    e = engine(WAITING, limits={"tasks_bytes": 1000})
    finished = e.submit(SubmitRequest(api="rixapi", key="k1", model="flux-pro"), 400).id
    kept = e.submit(SubmitRequest(api="rixapi", key="k1", model="flux-pro"), 400).id
    e.complete(finished)
    newest = e.submit(SubmitRequest(api="rixapi", key="k1", model="flux-pro"), 400).id
    assert list(e.tasks) == [kept, newest], "1,200 bytes would not fit in 1,000"
    with pytest.raises(FakeApiError) as error:
        e.submit(SubmitRequest(api="rixapi", key="k1", model="flux-pro"), 400)
    assert error.value.kind is ErrorKind.TOO_MANY_TASKS
    assert "limits.tasks_bytes" in error.value.message
    assert list(e.tasks) == [kept, newest]


def test_an_ended_tasks_poll_answer_is_rendered_once_and_counts_toward_tasks_bytes() -> None:
    e = engine(WAITING, limits={"tasks_bytes": 1000})
    rendered: list[str] = []

    def render(view: TaskView, settings: Any) -> bytes:
        rendered.append(view.state)
        return b"x" * 300

    polled = e.submit(SubmitRequest(api="rixapi", key="k1", model="flux-pro"), 300).id
    kept = e.submit(SubmitRequest(api="rixapi", key="k1", model="flux-pro"), 300).id
    assert e.poll("rixapi", polled, "k1", None, render) == b"x" * 300  # queued: not kept
    e.complete(polled)
    answers = {e.poll("rixapi", polled, "k1", None, render) for _ in range(3)}
    assert (answers, rendered) == ({b"x" * 300}, ["queued", "succeeded"])
    assert e.get(polled).polls == 4, "every poll counts, kept answer or not"
    # 300 + 300 bytes of requests and 300 of the kept answer: a third request of 300 does not fit
    newest = e.submit(SubmitRequest(api="rixapi", key="k1", model="flux-pro"), 300).id
    assert list(e.tasks) == [kept, newest]


def test_a_task_read_by_two_routes_keeps_one_answer_toward_tasks_bytes() -> None:
    e = engine(WAITING, limits={"tasks_bytes": 1000})

    def query(view: TaskView, settings: Any) -> bytes:
        return b"q" * 100

    def stream(view: TaskView, settings: Any) -> bytes:
        return b"s" * 200

    read = e.submit(SubmitRequest(api="rixapi", key="k1", model="flux-pro"), 300).id
    e.complete(read)
    for _ in range(5):  # each read renders again, as the other route's answer is the one kept
        assert e.poll("rixapi", read, "k1", None, query) == b"q" * 100
        assert e.poll("rixapi", read, "k1", None, stream) == b"s" * 200
    # 300 bytes of request and 200 of the one answer kept: two more requests of 250 fit
    others = [e.submit(SubmitRequest(api="rixapi", key="k1", model="flux-pro"), 250).id for _ in range(2)]
    assert list(e.tasks) == [read, *others]


def test_a_request_larger_than_tasks_bytes_alone_makes_a_task() -> None:
    e = engine(WAITING, limits={"tasks_bytes": 1000})
    task = e.submit(SubmitRequest(api="rixapi", key="k1", model="flux-pro"), 5000).id
    assert list(e.tasks) == [task], "request_bytes bounds it"


@pytest.mark.fakeapi(scenario={"limits": {"tasks_bytes": 64 * 1024}, "rules": INSTANT})
async def test_the_requests_kept_with_tasks_are_bounded_by_bytes(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    ids = []
    for i in range(10):
        body = rix_submit(f"{i} " + "x" * 20_000)
        async with http.post(fakeapi.url_for("rixapi") + "/v1/task/submit", json=body, headers=KEY) as r:
            ids.append((await r.json())["id"])
    assert [t.id for t in fakeapi.tasks] == ids[-3:], "three requests of 20 KB fit in 64 KiB"


@pytest.mark.fakeapi(scenario={"limits": {"task_ttl": "1m"}, "rules": INSTANT})
async def test_a_forgotten_task_answers_as_an_unknown_id(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    base = fakeapi.url_for("rixapi")
    async with http.post(base + "/v1/task/submit", json=rix_submit("a fox"), headers=KEY) as r:
        task_id = (await r.json())["id"]

    async def answer(task: str) -> tuple[int, str]:
        async with http.get(base + f"/v1/task/{task}", headers=KEY) as r:
            return r.status, re.sub(
                r"request id: \w+", "request id: ...", (await r.text()).replace(task, "{id}")
            )

    status, _ = await answer(task_id)
    assert status == 200
    await fakeapi.clock.ashift(60)
    forgotten = await answer(task_id)
    assert forgotten[0] == 404
    assert forgotten == await answer("task_never_was")
    assert fakeapi.tasks == []


@pytest.mark.fakeapi(scenario={"limits": {"task_ttl": "1m"}, "rules": INSTANT})
async def test_a_forgotten_task_is_gone_from_files_and_listings_without_a_poll(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    async with http.post(
        fakeapi.url_for("rixapi") + "/v1/task/submit", json=rix_submit("a fox"), headers=KEY
    ) as r:
        task_id = (await r.json())["id"]
    [output] = fakeapi.task(task_id).outputs
    async with http.get(output) as r:
        assert r.status == 200
    await fakeapi.clock.ashift(60)
    async with http.get(output) as r:
        assert r.status == 404, "its result file goes with the task"
    async with http.get(fakeapi.base_url + "/_fakeapi/tasks") as r:
        assert (await r.json(), r.headers["X-Total-Count"]) == ([], "0")


# -- accounts --------------------------------------------------------------------------------------


def test_beyond_limits_keys_the_least_recently_used_idle_key_is_forgotten() -> None:
    e = engine(INSTANT, limits={"keys": 2}, prices={"*": 1}, accounts={"open_key": {"balance": 10}})
    submit(e, key="a")
    submit(e, key="b")
    e.authorize("rixapi", "a")  # a is now used more recently than b
    submit(e, key="c")
    assert e.accounts.find("rixapi", "b") is None
    assert e.accounts.authenticate("rixapi", "a").balance == 9
    submit(e, key="b")
    assert e.accounts.authenticate("rixapi", "b").balance == 9, "b starts over from the scenario's balance"


def test_a_key_with_an_unfinished_task_is_not_forgotten() -> None:
    e = engine(WAITING, limits={"keys": 2}, prices={"*": 1}, accounts={"open_key": {"balance": 10}})
    busy = submit(e, key="busy").id
    e.complete(submit(e, key="idle").id)
    submit(e, key="new")
    assert e.accounts.find("rixapi", "idle") is None, "the busy key was the least recently used"
    assert e.accounts.authenticate("rixapi", "busy").balance == 9
    e.complete(busy)
    submit(e, key="newer")
    assert e.accounts.find("rixapi", "busy") is None, "finished, it can go"


def test_keys_in_use_beyond_the_limit_are_kept() -> None:
    e = engine(WAITING, limits={"keys": 1})
    first = submit(e, key="a").id
    second = submit(e, key="b").id
    assert e.accounts.find("rixapi", "a") is not None
    assert e.accounts.find("rixapi", "b") is not None
    assert [t.key for t in map(e.get, (first, second))] == ["a", "b"]


# -- idle connections ------------------------------------------------------------------------------


async def idle_seconds_until_closed(server: FakeServer) -> float:
    """Seconds from the end of an answer until the server closes the kept-alive connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /_fakeapi/clock HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        length = int(
            next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1]
        )
        await reader.readexactly(length)
        answered = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 5) == b"", "closed by the server"
        return time.monotonic() - answered
    finally:
        writer.close()


async def test_an_idle_connection_is_closed_after_idle_timeout() -> None:
    async with FakeServer({"limits": {"idle_timeout": "500ms"}, "rules": INSTANT}) as server:
        assert 0.4 < await idle_seconds_until_closed(server) < 1.5
    async with FakeServer({"limits": {"idle_timeout": "1s"}, "rules": INSTANT}) as server:
        assert 0.9 < await idle_seconds_until_closed(server) < 2.0
