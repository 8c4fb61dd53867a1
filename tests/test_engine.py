"""The task engine on a virtual clock, without sockets: phases, polls, control, callbacks, accounts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from fakeapi.clock import DEFAULT_START, ManualClock
from fakeapi.engine import SubmitRequest, TaskEngine, TaskView
from fakeapi.errors import ErrorKind, FakeApiError, TaskStateError
from fakeapi.providers.rixapi.provider import PROFILE, render_task
from fakeapi.scenario import FailureSpec, Scenario, load_scenario, validate_scenario
from fakeapi.webhooks import DeliveryError

T0 = DEFAULT_START
CB = "http://receiver.test/callback"
RETRIES = PROFILE.callbacks.retry_delays


@dataclass
class Call:
    at: float
    url: str
    body: bytes
    timeout: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RecordingSender:
    """A callback receiver: records each POST; the first ``fail_first`` calls answer 500 or raise."""

    clock: ManualClock
    fail_first: int = 0
    failure: Literal["status", "raise"] = "status"
    fail_status: int = 500
    ok_status: int = 200
    calls: list[Call] = field(default_factory=list)

    async def __call__(self, url: str, body: bytes, timeout: float) -> int:
        self.calls.append(Call(self.clock.now(), url, body, timeout))
        if len(self.calls) <= self.fail_first:
            if self.failure == "raise":
                raise DeliveryError("connection refused")
            return self.fail_status
        return self.ok_status

    @property
    def statuses(self) -> list[str]:
        return [c.json["status"] for c in self.calls]


@dataclass
class Rig:
    engine: TaskEngine
    clock: ManualClock
    sender: RecordingSender

    def submit(
        self,
        model: str = "kling-v2",
        *,
        key: str | None = "k1",
        prompt: str = "a cat surfing",
        params: Mapping[str, Any] | None = None,
        callback_url: str | None = None,
        outputs: int = 1,
    ) -> TaskView:
        return self.engine.submit(
            SubmitRequest(
                api="rixapi",
                key=key,
                model=model,
                prompt=prompt,
                params=params or {},
                callback_url=callback_url,
                outputs=outputs,
            )
        )

    def view(self, task_id: str) -> TaskView:
        return self.engine.view(self.engine.get(task_id))

    def poll(self, task_id: str, key: str = "k1") -> TaskView:
        return self.engine.query("rixapi", task_id, key)


def phases(*steps: Mapping[str, Any]) -> dict[str, Any]:
    return {"phases": list(steps)}


def scenario(*rules: Mapping[str, Any], **settings: Any) -> Scenario:
    return validate_scenario({**settings, "rules": list(rules)})


TIMED = scenario(
    phases({"state": "queued", "for": "2s"}, {"state": "running", "for": "8s"}, {"state": "succeeded"})
)
WAITING = scenario(phases({"state": "queued"}, {"state": "succeeded"}))


def rig(
    sc: Scenario = TIMED,
    *,
    seed: int | None = None,
    fail_first: int = 0,
    failure: Literal["status", "raise"] = "status",
) -> Rig:
    clock = ManualClock()
    sender = RecordingSender(clock, fail_first=fail_first, failure=failure)
    return Rig(TaskEngine(sc, clock, {"rixapi": PROFILE}, sender, seed=seed), clock, sender)


def kind_of(error: pytest.ExceptionInfo[FakeApiError]) -> ErrorKind:
    return error.value.kind


# -- timed phases ------------------------------------------------------------------------------------


async def test_timed_phases_are_derived_from_the_clock() -> None:
    r = rig()
    task = r.submit()
    assert (task.state, task.progress, task.finished_at, task.outputs) == ("queued", 0, None, ())
    assert task.created_at == T0
    await r.engine.shift(1.5)
    assert (r.view(task.id).state, r.view(task.id).progress) == ("queued", 0)
    await r.engine.shift(0.5)
    assert (r.view(task.id).state, r.view(task.id).progress) == ("running", 0)
    await r.engine.shift(4)
    assert (r.view(task.id).state, r.view(task.id).progress) == ("running", 50)
    await r.engine.shift(3.5)
    assert (r.view(task.id).state, r.view(task.id).progress) == ("running", 93)
    await r.engine.advance_to(T0 + 10)
    done = r.view(task.id)
    assert (done.state, done.progress) == ("succeeded", 100)
    assert done.finished_at == T0 + 10
    assert done.outputs == (f"http://127.0.0.1/files/{task.id}/0.mp4",)
    assert done.error is None
    await r.engine.shift(1000)
    assert r.view(task.id).finished_at == T0 + 10, "completion time is the start of the terminal phase"


async def test_progress_rises_through_running_and_stays_below_100() -> None:
    r = rig()
    task = r.submit()
    seen = []
    for tenth in range(80):
        await r.engine.advance_to(T0 + 2 + tenth / 10)
        view = r.view(task.id)
        assert view.state == "running"
        seen.append(view.progress)
    await r.engine.advance_to(T0 + 10)
    assert seen == sorted(seen)
    assert seen[0] == 0
    assert 95 <= seen[-1] <= 99
    assert r.view(task.id).progress == 100


async def test_view_can_look_at_an_earlier_moment() -> None:
    r = rig()
    task = r.submit()
    await r.engine.shift(100)
    t = r.engine.get(task.id)
    assert r.engine.view(t, at=T0 + 1).state == "queued"
    assert r.engine.view(t, at=T0 + 6).progress == 50
    assert r.engine.timeline(t) == [("queued", T0), ("running", T0 + 2), ("succeeded", T0 + 10)]


async def test_two_running_phases_split_the_progress_and_call_back_once() -> None:
    r = rig(
        scenario(
            phases(
                {"state": "running", "for": "10s"},
                {"state": "running", "for": "10s"},
                {"state": "succeeded"},
            )
        )
    )
    task = r.submit(callback_url=CB)
    await r.engine.shift(5)
    assert r.view(task.id).progress == 25
    await r.engine.shift(10)
    assert r.view(task.id).progress == 75
    await r.engine.shift(5)
    assert r.sender.statuses == ["in_progress", "completed"]


async def test_a_ten_minute_job_finishes_on_one_shift() -> None:
    r = rig(
        scenario(
            phases(
                {"state": "queued", "for": "1m"}, {"state": "running", "for": "9m"}, {"state": "succeeded"}
            )
        )
    )
    task = r.submit(callback_url=CB)
    await r.engine.shift(599)
    assert r.view(task.id).state == "running"
    await r.engine.shift(1)
    done = r.view(task.id)
    assert done.state == "succeeded"
    assert done.finished_at == T0 + 600
    assert r.clock.now() == T0 + 600
    assert r.sender.statuses == ["queued", "in_progress", "completed"]
    assert [c.at for c in r.sender.calls] == [T0, T0 + 60, T0 + 600]


async def test_a_ten_minute_job_on_a_single_shift_delivers_everything_before_returning() -> None:
    r = rig(
        scenario(
            phases(
                {"state": "queued", "for": "1m"}, {"state": "running", "for": "9m"}, {"state": "succeeded"}
            )
        )
    )
    task = r.submit(callback_url=CB)
    await r.engine.shift(600)
    assert r.view(task.id).state == "succeeded"
    assert [d.state for d in r.engine.deliveries] == ["queued", "running", "succeeded"]
    assert r.engine.next_due() is None


async def test_the_clock_only_moves_forward() -> None:
    r = rig()
    await r.engine.shift(5)
    with pytest.raises(ValueError, match="non-negative"):
        await r.engine.shift(-1)
    with pytest.raises(ValueError, match="cannot go back"):
        await r.engine.advance_to(T0)
    assert r.clock.now() == T0 + 5


# -- jitter --------------------------------------------------------------------------------------------

JITTERY = scenario(
    phases(
        {"state": "queued", "for": "10s", "jitter": "5s"},
        {"state": "running", "for": "20s", "jitter": "5s"},
        {"state": "succeeded"},
    )
)


def durations(r: Rig, count: int = 5) -> list[tuple[float | None, ...]]:
    ids = [r.submit().id for _ in range(count)]
    return [tuple(s.duration for s in r.engine.get(i).steps) for i in ids]


def test_jitter_is_seeded() -> None:
    first = durations(rig(JITTERY, seed=7))
    assert first == durations(rig(JITTERY, seed=7))
    assert first != durations(rig(JITTERY, seed=8))
    assert len(set(first)) == len(first), "each task draws its own jitter"
    for queued, running, succeeded in first:
        assert queued is not None
        assert running is not None
        assert 5 <= queued <= 15
        assert 15 <= running <= 25
        assert succeeded is None
    assert any(d[0] != 10 for d in first)


async def test_jittered_task_finishes_at_the_sum_of_its_drawn_durations() -> None:
    r = rig(JITTERY, seed=3)
    task = r.submit()
    end = T0
    for step in r.engine.get(task.id).steps:
        end += step.duration or 0.0
    assert end != T0 + 30, "the jitter moved the end"
    await r.engine.advance_to(end)
    assert r.view(task.id).finished_at == end


# -- poll-count phases ------------------------------------------------------------------------------


async def test_poll_count_phases_advance_by_polls_only() -> None:
    r = rig(load_scenario("poll-count"))
    task = r.submit()
    assert task.state == "queued"
    for _ in range(5):
        assert r.view(task.id).state == "queued"
    assert r.view(task.id).polls == 0, "reading with view is not a poll"
    await r.engine.shift(3600)
    states = [r.poll(task.id) for _ in range(6)]
    assert [v.state for v in states] == [
        "queued",
        "running",
        "running",
        "succeeded",
        "succeeded",
        "succeeded",
    ]
    assert [v.polls for v in states] == [1, 2, 3, 4, 5, 6]
    assert [v.progress for v in states[:4]] == [0, 33, 66, 100]
    assert states[3].finished_at == T0 + 3600


async def test_views_between_polls_do_not_advance_a_poll_count_phase() -> None:
    r = rig(load_scenario("poll-count"))
    task = r.submit()
    assert r.poll(task.id).state == "queued"
    assert r.poll(task.id).state == "running"
    for _ in range(10):
        assert r.view(task.id).state == "running"
    assert r.poll(task.id).state == "running"
    assert r.poll(task.id).state == "succeeded"


async def test_poll_count_after_a_timed_phase_counts_only_polls_in_it() -> None:
    r = rig(
        scenario(
            phases({"state": "queued", "for": "5s"}, {"state": "running", "polls": 2}, {"state": "succeeded"})
        )
    )
    task = r.submit(callback_url=CB)
    assert [r.poll(task.id).state for _ in range(3)] == ["queued"] * 3
    await r.engine.shift(5)
    assert [r.poll(task.id).state for _ in range(2)] == ["running", "running"]
    await r.engine.shift(7)
    assert r.poll(task.id).state == "succeeded"
    assert r.view(task.id).finished_at == T0 + 12
    await r.engine.shift(0)
    assert [(d.state, d.at) for d in r.engine.deliveries] == [
        ("queued", T0),
        ("running", T0 + 5),
        ("succeeded", T0 + 12),
    ]


async def test_poll_count_zero_is_never_seen() -> None:
    r = rig(
        scenario(
            phases({"state": "queued", "polls": 0}, {"state": "running", "polls": 1}, {"state": "succeeded"})
        )
    )
    task = r.submit()
    assert [r.poll(task.id).state for _ in range(2)] == ["running", "succeeded"]


# -- manual phases and control -------------------------------------------------------------------------


async def test_manual_phase_waits_for_complete() -> None:
    r = rig(load_scenario("manual"))
    task = r.submit()
    await r.engine.shift(24 * 3600)
    assert r.view(task.id).state == "running"
    assert r.engine.projected_end(r.engine.get(task.id)) is None
    done = r.engine.complete(task.id)
    assert (done.state, done.progress, done.finished_at) == ("succeeded", 100, T0 + 24 * 3600)
    assert len(done.outputs) == 1
    await r.engine.shift(10)
    assert r.view(task.id).state == "succeeded"
    with pytest.raises(TaskStateError, match="already succeeded"):
        r.engine.complete(task.id)
    with pytest.raises(TaskStateError):
        r.engine.fail(task.id, "too late")
    assert r.view(task.id).state == "succeeded"


async def test_manual_phase_waits_for_fail_with_message_and_code() -> None:
    r = rig(load_scenario("manual"))
    task = r.submit()
    await r.engine.shift(30)
    failed = r.engine.fail(task.id, "content policy violation", "policy")
    assert failed.state == "failed"
    assert failed.error == FailureSpec(message="content policy violation", code="policy")
    assert failed.outputs == ()
    assert failed.finished_at == T0 + 30
    with pytest.raises(TaskStateError, match="already failed"):
        r.engine.fail(task.id)
    with pytest.raises(TaskStateError):
        r.engine.complete(task.id)


async def test_completing_a_task_whose_timed_phases_ran_out_is_refused() -> None:
    r = rig()
    task = r.submit()
    await r.engine.shift(10)
    with pytest.raises(TaskStateError):
        r.engine.complete(task.id)


async def test_forcing_an_outcome_while_queued_skips_the_rest() -> None:
    r = rig()
    task = r.submit(callback_url=CB)
    await r.engine.shift(1)
    r.engine.complete(task.id)
    await r.engine.shift(100)
    assert r.engine.timeline(r.engine.get(task.id)) == [("queued", T0), ("succeeded", T0 + 1)]
    assert r.view(task.id).finished_at == T0 + 1
    assert r.sender.statuses == ["queued", "completed"], "the cancelled running phase never calls back"


def test_control_of_an_unknown_task_is_a_key_error() -> None:
    r = rig()
    with pytest.raises(KeyError, match="nope"):
        r.engine.complete("nope")


# -- failures ------------------------------------------------------------------------------------------


async def test_failed_phase_carries_the_scenario_error() -> None:
    r = rig(
        scenario(
            phases(
                {"state": "queued", "for": "1s"},
                {"state": "failed", "error": {"message": "GPU on fire", "code": "gpu_error"}},
            )
        )
    )
    task = r.submit(callback_url=CB)
    await r.engine.shift(1)
    view = r.view(task.id)
    assert view.state == "failed"
    assert view.error == FailureSpec(message="GPU on fire", code="gpu_error")
    assert view.outputs == ()
    assert view.finished_at == T0 + 1
    last = r.sender.calls[-1].json
    assert (last["status"], last["error"]) == ("failed", "GPU on fire")
    assert "outputs" not in last


async def test_failed_phase_without_error_uses_the_default_message() -> None:
    r = rig(scenario(phases({"state": "failed"})))
    view = r.submit()
    assert view.error == FailureSpec(message=None, code=None)
    assert view.error.text() == "generation failed"  # worded when rendered


async def test_prompt_rule_fails_only_matching_prompts() -> None:
    r = rig(
        scenario(
            {
                "name": "nsfw",
                "match": {"prompt": "(?i)nsfw"},
                "phases": [
                    {"state": "queued", "for": "1s"},
                    {"state": "failed", "error": {"message": "blocked", "code": "nsfw"}},
                ],
            },
            {"name": "ok", "phases": [{"state": "queued", "for": "1s"}, {"state": "succeeded"}]},
        )
    )
    bad = r.submit(prompt="something NSFW here")
    good = r.submit(prompt="a cat surfing")
    await r.engine.shift(1)
    assert r.view(bad.id).state == "failed"
    assert r.view(bad.id).error == FailureSpec(message="blocked", code="nsfw")
    assert r.view(good.id).state == "succeeded"
    assert r.view(good.id).error is None
    assert (r.engine.get(bad.id).rule, r.engine.get(good.id).rule) == ("nsfw", "ok")


# -- callbacks ---------------------------------------------------------------------------------------------


async def test_callbacks_follow_every_change_in_order_during_shift() -> None:
    r = rig()
    task = r.submit(callback_url=CB)
    assert r.sender.calls == [], "nothing is sent until the clock is moved"
    await r.engine.shift(0)
    assert r.sender.statuses == ["queued"]
    await r.engine.shift(1.99)
    assert r.sender.statuses == ["queued"]
    await r.engine.advance_to(T0 + 2)
    assert r.sender.statuses == ["queued", "in_progress"]
    await r.engine.shift(100)
    assert r.sender.statuses == ["queued", "in_progress", "completed"]
    assert [c.at for c in r.sender.calls] == [T0, T0 + 2, T0 + 10]
    assert {c.url for c in r.sender.calls} == {CB}
    assert {c.timeout for c in r.sender.calls} == {PROFILE.callbacks.timeout}
    queued, running, done = (c.json for c in r.sender.calls)
    assert queued == {"id": task.id, "status": "queued", "created_at": int(T0)}
    assert running == {"id": task.id, "status": "in_progress", "created_at": int(T0)}
    assert done["completed_at"] == int(T0 + 10)
    assert done["outputs"] == [f"http://127.0.0.1/files/{task.id}/0.mp4"]
    assert done["usage"]["type"] == "tokens"
    final = r.view(task.id)
    assert r.sender.calls[-1].body == render_task(final)
    log = list(r.engine.deliveries)
    assert [(d.attempt, d.state, d.status, d.delivered) for d in log] == [
        (1, "queued", 200, True),
        (1, "running", 200, True),
        (1, "succeeded", 200, True),
    ]
    assert [d.body.encode() for d in log] == [c.body for c in r.sender.calls]


async def test_no_callback_url_no_deliveries() -> None:
    r = rig()
    r.submit()
    await r.engine.shift(100)
    assert r.sender.calls == []
    assert list(r.engine.deliveries) == []


async def test_callbacks_of_two_tasks_interleave_by_time() -> None:
    r = rig()
    a = r.submit(callback_url=CB + "/a")
    await r.engine.shift(1)
    b = r.submit(callback_url=CB + "/b")
    await r.engine.shift(20)
    assert [(c.json["id"], c.json["status"], c.at) for c in r.sender.calls] == [
        (a.id, "queued", T0),
        (b.id, "queued", T0 + 1),
        (a.id, "in_progress", T0 + 2),
        (b.id, "in_progress", T0 + 3),
        (a.id, "completed", T0 + 10),
        (b.id, "completed", T0 + 11),
    ]


async def test_failed_delivery_is_retried_at_the_profile_delays() -> None:
    assert RETRIES == (10.0, 60.0, 300.0)
    r = rig(WAITING, fail_first=2)
    r.submit(callback_url=CB)
    await r.engine.shift(0)
    assert len(r.engine.deliveries) == 1
    await r.engine.advance_to(T0 + 9)
    assert len(r.engine.deliveries) == 1, "no retry before its delay"
    await r.engine.advance_to(T0 + 10)
    assert len(r.engine.deliveries) == 2
    await r.engine.advance_to(T0 + 69)
    assert len(r.engine.deliveries) == 2
    await r.engine.advance_to(T0 + 70)
    await r.engine.shift(10_000)
    log = list(r.engine.deliveries)
    assert [(d.attempt, d.at, d.status, d.delivered) for d in log] == [
        (1, T0, 500, False),
        (2, T0 + 10, 500, False),
        (3, T0 + 70, 200, True),
    ]
    assert len({d.body for d in log}) == 1, "a retry sends the same body"
    assert [c.at for c in r.sender.calls] == [T0, T0 + 10, T0 + 70]


async def test_delivery_error_is_logged_and_retried() -> None:
    r = rig(WAITING, fail_first=1, failure="raise")
    r.submit(callback_url=CB)
    await r.engine.shift(100)
    first, second = r.engine.deliveries
    assert (first.status, first.error, first.delivered) == (None, "connection refused", False)
    assert (second.attempt, second.at, second.status, second.error, second.delivered) == (
        2,
        T0 + 10,
        200,
        None,
        True,
    )


async def test_retries_stop_after_the_last_delay() -> None:
    r = rig(WAITING, fail_first=1000)
    r.submit(callback_url=CB)
    await r.engine.shift(100_000)
    log = list(r.engine.deliveries)
    assert [d.attempt for d in log] == [1, 2, 3, 4]
    assert [d.at for d in log] == [T0, T0 + 10, T0 + 70, T0 + 370]
    assert not any(d.delivered for d in log)
    assert r.engine.next_due() is None


@pytest.mark.parametrize(("status", "delivered"), [(201, True), (204, True), (302, False), (404, False)])
async def test_any_2xx_is_a_delivery(status: int, delivered: bool) -> None:
    r = rig(WAITING)
    r.sender.ok_status = status
    r.submit(callback_url=CB)
    await r.engine.shift(0)
    assert [d.delivered for d in r.engine.deliveries] == [delivered]


async def test_scenario_overrides_retry_delays_and_timeout() -> None:
    sc = validate_scenario(
        {
            "webhooks": {"retry_delays": ["2s", "1m"], "timeout": "3s"},
            "rules": [phases({"state": "queued"}, {"state": "succeeded"})],
        }
    )
    r = rig(sc, fail_first=1000)
    r.submit(callback_url=CB)
    await r.engine.advance_to(T0 + 1)
    assert len(r.engine.deliveries) == 1
    await r.engine.shift(100_000)
    assert [(d.attempt, d.at) for d in r.engine.deliveries] == [(1, T0), (2, T0 + 2), (3, T0 + 62)]
    assert {c.timeout for c in r.sender.calls} == {3.0}


async def test_retry_of_an_old_state_still_goes_out_after_the_task_moves_on() -> None:
    r = rig(fail_first=1)
    task = r.submit(callback_url=CB)
    await r.engine.shift(100)
    assert sorted((d.at, d.attempt, d.state) for d in r.engine.deliveries) == [
        (T0, 1, "queued"),
        (T0 + 2, 1, "running"),
        (T0 + 10, 1, "succeeded"),
        (T0 + 10, 2, "queued"),
    ]
    assert [d.delivered for d in r.engine.deliveries if d.state == "queued"] == [False, True]
    queued = {"id": task.id, "status": "queued", "created_at": int(T0)}
    assert [c.json for c in r.sender.calls if c.at == T0 + 10 and c.json["status"] == "queued"] == [queued]


# -- accounts --------------------------------------------------------------------------------------------

CLOSED = {"open": False, "keys": {"k1": {"balance": 1.0}}}


@pytest.mark.parametrize("key", ["stranger", "", None])
def test_closed_accounts_refuse_unknown_and_empty_keys(key: str | None) -> None:
    r = rig(scenario(phases({"state": "succeeded"}), accounts=CLOSED))
    with pytest.raises(FakeApiError) as error:
        r.engine.authorize("rixapi", key)
    assert kind_of(error) is ErrorKind.UNAUTHORIZED
    with pytest.raises(FakeApiError) as error:
        r.submit(key=key)
    assert kind_of(error) is ErrorKind.UNAUTHORIZED
    assert r.engine.tasks == {}
    assert r.engine.authorize("rixapi", "k1").balance == 1.0


def test_open_accounts_accept_any_non_empty_key() -> None:
    r = rig(scenario(phases({"state": "succeeded"}), accounts={"open": True}))
    for key in ("anything", "sk-123", "x"):
        assert r.engine.authorize("rixapi", key).key == key
        assert r.submit(key=key).key == key
    for empty in ("", None):
        with pytest.raises(FakeApiError) as error:
            r.engine.authorize("rixapi", empty)
        assert kind_of(error) is ErrorKind.UNAUTHORIZED


def test_open_accounts_use_the_open_key_spec_and_named_keys_their_own() -> None:
    accounts = {"open": True, "open_key": {"balance": 5.0}, "keys": {"vip": {"balance": None}}}
    r = rig(scenario(phases({"state": "succeeded"}), accounts=accounts))
    assert r.engine.authorize("rixapi", "anyone").balance == 5.0
    assert r.engine.authorize("rixapi", "vip").balance is None


def test_price_is_charged_and_an_uncovered_submit_changes_nothing() -> None:
    r = rig(scenario(phases({"state": "succeeded"}), accounts=CLOSED, prices={"kling-*": 0.4}))
    account = r.engine.authorize("rixapi", "k1")
    first = r.submit()
    assert first.cost == 0.4
    assert account.balance == pytest.approx(0.6)
    r.submit()
    assert account.balance == pytest.approx(0.2)
    with pytest.raises(FakeApiError) as error:
        r.submit()
    assert kind_of(error) is ErrorKind.INSUFFICIENT_CREDITS
    assert account.balance == pytest.approx(0.2)
    assert len(r.engine.tasks) == 2
    assert account.spent == pytest.approx(0.8)
    free = r.submit("flux-pro")
    assert free.cost == 0.0
    assert account.balance == pytest.approx(0.2)


def test_per_second_price_follows_the_requested_duration() -> None:
    r = rig(scenario(phases({"state": "succeeded"}), accounts=CLOSED, prices={"sora*": {"per_second": 0.1}}))
    account = r.engine.authorize("rixapi", "k1")
    task = r.submit("sora-2", params={"duration": "4"})
    assert task.cost == pytest.approx(0.4)
    assert account.balance == pytest.approx(0.6)
    with pytest.raises(FakeApiError) as error:
        r.submit("sora-2", params={"duration": 8})
    assert kind_of(error) is ErrorKind.INSUFFICIENT_CREDITS
    assert account.balance == pytest.approx(0.6)
    assert len(r.engine.tasks) == 1


def test_per_call_and_per_second_add_up() -> None:
    prices = {"sora*": {"per_call": 0.05, "per_second": 0.1}}
    r = rig(scenario(phases({"state": "succeeded"}), accounts=CLOSED, prices=prices))
    assert r.submit("sora-2", params={"duration": 3}).cost == pytest.approx(0.35)
    assert r.engine.authorize("rixapi", "k1").balance == pytest.approx(0.65)


async def test_per_second_price_charges_the_seconds_the_usage_reports() -> None:
    r = rig(scenario(phases({"state": "succeeded"}), prices={"sora*": {"per_second": 0.1}}))
    task = r.submit("sora-2")
    assert task.usage is not None
    assert task.usage.seconds == 5.0
    assert task.cost == pytest.approx(0.1 * task.usage.seconds)


async def test_rpm_cap_refuses_with_retry_after_and_recovers() -> None:
    r = rig(scenario(phases({"state": "succeeded"}), accounts={"open": False, "keys": {"k1": {"rpm": 2}}}))
    r.engine.authorize("rixapi", "k1")
    r.engine.authorize("rixapi", "k1")
    with pytest.raises(FakeApiError) as error:
        r.engine.authorize("rixapi", "k1")
    assert kind_of(error) is ErrorKind.RATE_LIMITED
    assert error.value.retry_after == 60
    await r.engine.shift(59)
    with pytest.raises(FakeApiError) as error:
        r.engine.authorize("rixapi", "k1")
    assert error.value.retry_after == 1
    await r.engine.shift(1)
    r.engine.authorize("rixapi", "k1")
    r.engine.authorize("rixapi", "k1")
    with pytest.raises(FakeApiError):
        r.engine.authorize("rixapi", "k1")


async def test_rpm_retry_after_counts_from_the_oldest_request_in_the_window() -> None:
    r = rig(scenario(phases({"state": "succeeded"}), accounts={"open": True, "open_key": {"rpm": 2}}))
    r.engine.authorize("rixapi", "k1")
    await r.engine.shift(10)
    r.engine.authorize("rixapi", "k1")
    r.engine.authorize("rixapi", "k2")  # each key has its own window
    await r.engine.shift(10)
    with pytest.raises(FakeApiError) as error:
        r.engine.authorize("rixapi", "k1")
    assert error.value.retry_after == 40
    await r.engine.shift(40)
    r.engine.authorize("rixapi", "k1")


CONCURRENT = scenario(
    {
        "name": "short",
        "match": {"prompt": "short"},
        "phases": [{"state": "running", "for": "15s"}, {"state": "succeeded"}],
    },
    phases({"state": "queued", "for": "10s"}, {"state": "running", "for": "20s"}, {"state": "succeeded"}),
    accounts={"open": True, "open_key": {"max_concurrent": 2}},
)


async def test_max_concurrent_refuses_until_the_earliest_task_ends() -> None:
    r = rig(CONCURRENT)
    r.submit(prompt="long")  # ends at T0 + 30
    await r.engine.shift(5)
    r.submit(prompt="short")  # ends at T0 + 20
    await r.engine.shift(2)
    with pytest.raises(FakeApiError) as error:
        r.submit(prompt="long")
    assert kind_of(error) is ErrorKind.TOO_MANY_TASKS
    assert error.value.retry_after == 13
    assert len(r.engine.tasks) == 2
    r.submit(key="other")  # the cap is per key
    await r.engine.shift(12)
    with pytest.raises(FakeApiError) as error:
        r.submit(prompt="long")
    assert error.value.retry_after == 1
    await r.engine.shift(1)
    r.submit(prompt="long")
    with pytest.raises(FakeApiError):
        r.submit(prompt="long")


async def test_max_concurrent_frees_a_slot_when_a_task_is_forced_to_finish() -> None:
    r = rig(
        scenario(
            phases({"state": "queued", "for": "1s"}, {"state": "running"}, {"state": "succeeded"}),
            accounts={"open_key": {"max_concurrent": 1}},
        )
    )
    task = r.submit()
    await r.engine.shift(3600)
    with pytest.raises(FakeApiError) as error:
        r.submit()
    assert kind_of(error) is ErrorKind.TOO_MANY_TASKS
    assert error.value.retry_after == 1, "a task waiting on control has no projected end"
    r.engine.fail(task.id)
    r.submit()


def test_unknown_model_is_refused_unless_accepted() -> None:
    r = rig(scenario(phases({"state": "succeeded"}), accounts=CLOSED, prices={"*": 0.1}))
    with pytest.raises(FakeApiError) as error:
        r.submit("no-such-model")
    assert kind_of(error) is ErrorKind.UNKNOWN_MODEL
    assert error.value.param == "model"
    assert r.engine.tasks == {}
    assert r.engine.authorize("rixapi", "k1").balance == 1.0

    lax = rig(scenario(phases({"state": "succeeded"}), models={"accept_unknown": True}))
    view = lax.submit("no-such-model")
    assert (view.state, view.kind, view.usage) == ("succeeded", "image", None)
    assert view.outputs[0].endswith(".png")
    video = rig(
        scenario(phases({"state": "succeeded"}), models={"accept_unknown": True, "unknown_kind": "video"})
    )
    assert video.submit("no-such-model").outputs[0].endswith(".mp4")


# -- usage ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "kind", "output_key"),
    [
        ("kling-v2", "video", "image_tokens"),
        ("doubao-seedream-4", "image", "image_tokens"),
        ("doubao-seedance-1-pro", "video", "image_tokens"),
    ],
)
async def test_token_usage_appears_at_the_end(model: str, kind: str, output_key: str) -> None:
    r = rig()
    prompt = "a cat surfing a very large wave at sunset"
    task = r.submit(model, prompt=prompt, params={"duration": "5"})
    assert task.kind == kind
    assert task.usage is None
    await r.engine.shift(5)
    assert r.view(task.id).usage is None, "no usage while running"
    await r.engine.shift(5)
    usage = r.view(task.id).usage
    assert usage is not None
    assert usage.type == "tokens"
    assert usage.input_tokens == len(prompt) // 4 + 1
    assert usage.output_tokens > 0
    assert usage.output_token_details == {output_key: usage.output_tokens}
    body = json.loads(render_task(r.view(task.id)))
    assert body["usage"]["total_tokens"] == usage.input_tokens + usage.output_tokens
    assert body["usage"]["input_tokens"] == usage.input_tokens


async def test_duration_usage_for_sora_and_none_for_flux() -> None:
    r = rig()
    sora = r.submit("sora-2", params={"duration": "8"})
    flux = r.submit("flux-pro")
    await r.engine.shift(10)
    usage = r.view(sora.id).usage
    assert usage is not None
    assert (usage.type, usage.seconds) == ("duration", 8.0)
    assert json.loads(render_task(r.view(sora.id)))["usage"] == {
        "type": "duration",
        "seconds": 8.0,
    }
    assert r.view(flux.id).usage is None
    assert "usage" not in json.loads(render_task(r.view(flux.id)))


# -- determinism and ownership ---------------------------------------------------------------------------


async def script(r: Rig) -> tuple[list[str], list[bytes], list[bytes]]:
    ids = [r.submit(m, callback_url=CB).id for m in ("kling-v2", "flux-pro", "sora-2")]
    await r.engine.shift(3)
    rendered = [render_task(r.view(i)) for i in ids]
    await r.engine.shift(30)
    rendered += [render_task(r.view(i)) for i in ids]
    return ids, rendered, [c.body for c in r.sender.calls]


async def test_same_seed_same_ids_and_bytes() -> None:
    ids, rendered, sent = await script(rig(JITTERY, seed=42))
    again = await script(rig(JITTERY, seed=42))
    assert (ids, rendered, sent) == again
    assert len(set(ids)) == 3
    other_ids, _, _ = await script(rig(JITTERY, seed=43))
    assert set(other_ids).isdisjoint(ids)


def test_scenario_seed_is_the_default_seed() -> None:
    sc = scenario(phases({"state": "succeeded"}), seed=5)
    assert rig(sc).engine.seed == 5
    assert rig(sc).submit().id == rig(TIMED, seed=5).submit().id
    assert rig(sc, seed=6).submit().id != rig(sc).submit().id


def test_query_of_another_keys_task_or_an_unknown_id_is_not_found() -> None:
    r = rig(load_scenario("poll-count"))
    task = r.submit(key="k1")
    for api, task_id, key in [
        ("rixapi", task.id, "k2"),
        ("rixapi", "task_doesnotexist", "k1"),
        ("otherapi", task.id, "k1"),
    ]:
        with pytest.raises(FakeApiError) as error:
            r.engine.query(api, task_id, key)
        assert kind_of(error) is ErrorKind.NOT_FOUND
    assert r.view(task.id).polls == 0, "a refused query is not a poll"
    assert r.poll(task.id).state == "queued"


# -- known bugs -------------------------------------------------------------------------------------------


async def test_forcing_a_task_before_a_due_phase_end_has_run_keeps_its_callback() -> None:
    r = rig(load_scenario("manual"))
    task = r.submit(callback_url=CB)
    await r.engine.shift(0)
    # On a SystemClock, time passes while the server's event runner sleeps; emulate that here.
    r.clock.set(T0 + 5)
    assert r.view(task.id).state == "running"
    r.engine.complete(task.id)
    await r.engine.run_due()
    assert r.engine.timeline(r.engine.get(task.id)) == [
        ("queued", T0),
        ("running", T0 + 1),
        ("succeeded", T0 + 5),
    ]
    assert r.sender.statuses == ["queued", "in_progress", "completed"]


async def test_callbacks_stay_in_order_when_a_poll_outruns_a_due_phase_end() -> None:
    r = rig(
        scenario(
            phases({"state": "queued", "for": 0}, {"state": "running", "polls": 1}, {"state": "succeeded"})
        )
    )
    task = r.submit(callback_url=CB)
    assert r.poll(task.id).state == "running"
    assert r.poll(task.id).state == "succeeded"
    await r.engine.shift(0)
    assert r.sender.statuses == ["queued", "in_progress", "completed"]


def test_drawn_durations_are_seeded_and_bounded() -> None:
    drawn = scenario(
        phases(
            {"state": "queued", "for": {"uniform": ["10s", "20s"]}},
            {"state": "running", "for": {"lognormal": {"median": "1m", "sigma": 0.5}}},
            {"state": "succeeded"},
        )
    )
    runs = []
    for _ in range(2):
        r = rig(drawn, seed=3)
        tasks = [r.submit(prompt=f"p{i}").id for i in range(40)]
        runs.append([[s.duration or 0.0 for s in r.engine.get(t).steps[:2]] for t in tasks])
    assert runs[0] == runs[1], "the same seed draws the same durations"
    queued = [q for q, _ in runs[0]]
    running = sorted(run for _, run in runs[0])
    assert all(10 <= q <= 20 for q in queued)
    assert len(set(queued)) == 40
    assert 40 < running[20] < 90, "the median is near 1 minute"
    assert (running[0] < 45, running[-1] > 75) == (True, True), "a lognormal spreads both ways"


@pytest.mark.parametrize(("curve", "at_quarter"), [("linear", 25), ("ease_in", 6), ("ease_out", 43)])
def test_progress_curves(curve: str, at_quarter: int) -> None:
    r = rig(scenario(phases({"state": "running", "for": "100s", "curve": curve}, {"state": "succeeded"})))
    task = r.submit()
    r.clock.set(T0 + 25)
    assert r.view(task.id).progress == at_quarter


def test_a_held_price_is_taken_on_success_and_released_on_failure() -> None:
    sc = scenario(
        {"match": {"prompt": "bad"}, **phases({"state": "running", "for": "1s"}, {"state": "failed"})},
        phases({"state": "running", "for": "1s"}, {"state": "succeeded"}),
        prices={"*": 3},
        accounts={"keys": {"k1": {"balance": 7}}},
        apis={"rixapi": {"charge": "success"}},
    )
    r = rig(sc)
    good, bad = r.submit(prompt="good"), r.submit(prompt="bad")
    account = r.engine.accounts.authenticate("rixapi", "k1")
    assert (account.balance, account.held) == (7, 6)
    with pytest.raises(FakeApiError) as refused:
        r.submit(prompt="good")
    assert refused.value.kind is ErrorKind.INSUFFICIENT_CREDITS
    r.poll(good.id)
    r.clock.set(T0 + 1)
    assert (r.poll(good.id).state, r.poll(bad.id).state) == ("succeeded", "failed")
    assert (account.balance, account.held, account.spent) == (4, 0, 3)
