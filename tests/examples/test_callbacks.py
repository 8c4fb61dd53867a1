"""The callback receiver, as docs/fixture.md shows it."""

from __future__ import annotations

from test_first_job import call

from fakeapi import CallbackSink, FakeApi


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
