"""API keys, their credit balances, and their request-rate and concurrency caps."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.scenario import Accounts, KeySpec

RATE_WINDOW = 60.0


@dataclass(slots=True)
class Account:
    """One key's live state. ``balance`` ``None`` means unlimited."""

    key: str
    balance: float | None
    rpm: int | None
    max_concurrent: int | None
    spent: float = 0.0
    recent: deque[float] = field(default_factory=deque)
    active: dict[str, None] = field(default_factory=dict)  # ordered set of unfinished task ids

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
        if self.balance is not None and cost > self.balance + 1e-9:
            raise FakeApiError(
                ErrorKind.INSUFFICIENT_CREDITS,
                f"insufficient balance: this task costs {cost:g}, remaining {self.balance:g}",
            )
        if self.balance is not None:
            self.balance = round(self.balance - cost, 9)
        self.spent = round(self.spent + cost, 9)


class AccountBook:
    """The accounts of one scenario: which keys exist and what each may still do."""

    def __init__(self, spec: Accounts) -> None:
        self._spec = spec
        self._accounts: dict[str, Account] = {k: _account(k, s) for k, s in spec.keys.items()}

    def authenticate(self, key: str | None) -> Account:
        """The account behind a bearer key, or an ``unauthorized`` error."""
        if not key:
            raise FakeApiError(ErrorKind.UNAUTHORIZED, "no API key was provided")
        account = self._accounts.get(key)
        if account is None:
            if not self._spec.open:
                raise FakeApiError(ErrorKind.UNAUTHORIZED, "invalid API key")
            account = self._accounts[key] = _account(key, self._spec.open_key)
        return account

    def all(self) -> list[Account]:
        return list(self._accounts.values())


def _account(key: str, spec: KeySpec) -> Account:
    return Account(key=key, balance=spec.balance, rpm=spec.rpm, max_concurrent=spec.max_concurrent)
