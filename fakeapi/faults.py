"""Fault injection: which scripted fault hits a request or a delivery, and doing it over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiohttp import web

from fakeapi.scenario import Fault, FaultPoint, counted_in

DEFAULT_HANG = 30.0


class FaultBook:
    """The scenario's faults and how often each has matched; seeded, so a run repeats exactly."""

    def __init__(self, faults: Sequence[Fault], seed: int) -> None:
        self.faults = list(faults)
        self._seen = [0] * len(faults)
        self._random = [random.Random(f"{seed}:fault:{i}") for i in range(len(faults))]

    def pick(
        self,
        point: FaultPoint,
        *,
        api: str | None,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        path: str = "",
    ) -> Fault | None:
        """The first fault that fires on this exchange.

        Every fault that matches counts the exchange (and draws its chance), whether or not an
        earlier one fires, so ``nth`` and ``first`` mean the n-th matching exchange.
        """
        fired: Fault | None = None
        for index, fault in enumerate(self.faults):
            if not fault.matches(point, api=api, key=key, headers=headers, path=path):
                continue
            self._seen[index] += 1
            if self._fires(index, fault) and fired is None:
                fired = fault
        return fired

    def _fires(self, index: int, fault: Fault) -> bool:
        when = fault.when
        if not counted_in(self._seen[index], when.nth, when.first):
            return False
        return when.probability is None or self._random[index].random() < when.probability


def describe(fault: Fault) -> str:
    """The fault as a journal note."""
    name = f" {fault.name!r}" if fault.name else ""
    detail = f" {fault.status}" if fault.status is not None else ""
    if fault.latency is not None:
        detail += f" {fault.latency:g}s"
    return f"fault{name}: {fault.effect}{detail}"


async def apply(
    fault: Fault,
    request: web.Request,
    handle: Callable[[], Awaitable[web.StreamResponse]],
    error_for: Callable[[int, str | None, int | None], web.StreamResponse],
    stopping: asyncio.Event,
) -> web.StreamResponse:
    """Answer ``request`` as the fault says; ``handle`` runs the real handler when it should."""
    if fault.effect == "latency":
        assert fault.latency is not None
        await _wait(stopping, fault.latency)
        return await handle()
    if fault.effect in ("truncate", "malformed"):
        response = await handle()
        body = response.body if isinstance(response, web.Response) else b""
        assert isinstance(body, bytes)
        if fault.effect == "malformed":
            return web.Response(
                status=response.status, body=body[: len(body) // 2], content_type=response.content_type
            )
        return await _truncated(request, response, body)
    if fault.process:
        await handle()
    if fault.effect == "status":
        assert fault.status is not None
        return error_for(fault.status, fault.message, fault.retry_after)
    if fault.effect == "hang":
        await _wait(stopping, DEFAULT_HANG if fault.latency is None else fault.latency)
    return drop(request)


async def _wait(stopping: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)


async def _truncated(request: web.Request, response: web.StreamResponse, body: bytes) -> web.StreamResponse:
    """Send the headers and half the body, announcing all of it, then drop the connection."""
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(body[: len(body) // 2])
    _abort(request)
    return stream


def drop(request: web.Request) -> web.StreamResponse:
    """Reset the request's connection; the journal records the request as status 499."""
    _abort(request)
    # The connection is gone; aiohttp finds nothing to write to and sends nothing.
    return web.Response(status=499)


def _abort(request: web.Request) -> None:
    """Drop the connection with a TCP reset (SO_LINGER 0), as a crashing upstream does."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
