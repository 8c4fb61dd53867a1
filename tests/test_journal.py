"""The journal for verification: what each entry carries (API, redacted key, task id, headers with
secrets redacted, the answer and the state it showed), the fixture's ``requests`` filter and
``assert_called`` assertion (through pytester, as a downstream project uses them), and the admin
API's JSON of the same entries."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from admin_client import call, write_ini

from fakeapi import FakeApi

KEY = "sk-journal-secret-key"
SHOWN_KEY = "sk-j…ey"

# A downstream project's client (urllib only) and its tests, run by pytester.
CLIENT = """
from __future__ import annotations

import json
import urllib.error
import urllib.request

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
KEY = "sk-downstream-key-0042"


def call(method, url, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    sent = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def submit(fakeapi, prompt="a fox"):
    url = fakeapi.url_for("rixapi") + "/v1/task/submit"
    status, body = call("POST", url, {"model": "flux-pro", "input": {"prompt": prompt}})
    assert status == 200, body
    return json.loads(body)["id"]


def poll(fakeapi, task_id):
    return call("GET", fakeapi.url_for("rixapi") + "/v1/task/" + task_id)
"""


@pytest.fixture
def downstream(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(client=CLIENT)
    write_ini(pytester)
    return pytester


def test_entries_carry_api_key_task_headers_answer_and_state(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_entries="""
        import json

        import pytest

        from client import call, poll, submit


        @pytest.mark.fakeapi(scenario="default")
        def test_a_task_seen_through_the_journal(fakeapi):
            task_id = submit(fakeapi)
            fakeapi.clock.shift(2)
            status, answer = poll(fakeapi, task_id)
            assert status == 200
            submitted, polled = fakeapi.journal
            assert (submitted.api, submitted.task_id, submitted.state) == ("rixapi", task_id, "queued")
            assert json.loads(submitted.response_body)["id"] == task_id
            assert (polled.api, polled.task_id, polled.state) == ("rixapi", task_id, "running")
            assert polled.response_body == answer.decode()
            assert polled.key == "sk-d…42"
            headers = dict(polled.headers)
            assert headers["Authorization"] == "Bearer sk-d…42"
            assert "sk-downstream-key-0042" not in repr(fakeapi.journal)
            assert headers["Content-Type"] == "application/json"
            assert not polled.response_truncated


        def test_secret_headers_are_redacted(fakeapi):
            secrets = {"X-Api-Key": "k-123", "Cookie": "session=abc", "X-Auth-Token": "t-9"}
            call("GET", fakeapi.url_for("rixapi") + "/v1/task/task_none", headers=secrets)
            (entry,) = fakeapi.journal
            headers = dict(entry.headers)
            assert [headers[name] for name in secrets] == ["<redacted>"] * 3
            assert (entry.status, entry.task_id, entry.state) == (404, "task_none", None)


        def test_a_short_key_is_hidden_whole(fakeapi):
            url = fakeapi.url_for("rixapi") + "/v1/task/task_none"
            call("GET", url, headers={"Authorization": "Bearer sk-short"})
            (entry,) = fakeapi.journal
            assert entry.key == "<redacted>"
            assert dict(entry.headers)["Authorization"] == "Bearer <redacted>"


        def test_requests_off_every_route(fakeapi):
            task_id = submit(fakeapi)
            fakeapi.complete(task_id)
            _, answer = poll(fakeapi, task_id)
            output = json.loads(answer)["outputs"][0]
            call("GET", output)
            fakeapi.allow_surprises("GET /apixo/no/such/route")
            call("GET", fakeapi.url_for("apixo") + "/no/such/route")
            download, unknown = fakeapi.journal[-2:]
            assert (download.api, download.task_id, download.status) == ("rixapi", task_id, 200)
            assert download.response_body == ""  # media, not kept
            assert (unknown.api, unknown.task_id, unknown.status) == ("apixo", None, 404)
            assert json.loads(unknown.response_body)["code"] == 404
        """
    )
    result = downstream.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_requests_filters_by_api_method_path_task_and_status(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_filters="""
        from client import call, poll, submit


        def test_filters(fakeapi):
            first, second = submit(fakeapi), submit(fakeapi)
            poll(fakeapi, first)
            poll(fakeapi, first)
            poll(fakeapi, second)
            call("GET", fakeapi.url_for("apixo") + "/api/v1/apikeys/current-balance")

            assert len(fakeapi.requests()) == 6
            assert [e.api for e in fakeapi.requests(api="apixo")] == ["apixo"]
            assert len(fakeapi.requests(api="rixapi", method="get")) == 3
            assert len(fakeapi.requests(method="POST")) == 2
            # A glob, as sent under the mount or relative to it; an exact path.
            assert len(fakeapi.requests(path="/rixapi/v1/task/*")) == 5
            assert len(fakeapi.requests(api="rixapi", path="/v1/task/task_*")) == 3
            assert len(fakeapi.requests(path=f"/v1/task/{first}")) == 2
            assert fakeapi.requests(path="/v1/task") == []
            assert [e.task_id for e in fakeapi.requests(task_id=second)] == [second, second]
            assert [e.api for e in fakeapi.requests(status=200, api="apixo")] == ["apixo"]
            assert len(fakeapi.requests(status=200)) == 6
            assert fakeapi.requests(status=404) == []
        """
    )
    result = downstream.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_assert_called_counts_and_returns_the_matches(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_counts="""
        from client import poll, submit


        def test_counts(fakeapi):
            task_id = submit(fakeapi)
            poll(fakeapi, task_id)
            poll(fakeapi, task_id)
            polls = fakeapi.assert_called(api="rixapi", method="GET", path="/v1/task/*", times=2)
            assert [e.task_id for e in polls] == [task_id, task_id]
            assert len(fakeapi.assert_called(method="POST")) == 1
            fakeapi.assert_called(api="apixo", times=0)
        """
    )
    result = downstream.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_misspelt_api_or_a_negative_count_is_a_usage_error(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_misuse="""
        import pytest

        from fakeapi import UsageError


        def test_misspelt(fakeapi):
            none_of = r"^requests: api: no API named 'rixap': the APIs are rixapi, apixo, foxapi, pixapi$"
            with pytest.raises(UsageError, match=none_of):
                fakeapi.requests(api="rixap")
            with pytest.raises(UsageError, match=r"^assert_called: api: no API named 'apixo2': "):
                fakeapi.assert_called(api="apixo2", times=0)
            with pytest.raises(UsageError, match=r"^assert_called: times: -1 is no count of requests$"):
                fakeapi.assert_called(times=-1)
            no_root = (
                r"^assert_called: path: 'v1/task/submit' starts with neither / nor a wildcard: "
                r"it would match no request$"
            )
            with pytest.raises(UsageError, match=no_root):
                fakeapi.assert_called(path="v1/task/submit", times=0)
            assert fakeapi.requests(path="*/submit") == []
        """
    )
    result = downstream.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_assert_called_fails_saying_what_was_asked_and_the_nearest_entries(
    downstream: pytest.Pytester,
) -> None:
    downstream.makepyfile(
        test_miss="""
        from client import poll, submit


        def test_polled_three_times(fakeapi):
            task_id = submit(fakeapi)
            poll(fakeapi, task_id)
            poll(fakeapi, "task_other")
            fakeapi.assert_called(api="rixapi", method="GET", path=f"/v1/task/{task_id}", times=3)


        def test_nothing_sent(fakeapi):
            fakeapi.assert_called(api="apixo")
        """
    )
    result = downstream.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "E   *AssertionError: expected 3 requests matching api='rixapi', method='GET', "
            "path='/v1/task/task_*'; 1 matched",
            "E   *the journal's nearest entries (of 3):",
            "E   *  00:00:00.000 rixapi POST /rixapi/v1/task/submit 200 task_* queued"
            "  <- method, path differ",
            "E   *  00:00:00.000 rixapi GET /rixapi/v1/task/task_* 200 task_* queued",
            "E   *  00:00:00.000 rixapi GET /rixapi/v1/task/task_other 404 task_other  <- path differs",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E   *AssertionError: expected at least 1 request matching api='apixo'; 0 matched",
            "E   *the journal is empty",
        ]
    )


# -- the admin API's JSON ------------------------------------------------------------------------------


async def test_admin_journal_shows_the_new_fields(fakeapi: FakeApi, http: aiohttp.ClientSession) -> None:
    url = fakeapi.url_for("rixapi") + "/v1/task/submit"
    headers = {"Authorization": f"Bearer {KEY}", "X-Api-Key": "also-secret", "X-Trace": "a"}
    body = {"model": "flux-pro", "input": {"prompt": "x"}}
    async with http.post(url, json=body, headers=headers) as response:
        answer = await response.text()
    status, journal = await call(http, fakeapi.base_url, "GET", "/journal")
    assert status == 200
    (entry,) = journal
    task_id = entry["task_id"]
    assert task_id.startswith("task_")
    expected: dict[str, Any] = {
        "api": "rixapi",
        "key": SHOWN_KEY,
        "task_id": task_id,
        "response_body": answer,
        "state": "queued",
        "response_truncated": False,
    }
    assert {name: entry[name] for name in expected} == expected
    assert entry["headers"]["Authorization"] == f"Bearer {SHOWN_KEY}"
    assert (entry["headers"]["X-Api-Key"], entry["headers"]["X-Trace"]) == ("<redacted>", "a")
    assert list(entry)[:8] == ["at", "method", "path", "query", "status", "body", "notes", "truncated"]


@pytest.mark.fakeapi(
    scenario={
        "limits": {"logged_body_bytes": 16},
        "rules": [{"phases": [{"state": "queued", "for": "60s"}, {"state": "succeeded"}]}],
    }
)
async def test_an_answer_is_cut_as_a_request_body_is(fakeapi: FakeApi, http: aiohttp.ClientSession) -> None:
    url = fakeapi.url_for("rixapi") + "/v1/task/submit"
    body = {"model": "flux-pro", "input": {"prompt": "x"}}
    async with http.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}) as response:
        answer = await response.text()
    (entry,) = fakeapi.journal
    assert len(answer) > 16
    assert (entry.response_body, entry.response_truncated) == (answer[:16], True)
    assert (len(entry.body), entry.truncated) == (16, True)


async def test_admin_requests_filters_the_journal_as_the_fixture_does(
    fakeapi: FakeApi, http: aiohttp.ClientSession
) -> None:
    base = fakeapi.url_for("rixapi")
    headers = {"Authorization": f"Bearer {KEY}"}
    async with http.post(
        base + "/v1/task/submit", json={"model": "flux-pro", "input": {"prompt": "x"}}, headers=headers
    ) as response:
        task_id = (await response.json())["id"]
    for path in (f"/v1/task/{task_id}", f"/v1/task/{task_id}", "/v1/task/task_none"):
        async with http.get(base + path, headers=headers) as response:
            await response.read()

    async def matching(query: str) -> list[dict[str, Any]]:
        status, answer = await call(http, fakeapi.base_url, "GET", "/requests" + query)
        assert status == 200, answer
        entries: list[dict[str, Any]] = answer
        return entries

    polls = await matching(f"?api=rixapi&method=get&path=/v1/task/{task_id}")
    assert [(e["task_id"], e["status"], e["state"]) for e in polls] == [(task_id, 200, "queued")] * 2
    expected = [
        entry.path for entry in fakeapi.requests(api="rixapi", method="get", path=f"/v1/task/{task_id}")
    ]
    assert [e["path"] for e in polls] == expected
    assert [e["task_id"] for e in await matching("?status=404")] == ["task_none"]
    assert len(await matching("?path=/rixapi/v1/task/*")) == 4
    assert len(await matching("")) == 4
    assert polls[0]["headers"]["Authorization"] == f"Bearer {SHOWN_KEY}"
    status, answer = await call(http, fakeapi.base_url, "GET", "/requests?colour=red")
    assert status == 400
    assert answer["error"]["message"].startswith("colour: Extra inputs are not permitted")
    status, answer = await call(http, fakeapi.base_url, "GET", "/requests?api=a&api=b")
    assert (status, answer["error"]["message"]) == (400, "give api once")
    status, answer = await call(http, fakeapi.base_url, "GET", "/requests?api=rix")
    assert (status, answer["error"]["message"]) == (
        400,
        "api: no API named 'rix': the APIs are rixapi, apixo, foxapi, pixapi",
    )
