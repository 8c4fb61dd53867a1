"""Callback delivery as the engine sees it: each API's policy, the sender it is given, the bound on
deliveries in flight, the log."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """When an API calls back and how it retries: a fact of the API, declared by its provider."""

    on: Literal["every_change", "terminal"]
    timeout: float
    retry_delays: tuple[float, ...]
    accept: Literal["2xx", "200"] = "2xx"

    def delivered(self, status: int) -> bool:
        return status == 200 if self.accept == "200" else 200 <= status < 300


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One POST to a callback URL: what was sent, when, and what came of it.

    ``body`` is cut to the scenario's ``limits.logged_body_bytes`` when it was longer; ``truncated``
    says it was. ``note`` names the scenario fault that shaped the attempt, if one did.
    """

    task_id: str
    url: str
    attempt: int
    at: float
    state: str
    body: str
    status: int | None
    error: str | None
    delivered: bool
    truncated: bool = False
    note: str | None = None


class Sender(Protocol):
    """POSTs a JSON body and returns the status code; raises ``DeliveryError`` when no answer came
    within ``timeout`` seconds (the sender bounds its own wait: the engine awaits it directly, so a
    sender that answers without waiting is done before the virtual clock moves)."""

    async def __call__(self, url: str, body: bytes, timeout: float) -> int: ...


class DeliveryError(Exception):
    """The receiver could not be reached or did not answer in time."""


class DeliverySlots:
    """Bounds the deliveries in flight: at most ``total`` at once, and at most ``per_receiver`` to
    one receiver (scheme, host and port), so that a receiver that hangs holds only its own share.

    A delivery waiting for a slot of its receiver holds none of the total.
    """

    def __init__(self, total: int, per_receiver: int) -> None:
        self._total = asyncio.Semaphore(total)
        self._per_receiver = per_receiver
        self._receivers: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        """Hold one slot for a delivery to ``url`` while the block runs."""
        receiver = _receiver(url)
        gate, users = self._receivers.get(receiver) or (asyncio.Semaphore(self._per_receiver), 0)
        self._receivers[receiver] = (gate, users + 1)
        try:
            async with gate, self._total:
                yield
        finally:
            gate, users = self._receivers[receiver]
            if users == 1:
                del self._receivers[receiver]
            else:
                self._receivers[receiver] = (gate, users - 1)


def _receiver(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port}"
    except ValueError:
        return url
