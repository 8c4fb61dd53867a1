"""A test that expects a surprise says so, as docs/fixture.md shows it."""

from __future__ import annotations

import urllib.error

import pytest
from test_first_job import call

from fakeapi import FakeApi


# --8<-- [start:allow]
def test_a_typo_is_a_404(fakeapi: FakeApi) -> None:
    fakeapi.allow_surprises("GET /rixapi/v1/nope")
    with pytest.raises(urllib.error.HTTPError) as answer:
        call("GET", fakeapi.url_for("rixapi") + "/v1/nope")
    assert answer.value.code == 404


@pytest.mark.fakeapi(allow_surprises=["DELETE /rixapi/*"])
def test_unsupported_method(fakeapi: FakeApi) -> None:
    with pytest.raises(urllib.error.HTTPError) as answer:
        call("DELETE", fakeapi.url_for("rixapi") + "/v1/task/task_x")
    assert answer.value.code == 404


# --8<-- [end:allow]
