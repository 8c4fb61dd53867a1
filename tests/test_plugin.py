"""The pytest plugin as a downstream project uses it: test files run in an inner session by pytester.

The ``fakeapi`` and ``callback_sink`` fixtures reach the inner sessions through the ``pytest11``
entry point of the installed package, exactly as in a project that only ``pip install``-ed fakeapi.
"""

from __future__ import annotations

import pytest
from admin_client import free_ports, write_ini

# A downstream project's tiny RixAPI client (sync, urllib only), written next to the inner tests.
RIXCLIENT = """
from __future__ import annotations

import json
import urllib.error
import urllib.request

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(method, url, body=None, key="sk-downstream"):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def submit(fakeapi, model, prompt="a red fox in the snow", **extra):
    url = fakeapi.url_for("rixapi") + "/v1/task/submit"
    status, _, body = call("POST", url, {"model": model, "input": {"prompt": prompt}, **extra})
    assert status == 200, body
    return json.loads(body)


def get(fakeapi, task_id):
    status, _, body = call("GET", fakeapi.url_for("rixapi") + "/v1/task/" + task_id)
    return status, json.loads(body)


def status_of(fakeapi, task_id):
    status, task = get(fakeapi, task_id)
    assert status == 200, task
    return task["status"]
"""


@pytest.fixture
def downstream(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester project with the downstream client module in it."""
    pytester.makepyfile(rixclient=RIXCLIENT)
    write_ini(pytester)
    return pytester


def test_sync_client_submit_poll_shift_download(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_sync="""
        from __future__ import annotations

        import json
        import urllib.request

        OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        HEADERS = {"Authorization": "Bearer sk-anything", "Content-Type": "application/json"}


        def fetch(url, body=None):
            data = None if body is None else json.dumps(body).encode()
            method = "GET" if data is None else "POST"
            request = urllib.request.Request(url, data=data, headers=HEADERS, method=method)
            with OPENER.open(request, timeout=10) as response:
                return response.status, response.headers.get("Content-Type"), response.read()


        def test_video_lifecycle(fakeapi):
            base = fakeapi.url_for("rixapi")
            assert base == fakeapi.base_url + "/rixapi"
            assert base.startswith("http://127.0.0.1:")
            body = {"model": "kling-v2", "input": {"prompt": "a cat"}}
            status, _, raw = fetch(base + "/v1/task/submit", body)
            assert status == 200
            task = json.loads(raw)
            assert task["id"].startswith("task_")
            assert task["status"] == "queued"
            assert task["created_at"] == 1767225600

            def poll():
                status, ctype, raw = fetch(base + "/v1/task/" + task["id"])
                assert (status, ctype) == (200, "application/json")
                return json.loads(raw)

            # The virtual clock stands still: polling alone never finishes the task.
            assert [poll()["status"] for _ in range(3)] == ["queued"] * 3
            fakeapi.clock.shift(2)
            assert poll()["status"] == "in_progress"
            fakeapi.clock.shift(27)
            assert poll()["status"] == "in_progress"
            fakeapi.clock.shift(1)
            done = poll()
            assert done["status"] == "completed"
            assert done["completed_at"] - done["created_at"] == 30
            assert fakeapi.clock.now() == 1767225600 + 30
            (url,) = done["outputs"]
            assert url.startswith(fakeapi.base_url + "/files/" + task["id"] + "/")
            status, ctype, media = fetch(url)
            assert (status, ctype) == (200, "video/mp4")
            assert media[4:8] == b"ftyp"
        """
    )
    result = downstream.runpytest("-q")
    result.assert_outcomes(passed=1)


def test_async_client_with_ashift(downstream: pytest.Pytester) -> None:
    write_ini(downstream, "asyncio_mode = auto")
    downstream.makepyfile(
        test_async="""
        from __future__ import annotations

        import aiohttp


        async def test_image_lifecycle(fakeapi):
            base = fakeapi.url_for("rixapi")
            headers = {"Authorization": "Bearer sk-async"}
            async with aiohttp.ClientSession(headers=headers) as session:
                body = {"model": "flux-pro", "input": {"prompt": "a lighthouse"}}
                async with session.post(base + "/v1/task/submit", json=body) as response:
                    assert response.status == 200
                    task = await response.json()
                assert task["status"] == "queued"

                async def status():
                    async with session.get(base + "/v1/task/" + task["id"]) as response:
                        assert response.status == 200
                        return await response.json()

                assert (await status())["status"] == "queued"
                await fakeapi.clock.ashift(1)
                assert (await status())["status"] == "in_progress"
                await fakeapi.clock.ashift(4)
                done = await status()
                assert done["status"] == "completed"
                assert done["completed_at"] - done["created_at"] == 5
                async with session.get(done["outputs"][0]) as response:
                    assert response.status == 200
                    assert response.headers["Content-Type"] == "image/png"
                    assert (await response.read()).startswith(b"\\x89PNG\\r\\n\\x1a\\n")
        """
    )
    result = downstream.runpytest("-q")
    result.assert_outcomes(passed=1)


def test_state_is_reset_between_tests(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_reset="""
        from __future__ import annotations

        import json

        from rixclient import call, get, submit

        created = {}


        def test_first(fakeapi):
            task = submit(fakeapi, "kling-v2")
            created["id"] = task["id"]
            fakeapi.clock.shift(100)
            assert len(fakeapi.tasks) == 1
            assert len(fakeapi.journal) == 1


        def test_second_sees_none_of_it(fakeapi):
            assert fakeapi.tasks == []
            assert fakeapi.journal == []
            assert fakeapi.clock.now() == 1767225600
            status, body = get(fakeapi, created["id"])
            assert status == 404
            assert body["error"]["code"] == "task_not_exist"
            assert [(e.method, e.status) for e in fakeapi.journal] == [("GET", 404)]
        """
    )
    result = downstream.runpytest("-q")
    result.assert_outcomes(passed=2)


def test_marker_scenario_and_seed(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_marker="""
        from __future__ import annotations

        import pytest

        from rixclient import submit

        ids = {}


        @pytest.mark.fakeapi(scenario="instant")
        def test_instant(fakeapi):
            task = submit(fakeapi, "kling-v2")
            assert task["status"] == "completed"
            assert len(task["outputs"]) == 1


        def test_default_again(fakeapi):
            assert fakeapi.seed == 0
            assert submit(fakeapi, "kling-v2")["status"] == "queued"


        @pytest.mark.fakeapi(seed=7)
        def test_seed_7(fakeapi):
            assert fakeapi.seed == 7
            ids["a"] = [submit(fakeapi, "flux-pro")["id"] for _ in range(3)]


        @pytest.mark.fakeapi(seed=7)
        def test_seed_7_again(fakeapi):
            ids["b"] = [submit(fakeapi, "flux-pro")["id"] for _ in range(3)]


        @pytest.mark.fakeapi(seed=8)
        def test_seed_8(fakeapi):
            ids["c"] = [submit(fakeapi, "flux-pro")["id"] for _ in range(3)]


        def test_compare():
            assert ids["a"] == ids["b"]
            assert len(set(ids["a"])) == 3
            assert set(ids["a"]).isdisjoint(ids["c"])
        """
    )
    result = downstream.runpytest("-q")
    result.assert_outcomes(passed=6)


def test_marker_scenario_as_dict(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_dict="""
        from __future__ import annotations

        import pytest

        from rixclient import status_of, submit

        SCENARIO = {
            "description": "flux fails at once, the rest needs 3 s",
            "rules": [
                {
                    "match": {"model": "flux-*"},
                    "phases": [{"state": "failed", "error": {"message": "nsfw content"}}],
                },
                {"phases": [{"state": "queued", "for": "3s"}, {"state": "succeeded"}]},
            ],
        }


        @pytest.mark.fakeapi(scenario=SCENARIO)
        def test_dict(fakeapi):
            failed = submit(fakeapi, "flux-pro")
            assert failed["status"] == "failed"
            assert failed["error"] == "nsfw content"
            other = submit(fakeapi, "kling-v2")
            assert other["status"] == "queued"
            fakeapi.clock.shift(3)
            assert status_of(fakeapi, other["id"]) == "completed"


        @pytest.mark.fakeapi(scenario={"rules": []})
        def test_invalid_dict(fakeapi):
            pass
        """
    )
    result = downstream.runpytest("-q")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_invalid_dict*",
            "*ScenarioError: <inline>: rules: List should have at least 1 item*",
        ]
    )


def test_marker_scenario_none_means_default(downstream: pytest.Pytester) -> None:
    # The marker's documented signature is fakeapi(scenario=None, seed=None).
    downstream.makepyfile(
        test_none="""
        from __future__ import annotations

        import pytest

        from rixclient import submit


        @pytest.mark.fakeapi(scenario="instant")
        def test_instant(fakeapi):
            assert submit(fakeapi, "kling-v2")["status"] == "completed"


        @pytest.mark.fakeapi(scenario=None, seed=3)
        def test_default_with_seed(fakeapi):
            assert submit(fakeapi, "kling-v2")["status"] == "queued"
        """
    )
    result = downstream.runpytest("-q")
    result.assert_outcomes(passed=2)


SCENARIO_PROBE = """
from __future__ import annotations

import pytest

from rixclient import status_of, submit


def test_unmarked(fakeapi):
    task = submit(fakeapi, "flux-pro")
    seen = [task["status"]] + [status_of(fakeapi, task["id"]) for _ in range(4)]
    print("SEEN", " ".join(seen))


@pytest.mark.fakeapi(scenario="manual")
def test_marked(fakeapi):
    fakeapi.clock.shift(3600)
    print("MARKED", status_of(fakeapi, submit(fakeapi, "flux-pro")["id"]))
"""


def test_command_line_option_sets_the_default(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(test_probe=SCENARIO_PROBE)
    result = downstream.runpytest("-s", "--fakeapi-scenario", "poll-count")
    result.assert_outcomes(passed=2)
    # poll-count: queued for 1 poll, running for 2, the 4th poll sees it completed; no clock moves.
    result.stdout.fnmatch_lines(["*SEEN queued queued in_progress in_progress completed*"])
    result.stdout.fnmatch_lines(["*MARKED queued*"])  # the marker still wins


def test_ini_option_sets_the_default_and_the_command_line_wins(downstream: pytest.Pytester) -> None:
    write_ini(downstream, "fakeapi_scenario = instant")
    downstream.makepyfile(test_probe=SCENARIO_PROBE)
    result = downstream.runpytest("-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*SEEN completed completed completed completed completed*"])
    result = downstream.runpytest("-s", "--fakeapi-scenario", "default")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*SEEN queued queued queued queued queued*"])


def test_complete_fail_tasks_journal_timeline(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_control="""
        from __future__ import annotations

        import pytest

        from fakeapi import TaskStateError
        from rixclient import get, status_of, submit

        START = 1767225600


        def test_control(fakeapi):
            good = submit(fakeapi, "kling-v2")["id"]
            bad = submit(fakeapi, "kling-v2")["id"]
            fakeapi.clock.shift(2)
            assert status_of(fakeapi, good) == "in_progress"

            fakeapi.complete(good)
            _, task = get(fakeapi, good)
            assert task["status"] == "completed"
            assert task["completed_at"] == START + 2
            assert len(task["outputs"]) == 1

            fakeapi.fail(bad, "boom")
            _, task = get(fakeapi, bad)
            assert task["status"] == "failed"
            assert task["error"] == "boom"
            assert "outputs" not in task
            with pytest.raises(TaskStateError):
                fakeapi.complete(bad)

            # Time moving on does not undo forced outcomes.
            fakeapi.clock.shift(60)
            assert status_of(fakeapi, good) == "completed"
            assert status_of(fakeapi, bad) == "failed"

            states = {t.id: (t.state, t.model, t.polls) for t in fakeapi.tasks}
            assert states == {good: ("succeeded", "kling-v2", 3), bad: ("failed", "kling-v2", 2)}
            assert fakeapi.task(bad).error.message == "boom"

            assert fakeapi.timeline(good) == [
                ("queued", START), ("running", START + 2), ("succeeded", START + 2)
            ]
            assert fakeapi.timeline(bad) == [
                ("queued", START), ("running", START + 2), ("failed", START + 2)
            ]

            journal = [(e.method, e.path, e.status) for e in fakeapi.journal]
            api = "/rixapi/v1/task/"
            assert journal == [
                ("POST", api + "submit", 200),
                ("POST", api + "submit", 200),
                ("GET", api + good, 200),
                ("GET", api + good, 200),
                ("GET", api + bad, 200),
                ("GET", api + good, 200),
                ("GET", api + bad, 200),
            ]
            assert [e.at for e in fakeapi.journal] == [START] * 2 + [START + 2] * 3 + [START + 62] * 2
            assert '"kling-v2"' in fakeapi.journal[0].body


        def test_timeline_of_an_untouched_task(fakeapi):
            task = submit(fakeapi, "kling-v2")["id"]
            fakeapi.clock.shift(45)
            assert fakeapi.timeline(task) == [
                ("queued", START), ("running", START + 2), ("succeeded", START + 30)
            ]
            with pytest.raises(KeyError):
                fakeapi.timeline("task_nope")
        """
    )
    result = downstream.runpytest("-q")
    result.assert_outcomes(passed=2)


def test_callback_sink_receives_every_change(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_sink="""
        from __future__ import annotations

        import json

        from rixclient import get, submit


        def test_callbacks(fakeapi, callback_sink):
            assert callback_sink.url.startswith("http://127.0.0.1:")
            task = submit(fakeapi, "kling-v2", callback_url=callback_sink.url)
            (first,) = callback_sink.wait_for(1)
            assert (first.method, first.path, first.answered) == ("POST", "/callback", 200)
            assert first.headers["Content-Type"] == "application/json"
            assert first.json() == task
            assert first.json()["status"] == "queued"

            fakeapi.clock.shift(2)
            _, running = get(fakeapi, task["id"])
            fakeapi.clock.shift(58)
            _, done = get(fakeapi, task["id"])
            received = callback_sink.wait_for(3)
            assert len(received) == 3
            assert [r.json()["status"] for r in received] == ["queued", "in_progress", "completed"]
            assert callback_sink.bodies() == [task, running, done]
            assert done["status"] == "completed"

            deliveries = fakeapi.deliveries
            assert [(d.state, d.attempt, d.status, d.delivered) for d in deliveries] == [
                ("queued", 1, 200, True),
                ("running", 1, 200, True),
                ("succeeded", 1, 200, True),
            ]
            assert [json.loads(d.body) for d in deliveries] == [task, running, done]
            assert {d.url for d in deliveries} == {callback_sink.url}


        def test_sink_is_cleared(callback_sink):
            assert callback_sink.received == []
        """
    )
    result = downstream.runpytest("-q")
    result.assert_outcomes(passed=2)


def test_callback_retries_after_failed_deliveries(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_retry="""
        from __future__ import annotations

        import pytest

        from fakeapi.providers.rixapi.provider import PROFILE
        from rixclient import submit

        START = 1767225600
        # A task that stays queued until told: exactly one callback to deliver.
        HELD = {"rules": [{"phases": [{"state": "queued"}, {"state": "succeeded"}]}]}


        @pytest.mark.fakeapi(scenario=HELD)
        def test_retries(fakeapi, callback_sink):
            first, second, third = PROFILE.callbacks.retry_delays
            callback_sink.fail_next(2)
            task = submit(fakeapi, "flux-pro", callback_url=callback_sink.url)
            assert [r.answered for r in callback_sink.wait_for(1)] == [500]

            fakeapi.clock.shift(first - 1)
            assert len(callback_sink.received) == 1
            fakeapi.clock.shift(1)
            assert [r.answered for r in callback_sink.received] == [500, 500]
            fakeapi.clock.shift(second - 1)
            assert len(callback_sink.received) == 2
            fakeapi.clock.shift(1)
            assert [r.answered for r in callback_sink.received] == [500, 500, 200]
            fakeapi.clock.shift(third + 1)
            assert len(callback_sink.received) == 3  # delivered: no more attempts

            assert callback_sink.bodies() == [task] * 3
            attempts = [(d.attempt, d.at, d.status, d.delivered) for d in fakeapi.deliveries]
            assert attempts == [
                (1, START, 500, False),
                (2, START + first, 500, False),
                (3, START + first + second, 200, True),
            ]
        """
    )
    result = downstream.runpytest("-q")
    result.assert_outcomes(passed=1)


def test_unknown_route_errors_at_teardown(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_route="""
        from __future__ import annotations

        import json

        from rixclient import call


        def test_typo(fakeapi):
            status, _, body = call("GET", fakeapi.url_for("rixapi") + "/v1/nope")
            assert status == 404
            assert json.loads(body)["error"]["type"] == "rix_api_error"
        """
    )
    result = downstream.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_typo*",
            "*the fake saw unexpected requests:*",
            "*- GET /rixapi/v1/nope matched no route; routes served: POST /rixapi/v1/task/submit,"
            " GET /rixapi/v1/task/{task_id}, GET /rixapi/v1/dashboard/billing/subscription,"
            " GET /rixapi/v1/dashboard/billing/usage, GET /rixapi/dashboard/billing/subscription,"
            " GET /rixapi/dashboard/billing/usage, GET /files/{task_id}/{name}*",
        ]
    )


def test_surprises_do_not_leak_into_the_next_test(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_leak="""
        from __future__ import annotations

        from rixclient import call, status_of, submit


        def test_crash(fakeapi, monkeypatch):
            def explode(*args, **kwargs):
                raise RuntimeError("injected crash")

            monkeypatch.setattr("fakeapi.engine.usage_for", explode)
            url = fakeapi.url_for("rixapi") + "/v1/task/submit"
            status, _, _ = call("POST", url, {"model": "flux-pro", "input": {"prompt": "x"}})
            assert status == 500
            assert len(fakeapi.surprises) == 1


        def test_server_only(fakeapi_server):
            # No fakeapi fixture, so no check at teardown: the next reset must drop this surprise.
            status, _, _ = call("DELETE", fakeapi_server.server.url_for("rixapi") + "/v1/task/x")
            assert status == 404
            assert len(fakeapi_server.server.recorder.surprises) == 1


        def test_clean(fakeapi):
            assert fakeapi.surprises == []
            task = submit(fakeapi, "flux-pro")
            fakeapi.clock.shift(5)
            assert status_of(fakeapi, task["id"]) == "completed"
            assert fakeapi.surprises == []
        """
    )
    result = downstream.runpytest()
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_crash*",
            "*POST /rixapi/v1/task/submit raised in the fake:*",
            "*RuntimeError: injected crash*",
        ]
    )
    result.stdout.no_fnmatch_line("*ERROR at teardown of test_clean*")
    result.stdout.no_fnmatch_line("*DELETE*")


def test_callbacks_do_not_leak_into_the_next_test(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_late="""
        from __future__ import annotations

        import time

        from rixclient import submit


        def test_leaves_a_callback_in_flight(fakeapi, callback_sink):
            callback_sink.delay = 0.5  # a slow receiver, e.g. to exercise timeouts
            submit(fakeapi, "kling-v2", callback_url=callback_sink.url)
            time.sleep(0.15)  # the queued callback has reached the receiver, which takes its time


        def test_next(fakeapi, callback_sink):
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and not callback_sink.received:
                time.sleep(0.01)
            assert callback_sink.received == []
        """
    )
    result = downstream.runpytest("-q")
    result.assert_outcomes(passed=2)


# -- traps: each of these failed before the fix -----------------------------------------------------


def test_deliveries_are_logged_when_the_sink_has_them(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_logged="""
        from __future__ import annotations

        from rixclient import submit


        def test_every_time(fakeapi, callback_sink):
            for _ in range(150):
                fakeapi.reset()
                callback_sink.clear()
                submit(fakeapi, "kling-v2", callback_url=callback_sink.url)
                (received,) = callback_sink.wait_for(1)
                assert [(d.status, d.delivered) for d in fakeapi.deliveries] == [(200, True)]


        async def test_every_time_async(fakeapi, callback_sink):
            for _ in range(150):
                fakeapi.reset()
                callback_sink.clear()
                submit(fakeapi, "kling-v2", callback_url=callback_sink.url)
                await callback_sink.await_for(1)
                assert [(d.status, d.delivered) for d in fakeapi.deliveries] == [(200, True)]
        """
    )
    write_ini(downstream, "asyncio_mode = auto")
    result = downstream.runpytest("-q")
    result.assert_outcomes(passed=2)


def test_a_request_to_the_sink_from_elsewhere_is_received_not_delivered(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_elsewhere="""
        from __future__ import annotations

        import time

        from rixclient import call


        def test_posted_by_the_test(fakeapi, callback_sink):
            call("POST", callback_sink.url, {"status": "made up"})
            started = time.monotonic()
            callback_sink.wait_for(1, timeout=2)
            assert time.monotonic() - started < 1
            assert callback_sink.bodies() == [{"status": "made up"}]
            assert fakeapi.deliveries == []
        """
    )
    result = downstream.runpytest("-q")
    result.assert_outcomes(passed=1)


def test_a_blocking_clock_operation_in_an_async_test_says_to_await(downstream: pytest.Pytester) -> None:
    write_ini(downstream, "asyncio_mode = auto")
    downstream.makepyfile(
        test_blocking="""
        from __future__ import annotations

        import re
        import time

        import pytest


        async def test_shift(fakeapi):
            started = time.monotonic()
            with pytest.raises(Exception, match=re.escape("use `await fakeapi.clock.ashift(...)`")) as info:
                fakeapi.clock.shift(10)
            assert type(info.value).__name__ == "UsageError"
            assert str(info.value).startswith(
                "fakeapi.clock.shift would block this thread's running event loop (an async test's), which "
                "anything of the test's that runs on it needs (a callback receiver, a client): "
            )
            with pytest.raises(Exception, match=re.escape("use `await fakeapi.clock.amove_to(...)`")) as info:
                fakeapi.clock.move_to(fakeapi.clock.now() + 10)
            assert type(info.value).__name__ == "UsageError"
            assert time.monotonic() - started < 1
            assert fakeapi.clock.now() == 1767225600  # nothing moved
            await fakeapi.clock.ashift(10)
            assert fakeapi.clock.now() == 1767225610


        def test_sync_shift_in_a_sync_test(fakeapi):
            fakeapi.clock.shift(10)
            assert fakeapi.clock.now() == 1767225610
        """
    )
    result = downstream.runpytest("-q")
    result.assert_outcomes(passed=2)


def test_a_surprise_at_teardown_is_reported_once(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_once="""
        from __future__ import annotations

        from rixclient import call


        def test_typo(fakeapi):
            call("GET", fakeapi.url_for("rixapi") + "/v1/nope")
        """
    )
    result = downstream.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    report = error_report(result, "teardown of test_typo")
    assert sum("GET /rixapi/v1/nope matched no route" in line for line in report) == 1
    result.stdout.no_fnmatch_line("*During handling of the above exception*")


MINE = """\
description: a scenario of the project's own, in its own folder
rules:
  - phases: [{state: queued, for: 7s}, {state: succeeded}]
"""

WHICH = """
from __future__ import annotations

import pytest

from rixclient import status_of, submit


def test_from_the_ini(fakeapi):
    task = submit(fakeapi, "flux-pro")
    fakeapi.clock.shift(6)
    assert status_of(fakeapi, task["id"]) == "queued"
    fakeapi.clock.shift(1)
    assert status_of(fakeapi, task["id"]) == "completed"


@pytest.mark.fakeapi("scenarios/other.yaml")
def test_from_the_marker(fakeapi):
    assert submit(fakeapi, "flux-pro")["status"] == "failed"
"""


def test_relative_scenario_paths_resolve_from_the_ini_file(
    downstream: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_ini(downstream, "fakeapi_scenario = scenarios/mine.yaml", "pythonpath = .")
    downstream.mkdir("scenarios")
    (downstream.path / "scenarios" / "mine.yaml").write_text(MINE)
    other = "rules:\n  - phases: [{state: failed, error: {message: refused}}]\n"
    (downstream.path / "scenarios" / "other.yaml").write_text(other)
    tests = downstream.mkdir("tests")
    (tests / "test_which.py").write_text(WHICH)
    monkeypatch.chdir(tests)
    result = downstream.runpytest("-q")
    result.assert_outcomes(passed=2)


def error_report(result: pytest.RunResult, when: str) -> list[str]:
    """The non-empty lines pytest printed for a test's error (``when``: "setup of test_x")."""
    start = next(i for i, line in enumerate(result.outlines) if f"ERROR at {when}" in line)
    end = next(i for i, line in enumerate(result.outlines) if "short test summary" in line)
    return [line for line in result.outlines[start + 1 : end] if line.strip()]


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (
            'scenari="manual"',
            "fakeapi marker: unknown argument scenari= (arguments: scenario, seed, overrides, strict, "
            "allow_surprises)",
        ),
        (
            '"manual", scenario="instant"',
            "fakeapi marker: the scenario is given twice: 'manual' and scenario=",
        ),
        ('"manual", "instant"', "fakeapi marker: one scenario, not 2 ('manual', 'instant')"),
        ('seed="x"', "UsageError: load_scenario: seed: Input should be a valid integer"),
        (
            "allow_surprises=5",
            "fakeapi marker: allow_surprises=5: a pattern or a list of patterns (strings), e.g. "
            "allow_surprises=['GET /rixapi/v1/nope']",
        ),
        (
            "allow_surprises=['GET /x', 5]",
            "fakeapi marker: allow_surprises=['GET /x', 5]: a pattern or a list of patterns (strings)",
        ),
    ],
)
def test_marker_mistakes_fail_the_test(downstream: pytest.Pytester, marker: str, message: str) -> None:
    downstream.makepyfile(
        test_mistake=f"""
        import pytest


        @pytest.mark.fakeapi({marker})
        def test_marked(fakeapi):
            pass
        """
    )
    result = downstream.runpytest()
    result.assert_outcomes(errors=1)
    (line,) = error_report(result, "setup of test_marked")
    assert line.startswith(message)


