"""``FakeApi``: the fake driven from a test (or any sync code) while it serves in a thread.

Every method runs on the server's loop; the ``a``-prefixed twins of the clock operations are for
async tests whose own loop must keep running (e.g. a callback receiver served by the test itself).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fakeapi.admin import (
    BalanceQuery,
    FailBody,
    LoadScenarioBody,
    MoveToBody,
    ResetBody,
    ShiftBody,
    SpeedBody,
)
from fakeapi.engine import TaskView
from fakeapi.etiquette import Violation
from fakeapi.recorder import JournalEntry, JournalQuery
from fakeapi.scenario import FailureReason, ScenarioRef
from fakeapi.server import BackgroundServer
from fakeapi.webhooks import DeliveryAttempt


class SurpriseError(AssertionError):
    """The fake saw something a test did not expect: a request to no route, a crash, or (in strict
    mode) a client breaking the API's etiquette."""


class ClockControl:
    """The fake's clock: read it, shift it, move it; shifting runs everything that falls due."""

    def __init__(self, background: BackgroundServer) -> None:
        self._bg = background
        self._admin = background.server.admin

    def now(self) -> float:
        return self._bg.call(self._admin.now)

    def shift(self, seconds: float) -> None:
        """Move time forward; every transition and callback due on the way runs first, in order."""
        self._bg.run(self._admin.shift(ShiftBody(seconds=seconds)))

    def move_to(self, t: float) -> None:
        """Move time to Unix time ``t`` (never backwards)."""
        self._bg.run(self._admin.move_to(MoveToBody(t=t)))

    def set_speed(self, speed: float) -> None:
        """Make the system clock run ``speed`` times as fast from now on (a virtual clock refuses)."""
        self._bg.call(lambda: self._admin.set_speed(SpeedBody(speed=speed)))

    async def ashift(self, seconds: float) -> None:
        await self._bg.arun(self._admin.shift(ShiftBody(seconds=seconds)))

    async def amove_to(self, t: float) -> None:
        await self._bg.arun(self._admin.move_to(MoveToBody(t=t)))


class FakeApi:
    """What the ``fakeapi`` fixture gives a test: URLs, clock, tasks, logs and control.

    Each operation is also served over HTTP under ``/_fakeapi/`` (see ``fakeapi.admin``).
    """

    def __init__(self, background: BackgroundServer) -> None:
        self._bg = background
        self._admin = background.server.admin
        self.clock = ClockControl(background)

    @property
    def base_url(self) -> str:
        return self._bg.server.base_url

    def url_for(self, api: str) -> str:
        """The base URL to configure a client of ``api`` with, e.g. ``url_for("rixapi")``."""
        return self._bg.server.url_for(api)

    def root_url_for(self, api: str) -> str:
        """The root URL of ``api``'s own port, where it answers at its real paths: for a client whose
        base URL is the real service's root (``https://api.apixo.ai``), e.g. ``root_url_for("apixo")``."""
        return self._bg.server.root_url_for(api)

    @property
    def seed(self) -> int:
        return self._bg.call(self._admin.seed)

    def load_scenario(
        self,
        scenario: ScenarioRef | None = None,
        *,
        seed: int | None = None,
        overrides: dict[str, Any] | None = None,
        strict: bool | None = None,
    ) -> None:
        """Start over with a scenario (bundled name, path, dict or ``Scenario``; ``None``: the current
        one) with ``overrides`` deep-merged onto it (mappings merge key by key, anything else
        replaces), and ``seed``; ``strict`` turns strict mode on or off (``None``: as the scenario's
        ``etiquette.strict`` says)."""
        if isinstance(scenario, Path):
            scenario = str(scenario)
        body = LoadScenarioBody(scenario=scenario, seed=seed, overrides=overrides, strict=strict)
        self._bg.run(self._admin.load_scenario(body))

    def reset(self, *, seed: int | None = None) -> None:
        """Start over with the current scenario: no tasks, fresh accounts, clock and logs."""
        self._bg.run(self._admin.reset(ResetBody(seed=seed)))

    @property
    def tasks(self) -> list[TaskView]:
        """Every task, as it stands now (reading does not count as a poll)."""
        return self._bg.call(self._admin.tasks)

    def task(self, task_id: str) -> TaskView:
        return self._bg.call(lambda: self._admin.task(task_id))

    def timeline(self, task_id: str) -> list[tuple[str, float]]:
        """The canonical states a task has entered so far, with their clock times."""
        return self._bg.call(lambda: self._admin.timeline(task_id))

    def complete(self, task_id: str) -> TaskView:
        """Finish a task successfully now."""
        return self._bg.call(lambda: self._admin.complete(task_id))

    def fail(
        self,
        task_id: str,
        message: str | None = None,
        code: str | None = None,
        reason: FailureReason = "generation_failed",
    ) -> TaskView:
        """Fail a task now: with this message, or the API's words for ``reason``, and ``code``
        (for APIs that have one), or the API's code for ``reason``."""
        body = FailBody(message=message, code=code, reason=reason)
        return self._bg.call(lambda: self._admin.fail(task_id, body))

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
        return self._bg.call(lambda: self._admin.balance(BalanceQuery(api=api, key=key)))

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

    def check(self) -> None:
        """Raise ``SurpriseError`` if the fake saw unmatched routes or crashed since the reset, or,
        in strict mode, if a client broke the API's etiquette (one ``{rule}: {message}`` line each)."""
        surprises = self.surprises
        violations = self.violations if self.strict else []
        parts = []
        if surprises:
            self._bg.call(self._admin.clear_surprises)
            parts.append("the fake saw unexpected requests:\n- " + "\n- ".join(surprises))
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
        return self._query(api, method, path, task_id, status).matching(self.journal)

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
        return self._query(api, method, path, task_id, status).expect(self.journal, times)

    def _query(
        self, api: str | None, method: str | None, path: str | None, task_id: str | None, status: int | None
    ) -> JournalQuery:
        mounts = {provider.name: provider.mount for provider in self._bg.server.providers}
        return JournalQuery(api, method, path, task_id, status, mounts)
