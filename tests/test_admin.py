"""The admin API under ``/_fakeapi/``, over a real socket, checked against the fixture's operations.

Each route is called with a real aiohttp client against the session's fake server and compared
with what the ``fakeapi`` fixture operation of the same name gives or does.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from admin_client import call

from fakeapi import DISTRIBUTION, FakeApi, FakeServer, Scenario, ScenarioError, SurpriseError, UsageError
from fakeapi.admin import Admin, is_loopback
from fakeapi.fixture import ClockControl
from fakeapi.scenario import bundled_names, load_scenario, merge_overrides, parse_scenario, validate_scenario
from fakeapi.server import BackgroundServer
from fakeapi.sink import CallbackSink
from fakeapi.wire import compact_json

START = 1767225600
KEY = "sk-admin-test"
SCENARIO_REFERENCE = Path(__file__).parent / "examples" / "scenario-reference.yaml"
INSTANT: list[dict[str, Any]] = [{"phases": [{"state": "succeeded"}]}]
README = Path(__file__).parents[1] / "README.md"

pytestmark = pytest.mark.fakeapi(scenario="manual")


async def admin(
    http: aiohttp.ClientSession, fakeapi: FakeApi, method: str, path: str, body: Any = None
) -> Any:
    """An admin request that must succeed; its JSON answer."""
    status, answer = await call(http, fakeapi.base_url, method, path, body)
    assert status == 200, answer
    return answer


async def rix(
    http: aiohttp.ClientSession, fakeapi: FakeApi, path: str, body: Any = None, key: str = KEY
) -> tuple[int, Any]:
    method = "GET" if body is None else "POST"
    url = fakeapi.url_for("rixapi") + path
    async with http.request(method, url, json=body, headers={"Authorization": f"Bearer {key}"}) as response:
        return response.status, await response.json()


async def submit(http: aiohttp.ClientSession, fakeapi: FakeApi, model: str = "flux-pro", **extra: Any) -> str:
    status, task = await rix(
        http, fakeapi, "/v1/task/submit", {"model": model, "input": {"prompt": "x"}, **extra}
    )
    assert status == 200, task
    task_id: str = task["id"]
    return task_id


def plain(value: object) -> Any:
    """What the admin API answers for ``value``."""
    return json.loads(compact_json(value))


# -- reset, seed, load_scenario ------------------------------------------------------------------------


async def test_reset_and_seed(fakeapi: FakeApi, http: aiohttp.ClientSession) -> None:
    await submit(http, fakeapi)
    await admin(http, fakeapi, "POST", "/clock/shift", {"seconds": 10})
    assert await admin(http, fakeapi, "POST", "/reset", {"seed": 5}) == {"seed": 5}
    assert fakeapi.tasks == []
    assert fakeapi.clock.now() == START
    assert fakeapi.seed == 5
    assert await admin(http, fakeapi, "GET", "/seed") == {"seed": 5}
    # No body at all: the scenario's own seed, as fakeapi.reset() does.
    assert await admin(http, fakeapi, "POST", "/reset") == {"seed": 0}
    fakeapi.reset(seed=9)
    assert await admin(http, fakeapi, "GET", "/seed") == {"seed": 9}


async def test_load_scenario_by_name_and_inline(fakeapi: FakeApi, http: aiohttp.ClientSession) -> None:
    assert await admin(http, fakeapi, "POST", "/load_scenario", {"scenario": "instant", "seed": 3}) == {
        "seed": 3
    }
    _, done = await rix(http, fakeapi, "/v1/task/submit", {"model": "flux-pro", "input": {"prompt": "x"}})
    assert done["status"] == "completed"

    inline = {"rules": [{"phases": [{"state": "failed", "error": {"message": "inline says no"}}]}]}
    await admin(http, fakeapi, "POST", "/load_scenario", {"scenario": inline})
    assert fakeapi.tasks == []  # a new scenario starts over
    _, failed = await rix(http, fakeapi, "/v1/task/submit", {"model": "flux-pro", "input": {"prompt": "x"}})
    assert (failed["status"], failed["error"]) == ("failed", "inline says no")

    # No scenario: the current one again, plus overrides.
    overrides = {"accounts": {"keys": {KEY: {"balance": 2}}}}
    await admin(http, fakeapi, "POST", "/load_scenario", {"overrides": overrides})
    assert fakeapi.balance("rixapi", KEY) == 2
    _, failed = await rix(http, fakeapi, "/v1/task/submit", {"model": "flux-pro", "input": {"prompt": "x"}})
    assert failed["error"] == "inline says no"


async def test_load_scenario_from_a_file(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    path = tmp_path / "held.yaml"
    path.write_text("rules:\n  - phases: [{state: queued}, {state: succeeded}]\n", encoding="utf-8")
    # Over HTTP, files load only from the server's scenario directories.
    async with FakeServer("instant", clock="virtual", scenario_dirs=[tmp_path]) as server:
        assert await call(http, server.base_url, "POST", "/load_scenario", {"scenario": str(path)}) == (
            200,
            {"seed": 0},
        )
        url = server.url_for("rixapi") + "/v1/task/submit"
        body = {"model": "flux-pro", "input": {"prompt": "x"}}
        async with http.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}) as response:
            task_id = (await response.json())["id"]
        await call(http, server.base_url, "POST", "/clock/shift", {"seconds": 3600})
        assert server.admin.task(task_id).state == "queued"


async def test_bad_scenarios_answer_400_naming_source_and_path(
    fakeapi: FakeApi, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    base = fakeapi.base_url
    status, answer = await call(http, base, "POST", "/load_scenario", {"scenario": {"rules": []}})
    assert status == 400
    assert (
        answer["error"]["message"]
        == "<inline>: rules: List should have at least 1 item after validation, not 0"
    )

    status, answer = await call(http, base, "POST", "/load_scenario", {"scenario": "nope"})
    assert status == 400
    assert re.fullmatch(
        r"nope: no bundled scenario of that name \(bundled: content-violation, default, .*\), "
        r"and no such scenario file in the scenario directories \(/.*\)",
        answer["error"]["message"],
    )
    with pytest.raises(ScenarioError, match=r"^nope: no such scenario file"):
        fakeapi.load_scenario("nope")

    broken = tmp_path / "broken.yaml"
    broken.write_text("rules:\n  - phases:\n      - {state: queued, for: soon}\n      - {state: succeeded}\n")
    async with FakeServer("manual", clock="virtual", scenario_dirs=[tmp_path]) as server:
        status, answer = await call(
            http, server.base_url, "POST", "/load_scenario", {"scenario": str(broken)}
        )
    assert status == 400
    assert answer["error"]["message"].startswith(f"{broken}:3: rules[0].phases[0].for: ")

    status, answer = await call(
        http, base, "POST", "/load_scenario", {"overrides": {"models": {"accept_unknown": "maybe"}}}
    )
    assert status == 400
    assert answer["error"]["message"].startswith("<overrides>: models.accept_unknown: ")

    status, answer = await call(http, base, "POST", "/load_scenario", {"scenario": 5})
    assert status == 400
    assert answer["error"]["message"] == (
        "scenario: a bundled scenario name, a scenario file path or a scenario mapping"
    )
    assert fakeapi.seed == 0  # nothing was loaded


# -- clock ------------------------------------------------------------------------------------------


async def test_clock_read_shift_move_to(fakeapi: FakeApi, http: aiohttp.ClientSession) -> None:
    assert await admin(http, fakeapi, "GET", "/clock") == {"now": START, "speed": 0.0, "virtual": True}
    task_id = await submit(http, fakeapi)

    shifted = await admin(http, fakeapi, "POST", "/clock/shift", {"seconds": 1.5})
    assert shifted["now"] == fakeapi.clock.now() == START + 1.5
    assert fakeapi.task(task_id).state == "running"  # what falls due on the way has run

    moved = await admin(http, fakeapi, "POST", "/clock/move_to", {"t": START + 100})
    assert moved["now"] == fakeapi.clock.now() == START + 100
    await fakeapi.clock.amove_to(START + 200)
    assert (await admin(http, fakeapi, "GET", "/clock"))["now"] == START + 200

    status, answer = await call(http, fakeapi.base_url, "POST", "/clock/move_to", {"t": START})
    assert status == 400
    assert "cannot go back" in answer["error"]["message"]
    with pytest.raises(UsageError, match="cannot go back"):
        await fakeapi.clock.amove_to(START)


async def test_speed_of_a_virtual_clock_is_refused(fakeapi: FakeApi, http: aiohttp.ClientSession) -> None:
    status, answer = await call(http, fakeapi.base_url, "POST", "/clock/speed", {"speed": 60})
    assert status == 400
    assert answer["error"]["message"].startswith("the clock is virtual: it stands still until shifted")
    with pytest.raises(UsageError, match="the clock is virtual"):
        fakeapi.clock.set_speed(60)


async def test_speed_of_a_system_clock(http: aiohttp.ClientSession) -> None:
    async with FakeServer("manual", clock="system") as server:
        status, clock = await call(http, server.base_url, "GET", "/clock")
        assert (status, clock["speed"], clock["virtual"]) == (200, 1.0, False)
        status, clock = await call(http, server.base_url, "POST", "/clock/speed", {"speed": 60})
        assert (status, clock["speed"]) == (200, 60.0)
        assert server.engine.clock.speed == 60.0


def test_fixture_set_speed_on_a_system_clock() -> None:
    with BackgroundServer(FakeServer("manual", clock="system")) as background:
        clock = ClockControl(background)
        clock.set_speed(120)
        assert background.server.engine.clock.speed == 120
        before = clock.now()
        clock.shift(3600)
        assert clock.now() >= before + 3600


# -- tasks ------------------------------------------------------------------------------------------


async def test_tasks_and_one_task_match_the_fixture(fakeapi: FakeApi, http: aiohttp.ClientSession) -> None:
    first = await submit(http, fakeapi, "kling-v2")
    second = await submit(http, fakeapi, "flux-pro")
    await rix(http, fakeapi, f"/v1/task/{first}")
    await fakeapi.clock.ashift(5)

    listed = await admin(http, fakeapi, "GET", "/tasks")
    assert listed == plain(fakeapi.tasks)
    assert [(t["id"], t["model"], t["state"], t["polls"]) for t in listed] == [
        (first, "kling-v2", "running", 1),
        (second, "flux-pro", "running", 0),
    ]

    one = await admin(http, fakeapi, "GET", f"/tasks/{first}")
    assert one == {
        **plain(fakeapi.task(first)),
        "timeline": [{"state": s, "at": at} for s, at in fakeapi.timeline(first)],
    }
    assert one["timeline"] == [{"state": "queued", "at": START}, {"state": "running", "at": START + 1}]
    assert fakeapi.task(first).polls == 1  # reading through the admin API is not a poll


async def test_complete_and_fail_show_in_the_provider_poll(
    fakeapi: FakeApi, http: aiohttp.ClientSession
) -> None:
    done, by_http, by_fixture = [await submit(http, fakeapi) for _ in range(3)]

    view = await admin(http, fakeapi, "POST", f"/tasks/{done}/complete")
    assert view == plain(fakeapi.task(done))
    assert (view["state"], view["finished_at"]) == ("succeeded", START)
    _, polled = await rix(http, fakeapi, f"/v1/task/{done}")
    assert polled["status"] == "completed"
    assert len(polled["outputs"]) == 1

    failure = {"message": "the GPU caught fire", "code": "gpu_fire", "reason": "timeout"}
    view = await admin(http, fakeapi, "POST", f"/tasks/{by_http}/fail", failure)
    assert view["error"] == failure
    fakeapi.fail(by_fixture, "the GPU caught fire", "gpu_fire", "timeout")
    _, polled = await rix(http, fakeapi, f"/v1/task/{by_http}")
    assert (polled["status"], polled["error"]) == ("failed", "the GPU caught fire")
    _, same = await rix(http, fakeapi, f"/v1/task/{by_fixture}")
    assert {**same, "id": by_http} == polled
    assert fakeapi.timeline(by_http) == fakeapi.timeline(by_fixture)


async def test_finished_and_unknown_tasks(fakeapi: FakeApi, http: aiohttp.ClientSession) -> None:
    task_id = await submit(http, fakeapi)
    fakeapi.complete(task_id)
    for action, body in (("complete", None), ("fail", {"message": "late"})):
        status, answer = await call(http, fakeapi.base_url, "POST", f"/tasks/{task_id}/{action}", body)
        assert status == 409
        assert answer == {"error": {"message": f"task {task_id} has already succeeded"}}

    for method, path in (("GET", "/tasks/task_nope"), ("POST", "/tasks/task_nope/complete")):
        status, answer = await call(http, fakeapi.base_url, method, path)
        assert status == 404
        assert answer["error"]["message"].startswith("no task 'task_nope'")


# -- journal, deliveries, balance ---------------------------------------------------------------------


async def test_journal_and_deliveries_match_the_fixture(
    fakeapi: FakeApi, http: aiohttp.ClientSession, callback_sink: CallbackSink
) -> None:
    task_id = await submit(http, fakeapi, callback_url=callback_sink.url)
    await admin(http, fakeapi, "POST", f"/tasks/{task_id}/complete")
    await rix(http, fakeapi, f"/v1/task/{task_id}")
    callback_sink.wait_for(2)

    journal = await admin(http, fakeapi, "GET", "/journal")
    # The same entries; over HTTP the headers are an object.
    assert journal == [{**entry, "headers": dict(entry["headers"])} for entry in plain(fakeapi.journal)]
    assert [(e["method"], e["path"], e["status"]) for e in journal] == [
        ("POST", "/rixapi/v1/task/submit", 200),
        ("GET", f"/rixapi/v1/task/{task_id}", 200),
    ]

    deliveries = await admin(http, fakeapi, "GET", "/deliveries")
    assert deliveries == plain(fakeapi.deliveries)
    assert [(d["state"], d["status"], d["delivered"]) for d in deliveries] == [
        ("queued", 200, True),
        ("succeeded", 200, True),
    ]


@pytest.mark.fakeapi(overrides={"prices": {"flux-*": 0.5}, "accounts": {"keys": {KEY: {"balance": 2}}}})
async def test_balance_matches_the_fixture(fakeapi: FakeApi, http: aiohttp.ClientSession) -> None:
    await submit(http, fakeapi)
    answer = await admin(http, fakeapi, "GET", f"/balance?api=rixapi&key={KEY}")
    assert answer == {"api": "rixapi", "key": KEY, "balance": 1.5}
    assert fakeapi.balance("rixapi", KEY) == 1.5
    unlimited = await admin(http, fakeapi, "GET", "/balance?api=apixo&key=sk-other")
    assert unlimited["balance"] is None

    status, answer = await call(http, fakeapi.base_url, "GET", "/balance?api=rixapi")
    assert (status, answer["error"]["message"]) == (400, "key: Field required")
    status, answer = await call(http, fakeapi.base_url, "GET", f"/balance?api=nope&key={KEY}")
    assert status == 404
    assert answer["error"]["message"].startswith("no API named 'nope'; APIs: ")


# -- what admin requests are not ---------------------------------------------------------------------


@pytest.mark.fakeapi(overrides={"apis": {"rixapi": {"rpm": 1}}})
async def test_admin_requests_are_not_journaled_rate_limited_or_surprises(
    fakeapi: FakeApi, http: aiohttp.ClientSession
) -> None:
    for path in ("/seed", "/clock", "/tasks", "/journal", "/deliveries", f"/balance?api=rixapi&key={KEY}"):
        await admin(http, fakeapi, "GET", path)
    status, answer = await call(http, fakeapi.base_url, "GET", "/nope")
    assert status == 404
    assert answer["error"]["message"].startswith(
        "GET /_fakeapi/nope: Not Found; routes: POST /_fakeapi/reset,"
    )
    status, answer = await call(http, fakeapi.base_url, "DELETE", "/seed")
    assert status == 405
    status, answer = await call(http, fakeapi.base_url, "GET", "")  # /_fakeapi, no slash
    assert status == 404

    await submit(http, fakeapi)  # the key's one request a minute is still there
    status, _ = await rix(http, fakeapi, "/v1/task/task_x")
    assert status == 429
    assert [e.path for e in fakeapi.journal] == ["/rixapi/v1/task/submit", "/rixapi/v1/task/task_x"]
    assert fakeapi.surprises == []


async def test_a_crash_answers_500_json_and_is_a_surprise(
    fakeapi: FakeApi, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(self: Admin, *page: object) -> None:
        raise RuntimeError("injected admin crash")

    monkeypatch.setattr(Admin, "tasks", explode)
    async with http.get(fakeapi.base_url + "/_fakeapi/tasks") as response:
        assert response.status == 500
        text = await response.text()
    assert json.loads(text) == {"error": {"message": "internal error in the fake (reported as a surprise)"}}
    assert "Traceback" not in text
    with pytest.raises(SurpriseError, match="injected admin crash"):
        fakeapi.check()


# -- bodies -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/clock/shift", {"seconds": -1}, "seconds: Input should be greater than or equal to 0"),
        ("/clock/shift", {}, "seconds: Field required"),
        ("/clock/shift", {"seconds": 1, "sekonds": 1}, "sekonds: Extra inputs are not permitted"),
        ("/clock/shift", [1], "body: Input should be an object"),
        (
            "/clock/move_to",
            {"t": "soon"},
            "t: Input should be a valid number, unable to parse string as a number",
        ),
        ("/clock/speed", {"speed": 0}, "speed: Input should be greater than 0"),
        (
            "/reset",
            {"seed": "x"},
            "seed: Input should be a valid integer, unable to parse string as an integer",
        ),
        ("/tasks/task_x/fail", {"reason": "bored"}, "reason: Input should be 'generation_failed', "),
    ],
)
async def test_a_bad_body_answers_400_naming_the_field(
    fakeapi: FakeApi, http: aiohttp.ClientSession, path: str, body: Any, message: str
) -> None:
    status, answer = await call(http, fakeapi.base_url, "POST", path, body)
    assert status == 400
    assert answer["error"]["message"].startswith(message)


async def test_invalid_json_answers_400(fakeapi: FakeApi, http: aiohttp.ClientSession) -> None:
    async with http.post(fakeapi.base_url + "/_fakeapi/clock/shift", data=b"{seconds: 1") as response:
        assert response.status == 400
        answer = await response.json()
    assert answer["error"]["message"].startswith("the request body is not valid JSON: ")


# -- access ------------------------------------------------------------------------------------------


async def test_a_token_is_required_when_set(http: aiohttp.ClientSession) -> None:
    async with FakeServer("manual", clock="virtual", admin_token="s3cret") as server:
        for headers in (None, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            status, answer = await call(http, server.base_url, "GET", "/seed", headers=headers)
            assert status == 401
            assert "Authorization: Bearer" in answer["error"]["message"]
        status, _ = await call(http, server.base_url, "GET", "/nope")
        assert status == 401  # access is checked before routes are told apart
        good = {"Authorization": "Bearer s3cret"}
        assert await call(http, server.base_url, "GET", "/seed", headers=good) == (200, {"seed": 0})
        async with http.get(server.base_url + "/_fakeapi/seed") as response:
            assert response.headers["WWW-Authenticate"] == "Bearer"
        # The emulated APIs do not need the admin token.
        url = server.url_for("rixapi") + "/v1/task/submit"
        body = {"model": "flux-pro", "input": {"prompt": "x"}}
        async with http.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}) as response:
            assert response.status == 200
        assert list(server.recorder.surprises) == []


async def test_a_non_loopback_server_without_token_refuses(http: aiohttp.ClientSession) -> None:
    async with FakeServer("manual", clock="virtual", host="0.0.0.0") as server:
        status, answer = await call(http, server.base_url, "POST", "/reset")
        assert status == 403
        assert "start it with --admin-token TOKEN" in answer["error"]["message"]
        assert len(server.recorder.journal) == 0
    async with FakeServer("manual", clock="virtual", host="0.0.0.0", admin_token="t") as server:
        headers = {"Authorization": "Bearer t"}
        assert await call(http, server.base_url, "GET", "/seed", headers=headers) == (200, {"seed": 0})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# -- overrides ---------------------------------------------------------------------------------------

FAIL_ALL = {"rules": [{"phases": [{"state": "failed", "error": {"message": "overridden"}}]}]}


@pytest.mark.fakeapi(scenario="instant", overrides={**FAIL_ALL, "accounts": {"keys": {KEY: {"balance": 7}}}})
async def test_marker_overrides(
    fakeapi: FakeApi, fakeapi_server: BackgroundServer, http: aiohttp.ClientSession
) -> None:
    _, task = await rix(http, fakeapi, "/v1/task/submit", {"model": "flux-pro", "input": {"prompt": "x"}})
    assert (task["status"], task["error"]) == ("failed", "overridden")  # the rule list was replaced
    assert fakeapi.balance("rixapi", KEY) == 7
    scenario = fakeapi_server.server.engine.scenario
    assert scenario.description == "Every task completes at once, on submit."  # the rest is instant's


def test_fixture_load_scenario_overrides(fakeapi: FakeApi, fakeapi_server: BackgroundServer) -> None:
    fakeapi.load_scenario("instant", seed=4, overrides={"models": {"accept_unknown": True}})
    assert fakeapi.seed == 4
    assert fakeapi_server.server.engine.scenario.models.accept_unknown
    # No scenario: the current one (instant, with its override) plus more overrides.
    fakeapi.load_scenario(overrides={"models": {"unavailable": ["veo-*"]}})
    scenario = fakeapi_server.server.engine.scenario
    assert (scenario.models.accept_unknown, scenario.models.unavailable) == (True, ["veo-*"])
    assert scenario.rules == load_scenario("instant").rules
    with pytest.raises(ScenarioError, match=r"<overrides>: rules: List should have at least 1 item"):
        fakeapi.load_scenario(overrides={"rules": []})


def test_merge_overrides_merges_mappings_and_replaces_the_rest() -> None:
    base = validate_scenario(
        {
            "accounts": {"open": False, "keys": {"sk-a": {"balance": 1, "rpm": 5}, "sk-b": {}}},
            "apis": {"apixo": {"rpm": None}},
            "models": {"unavailable": ["veo-*", "sora-*"]},
            "rules": [{"phases": [{"state": "queued", "for": "2s"}, {"state": "succeeded"}]}],
        }
    )
    merged = merge_overrides(
        base,
        {"accounts": {"keys": {"sk-a": {"balance": 9}}}, "models": {"unavailable": ["kling-*"]}, "seed": 3},
    )
    assert merged.accounts.keys["sk-a"].balance == 9
    assert merged.accounts.keys["sk-a"].rpm == 5  # merged key by key
    assert set(merged.accounts.keys) == {"sk-a", "sk-b"}
    assert merged.accounts.open is False
    assert merged.models.unavailable == ["kling-*"]  # a list is replaced
    assert merged.seed == 3
    assert merged.rules == base.rules
    # Settings left out stay unset, so "null turns it off" and "left out keeps the default" survive.
    apixo, rixapi = merged.apis.get("apixo"), merged.apis.get("rixapi")
    assert apixo is not None
    assert apixo.model_fields_set == {"rpm"}
    assert rixapi is not None
    assert rixapi.model_fields_set == set()
    assert merged.accounts.keys["sk-b"].model_fields_set == set()
    assert merge_overrides(base, {}) == base


def _examples() -> dict[str, Scenario]:
    reference = SCENARIO_REFERENCE.read_text(encoding="utf-8")
    return {"docs": parse_scenario(reference, source=SCENARIO_REFERENCE.name)} | {
        n: load_scenario(n) for n in bundled_names()
    }


EXAMPLES = _examples()


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_a_scenario_dump_round_trips(name: str) -> None:
    scenario = EXAMPLES[name]
    dumped = scenario.model_dump(by_alias=True, exclude_unset=True)
    again = validate_scenario(dumped)
    assert again == scenario
    assert again.model_dump(by_alias=True, exclude_unset=True) == dumped  # what was set stays set
    phases = [p for r in scenario.rules for p in r.phases]
    assert ["for" in p for r in dumped["rules"] for p in r["phases"]] == [
        p.duration is not None for p in phases
    ]


async def test_surprises_match_the_fixture(fakeapi: FakeApi, http: aiohttp.ClientSession) -> None:
    assert await admin(http, fakeapi, "GET", "/surprises") == []
    async with http.get(fakeapi.url_for("rixapi") + "/v2/nowhere") as response:
        assert response.status == 404
    surprises = await admin(http, fakeapi, "GET", "/surprises")
    assert surprises == fakeapi.surprises
    assert surprises[0].startswith("GET /rixapi/v2/nowhere matched no route")
    with pytest.raises(SurpriseError):
        fakeapi.check()


async def test_a_web_page_cannot_drive_the_admin_api(fakeapi: FakeApi, http: aiohttp.ClientSession) -> None:
    headers = {"Origin": "https://evil.example", "Content-Type": "text/plain"}
    status, answer = await call(http, fakeapi.base_url, "POST", "/reset", {"seed": 9}, headers=headers)
    assert status == 403
    assert "web pages" in answer["error"]["message"]
    assert fakeapi.seed != 9


async def test_the_clock_stops_at_the_year_9999(fakeapi: FakeApi, http: aiohttp.ClientSession) -> None:
    status, answer = await call(http, fakeapi.base_url, "POST", "/clock/move_to", {"t": 3e11})
    assert status == 400
    assert "cannot go past 9999-12-31" in answer["error"]["message"]
    status, _ = await call(http, fakeapi.base_url, "POST", "/clock/shift", {"seconds": 1e308})
    assert status == 400
    assert fakeapi.clock.now() == START


# -- health and the index ------------------------------------------------------------------------------


async def get_json(http: aiohttp.ClientSession, url: str, host: str | None = None) -> tuple[int, Any]:
    headers = {"Host": host} if host is not None else None
    async with http.get(url, headers=headers) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


async def test_health_says_version_clock_scenario_and_tasks(http: aiohttp.ClientSession) -> None:
    async with FakeServer("manual", clock="virtual") as server:
        health = server.base_url + "/_fakeapi/health"
        version = importlib.metadata.version(DISTRIBUTION)
        expected = {
            "status": "ok",
            "version": version,
            "clock": "virtual",
            "speed": 0.0,
            "scenario": "manual",
        }
        assert await get_json(http, health) == (200, {**expected, "tasks": 0})
        url = server.url_for("rixapi") + "/v1/task/submit"
        body = {"model": "flux-pro", "input": {"prompt": "x"}}
        async with http.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}) as response:
            assert response.status == 200
        assert await get_json(http, health) == (200, {**expected, "tasks": 1})
        assert await get_json(http, server.base_url + "/healthz") == (200, {**expected, "tasks": 1})

        status, _ = await call(http, server.base_url, "POST", "/load_scenario", {"scenario": "instant"})
        assert status == 200
        assert (await get_json(http, health))[1]["scenario"] == "instant"
        overrides = {"overrides": {"seed": 3}}
        status, _ = await call(http, server.base_url, "POST", "/load_scenario", overrides)
        assert status == 200
        assert (await get_json(http, health))[1]["scenario"] == "instant (with overrides)"
        status, _ = await call(http, server.base_url, "POST", "/load_scenario", overrides)
        assert (await get_json(http, health))[1]["scenario"] == "instant (with overrides)"
        status, _ = await call(
            http, server.base_url, "POST", "/load_scenario", {"scenario": {"rules": INSTANT}}
        )
        assert (await get_json(http, health))[1]["scenario"] == "custom"
    async with FakeServer("instant", clock="system", speed=60) as server:
        status, answer = await get_json(http, server.base_url + "/_fakeapi/health")
        assert (status, answer["clock"], answer["speed"], answer["scenario"]) == (
            200,
            "system",
            60.0,
            "instant",
        )


def test_a_speed_for_a_virtual_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="speed 60 for a virtual clock, which stands still until shifted"):
        FakeServer("manual", clock="virtual", speed=60)
    with pytest.raises(ValueError, match="speed 2 for a virtual clock"):
        FakeServer({"clock": {"mode": "virtual"}, "rules": INSTANT}, speed=2)
    assert (
        FakeServer(
            {"clock": {"mode": "virtual"}, "rules": INSTANT}, clock="system", speed=2
        ).engine.clock.speed
        == 2
    )


async def test_health_and_index_are_open_where_the_admin_api_is_closed(http: aiohttp.ClientSession) -> None:
    # An orchestrator's probe comes from another host, names the server by any name, has no token:
    # the health page tells it nothing secret and changes nothing.
    async with FakeServer("manual", clock="virtual", admin_token="s3cret") as server:
        base = server.base_url
        assert (await call(http, base, "GET", "/seed"))[0] == 401
        assert (await get_json(http, base + "/_fakeapi/health"))[0] == 200
        assert (await get_json(http, base + "/_fakeapi/seed", host="fake.internal"))[0] == 403
        for path in ("/_fakeapi/health", "/healthz", "/"):
            status, answer = await get_json(http, base + path, host="fake.internal")
            assert status == 200, answer
        assert len(server.recorder.journal) == 0, "none of them is an API request"


async def test_the_index_names_the_mounts_dashboard_and_health(http: aiohttp.ClientSession) -> None:
    async with FakeServer("manual", clock="virtual") as server:
        status, index = await get_json(http, server.base_url + "/")
        assert status == 200
        assert index["apis"]["rixapi"] == {"url": "/rixapi/", "openapi": "/rixapi/openapi.json"}
        assert sorted(index["apis"]) == sorted(p.name for p in server.providers)
        assert (index["dashboard"], index["health"]) == ("/_fakeapi/", "/_fakeapi/health")
        for path in (index["health"], index["admin_openapi"], index["apis"]["apixo"]["openapi"]):
            assert (await get_json(http, server.base_url + path))[0] == 200, path