@pytest.mark.parametrize("where", ["option", "ini"])
def test_a_bad_default_scenario_stops_the_run_once(downstream: pytest.Pytester, where: str) -> None:
    downstream.makepyfile(test_two="def test_a(fakeapi):\n    pass\n\n\ndef test_b(fakeapi):\n    pass\n")
    if where == "ini":
        write_ini(downstream, "fakeapi_scenario = nope")
        result = downstream.runpytest()
    else:
        result = downstream.runpytest("--fakeapi-scenario", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if "nope" in line]
    assert len(errors) == 1, result.errlines
    assert errors[0].startswith("ERROR: fakeapi: nope: no such scenario file, and no bundled scenario")
    result.stdout.no_fnmatch_line("*ERROR at setup*")


def test_misuse_raises_one_readable_usage_error(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_misuse="""
        from __future__ import annotations

        import pytest

        import fakeapi as package
        from rixclient import submit


        @pytest.mark.parametrize(
            ("misuse", "message"),
            [
                (lambda f: f.clock.shift(-10), "clock.shift: seconds: Input should be greater than or equal"),
                (lambda f: f.clock.move_to(0), "clock.move_to: the clock cannot go back from 1767225600"),
                (lambda f: f.fail(submit(f, "kling-v2")["id"], reason="oops"), "fail: reason: Input should"),
                (lambda f: f.load_scenario(seed="x"), "load_scenario: seed: Input should be a valid integer"),
                (lambda f: f.load_scenario(overrides=[1]), "load_scenario: overrides: Input should be"),
                (lambda f: f.reset(seed=1.5), "reset: seed: Input should be a valid integer"),
                (lambda f: f.clock.set_speed(60), "clock.set_speed: the clock is virtual"),
            ],
        )
        def test_misuse(fakeapi, misuse, message):
            with pytest.raises(package.UsageError) as info:
                misuse(fakeapi)
            assert str(info.value).startswith(message)
            assert "pydantic" not in str(info.value)
            assert info.value.__cause__ is None
            assert info.value.__suppress_context__
        """
    )
    result = downstream.runpytest("-q")
    result.assert_outcomes(passed=7)


