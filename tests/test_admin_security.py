"""The admin API against a hostile caller, over a real socket: scenario files only from the
scenario directories and errors that show nothing of other files, the ``Host`` check that stops
DNS rebinding, and listings served a page at a time."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pydantic_core
import pytest
from admin_client import call

from fakeapi import FakeApi, FakeServer, ScenarioError
from fakeapi.engine import TaskEngine
from fakeapi.sink import CallbackSink

KEY = "sk-admin-security"
# Marks the content of files the admin API must never show, whatever the file holds.
SECRET = "s3cr3t-Zq7"
SCENARIO = "seed: 11\nrules:\n  - phases: [{state: queued}, {state: succeeded}]\n"

pytestmark = pytest.mark.fakeapi(scenario="manual")


async def load(http: aiohttp.ClientSession, server: FakeServer, ref: str) -> tuple[int, Any]:
    return await call(http, server.base_url, "POST", "/load_scenario", {"scenario": ref})


async def refused(http: aiohttp.ClientSession, server: FakeServer, ref: str) -> str:
    """``load_scenario`` of ``ref`` must answer 400 and load nothing; its message."""
    status, answer = await load(http, server, ref)
    assert status == 400, answer
    assert server.engine.seed == 0
    message: str = answer["error"]["message"]
    return message


async def submit(http: aiohttp.ClientSession, server: FakeServer, count: int) -> list[str]:
    """``count`` RixAPI tasks submitted over HTTP (a few at a time), in submission order."""
    url = server.url_for("rixapi") + "/v1/task/submit"
    body = {"model": "flux-pro", "input": {"prompt": "x"}}
    ids: list[str] = []
    for start in range(0, count, 50):
        batch = []
        for _ in range(min(50, count - start)):
            batch.append(http.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}))
        for response in await asyncio.gather(*batch):
            async with response:
                assert response.status == 200
                ids.append((await response.json())["id"])
    return ids


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    """A scenario directory with a scenario in it, and a directory beside it that is not one."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "held.yaml").write_text(SCENARIO, encoding="utf-8")
    (outside / "secret.yaml").write_text(SCENARIO.replace("11", "66"), encoding="utf-8")
    return allowed, outside


@pytest.fixture
async def server(dirs: tuple[Path, Path]) -> AsyncIterator[FakeServer]:
    """A server in this test's loop whose one scenario directory is ``dirs[0]``."""
    async with FakeServer("manual", clock="virtual", scenario_dirs=[dirs[0]]) as fake:
        yield fake


# -- scenario files -----------------------------------------------------------------------------------


async def test_files_under_a_scenario_dir_load_by_absolute_or_relative_path(
    http: aiohttp.ClientSession, server: FakeServer, dirs: tuple[Path, Path]
) -> None:
    allowed, _ = dirs
    (allowed / "sub").mkdir()
    (allowed / "sub" / "twelve.yml").write_text(SCENARIO.replace("11", "12"), encoding="utf-8")
    (allowed / "thirteen.json").write_text(
        json.dumps({"seed": 13, "rules": [{"phases": [{"state": "succeeded"}]}]}), encoding="utf-8"
    )
    (allowed / "fourteen.YAML").write_text(SCENARIO.replace("11", "14"), encoding="utf-8")
    (allowed / "link.yaml").symlink_to(allowed / "sub" / "twelve.yml")  # a symlink that stays inside

    assert await load(http, server, str(allowed / "held.yaml")) == (200, {"seed": 11})
    assert await load(http, server, "sub/twelve.yml") == (200, {"seed": 12})
    assert await load(http, server, "thirteen.json") == (200, {"seed": 13})
    assert await load(http, server, "fourteen.YAML") == (200, {"seed": 14})
    assert await load(http, server, "link.yaml") == (200, {"seed": 12})
    assert await load(http, server, "sub/../held.yaml") == (200, {"seed": 11})
    assert await load(http, server, "instant") == (200, {"seed": 0})  # bundled names load too


async def test_every_scenario_dir_is_searched_in_turn(
    http: aiohttp.ClientSession, dirs: tuple[Path, Path]
) -> None:
    allowed, outside = dirs
    async with FakeServer("manual", clock="virtual", scenario_dirs=[outside, allowed]) as server:
        assert await load(http, server, "held.yaml") == (200, {"seed": 11})
        assert await load(http, server, "secret.yaml") == (200, {"seed": 66})


