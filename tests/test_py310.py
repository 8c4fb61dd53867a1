"""A hang fault whose latency runs out, on every supported Python.

On 3.10 ``asyncio.wait_for`` raises ``asyncio.TimeoutError``, which is not the builtin
``TimeoutError`` until 3.11; a wait that runs out must still end as the fault says.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from fakeapi import FakeApi

KEY = {"Authorization": "Bearer sk-test"}
RIX_IMAGE: dict[str, Any] = {"model": "flux-pro", "input": {"prompt": "a red fox"}}


def hang(latency: str) -> dict[str, Any]:
    return {
        "faults": [{"at": "submit", "effect": "hang", "latency": latency}],
        "rules": [{"phases": [{"state": "succeeded"}]}],
    }


@pytest.mark.fakeapi(scenario=hang("200ms"))
async def test_a_hang_that_runs_out_resets_the_connection(
    http: aiohttp.ClientSession, fakeapi: FakeApi
) -> None:
    url = fakeapi.url_for("rixapi") + "/v1/task/submit"
    started = time.monotonic()
    with pytest.raises(aiohttp.ClientError):
        async with http.post(url, json=RIX_IMAGE, headers=KEY) as r:
            pytest.fail(f"a hang answers nothing, got {r.status}")
    assert time.monotonic() - started >= 0.2
    assert fakeapi.tasks == [], "a hang answers nothing and takes no effect"
    assert [e.status for e in fakeapi.journal] == [499]