def test_a_misuse_shows_the_test_s_line_and_none_of_the_fixture_s(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_misused="""
        def test_shift_back(fakeapi):
            fakeapi.clock.shift(-10)
        """
    )
    result = downstream.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            ">       fakeapi.clock.shift(-10)",
            "E       fakeapi.errors.UsageError: clock.shift: seconds: Input should be greater than or equal*",
        ]
    )
    result.stdout.no_fnmatch_line("*fixture.py*")


def test_an_error_of_the_fake_s_own_shows_the_test_s_line_and_its_message(
    downstream: pytest.Pytester,
) -> None:
    downstream.makepyfile(
        test_wrong="""
        from rixclient import submit


        def test_unknown_api(fakeapi):
            fakeapi.url_for("rix")


        def test_unknown_task(fakeapi):
            fakeapi.fail("task_nope")


        def test_unknown_scenario(fakeapi):
            fakeapi.load_scenario("instnat")


        def test_completed_twice(fakeapi):
            task_id = submit(fakeapi, "flux-pro")["id"]
            fakeapi.complete(task_id)
            fakeapi.complete(task_id)
        """
    )
    result = downstream.runpytest()
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            '>       fakeapi.url_for("rix")',
            "E       fakeapi.errors.UsageError: url_for: no API named 'rix': the APIs are rixapi, apixo, *",
            '>       fakeapi.fail("task_nope")',
            "E       fakeapi.errors.UnknownTask: \"no task 'task_nope'; tasks: none\"",
            '>       fakeapi.load_scenario("instnat")',
            "E       fakeapi.errors.ScenarioError: *instnat*",
            ">       fakeapi.complete(task_id)",
            "E       fakeapi.errors.TaskStateError: *",
        ],
        consecutive=False,
    )
    result.stdout.no_fnmatch_line("*fakeapi/*.py:*")
    result.stdout.no_fnmatch_line("*concurrent/futures*")


