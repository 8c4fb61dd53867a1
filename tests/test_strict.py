"""Strict mode and the etiquette rules, as a downstream project meets them: a careless client and a
careful one in pytester sessions, the journal's notes without strict mode, a rule switched off in
the scenario, the admin API's ``load_scenario`` and ``fakeapi serve --strict``."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any, Literal

import pytest
from admin_client import free_port, write_ini
from test_cli import Served, http

from fakeapi.contract.proxy import ContractCheck, RecordedExchange, body_value
from fakeapi.errors import ScenarioError
from fakeapi.etiquette import (
    RULES,
    Etiquette,
    Observed,
    registered_lifecycles,
    retry_after,
    unreachable,
)
from fakeapi.fixture import FakeApi
from fakeapi.scenario import parse_scenario, scenario_json_schema, validate_scenario
from fakeapi.scenario.schema import EtiquetteSpec

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# A downstream client of RixAPI and APIXO (urllib only): every call the tests below make.
CLIENT = """
from __future__ import annotations

import json
import urllib.error
import urllib.request

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PROMPT = {"prompt": "a red fox in the snow"}


def call(method, url, body=None, key="sk-downstream"):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def submit(fakeapi, prompt="a red fox in the snow", key="sk-downstream", **extra):
    body = {"model": "flux-pro", "input": {"prompt": prompt}, **extra}
    return call("POST", fakeapi.url_for("rixapi") + "/v1/task/submit", body, key)


def poll(fakeapi, task_id, key="sk-downstream"):
    return call("GET", fakeapi.url_for("rixapi") + "/v1/task/" + task_id, key=key)


def apixo_submit(fakeapi, **extra):
    body = {"input": {"mode": "text-to-video", "prompt": "a city at dawn"}, **extra}
    return call("POST", fakeapi.url_for("apixo") + "/api/v1/generateTask/vidu-q3", body)
"""

CARELESS = """
from __future__ import annotations

import pytest

from client import apixo_submit, poll, submit

pytestmark = pytest.mark.fakeapi(strict=True)


def test_poll_too_fast(fakeapi):
    _, _, task = submit(fakeapi)
    poll(fakeapi, task["id"])


def test_poll_after_terminal(fakeapi):
    _, _, task = submit(fakeapi)
    fakeapi.clock.shift(10)
    assert poll(fakeapi, task["id"])[2]["status"] == "completed"
    fakeapi.clock.shift(10)
    poll(fakeapi, task["id"])


def test_poll_other_key(fakeapi):
    _, _, task = submit(fakeapi)
    fakeapi.clock.shift(5)
    assert poll(fakeapi, task["id"], key="sk-someone-else")[0] == 404


@pytest.mark.fakeapi(strict=True, overrides={"accounts": {"open_key": {"rpm": 1}}})
def test_ignored_retry_after(fakeapi):
    submit(fakeapi, "first")
    status, headers, _ = submit(fakeapi, "second")
    assert (status, headers["Retry-After"]) == (429, "60")
    fakeapi.clock.shift(1)
    submit(fakeapi, "third")


def test_contract_note(fakeapi):
    assert apixo_submit(fakeapi, source="mcp")[0] == 200


def test_unreachable_callback(fakeapi):
    submit(fakeapi, callback_url="https://hooks.invalid/done")


def test_repeated_submit(fakeapi):
    submit(fakeapi)
    fakeapi.clock.shift(2)
    submit(fakeapi)
"""

CAREFUL = """
from __future__ import annotations

import pytest

from client import apixo_submit, poll, submit


def test_polls_at_the_documented_pace_until_the_end(fakeapi, callback_sink):
    _, _, task = submit(fakeapi, callback_url=callback_sink.url)
    status = task["status"]
    while status not in ("completed", "failed"):
        fakeapi.clock.shift(3)
        status = poll(fakeapi, task["id"])[2]["status"]
    assert status == "completed"


@pytest.mark.fakeapi(overrides={"accounts": {"open_key": {"rpm": 1}}})
def test_waits_out_a_429(fakeapi):
    submit(fakeapi, "first")
    status, headers, _ = submit(fakeapi, "second")
    assert status == 429
    fakeapi.clock.shift(float(headers["Retry-After"]))
    assert submit(fakeapi, "second")[0] == 200


