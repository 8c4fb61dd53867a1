"""``FakeApi``: the fake driven from a test (or any sync code) while it serves in a thread, or on the
test's own loop.

Every method runs on the server's loop; the ``a``-prefixed twins of the waiting operations are for
async tests, whose own loop must keep running (e.g. a callback receiver served by the test itself).
Misuse (a bad argument, a blocking operation on a running loop) raises ``UsageError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from fakeapi.admin import (
    BalanceQuery,
    FailBody,
    LoadScenarioBody,
    MoveToBody,
    RequestsQuery,
    ResetBody,
    ShiftBody,
    SpeedBody,
)
from fakeapi.engine import TaskView
from fakeapi.errors import (
    ClockRefused,
    ScenarioError,
    TaskStateError,
    UnknownTask,
    UsageError,
    validation_problems,
)
from fakeapi.etiquette import Violation
from fakeapi.recorder import JournalEntry, JournalQuery
from fakeapi.scenario import FailureReason, ScenarioRef
from fakeapi.scenario.types import registered_api
from fakeapi.server import BackgroundServer, ServerDriver
from fakeapi.webhooks import DeliveryAttempt

if TYPE_CHECKING:
    import pytest

T = TypeVar("T")

# What a test is told as it is (the docs name each): a misuse, an unknown task (a KeyError), a task
# that cannot change any more, a scenario that does not load. Any other error is a bug of the fake's,
# whose frames are kept.
TOLD = (UsageError, UnknownTask, TaskStateError, ScenarioError)


def __tracebackhide__(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    """pytest hides this module's frames from the report of what a test is told (``TOLD``), which
    then ends at the test's line."""
    return excinfo.errisinstance(TOLD)


def _told(operation: Callable[[], T]) -> T:
    """``operation()``, what it raises of ``TOLD`` raised from here: the frames of the server it
    came through tell a test nothing."""
    try:
        return operation()
    except TOLD as exc:
        raise exc.with_traceback(None) from None


async def _atold(operation: Awaitable[T]) -> T:
    """``_told`` for what an async test awaits."""
    try:
        return await operation
    except TOLD as exc:
        raise exc.with_traceback(None) from None


def _api(operation: str, api: str) -> str:
    """``api`` if an API has that name, else a ``UsageError`` (a misspelt name must not go unnoticed)."""
    try:
        return registered_api(api)
    except ValueError as exc:
        raise UsageError(f"{operation}: {exc}") from None


B = TypeVar("B", LoadScenarioBody, ResetBody, ShiftBody, MoveToBody, SpeedBody, FailBody, RequestsQuery)


class SurpriseError(AssertionError):
    """The fake saw something a test did not expect: a request to no route, a crash, or (in strict
    mode) a client breaking the API's etiquette."""


def _body(model: type[B], operation: str, **fields: Any) -> B:
    """The admin body of an operation, a bad argument as a ``UsageError`` naming the operation."""
    try:
        return model(**fields)
    except ValidationError as exc:
        raise UsageError(f"{operation}: {validation_problems(exc)}") from None