def test_a_bug_of_the_fake_s_keeps_the_fake_s_frames(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_bug="""
        from fakeapi.engine import TaskEngine


        def test_a_lookup_that_fails_inside(fakeapi, monkeypatch):
            def broken(engine, task_id, *args, **kwargs):
                return {}["internal-bug-key"]

            monkeypatch.setattr(TaskEngine, "_force", broken)
            fakeapi.complete("task_x")


        def test_a_value_that_fails_inside_a_clock_move(fakeapi, monkeypatch):
            async def broken(engine, t):
                raise ValueError("internal bug in a transition")

            monkeypatch.setattr(TaskEngine, "_advance_virtual", broken)
            fakeapi.clock.shift(1)
        """
    )
    result = downstream.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*fakeapi/engine.py:*: in complete", "*KeyError: 'internal-bug-key'"])
    result.stdout.fnmatch_lines(
        ["*fakeapi/engine.py:*: in advance_to", "E*ValueError: internal bug in a transition"]
    )
    result.stdout.no_fnmatch_line("*UsageError*")


PORTS = """
from __future__ import annotations

from fakeapi.providers import REGISTRY


def test_ports(fakeapi):
    print("BASE", fakeapi.base_url)
    print("ROOTS", " ".join(fakeapi.root_url_for(p.name) for p in REGISTRY.providers()))
"""


