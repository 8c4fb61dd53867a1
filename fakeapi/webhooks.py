"""Callback delivery: each API's policy, the delivery log, and the HTTP sender."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal, Protocol

import aiohttp


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
    """One POST to a callback URL: what was sent, when, and what came of it."""

    task_id: str
    url: str
    attempt: int
    at: float
    state: str
    body: str
    status: int | None
    error: str | None
    delivered: bool


class Sender(Protocol):
    """POSTs a JSON body and returns the status code; raises ``DeliveryError`` when no answer came."""

    async def __call__(self, url: str, body: bytes, timeout: float) -> int: ...


class DeliveryError(Exception):
    """The receiver could not be reached or did not answer in time."""


class HttpSender:
    """The real sender: one aiohttp session, created on the loop that first uses it."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, url: str, body: bytes, timeout: float) -> int:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers={"Content-Type": "application/json"})
        try:
            async with self._session.post(
                url, data=body, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                await response.read()
                return response.status
        except asyncio.TimeoutError:
            raise DeliveryError(f"no answer within {timeout:g}s") from None
        except aiohttp.ClientError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        except ValueError as exc:
            raise DeliveryError(f"invalid callback URL: {exc}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
