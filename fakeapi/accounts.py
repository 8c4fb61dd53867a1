"""API keys, their credit balances, and their request-rate and concurrency caps."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.scenario.schema import Accounts, KeySpec

RATE_WINDOW = 60.0


@dataclass(slots=True)
class Account:
    """One key's live state. ``balance`` ``None`` means unlimited."""

    key: str
    balance: float | None
    rpm: int | None
    max_concurrent: int | None
    spent: float = 0.0
    held: float = 0.0
    recent: deque[float] = field(default_factory=deque)
    active: dict[str, None] = field(default_factory=dict)  # ordered set of unfinished task ids

    @property
    def available(self) -> float | None:
        """What new tasks may still spend: the balance less credits held for unfinished tasks."""
        return None if self.balance is None else round(self.balance - self.held, 9)

    def admit_request(self, now: float) -> None:
        """Count one request against the per-minute window, or refuse it with a Retry-After."""
        if self.rpm is None:
            return
        while self.recent and self.recent[0] <= now - RATE_WINDOW:
            self.recent.popleft()
        if len(self.recent) >= self.rpm:
            wait = self.recent[0] + RATE_WINDOW - now
            raise FakeApiError(
                ErrorKind.RATE_LIMITED,
                f"rate limit of {self.rpm} requests per minute reached",
                retry_after=max(1, math.ceil(wait)),
            )
        self.recent.append(now)

    def charge(self, cost: float) -> None:
        """Take ``cost`` now, or refuse it if the balance (less what is held) cannot cover it."""
        self.hold(cost)
        self.settle(cost)

    def hold(self, cost: float) -> None:
        """Set ``cost`` aside for a task that pays when it succeeds, or refuse it."""
        if self.available is not None and cost > self.available + 1e-9:
            raise FakeApiError(
                ErrorKind.INSUFFICIENT_CREDITS,
                f"insufficient balance: this task costs {cost:g}, remaining {self.available:g}",
            )
        self.held = round(self.held + cost, 9)

    def settle(self, cost: float) -> None:
        """Take a held ``cost`` from the balance."""
        self.release(cost)
        if self.balance is not None:
            self.balance = round(self.balance - cost, 9)
        self.spent = round(self.spent + cost, 9)

    def release(self, cost: float) -> None:
        """Give a held ``cost`` back (the task it was held for failed)."""
        self.held = round(max(0.0, self.held - cost), 9)


@dataclass(frozen=True, slots=True)
class Caps:
    """Per-key caps: requests per minute and unfinished tasks (``None``: no cap)."""

    rpm: int | None = None
    max_concurrent: int | None = None


class AccountBook:
    """The accounts of one scenario: which keys exist and what each may still do.

    A key has one account on each API, as real keys belong to one service each: its own balance,
    request window and unfinished tasks there.
    """

    def __init__(self, spec: Accounts, caps_of: Callable[[str], Caps]) -> None:
        self._spec = spec
        self._caps_of = caps_of
        self._accounts: dict[tuple[str, str], Account] = {}

    def authenticate(self, api: str, key: str | None) -> Account:
        """The account behind a bearer key on ``api``, or an ``unauthorized`` error."""
        if not key:
            raise FakeApiError(ErrorKind.UNAUTHORIZED, "no API key was provided")
        account = self._accounts.get((api, key))
        if account is None:
            spec = self._spec.keys.get(key)
            if spec is None and not self._spec.open:
                raise FakeApiError(ErrorKind.UNAUTHORIZED, "invalid API key")
            account = self._accounts[api, key] = _account(
                key, spec or self._spec.open_key, self._caps_of(api)
            )
        return account


def _account(key: str, spec: KeySpec, caps: Caps) -> Account:
    def cap(name: str) -> int | None:
        value: int | None = getattr(spec if name in spec.model_fields_set else caps, name)
        return value

    return Account(key=key, balance=spec.balance, rpm=cap("rpm"), max_concurrent=cap("max_concurrent"))