@pytest.mark.parametrize("where", ["option", "ini"])
def test_a_fixed_port_gives_the_same_urls_every_run(
    downstream: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    port = free_ports(15)
    downstream.makepyfile(test_ports=PORTS)
    if where == "ini":
        write_ini(downstream, f"fakeapi_port = {port}")
        args: tuple[str, ...] = ("-s",)
    else:
        args = ("-s", "--fakeapi-port", str(port))
    for worker, first in [(None, port), (None, port), ("gw2", port + 10)]:
        if worker is None:
            monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
        else:
            monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        result = downstream.runpytest(*args)
        result.assert_outcomes(passed=1)
        roots = " ".join(f"http://127.0.0.1:{first + n}" for n in range(1, 5))
        result.stdout.fnmatch_lines([f"*BASE http://127.0.0.1:{first}", f"ROOTS {roots}"])


def test_a_malformed_yaml_scenario_is_one_short_error(downstream: pytest.Pytester) -> None:
    (downstream.path / "bad.yaml").write_text("rules:\n  - phases: [{state: queued}\n  - x: 1\n")
    downstream.makepyfile(
        test_bad="""
        import pytest


        @pytest.mark.fakeapi("bad.yaml")
        def test_marked(fakeapi):
            pass
        """
    )
    result = downstream.runpytest()
    result.assert_outcomes(errors=1)
    report = error_report(result, "setup of test_marked")
    assert len(report) == 1, report
    path = downstream.path / "bad.yaml"
    assert report[0].startswith(
        f"ScenarioError: {path}:3: not valid YAML: while parsing a flow sequence ({path}:2)"
    )
    assert "line" not in report[0]


# -- the surprise allow-list ------------------------------------------------------------------------


def test_allowed_surprises(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_allowed="""
        from __future__ import annotations

        import pytest

        from rixclient import call


        def test_allowed_by_the_method(fakeapi):
            fakeapi.allow_surprises("GET /rixapi/v1/no*")
            call("GET", fakeapi.url_for("rixapi") + "/v1/nope")
            call("GET", fakeapi.url_for("rixapi") + "/v1/nothing")


        @pytest.mark.fakeapi(allow_surprises=["DELETE /rixapi/*"])
        def test_allowed_by_the_marker(fakeapi):
            call("DELETE", fakeapi.url_for("rixapi") + "/v1/task/x")


        def test_one_allowed_one_not(fakeapi):
            fakeapi.allow_surprises("GET /rixapi/v1/nope")
            call("GET", fakeapi.url_for("rixapi") + "/v1/nope")
            call("GET", fakeapi.url_for("rixapi") + "/v1/nope/deeper")


        def test_allowed_but_never_seen(fakeapi):
            fakeapi.allow_surprises("GET /rixapi/v1/nope")


        @pytest.mark.fakeapi(allow_surprises=["GET /rixapi/v1/nope"])
        def test_allowed_and_checked_in_the_test(fakeapi):
            call("GET", fakeapi.url_for("rixapi") + "/v1/nope")
            fakeapi.check()
        """
    )
    result = downstream.runpytest()
    result.assert_outcomes(passed=5, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_one_allowed_one_not*",
            "*- GET /rixapi/v1/nope/deeper matched no route*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_allowed_but_never_seen*",
            "*the test allowed surprises that never came: GET /rixapi/v1/nope*",
        ]
    )
    report = error_report(result, "teardown of test_one_allowed_one_not")
    assert sum("matched no route" in line for line in report) == 1


