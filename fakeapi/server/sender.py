"""Webhook deliveries over real HTTP: the sender the server gives the engine."""

from __future__ import annotations

import asyncio
import errno
import socket

import aiohttp
from aiohappyeyeballs import AddrInfoType
from yarl import URL

from fakeapi.addresses import literal, refusal
from fakeapi.webhooks import DeliveryError


class HttpSender:
    """The real sender: one aiohttp session, created on the loop that first uses it.

    It never follows a redirect (a 3xx is the answer), reads at most ``answer_bytes`` of an answer
    (then drops the connection; the status still counts), and with ``block_private`` refuses to
    connect to a private, loopback, link-local or metadata address. That check is made on the
    address each connection is opened to, after resolving, so a name that resolves to a public
    address when checked cannot lead to a private one when connected (no DNS-rebinding gap).
    """

    def __init__(self, *, answer_bytes: int, block_private: bool) -> None:
        self.answer_bytes = answer_bytes
        self.block_private = block_private
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, url: str, body: bytes, timeout: float) -> int:
        if self._session is None:
            connector = aiohttp.TCPConnector(socket_factory=_public_socket if self.block_private else None)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"Content-Type": "application/json"}
            )
        try:
            if not URL(url).scheme:  # aiohttp fails an assertion on one ("//host/path")
                raise DeliveryError(f"invalid callback URL: {url} has no scheme")
            async with self._session.post(
                url, data=body, timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=False
            ) as response:
                await self._read_answer(response)
                return response.status
        except asyncio.TimeoutError:
            raise DeliveryError(f"no answer within {timeout:g}s") from None
        except aiohttp.ClientError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        except ValueError as exc:
            raise DeliveryError(f"invalid callback URL: {exc}") from None

    async def _read_answer(self, response: aiohttp.ClientResponse) -> None:
        left = self.answer_bytes
        while left > 0 and (chunk := await response.content.read(left)):
            left -= len(chunk)
        if not response.content.at_eof():
            response.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _public_socket(addr_info: AddrInfoType) -> socket.socket:
    family, kind, proto, _, address = addr_info
    host = address[0]
    ip = literal(host)
    reason = f"{host} is not an IP address" if ip is None else refusal(ip)
    if reason is not None:
        raise OSError(errno.EACCES, f"{reason}; refused by webhooks.block_private")
    return socket.socket(family, kind, proto)