async def test_without_scenario_dirs_only_bundled_names_load(
    http: aiohttp.ClientSession, dirs: tuple[Path, Path]
) -> None:
    allowed, _ = dirs
    async with FakeServer("manual", clock="virtual", scenario_dirs=[]) as server:
        message = await refused(http, server, str(allowed / "held.yaml"))
        assert "outside the scenario directories (none)" in message
        assert await load(http, server, "instant") == (200, {"seed": 0})


async def test_the_default_scenario_dir_is_the_current_directory(
    http: aiohttp.ClientSession, dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed, outside = dirs
    monkeypatch.chdir(allowed)
    async with FakeServer("manual", clock="virtual") as server:
        assert "outside the scenario directories" in await refused(http, server, str(outside / "secret.yaml"))
        assert await load(http, server, "held.yaml") == (200, {"seed": 11})


@pytest.mark.parametrize(
    "ref",
    [
        "{outside}/secret.yaml",  # absolute, elsewhere
        "../outside/secret.yaml",  # relative, climbing out
        "{allowed}/../outside/secret.yaml",
        "escape.yaml",  # a symlink out
        "escape-dir/secret.yaml",  # through a symlinked directory
        "/etc/passwd",
    ],
)
async def test_files_outside_the_scenario_dirs_are_refused(
    http: aiohttp.ClientSession, server: FakeServer, dirs: tuple[Path, Path], ref: str
) -> None:
    allowed, outside = dirs
    (allowed / "escape.yaml").symlink_to(outside / "secret.yaml")
    (allowed / "escape-dir").symlink_to(outside, target_is_directory=True)
    ref = ref.format(allowed=allowed, outside=outside)
    message = await refused(http, server, ref)
    assert message == (
        f"{ref}: no bundled scenario of that name (bundled: content-violation, default, flaky-5xx, "
        "instant, manual, out-of-credits, poll-count, rate-limited, slow-queue, webhook-receiver-down), "
        f"and outside the scenario directories ({allowed.resolve()}); start the server with "
        "--scenario-dir DIR (FakeServer(scenario_dirs=[...])) to load files under DIR"
    )


async def test_a_missing_file_inside_is_named_missing(
    http: aiohttp.ClientSession, server: FakeServer, dirs: tuple[Path, Path]
) -> None:
    allowed, _ = dirs
    (allowed / "dir.yaml").mkdir()
    os.mkfifo(allowed / "fifo.yaml")  # reading it would block the server's loop for good
    for ref in ("nope.yaml", "dir.yaml", "fifo.yaml"):
        message = await refused(http, server, ref)
        assert message.endswith(
            f"and no such scenario file in the scenario directories ({allowed.resolve()})"
        )
    message = await refused(http, server, "flaky5xx")
    assert message.startswith(
        "flaky5xx: no bundled scenario of that name; did you mean flaky-5xx? (bundled: "
    )


@pytest.mark.parametrize("ref", ["x" * 256, "x" * 5000 + ".yaml", "nul\0.yaml", "", "loop.yaml"])
async def test_odd_paths_answer_400(
    http: aiohttp.ClientSession, server: FakeServer, dirs: tuple[Path, Path], ref: str
) -> None:
    (dirs[0] / "loop.yaml").symlink_to(dirs[0] / "loop.yaml")
    message = await refused(http, server, ref)
    assert message.startswith(f"{ref}: no bundled scenario of that name")
    assert list(server.recorder.surprises) == []


async def test_only_scenario_file_types_are_read(
    http: aiohttp.ClientSession, server: FakeServer, dirs: tuple[Path, Path]
) -> None:
    allowed, _ = dirs
    (allowed / "scenario.txt").write_text(SCENARIO, encoding="utf-8")
    (allowed / "disguised.yaml").symlink_to(allowed / "scenario.txt")  # judged by what it points to
    for ref in ("scenario.txt", "disguised.yaml"):
        assert await refused(http, server, ref) == f"{ref}: a scenario file ends in .yaml, .yml, .json"


async def test_a_file_over_one_mib_is_refused(
    http: aiohttp.ClientSession, server: FakeServer, dirs: tuple[Path, Path]
) -> None:
    allowed, _ = dirs
    padding = "#" * 1024 + "\n"
    (allowed / "just.yaml").write_text(SCENARIO + padding * 1000, encoding="utf-8")
    (allowed / "over.yaml").write_text(SCENARIO + padding * 1024, encoding="utf-8")
    assert await load(http, server, "just.yaml") == (200, {"seed": 11})
    await call(http, server.base_url, "POST", "/reset", {"seed": 0})
    assert await refused(http, server, "over.yaml") == (
        "over.yaml: larger than 1048576 bytes, too large for a scenario"
    )


# Files that are no scenario; the message expected for each (the file is named ``f.yaml``).
NOT_SCENARIOS = {
    # A trailing colon makes each line a mapping key.
    "shadow": (
        f"root:$6${SECRET}$abcdefgh:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
        "f.yaml:1: not a scenario: a top-level key is no scenario setting",
    ),
    "passwd": (
        f"root:x:0:0:{SECRET}:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
        "f.yaml: a scenario is a mapping of settings, not str",
    ),
    "env-style mapping": (
        f"AWS_ACCESS_KEY_ID: {SECRET}\npassword: {SECRET}\n",
        "f.yaml:1: not a scenario: a top-level key is no scenario setting",
    ),
    "scenario keys and one more": (
        f"seed: 3\nrules: []\n{SECRET}: {SECRET}\n",
        "f.yaml:3: not a scenario: a top-level key is no scenario setting",
    ),
    "a key that is no string": (f"1: {SECRET}\n", "f.yaml:1: not a scenario: a top-level key is no"),
    "sequence": (f"- {SECRET}\n- {SECRET}\n", "f.yaml: a scenario is a mapping of settings, not list"),
    "unterminated quote": (f'a: b\nkey: "{SECRET}\n', "f.yaml:3: not valid YAML"),
    "bad indentation": (f"a:\n  b: 1\n c: {SECRET}\n", "f.yaml:3: not valid YAML"),
    "tab": (f"a:\n\t{SECRET}: 1\n", "f.yaml:2: not valid YAML"),
    "undefined alias": (f"a: *{SECRET}\n", "f.yaml:1: not valid YAML"),
    "unknown tag": (f"a: !!python/object:{SECRET} {{}}\n", "f.yaml:1: not valid YAML"),
    "int tag on text": (f"a: !!int {SECRET}\n", "f.yaml: not valid YAML"),
    "timestamp out of range": ("a: 2001-13-45\n", "f.yaml: not valid YAML"),
    "two documents": (f"a: 1\n---\nb: {SECRET}\n", "f.yaml:2: not valid YAML"),
    "nested beyond YAML's limit": ("[" * 5000 + "]" * 5000, "f.yaml:1: not valid YAML"),
    "nested beyond the stack": ("rules: " + "{a: " * 500 + "1" + "}" * 500, "f.yaml: nested too deeply"),
}


@pytest.mark.parametrize("name", NOT_SCENARIOS)
async def test_a_file_that_is_no_scenario_is_not_shown(
    http: aiohttp.ClientSession, server: FakeServer, dirs: tuple[Path, Path], name: str
) -> None:
    content, expected = NOT_SCENARIOS[name]
    (dirs[0] / "f.yaml").write_text(content, encoding="utf-8")
    message = await refused(http, server, "f.yaml")
    assert message.startswith(expected)
    assert SECRET not in message
    settings = re.fullmatch(r".*\(settings: ([a-z, ]+)\)", message)
    shown = {*settings.group(1).split(", "), "yaml"} if settings else {"yaml"}  # the format's own words
    for word in set(re.findall(r"[A-Za-z_]{4,}", content)) - shown:
        assert word not in message, f"{word!r} of the file is in the answer: {message}"


async def test_a_file_that_is_no_utf8_is_not_shown(
    http: aiohttp.ClientSession, server: FakeServer, dirs: tuple[Path, Path]
) -> None:
    (dirs[0] / "f.yaml").write_bytes(b"seed: 1\npassword: " + SECRET.encode() + b"\xff\xfe\n")
    assert await refused(http, server, "f.yaml") == "f.yaml: not UTF-8 text (byte 28)"


async def test_a_scenario_file_with_mistakes_names_line_and_path(
    http: aiohttp.ClientSession, server: FakeServer, dirs: tuple[Path, Path]
) -> None:
    (dirs[0] / "bad.yaml").write_text(
        "seed: 2\nrules:\n  - phases:\n      - {state: queued, for: soon}\n      - {state: succeeded}\n",
        encoding="utf-8",
    )
    message = await refused(http, server, "bad.yaml")
    assert message.startswith("bad.yaml:4: rules[0].phases[0].for: ")


def test_the_fixture_loads_any_path(fakeapi: FakeApi, dirs: tuple[Path, Path]) -> None:
    _, outside = dirs
    fakeapi.load_scenario(outside / "secret.yaml")  # tests name their own files: no restriction
    assert fakeapi.seed == 66
    (outside / "notes.txt").write_text(SCENARIO, encoding="utf-8")
    fakeapi.load_scenario(str(outside / "notes.txt"))
    assert fakeapi.seed == 11


def test_a_scenario_dir_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        FakeServer("manual", scenario_dirs=[tmp_path / "nope"])
    with pytest.raises(ScenarioError):
        FakeServer("nope")  # the Python API's own errors are untouched


# -- Host ---------------------------------------------------------------------------------------------


async def raw_get(server: FakeServer, path: str, host: str | None) -> tuple[int, bytes]:
    """A GET with exactly this ``Host`` header (``None``: none at all, as HTTP/1.0 allows); the
    status and the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        head = f"GET {path} HTTP/1.0\r\n" + (f"Host: {host}\r\n" if host is not None else "")
        writer.write((head + "\r\n").encode("latin-1"))
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:{port}", "127.0.0.1", "localhost:{port}", "LocalHost", "[::1]:{port}", "10.0.0.7:80", "[::]"],
)
async def test_admin_answers_requests_to_ip_addresses_and_localhost(server: FakeServer, host: str) -> None:
    status, body = await raw_get(server, "/_fakeapi/seed", host.format(port=server.port))
    assert (status, json.loads(body)) == (200, {"seed": 0})


@pytest.mark.parametrize(
    "host",
    [
        "rebind.example:{port}",
        "rebind.example",
        "localhost.rebind.example",
        "127.0.0.1.nip.io:{port}",
        "localhost:{port}@rebind.example",
        "[not-ipv6]:{port}",
        "[::1",
        "localhost:port",
        "",
        None,
    ],
)
async def test_admin_refuses_requests_to_any_other_host(
    http: aiohttp.ClientSession, server: FakeServer, host: str | None
) -> None:
    await submit(http, server, 1)
    header = host.format(port=server.port) if host is not None else None
    status, body = await raw_get(server, "/_fakeapi/tasks", header)
    assert status == 403
    message = json.loads(body)["error"]["message"]
    given = "no Host header" if header is None else f"Host {header!r}"
    assert message == (
        "the admin API answers only requests addressed to an IP address, localhost or a host name "
        f"allowed with --allowed-host NAME (FakeServer(allowed_hosts=[...])), not {given}: a web page "
        "rebinding a DNS name to this server must not drive it; to use this name, start the server "
        "with --allowed-host and the name"
    )
    assert KEY.encode() not in body


async def test_allowed_hosts_are_answered_and_nothing_else(http: aiohttp.ClientSession) -> None:
    async with FakeServer("manual", clock="virtual", allowed_hosts=["fake.internal", "Sandbox"]) as server:
        for host in ("fake.internal", f"FAKE.Internal:{server.port}", "sandbox:1"):
            status, _ = await raw_get(server, "/_fakeapi/seed", host)
            assert status == 200, host
        for host in ("other.internal", "fake.internal.example", "internal"):
            status, _ = await raw_get(server, "/_fakeapi/seed", host)
            assert status == 403, host


@pytest.mark.parametrize("name", ["fake.internal:8000", "http://fake.internal", "a/b", "", "[::1]", "a b"])
def test_an_allowed_host_is_a_bare_name(name: str) -> None:
    with pytest.raises(ValueError, match="is not a host name"):
        FakeServer("manual", allowed_hosts=[name])


async def test_the_host_is_checked_before_the_token_and_origin(http: aiohttp.ClientSession) -> None:
    async with FakeServer("manual", clock="virtual", admin_token="t0k") as server:
        good = {"Authorization": "Bearer t0k"}
        status, answer = await call(
            http, server.base_url, "GET", "/seed", headers={**good, "Host": "rebind.example"}
        )
        assert status == 403
        assert "--allowed-host" in answer["error"]["message"]
        assert await call(http, server.base_url, "GET", "/seed", headers=good) == (200, {"seed": 0})
        status, _ = await call(http, server.base_url, "GET", "/seed")
        assert status == 401  # the token rule still holds for a good Host


async def test_the_emulated_apis_answer_any_host(http: aiohttp.ClientSession, server: FakeServer) -> None:
    url = server.url_for("rixapi") + "/v1/task/submit"
    body = {"model": "flux-pro", "input": {"prompt": "x"}}
    headers = {"Authorization": f"Bearer {KEY}", "Host": "api.rixapi.example"}
    async with http.post(url, json=body, headers=headers) as response:
        assert response.status == 200


# -- paginated listings ---------------------------------------------------------------------------------


async def page(http: aiohttp.ClientSession, url: str) -> tuple[list[dict[str, Any]], int, str | None]:
    """One page of a listing: its items, ``X-Total-Count`` and the ``rel="next"`` URL (if any)."""
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        items: list[dict[str, Any]] = await response.json()
        link = response.headers.get("Link")
        total = int(response.headers["X-Total-Count"])
    if link is None:
        return items, total, None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert match is not None, link
    return items, total, match.group(1)


async def later_pages(http: aiohttp.ClientSession, following: str | None, total: int) -> list[dict[str, Any]]:
    """The items of the pages from ``following`` on, each of which tells the same ``total``."""
    items: list[dict[str, Any]] = []
    while following is not None:
        more, told, following = await page(http, following)
        assert told == total
        items += more
    return items


async def test_tasks_are_listed_a_page_at_a_time(http: aiohttp.ClientSession, server: FakeServer) -> None:
    ids = await submit(http, server, 25)
    base = server.base_url + "/_fakeapi/tasks"
    items, total, following = await page(http, base + "?limit=10")
    assert ([t["id"] for t in items], total) == (ids[:10], 25)
    assert following == f"{base}?limit=10&offset=10"

    seen = [t["id"] for t in items + await later_pages(http, following, 25)]
    assert seen == ids == [t.id for t in server.admin.tasks()]

    items, total, following = await page(http, base + "?offset=20")
    assert ([t["id"] for t in items], total, following) == (ids[20:], 25, None)
    assert await page(http, base + "?offset=25&limit=3") == ([], 25, None)
    assert await page(http, base + f"?offset={10**30}") == ([], 25, None)


async def test_matching_requests_are_listed_a_page_at_a_time(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    ids = await submit(http, server, 5)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with http.get(server.url_for("rixapi") + "/v1/task/task_none", headers=headers) as response:
        assert response.status == 404
    base = server.base_url + "/_fakeapi/requests"
    items, total, following = await page(http, base + "?path=/rixapi/v1/task/submit&limit=2")
    assert (len(items), total) == (2, 5)
    assert following == f"{base}?path=/rixapi/v1/task/submit&limit=2&offset=2"
    seen = [entry["task_id"] for entry in items + await later_pages(http, following, 5)]
    assert seen == ids
    assert await page(http, base + "?status=404&offset=1") == ([], 1, None)


async def test_a_page_builds_only_its_own_tasks(
    http: aiohttp.ClientSession, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    await submit(http, server, 300)
    engine = server.engine
    viewed: list[str] = []

    def counting_view(task: Any, *args: Any, **kwargs: Any) -> Any:
        viewed.append(task.id)
        return TaskEngine.view(engine, task, *args, **kwargs)

    monkeypatch.setattr(engine, "view", counting_view)
    items, total, _ = await page(http, server.base_url + "/_fakeapi/tasks?offset=250&limit=5")
    assert (len(items), total) == (5, 300)
    assert viewed == [t["id"] for t in items]


async def test_the_default_page_is_a_thousand(http: aiohttp.ClientSession, server: FakeServer) -> None:
    ids = await submit(http, server, 1003)
    base = server.base_url + "/_fakeapi/tasks"
    items, total, following = await page(http, base)
    assert ([t["id"] for t in items], total) == (ids[:1000], 1003)
    assert following == f"{base}?limit=1000&offset=1000"
    items, _, following = await page(http, following)
    assert ([t["id"] for t in items], following) == (ids[1000:], None)
    assert len(server.admin.tasks()) == 1003  # the Python API lists them all
    items, _, _ = await page(http, base + "?limit=10000")
    assert len(items) == 1003


async def test_journal_and_deliveries_are_paged_too(
    http: aiohttp.ClientSession, fakeapi: FakeApi, callback_sink: CallbackSink
) -> None:
    url = fakeapi.url_for("rixapi")
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {"model": "flux-pro", "input": {"prompt": "x"}, "callback_url": callback_sink.url}
    async with http.post(url + "/v1/task/submit", json=body, headers=headers) as response:
        task_id = (await response.json())["id"]
    fakeapi.complete(task_id)
    for _ in range(3):
        async with http.get(f"{url}/v1/task/{task_id}", headers=headers) as response:
            assert response.status == 200
    callback_sink.wait_for(2)

    base = fakeapi.base_url + "/_fakeapi"
    journal, total, following = await page(http, base + "/journal?limit=2&offset=1")
    assert (total, following) == (4, f"{base}/journal?limit=2&offset=3")
    assert [(e["method"], e["path"]) for e in journal] == [("GET", f"/rixapi/v1/task/{task_id}")] * 2
    # The same entries; over HTTP the headers are an object.
    expected = pydantic_core.to_jsonable_python(fakeapi.journal[1:3])
    assert journal == [{**entry, "headers": dict(entry["headers"])} for entry in expected]
    journal, total, following = await page(http, f"{base}/journal?limit=2&offset=3")
    assert (len(journal), total, following) == (1, 4, None)

    deliveries, total, following = await page(http, base + "/deliveries?limit=1")
    assert (total, following) == (2, f"{base}/deliveries?limit=1&offset=1")
    assert [d["state"] for d in deliveries] == ["queued"]
    deliveries, _, following = await page(http, f"{base}/deliveries?limit=1&offset=1")
    assert ([d["state"] for d in deliveries], following) == (["succeeded"], None)


@pytest.mark.parametrize("listing", ["tasks", "journal", "deliveries"])
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "limit: Input should be greater than or equal to 1"),
        ("limit=10001", "limit: Input should be less than or equal to 10000"),
        ("limit=-5", "limit: Input should be greater than or equal to 1"),
        ("limit=ten", "limit: Input should be a valid integer, unable to parse string as an integer"),
        ("limit=1e3", "limit: Input should be a valid integer, unable to parse string as an integer"),
        ("limit=" + "9" * 50, "limit: Input should be less than or equal to 10000"),
        ("offset=" + "9" * 5000, "offset: Unable to parse input string as an integer, exceeded maximum size"),
        ("offset=-1", "offset: Input should be greater than or equal to 0"),
        ("offset=", "offset: Input should be a valid integer, unable to parse string as an integer"),
        ("limit=1&limit=2", "give limit once"),
        ("cursor=abc", "cursor: Extra inputs are not permitted"),
    ],
)
async def test_bad_paging_answers_400(
    http: aiohttp.ClientSession, fakeapi: FakeApi, listing: str, query: str, message: str
) -> None:
    status, answer = await call(http, fakeapi.base_url, "GET", f"/{listing}?{query}")
    assert (status, answer) == (400, {"error": {"message": message}})


async def test_the_open_pages_tell_a_stranger_nothing_of_the_admin_api_or_the_files(
    http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    path = tmp_path / "private-dir" / "mine.yaml"
    path.parent.mkdir()
    path.write_text(SCENARIO, encoding="utf-8")
    stranger = {"Host": "rebind.example"}
    async with FakeServer(str(path), clock="virtual") as server:
        for open_path in ["/", "/healthz", "/_fakeapi/health"]:
            async with http.post(server.base_url + open_path, headers=stranger) as response:
                answer = await response.json()
                assert response.status == 405, open_path
                assert (
                    answer["error"]["message"]
                    == f"POST {open_path}: Method Not Allowed; this page answers GET"
                )
        for health_path in ["/healthz", "/_fakeapi/health"]:
            async with http.get(server.base_url + health_path, headers=stranger) as response:
                health = await response.json()
                assert (response.status, health["scenario"]) == (200, "mine.yaml")
            assert "private-dir" not in json.dumps(health)
