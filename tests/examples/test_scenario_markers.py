"""Choosing the scenario per test, as docs/fixture.md shows it."""

from __future__ import annotations

import pytest
from test_first_job import call

from fakeapi import FakeApi


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