def test_a_port_that_is_no_number_stops_the_run_once(downstream: pytest.Pytester) -> None:
    write_ini(downstream, "fakeapi_port = eighty")
    downstream.makepyfile(test_one="def test_a(fakeapi):\n    pass\n")
    result = downstream.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.errlines if "fakeapi" in line] == [
        "ERROR: fakeapi: fakeapi_port = eighty: not a port number"
    ]


NOT_A_PORT = "a fixed port is one of 1 to 65535 (without one, the fixture takes free ports)"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("99999", f"port 99999: {NOT_A_PORT}"),
        ("0", f"port 0: {NOT_A_PORT}"),
        ("65533", "port 65533 leaves no room for the APIs' 4 ports after it"),
    ],
)
def test_a_port_out_of_range_stops_the_run_once(
    downstream: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, given: str, message: str
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # this run's own worker's, not the inner run's
    downstream.makepyfile(test_one="def test_a(fakeapi):\n    pass\n")
    result = downstream.runpytest("--fakeapi-port", given)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.errlines if "fakeapi" in line] == [f"ERROR: fakeapi: {message}"]


def test_a_relative_scenario_option_holds_when_a_test_changes_directory(downstream: pytest.Pytester) -> None:
    (downstream.path / "mine.yaml").write_text(MINE)
    downstream.makepyfile(
        test_moves="""
        import pytest

        from rixclient import status_of, submit


        @pytest.fixture(autouse=True)
        def elsewhere(tmp_path, monkeypatch):
            monkeypatch.chdir(tmp_path)


        def test_a(fakeapi):
            task = submit(fakeapi, "flux-pro")
            fakeapi.clock.shift(6)
            assert status_of(fakeapi, task["id"]) == "queued"
            fakeapi.clock.shift(1)
            assert status_of(fakeapi, task["id"]) == "completed"


        def test_b(fakeapi):
            fakeapi.reset()
        """
    )
    result = downstream.runpytest("--fakeapi-scenario", "mine.yaml")
    result.assert_outcomes(passed=2)


