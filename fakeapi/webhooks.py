"""Callback delivery as the engine sees it: each API's policy, the sender it is given, the log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol


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
    says it was.
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


class Sender(Protocol):
    """POSTs a JSON body and returns the status code; raises ``DeliveryError`` when no answer came."""

    async def __call__(self, url: str, body: bytes, timeout: float) -> int: ...


class DeliveryError(Exception):
    """The receiver could not be reached or did not answer in time."""
