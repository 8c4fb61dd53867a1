"""A downstream suite's first tests against the fake's RixAPI, as the docs show them.

The docs include the parts between the ``--8<--`` markers (README.md shows the first one whole).
"""

# --8<-- [start:first]
from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from fakeapi import CallbackSink, FakeApi


def call(method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body else None,
        headers={"Authorization": "Bearer sk-test", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def test_video_job_completes(fakeapi: FakeApi) -> None:
    base = fakeapi.url_for("rixapi")
    task = call("POST", f"{base}/v1/task/submit", {"model": "kling-v2", "input": {"prompt": "a cat"}})
    assert task["status"] == "queued"

    fakeapi.clock.shift(30)  # no sleeping: the clock is virtual

    done = call("GET", f"{base}/v1/task/{task['id']}")
    assert done["status"] == "completed"
    assert done["outputs"][0].endswith(".mp4")


# --8<-- [end:first]


# --8<-- [start:markers]
@pytest.mark.fakeapi(scenario="poll-count", seed=7)
def test_polling_client(fakeapi: FakeApi) -> None:
    base = fakeapi.url_for("rixapi")
    task = call("POST", f"{base}/v1/task/submit", {"model": "flux-pro", "input": {"prompt": "a cat"}})
    polls = [call("GET", f"{base}/v1/task/{task['id']}")["status"] for _ in range(4)]
    assert polls == ["queued", "in_progress", "in_progress", "completed"]


@pytest.mark.fakeapi(scenario={"rules": [{"phases": [{"state": "failed", "error": {"message": "nsfw"}}]}]})
def test_failure_path(fakeapi: FakeApi) -> None:
    base = fakeapi.url_for("rixapi")
    task = call("POST", f"{base}/v1/task/submit", {"model": "flux-pro", "input": {"prompt": "a cat"}})
    assert call("GET", f"{base}/v1/task/{task['id']}")["error"] == "nsfw"


@pytest.mark.fakeapi(scenario="instant", overrides={"accounts": {"keys": {"sk-test": {"balance": 0.5}}}})
def test_low_balance(fakeapi: FakeApi) -> None:
    assert fakeapi.balance("rixapi", "sk-test") == 0.5


# --8<-- [end:markers]


# --8<-- [start:callbacks]
def test_callbacks(fakeapi: FakeApi, callback_sink: CallbackSink) -> None:
    base = fakeapi.url_for("rixapi")
    call(
        "POST",
        f"{base}/v1/task/submit",
        {"model": "flux-pro", "input": {"prompt": "x"}, "callback_url": callback_sink.url},
    )
    callback_sink.wait_for(1)  # the "queued" callback (real time, 5 s timeout)
    callback_sink.fail_next(1, status=500)  # the next delivery fails and will be retried
    fakeapi.clock.shift(120)
    assert [b["status"] for b in callback_sink.bodies()] == [
        "queued",
        "in_progress",
        "completed",
        "in_progress",
    ]


# --8<-- [end:callbacks]
