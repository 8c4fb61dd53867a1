from __future__ import annotations

import json
import urllib.request
from typing import Any

from fakeapi import FakeApi


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