def test_a_scenario_file_that_is_no_scenario_stops_the_run_once(downstream: pytest.Pytester) -> None:
    (downstream.path / "bad.yaml").write_text("rules: 5\n")
    downstream.makepyfile(test_two="def test_a(fakeapi):\n    pass\n\n\ndef test_b(fakeapi):\n    pass\n")
    result = downstream.runpytest("--fakeapi-scenario", "bad.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    path = downstream.path / "bad.yaml"
    lines = [line for line in result.outlines + result.errlines if "bad.yaml" in line]
    assert len(lines) == 1, lines
    assert f"fakeapi: {path}" in lines[0]
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*ERROR at setup*")


def test_a_scenario_file_that_is_no_scenario_fails_each_test_with_one_line_under_xdist(
    downstream: pytest.Pytester,
) -> None:
    (downstream.path / "bad.yaml").write_text("rules: 5\n")
    downstream.makepyfile(test_two="def test_a(fakeapi):\n    pass\n\n\ndef test_b(fakeapi):\n    pass\n")
    result = downstream.runpytest_subprocess("-n", "2", "--fakeapi-scenario", "bad.yaml")
    result.assert_outcomes(errors=2)
    path = downstream.path / "bad.yaml"
    assert (
        result.outlines.count(f"fakeapi: {path}:1: rules: Input should be a valid list") == 2
    )  # a test each
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    result.stdout.no_fnmatch_line("*Traceback*")


def test_a_busy_fixed_port_stops_the_run_once(
    downstream: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # the block starts at the port itself
    port = free_ports(5)
    downstream.makepyfile(test_two="def test_a(fakeapi):\n    pass\n\n\ndef test_b(fakeapi):\n    pass\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port + 2))
        busy.listen()
        result = downstream.runpytest("--fakeapi-port", str(port))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in result.outlines + result.errlines if str(port + 2) in line]
    assert len(lines) == 1, result.outlines
    assert f"fakeapi: --fakeapi-port {port}: port {port + 2} is in use" in lines[0]
    assert not any("Traceback" in line or "OSError" in line for line in result.outlines), result.outlines


def test_a_failed_assertion_shows_the_test_not_the_fake(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_hidden="""
        from rixclient import call


        def test_assert_called(fakeapi):
            fakeapi.assert_called("rixapi", "POST")


        def test_check(fakeapi):
            call("GET", fakeapi.url_for("rixapi") + "/v1/nope")
            fakeapi.check()
        """
    )
    result = downstream.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*expected at least 1 request matching*", "*matched no route*"])
    for source in ("fixture.py", "recorder.py"):
        result.stdout.no_fnmatch_line(f"*{source}:*")
