"""API keys, their credit balances, and their request-rate and concurrency caps."""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.scenario.schema import Accounts, KeySpec

RATE_WINDOW = 60.0
# How many of the least recently used accounts a new key looks at for one to forget: a bounded
# look keeps a new key O(1); when all of them have unfinished tasks the new key is kept over
# limits.keys, which stays bounded because unfinished tasks are (limits.tasks).
IDLE_SCAN = 8


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
        # Most tasks are free in a scenario without prices: an unlimited account has nothing to check.
        if cost or self.balance is not None:
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
    request window and unfinished tasks there. At most ``limit`` accounts are kept per API: a new
    key beyond it makes the book forget the least recently used account that ``in_use`` says has no
    unfinished task (that key starts over with the scenario's balance when it comes back). When the
    few least recently used are all in use, the new account is kept over the limit: accounts in use
    are bounded by the unfinished tasks, which ``limits.tasks`` bounds.
    """

    def __init__(
        self, spec: Accounts, caps_of: Callable[[str], Caps], limit: int, in_use: Callable[[Account], bool]
    ) -> None:
        self._spec = spec
        self._caps_of = caps_of
        self._limit = limit
        self._in_use = in_use
        self._accounts: dict[str, OrderedDict[str, Account]] = {}

    def authenticate(self, api: str, key: str | None) -> Account:
        """The account behind a bearer key on ``api``, or an ``unauthorized`` error."""
        if not key:
            raise FakeApiError(ErrorKind.UNAUTHORIZED, "no API key was provided")
        accounts = self._accounts.get(api)
        if accounts is None:
            accounts = self._accounts[api] = OrderedDict()
        account = accounts.get(key)
        if account is not None:
            accounts.move_to_end(key)
            return account
        spec = self._spec.keys.get(key)
        if spec is None and not self._spec.open:
            raise FakeApiError(ErrorKind.UNAUTHORIZED, "invalid API key")
        if len(accounts) >= self._limit:
            self._forget_one_idle(accounts)
        account = accounts[key] = _account(key, spec or self._spec.open_key, self._caps_of(api))
        return account

    def find(self, api: str, key: str) -> Account | None:
        """The account of ``key`` on ``api`` if the book has one (it is not counted as used)."""
        accounts = self._accounts.get(api)
        return None if accounts is None else accounts.get(key)

    def _forget_one_idle(self, accounts: OrderedDict[str, Account]) -> None:
        for key in list(itertools.islice(accounts, IDLE_SCAN)):
            if not self._in_use(accounts[key]):
                del accounts[key]
                return
            accounts.move_to_end(key)  # the next new key looks at others first


def _account(key: str, spec: KeySpec, caps: Caps) -> Account:
    def cap(name: str) -> int | None:
        value: int | None = getattr(spec if name in spec.model_fields_set else caps, name)
        return value

    return Account(key=key, balance=spec.balance, rpm=cap("rpm"), max_concurrent=cap("max_concurrent"))
