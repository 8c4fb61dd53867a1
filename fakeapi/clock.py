"""Clocks: every time read in fakeapi goes through one of these, never through ``time`` directly."""

from __future__ import annotations

import time
from typing import Protocol

DEFAULT_START = 1_767_225_600.0  # 2026-01-01T00:00:00Z: a fixed origin keeps virtual runs byte-identical


class Clock(Protocol):
    """What the engine needs of a clock: the current time in Unix seconds."""

    speed: float

    def now(self) -> float: ...

    def set(self, t: float) -> None: ...

    @property
    def is_virtual(self) -> bool: ...


class ManualClock:
    """A virtual clock that stands still until it is moved.

    The engine moves it (see ``TaskEngine.advance_to``) so that every event falling due on the way
    runs in order at its own time.
    """

    speed = 0.0

    def __init__(self, start: float = DEFAULT_START) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def set(self, t: float) -> None:
        if t < self._now:
            raise ValueError(f"the clock cannot go back from {self._now} to {t}")
        self._now = t

    @property
    def is_virtual(self) -> bool:
        return True


class SystemClock:
    """Wall-clock time, optionally sped up: at ``speed=60`` a minute of clock time takes a second."""

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._origin_wall = time.time()
        self._origin = self._origin_wall if start is None else start

    def now(self) -> float:
        return self._origin + (time.time() - self._origin_wall) * self.speed

    def set(self, t: float) -> None:
        if t < self.now():
            raise ValueError(f"the clock cannot go back from {self.now()} to {t}")
        self._origin, self._origin_wall = t, time.time()

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._origin, self._origin_wall = self.now(), time.time()
        self.speed = speed

    @property
    def is_virtual(self) -> bool:
        return False