def _surprise_matches(surprise: str, pattern: str) -> bool:
    line = surprise.partition("\n")[0]
    return fnmatchcase(line, pattern) or fnmatchcase(line, pattern + " *")


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class ClockControl:
    """The fake's clock: read it, shift it, move it; shifting runs everything that falls due.

    ``shift`` and ``move_to`` wait until the callbacks they start reach their receivers, so they
    refuse to run on a thread whose event loop is running: they would block it, and anything of the
    test's that runs on it (a callback receiver, a client) with it. Async tests await ``ashift`` and
    ``amove_to``.
    """

    def __init__(self, background: ServerDriver, name: str = "fakeapi") -> None:
        self._bg = background
        self._admin = background.server.admin
        self._name = name

    def now(self) -> float:
        return self._bg.call(self._admin.now)

    def shift(self, seconds: float) -> None:
        """Move time forward; every transition and callback due on the way runs first, in order."""
        body = _body(ShiftBody, "clock.shift", seconds=seconds)
        self._wait(self._admin.shift(body), "shift")

    def move_to(self, t: float) -> None:
        """Move time to Unix time ``t`` (never backwards)."""
        body = _body(MoveToBody, "clock.move_to", t=t)
        self._wait(self._admin.move_to(body), "move_to")

    def set_speed(self, speed: float) -> None:
        """Make the system clock run ``speed`` times as fast from now on (a virtual clock refuses)."""
        body = _body(SpeedBody, "clock.set_speed", speed=speed)
        try:
            self._bg.call(lambda: self._admin.set_speed(body))
        except ClockRefused as exc:
            raise UsageError(f"clock.set_speed: {exc}") from None

    async def ashift(self, seconds: float) -> None:
        """``shift`` for async tests: waits without blocking the test's loop."""
        body = _body(ShiftBody, "clock.ashift", seconds=seconds)
        await self._await(self._admin.shift(body), "ashift")

    async def amove_to(self, t: float) -> None:
        """``move_to`` for async tests: waits without blocking the test's loop."""
        body = _body(MoveToBody, "clock.amove_to", t=t)
        await self._await(self._admin.move_to(body), "amove_to")

    def _wait(self, operation: Coroutine[Any, Any, None], name: str) -> None:
        background = self._bg
        if isinstance(background, BackgroundServer) and not _loop_running():
            try:
                background.run(operation)
            except ClockRefused as exc:
                raise UsageError(f"clock.{name}: {exc}") from None
            return
        operation.close()
        itself = "" if isinstance(background, BackgroundServer) else f", {self._name} itself"
        raise UsageError(
            f"{self._name}.clock.{name} would block this thread's running event loop (an async test's), "
            f"which anything of the test's that runs on it needs (a callback receiver, a client{itself}): "
            f"use `await {self._name}.clock.a{name}(...)`"
        )

    async def _await(self, operation: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await self._bg.arun(operation)
        except ClockRefused as exc:
            raise UsageError(f"clock.{name}: {exc}") from None


class FakeApi:
    """What the ``fakeapi`` fixture gives a test: URLs, clock, tasks, logs and control.

    Each operation is also served over HTTP under ``/_fakeapi/`` (see ``fakeapi.admin``).
    """

    def __init__(self, background: ServerDriver, name: str = "fakeapi") -> None:
        self._bg = background
        self._admin = background.server.admin
        self._name = name
        self._allowed: list[str] = []
        self._allowed_seen: set[str] = set()  # the allowed patterns a checked surprise matched
        self.clock = ClockControl(background, name)

    @property
    def base_url(self) -> str:
        return self._bg.server.base_url

    def url_for(self, api: str) -> str:
        """The base URL to configure a client of ``api`` with, e.g. ``url_for("rixapi")``."""
        return self._bg.server.url_for(_api("url_for", api))

    def root_url_for(self, api: str) -> str:
        """The root URL of ``api``'s own port, where it answers at its real paths: for a client whose
        base URL is the real service's root (``https://api.apixo.ai``), e.g. ``root_url_for("apixo")``."""
        return self._bg.server.root_url_for(_api("root_url_for", api))

    @property
    def seed(self) -> int:
        return self._bg.call(self._admin.seed)

    def load_scenario(
        self,
        scenario: ScenarioRef | Path | None = None,
        *,
        seed: int | None = None,
        overrides: dict[str, Any] | None = None,
        strict: bool | None = None,
    ) -> None:
        """Start over with a scenario (bundled name, path, dict or ``Scenario``; ``None``: the current
        one) with ``overrides`` deep-merged onto it (mappings merge key by key, anything else
        replaces), and ``seed``; ``strict`` turns strict mode on or off (``None``: as the scenario's
        ``etiquette.strict`` says)."""
        body = self._scenario_body(scenario, seed, overrides, strict)
        self._blocking(self._admin.load_scenario(body), "load_scenario")

    async def aload_scenario(
        self,
        scenario: ScenarioRef | Path | None = None,
        *,
        seed: int | None = None,
        overrides: dict[str, Any] | None = None,
        strict: bool | None = None,
    ) -> None:
        """``load_scenario`` for async tests."""
        body = self._scenario_body(scenario, seed, overrides, strict)
        await _atold(self._bg.arun(self._admin.load_scenario(body)))

    def reset(self, *, seed: int | None = None) -> None:
        """Start over with the current scenario: no tasks, fresh accounts, clock and logs."""
        self._blocking(self._admin.reset(_body(ResetBody, "reset", seed=seed)), "reset")

    async def areset(self, *, seed: int | None = None) -> None:
        """``reset`` for async tests."""
        await _atold(self._bg.arun(self._admin.reset(_body(ResetBody, "areset", seed=seed))))

    @staticmethod
    def _scenario_body(
        scenario: ScenarioRef | Path | None,
        seed: int | None,
        overrides: dict[str, Any] | None,
        strict: bool | None,
    ) -> LoadScenarioBody:
        ref = str(scenario) if isinstance(scenario, Path) else scenario
        return _body(
            LoadScenarioBody, "load_scenario", scenario=ref, seed=seed, overrides=overrides, strict=strict
        )

    def _blocking(self, operation: Coroutine[Any, Any, T], name: str) -> T:
        background = self._bg
        if isinstance(background, BackgroundServer):
            return _told(lambda: background.run(operation))
        operation.close()
        raise UsageError(
            f"{self._name} runs on this test's event loop, where {name} cannot wait: "
            f"use `await {self._name}.a{name}(...)`"
        )

    @property
    def tasks(self) -> list[TaskView]:
        """Every task, as it stands now (reading does not count as a poll)."""
        return self._bg.call(self._admin.tasks)

    def task(self, task_id: str) -> TaskView:
        return _told(lambda: self._bg.call(lambda: self._admin.task(task_id)))

    def timeline(self, task_id: str) -> list[tuple[str, float]]:
        """The canonical states a task has entered so far, with their clock times."""
        return _told(lambda: self._bg.call(lambda: self._admin.timeline(task_id)))

    def complete(self, task_id: str) -> TaskView:
        """Finish a task successfully now."""
        return _told(lambda: self._bg.call(lambda: self._admin.complete(task_id)))

    def fail(
        self,
        task_id: str,
        message: str | None = None,
        code: str | None = None,
        reason: FailureReason = "generation_failed",
    ) -> TaskView:
        """Fail a task now: with this message, or the API's words for ``reason``, and ``code``
        (for APIs that have one), or the API's code for ``reason``."""
        body = _body(FailBody, "fail", message=message, code=code, reason=reason)
        return _told(lambda: self._bg.call(lambda: self._admin.fail(task_id, body)))

    @property
    def journal(self) -> list[JournalEntry]:
        """Every request answered since the last reset, oldest first."""
        return self._bg.call(self._admin.journal)

    @property
    def deliveries(self) -> list[DeliveryAttempt]:
        """Every callback delivery attempt since the last reset, oldest first."""
        return self._bg.call(self._admin.deliveries)

    def balance(self, api: str, key: str) -> float | None:
        """A key's remaining balance on ``api`` (``None``: unlimited)."""
        query = BalanceQuery(api=_api("balance", api), key=key)
        return self._bg.call(lambda: self._admin.balance(query))

    @property
    def surprises(self) -> list[str]:
        """Requests to no route, and crashes in the fake, since the last reset."""
        return self._bg.call(self._admin.surprises)

    @property
    def violations(self) -> list[Violation]:
        """The etiquette rules the clients broke since the last reset (noted in the journal too)."""
        return self._bg.call(self._admin.violations)

    @property
    def strict(self) -> bool:
        """Whether the run is in strict mode: ``check`` then fails on etiquette violations too."""
        return self._bg.call(lambda: self._bg.server.engine.scenario.etiquette.strict)

    def allow_surprises(self, *patterns: str) -> None:
        """Expect surprises: one whose first line matches a pattern (``fnmatch``, e.g.
        ``"GET /rixapi/v1/nope"`` or ``"DELETE /rixapi/*"``: a pattern with no wildcard at its end
        matches the request's method and path) no longer fails ``check``, and ``check`` fails if a
        pattern matched none by then."""
        self._allowed.extend(patterns)

    def check(self) -> None:
        """Raise ``SurpriseError`` if the fake saw unmatched routes or crashed since the reset (but for
        the allowed ones; an allowed surprise that never came fails too), or, in strict mode, if a
        client broke the API's etiquette (one ``{rule}: {message}`` line each)."""
        __tracebackhide__ = True  # a failure shows the test's line, not the fake's
        surprises = self.surprises
        violations = self.violations if self.strict else []
        unexpected = [s for s in surprises if not any(_surprise_matches(s, p) for p in self._allowed)]
        # A test may check before its teardown does, which has forgotten the surprises by then.
        self._allowed_seen.update(p for p in self._allowed if any(_surprise_matches(s, p) for s in surprises))
        unseen = [p for p in self._allowed if p not in self._allowed_seen]
        if surprises:
            self._bg.call(self._admin.clear_surprises)
        parts = []
        if unexpected:
            parts.append("the fake saw unexpected requests:\n- " + "\n- ".join(unexpected))
        if unseen:
            parts.append(f"the test allowed surprises that never came: {', '.join(unseen)}")
        if violations:
            self._bg.call(self._admin.clear_violations)
            lines = "\n".join(map(str, violations))
            parts.append(f"the client broke the APIs' etiquette (strict mode):\n{lines}")
        if parts:
            raise SurpriseError("\n".join(parts))

    # -- the journal, for verification ----------------------------------------------------------

    def requests(
        self,
        api: str | None = None,
        method: str | None = None,
        path: str | None = None,
        task_id: str | None = None,
        status: int | None = None,
    ) -> list[JournalEntry]:
        """The journal's entries (since the last reset, oldest first) that match every criterion
        given: ``api`` by name, ``method`` in any case, ``path`` exactly or as a glob (``*``, ``?``,
        ``[...]``), as sent under the API's mount (``/rixapi/v1/task/*``) or relative to it
        (``/v1/task/*``), ``task_id`` and ``status`` exactly."""
        return self._query("requests", api, method, path, task_id, status).matching(self.journal)

    def assert_called(
        self,
        api: str | None = None,
        method: str | None = None,
        path: str | None = None,
        task_id: str | None = None,
        status: int | None = None,
        *,
        times: int | None = None,
    ) -> list[JournalEntry]:
        """Assert that the fake answered requests matching the criteria (as ``requests`` takes them)
        ``times`` times (``None``: at least once), and return them.

        The ``AssertionError`` says what was asked, how many matched, and lists the journal's
        nearest entries one per line, each with the criteria it misses.
        """
        __tracebackhide__ = True  # a failure shows the test's line, not the fake's
        if times is not None and times < 0:
            raise UsageError(f"assert_called: times: {times} is no count of requests")
        return self._query("assert_called", api, method, path, task_id, status).expect(self.journal, times)

    def _query(
        self,
        operation: str,
        api: str | None,
        method: str | None,
        path: str | None,
        task_id: str | None,
        status: int | None,
    ) -> JournalQuery:
        """The criteria; an unknown API is a ``UsageError`` (a typo would match nothing, silently)."""
        criteria = _body(
            RequestsQuery, operation, api=api, method=method, path=path, task_id=task_id, status=status
        )
        return self._admin.journal_query(criteria)