def test_sends_only_documented_fields_and_new_bodies(fakeapi):
    assert apixo_submit(fakeapi)[0] == 200
    assert submit(fakeapi, "one")[0] == 200
    assert submit(fakeapi, "two")[0] == 200
    assert fakeapi.violations == []
"""


@pytest.fixture
def downstream(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(client=CLIENT)
    write_ini(pytester)
    return pytester


def test_a_careless_client_sees_each_rule_by_name_at_teardown(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(test_careless=CARELESS)
    result = downstream.runpytest("-q", "-rN")
    result.assert_outcomes(passed=7, errors=7)
    output = result.stdout.str()
    for name in RULES:
        assert output.count(f"\n{name}: ") == 1, name
    assert "poll-other-key: task task_" in output
    assert "contract-note: source is not a documented field of generateTask" in output
    assert "unreachable-callback: callback_url 'https://hooks.invalid/done'" in output
    assert "the client broke the APIs' etiquette (strict mode):" in output
    assert "During handling" not in output


@pytest.mark.parametrize("switch", [["--fakeapi-strict"], []], ids=["option", "ini"])
def test_a_careful_client_sees_none_in_a_strict_run(downstream: pytest.Pytester, switch: list[str]) -> None:
    if not switch:
        write_ini(downstream, "fakeapi_strict = true")
    downstream.makepyfile(test_careful=CAREFUL, test_careless=CARELESS.replace("strict=True", "strict=None"))
    downstream.runpytest("-q", *switch, "test_careful.py").assert_outcomes(passed=3)
    # The same run's strict mode reaches the careless tests, which no marker makes strict.
    downstream.runpytest("-q", *switch, "test_careless.py").assert_outcomes(passed=7, errors=7)


def test_without_strict_mode_the_careless_client_passes(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(test_careless=CARELESS.replace("strict=True", "strict=False"))
    write_ini(downstream, "fakeapi_strict = true")
    downstream.runpytest("-q").assert_outcomes(passed=7)


def _call(fakeapi: FakeApi, method: str, path: str, body: dict[str, Any] | None = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": "Bearer sk-strict", "Content-Type": "application/json"}
    request = urllib.request.Request(fakeapi.url_for("rixapi") + path, data, headers, method=method)
    try:
        with OPENER.open(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


SUBMIT = {"model": "flux-pro", "input": {"prompt": "a heron"}}


def test_the_journal_notes_violations_without_strict_mode(fakeapi: FakeApi) -> None:
    assert _call(fakeapi, "POST", "/v1/task/submit", SUBMIT) == 200
    assert _call(fakeapi, "POST", "/v1/task/submit", SUBMIT) == 200
    task_id = fakeapi.tasks[0].id
    fakeapi.clock.shift(1)
    assert _call(fakeapi, "GET", "/v1/task/" + task_id) == 200
    assert [entry.notes for entry in fakeapi.journal] == [
        (),
        (
            "etiquette repeated-submit: the same body submitted again 0 s after the last one (within "
            "10 s): a retry that makes a second task",
        ),
        (
            f"etiquette poll-too-fast: task {task_id} polled 1 s after its submit; "
            "rixapi asks for at least 3 s",
        ),
    ]
    assert [v.rule for v in fakeapi.violations] == ["repeated-submit", "poll-too-fast"]
    assert not fakeapi.strict


@pytest.mark.fakeapi(
    overrides={
        "etiquette": {"disabled": ["repeated-submit"], "poll_floor": 10},
        # Still queued at its first poll: a first poll that shows a task ended is not paced.
        "rules": [{"phases": [{"state": "queued", "for": "60s"}, {"state": "succeeded"}]}],
    }
)
def test_a_scenario_switches_rules_off_and_sets_the_floor(fakeapi: FakeApi) -> None:
    assert _call(fakeapi, "POST", "/v1/task/submit", SUBMIT) == 200
    assert _call(fakeapi, "POST", "/v1/task/submit", SUBMIT) == 200
    task_id = fakeapi.tasks[0].id
    fakeapi.clock.shift(5)  # past RixAPI's 3 s, short of the floor
    assert _call(fakeapi, "GET", "/v1/task/" + task_id) == 200
    assert [str(v) for v in fakeapi.violations] == [
        f"poll-too-fast: task {task_id} polled 5 s after its submit; rixapi asks for at least 10 s"
    ]


def test_an_unknown_rule_name_is_a_scenario_error_naming_its_path() -> None:
    scenario = {"etiquette": {"disabled": ["poll-too-slow"]}, "rules": [{"phases": [{"state": "succeeded"}]}]}
    with pytest.raises(
        ScenarioError, match=r"^mine\.yaml: etiquette\.disabled\[0\]: Input should be 'poll-too-fast', "
    ):
        validate_scenario(scenario, source="mine.yaml")


def test_admin_load_scenario_turns_strict_mode_on(fakeapi: FakeApi) -> None:
    admin = fakeapi.base_url + "/_fakeapi"
    status, _, _ = http("POST", admin + "/load_scenario", {"scenario": "instant", "strict": True})
    assert status == 200
    assert fakeapi.strict
    assert _call(fakeapi, "POST", "/v1/task/submit", SUBMIT) == 200
    assert _call(fakeapi, "POST", "/v1/task/submit", SUBMIT) == 200
    status, _, raw = http("GET", admin + "/violations")
    assert status == 200
    assert [v["rule"] for v in json.loads(raw)] == ["repeated-submit"]
    with pytest.raises(AssertionError, match="\nrepeated-submit: the same body submitted again"):
        fakeapi.check()
    assert fakeapi.violations == []  # told once
    fakeapi.load_scenario(strict=False)
    assert not fakeapi.strict


def test_serve_strict_prints_each_violation_with_its_request() -> None:
    served = Served("--host", "127.0.0.1", "--port", "0", "--virtual-clock", "--strict")
    try:
        base = served.wait_for_line(r"^\s+rixapi\s+(http://127\.0\.0\.1:(\d+)/rixapi)$").group(1)
        served.wait_for_line(r"^Press Ctrl-C to stop\.$")
        for _ in range(2):
            status, _, _ = http("POST", base + "/v1/task/submit", SUBMIT)
            assert status == 200
        served.wait_for_line(
            r"^POST /rixapi/v1/task/submit -> 200: repeated-submit: the same body submitted again 0 s "
        )
        served.process.send_signal(signal.SIGTERM)
        served.wait_for_line(r"^fakeapi stopped\.$")
        assert served.process.wait(timeout=10) == 0
    finally:
        served.stop()
    first, second, violation = [line for line in served.seen if "/rixapi/v1/task/submit" in line]
    request_line = r"\S+ rixapi +POST /rixapi/v1/task/submit 200 task_\w+ queued"
    assert re.fullmatch(request_line, first)
    assert re.fullmatch(request_line, second)  # the violation follows the request it is about
    assert violation.startswith("POST /rixapi/v1/task/submit -> 200: repeated-submit: ")


def test_serve_strict_json_log_gives_each_violation_its_time() -> None:
    port = free_port()
    served = Served(
        "--host", "127.0.0.1", "--port", str(port), "--virtual-clock", "--strict", "--log-format", "json"
    )
    try:
        base = f"http://127.0.0.1:{port}/rixapi"
        deadline = time.monotonic() + 10
        while True:  # the banner goes to stderr: wait for the port
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        for _ in range(2):
            status, _, _ = http("POST", base + "/v1/task/submit", SUBMIT)
            assert status == 200
        line = served.wait_for_line(r'^\{"event": "note"')
    finally:
        served.stop()
    note = json.loads(line.string)
    message = note.pop("message")
    assert note == {"event": "note", "at": 1767225600.0, "time": "2026-01-01T00:00:00.000Z"}
    assert message.startswith("POST /rixapi/v1/task/submit -> 200: repeated-submit: ")


def _seen(at: float, point: Literal["submit", "poll", "other"], **given: Any) -> Observed:
    fields: dict[str, Any] = {
        "api": "pixapi",
        "key": "k",
        "method": "GET" if point == "poll" else "POST",
        "task_id": "t1",
        "terminal": False,
        "status": 200,
        "retry_after": None,
        "body_digest": "d",
        "callback_url": None,
        "notes": (),
    }
    return Observed(at=at, point=point, **(fields | given))


def _checker(**spec: Any) -> Etiquette:
    return Etiquette(registered_lifecycles(), EtiquetteSpec(**spec))


def test_pixapi_polls_must_back_off() -> None:
    etiquette = _checker()
    assert etiquette.observe(_seen(0, "submit")) == []
    assert etiquette.observe(_seen(4, "poll")) == []
    assert etiquette.observe(_seen(10, "poll")) == []  # 6 s: backing off
    (late,) = etiquette.observe(_seen(13, "poll"))  # 3 s: the API's pace, but shorter than 6 s
    assert str(late) == (
        "poll-too-fast: task t1 polled 3 s after the last poll, sooner than the 6 s before: "
        "pixapi asks to back off"
    )


def test_the_state_kept_is_bounded() -> None:
    etiquette = _checker(tracked=2, kept=1)
    for number, at in enumerate((0, 1, 2)):
        etiquette.observe(_seen(at, "submit", task_id=f"t{number}", body_digest=str(number)))
    # t0 was forgotten: its first poll starts its pace afresh; t2's is too soon.
    assert etiquette.observe(_seen(2.5, "poll", task_id="t0")) == []
    assert [v.rule for v in etiquette.observe(_seen(2.5, "poll", task_id="t2"))] == ["poll-too-fast"]
    etiquette.observe(_seen(2.6, "poll", task_id="t2"))
    assert len(etiquette.violations) == 1


def _read_from_the_wire(
    api: str,
    method: str,
    path: str,
    body: bytes,
    status: int,
    answer: bytes,
    query: str = "",
    answer_headers: dict[str, str] | None = None,
) -> Observed:
    """An exchange with ``api`` (path relative to its root, key ``k``) as a proxy observes it."""
    request_body, request_base64 = body_value(body)
    response_body, response_base64 = body_value(answer)
    exchange = RecordedExchange(
        at=5.0,
        elapsed=0.0,
        api=api,
        method=method,
        path=path,
        query=query,
        request_headers={"Authorization": "Bearer k", "Content-Type": "application/json"},
        request_body=request_body,
        request_body_base64=request_base64,
        status=status,
        response_headers=answer_headers or {},
        response_body=response_body,
        response_body_base64=response_base64,
        violations=[],
    )
    observed, _ = ContractCheck(api).read(exchange)
    assert (observed.at, observed.api, observed.key, observed.method) == (5.0, api, "k", method)
    return observed


def test_a_proxy_observes_the_route_the_answer_and_the_notes() -> None:
    body = json.dumps({"source": "mcp", "input": {"mode": "text-to-video", "prompt": "p"}}).encode()
    answer = json.dumps({"code": 200, "message": "success", "data": {"taskId": "task_1"}}).encode()
    seen = _read_from_the_wire("apixo", "POST", "/api/v1/generateTask/vidu-q3", body, 200, answer)
    assert (seen.point, seen.task_id, seen.terminal, seen.notes) == (
        "submit",
        "task_1",
        False,
        ("source is not a documented field of generateTask",),
    )
    assert seen.body_digest is not None
    done = json.dumps({"code": 200, "data": {"taskId": "task_1", "state": "success"}}).encode()
    poll = _read_from_the_wire("apixo", "GET", "/api/v1/statusTask/vidu-q3", b"", 200, done, "taskId=task_1")
    assert (poll.point, poll.task_id, poll.terminal) == ("poll", "task_1", True)
    limited = _read_from_the_wire(
        "rixapi", "GET", "/v1/task/task_9", b"", 429, b"{}", answer_headers={"Retry-After": "7"}
    )
    assert (limited.point, limited.task_id, limited.retry_after) == ("poll", "task_9", 7.0)
    image = json.dumps({"model": "gpt-image-2", "prompt": "p"}).encode()
    answer = json.dumps({"created": 1, "data": [{"url": "https://x/0.png"}]}).encode()
    waited = _read_from_the_wire("pixapi", "POST", "/v1/images/generations", image, 200, answer)
    assert (waited.point, waited.task_id, waited.terminal) == ("submit", None, True)
    other = _read_from_the_wire("rixapi", "GET", "/v1/models", b"", 404, b"")
    assert (other.point, other.task_id) == ("other", None)
    hooked = json.dumps(
        {"model": "flux-pro", "input": {"prompt": "x"}, "callback_url": "https://h.example/cb"}
    )
    submitted = json.dumps({"id": "task_abcdefghijkl", "status": "queued", "created_at": 1}).encode()
    seen = _read_from_the_wire("rixapi", "POST", "/v1/task/submit", hooked.encode(), 200, submitted)
    assert (seen.task_id, seen.callback_url) == ("task_abcdefghijkl", "https://h.example/cb")


def test_the_docs_etiquette_example_is_valid() -> None:
    page = (Path(__file__).parents[1] / "docs" / "strict.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```yml\n(etiquette:.*?)```", page, flags=re.S)
    scenario = parse_scenario(block + "rules: [{phases: [{state: succeeded}]}]\n", source="docs/strict.md")
    assert (scenario.etiquette.disabled, scenario.etiquette.poll_floor) == (["poll-too-fast"], 5.0)


def test_the_json_schema_has_the_etiquette_section() -> None:
    section = scenario_json_schema()["$defs"]["EtiquetteSpec"]["properties"]
    assert set(section) == {"strict", "disabled", "poll_floor", "repeated_submit_window", "tracked", "kept"}


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://hooks.example.com/cb", "not an http(s) URL"),
        ("/relative/cb", "not an http(s) URL"),
        ("https:///cb", "no host"),
        ("http://hooks.example.com:0/cb", "port 0"),
        ("http://hooks.example.com:99999/cb", "not a URL (Port out of range 0-65535)"),
        ("http://0.0.0.0:8080/cb", "the unspecified address"),
        ("https://hooks.invalid/cb", "a name reserved never to resolve"),
        ("https://Hooks.Test./cb", "a name reserved never to resolve"),
        ("https://hooks.example.com/cb", None),
        ("http://127.0.0.1:8080/cb", None),  # the test's own receiver, reachable from the fake
    ],
)
def test_which_callback_urls_can_never_be_reached(url: str, why: str | None) -> None:
    assert unreachable(url) == why


# -- what a careful client does is no violation (found in review) ---------------------------------


def test_a_steady_poll_with_jitter_backs_off_enough() -> None:
    etiquette = _checker()
    found = [etiquette.observe(_seen(at, "poll" if at else "submit")) for at in (0.0, 10.0, 20.003, 29.998)]
    assert found == [[], [], [], []]
    assert [v.rule for v in etiquette.observe(_seen(35.0, "poll"))] == ["poll-too-fast"]


def test_one_fetch_after_a_callback_is_not_too_fast() -> None:
    etiquette = _checker()
    assert etiquette.observe(_seen(0.0, "submit", api="rixapi")) == []
    assert etiquette.observe(_seen(1.0, "poll", api="rixapi", terminal=True)) == []
    assert etiquette.observe(_seen(1.5, "poll", api="rixapi", task_id="t2")) == []  # unknown: starts
    assert [v.rule for v in etiquette.observe(_seen(2.0, "poll", api="rixapi", task_id="t2"))] == [
        "poll-too-fast"
    ]


def test_a_poll_refused_with_a_429_is_not_counted_and_its_retry_after_binds_polls_only() -> None:
    etiquette = _checker()
    assert etiquette.observe(_seen(0.0, "submit", api="rixapi")) == []
    assert etiquette.observe(_seen(3.0, "poll", api="rixapi", status=429, retry_after=1.0)) == []
    assert etiquette.observe(_seen(4.0, "poll", api="rixapi")) == []  # after its Retry-After
    # A submit refused with a 429 (too many unfinished tasks): polling meanwhile is what to do.
    assert (
        etiquette.observe(_seen(8.0, "submit", api="rixapi", status=429, retry_after=30.0, task_id=None))
        == []
    )
    assert etiquette.observe(_seen(11.0, "poll", api="rixapi")) == []
    assert [v.rule for v in etiquette.observe(_seen(12.0, "submit", api="rixapi", task_id=None))] == [
        "ignored-retry-after"
    ]


@pytest.mark.parametrize("value", ["inf", "1e400", "nan", "-inf", "86401"])
def test_a_retry_after_that_is_no_finite_wait_binds_nothing(value: str) -> None:
    assert retry_after({"Retry-After": value}) is None
    assert retry_after({"Retry-After": "-3"}) == 0.0


def test_an_async_submit_s_answer_is_not_the_end_of_its_task() -> None:
    answer = json.dumps({"id": "task_abcdefghijkl", "status": "completed", "created_at": 1}).encode()
    body = json.dumps({"model": "flux-pro", "input": {"prompt": "x"}}).encode()
    seen = _read_from_the_wire("rixapi", "POST", "/v1/task/submit", body, 200, answer)
    assert (seen.point, seen.task_id, seen.terminal) == ("submit", "task_abcdefghijkl", False)
