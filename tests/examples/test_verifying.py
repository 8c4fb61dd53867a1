"""Verifying what a client sent, as docs/fixture.md shows it (``call`` is the first test's client)."""

from __future__ import annotations

from test_first_job import call

from fakeapi import FakeApi


def generate(fakeapi: FakeApi, prompt: str) -> str:
    """A client's whole job: submit an image, poll it every 3 s of clock time (RixAPI's pace) until
    it ends."""
    base = fakeapi.url_for("rixapi")
    task = call("POST", f"{base}/v1/task/submit", {"model": "flux-pro", "input": {"prompt": prompt}})
    while task["status"] not in ("completed", "failed"):
        fakeapi.clock.shift(3)
        task = call("GET", f"{base}/v1/task/{task['id']}")
    return str(task["id"])


# --8<-- [start:requests]
def test_the_client_polls_its_task(fakeapi: FakeApi) -> None:
    task_id = generate(fakeapi, "a fox")

    polls = fakeapi.requests(api="rixapi", method="GET", path="/v1/task/*")
    assert [entry.task_id for entry in polls] == [task_id] * len(polls)
    assert [entry.state for entry in polls][-2:] == ["running", "succeeded"]
    assert polls[-1].key == "<redacted>"  # a key shorter than 12 characters is never shown
    assert ("Authorization", "Bearer <redacted>") in polls[-1].headers
    assert not [entry.notes for entry in fakeapi.journal if entry.notes]  # it polled at the pace asked


# --8<-- [end:requests]


# --8<-- [start:assert_called]
def test_one_submit_then_polls(fakeapi: FakeApi) -> None:
    generate(fakeapi, "a fox")

    fakeapi.assert_called(api="rixapi", method="POST", path="/v1/task/submit", times=1)
    fakeapi.assert_called(api="rixapi", method="GET")  # at least once
    fakeapi.assert_called(api="apixo", times=0)  # never


# --8<-- [end:assert_called]
