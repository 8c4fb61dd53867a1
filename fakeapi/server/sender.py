"""Webhook deliveries over real HTTP: the sender the server gives the engine."""

from __future__ import annotations

import asyncio

import aiohttp

from fakeapi.webhooks import DeliveryError


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
