"""``CallbackSink``: a real HTTP receiver for callbacks, with a way to wait for and inspect them."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fakeapi.server.app import listen


@dataclass(frozen=True, slots=True)
class ReceivedCallback:
    """One request the sink received, and the status it answered with."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    def json(self) -> Any:
        return json.loads(self.body)


class CallbackSink:
    """An HTTP server that records every request; pass ``sink.url`` as a ``callback_url``.

    By default it answers 200. ``fail_next(n, status)`` makes the next ``n`` answers fail, to
    exercise a provider's retries; ``delay`` holds every answer back, to exercise timeouts.

    ``sending``, when set, counts the fake's callbacks to the sink that are on their way (the
    ``callback_sink`` fixture sets it): the fake logs an attempt only once the sink's answer reaches
    it, so ``wait_for(n)`` then also waits until none is on its way, and a test can read both sides
    (``received`` and the fake's ``deliveries``) as soon as it returns. Requests from elsewhere (the
    test posting to the sink itself, another fake server) are received and counted as usual.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.delay = 0.0
        self._received: list[ReceivedCallback] = []
        self._planned: deque[int] = deque()
        self._generation = 0
        self._changed = threading.Condition()
        self._runner: web.AppRunner | None = None
        self.sending: Callable[[], int] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/callback"

    def url_for(self, name: str) -> str:
        """A URL on the sink with its own path, to tell several receivers apart."""
        return f"http://{self.host}:{self.port}/{name.lstrip('/')}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._receive)
        self._runner, self.port = await listen(app, self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def clear(self) -> None:
        """Forget what was received and planned; answer 200 again with no delay."""
        with self._changed:
            self._received.clear()
            self._planned.clear()
            self.delay = 0.0
            self._generation += 1

    def fail_next(self, times: int = 1, status: int = 500) -> None:
        """Answer the next ``times`` requests with ``status`` instead of 200."""
        with self._changed:
            self._planned.extend([status] * times)

    @property
    def received(self) -> list[ReceivedCallback]:
        with self._changed:
            return list(self._received)

    def bodies(self) -> list[Any]:
        """The JSON bodies received, oldest first."""
        return [r.json() for r in self.received]

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[ReceivedCallback]:
        """Block until at least ``count`` requests arrived (and, with ``sending``, no callback of the
        fake is still on its way to the sink) in real time; return all received."""
        deadline = time.monotonic() + timeout
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._received) >= count, timeout):
                raise TimeoutError(
                    f"the callback sink received {len(self._received)} requests, not {count}, "
                    f"within {timeout:g}s"
                )
            received = list(self._received)
        while not self._settled(deadline, timeout):
            time.sleep(0.001)
        return received

    async def await_for(self, count: int = 1, timeout: float = 5.0) -> list[ReceivedCallback]:
        """``wait_for`` for async tests: waits without blocking the test's loop."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.received) >= count:
                if self._settled(deadline, timeout):
                    return self.received
            elif time.monotonic() > deadline:
                return self.wait_for(count, 0)
            await asyncio.sleep(0.002)

    def _settled(self, deadline: float, timeout: float) -> bool:
        """Whether no callback of the fake is on its way to the sink; past ``deadline``, an error."""
        if self.sending is None:
            return True
        sending = self.sending()
        if not sending:
            return True
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the fake still had {sending} callbacks on their way to the sink (sent, not answered "
                f"and logged) after {timeout:g}s"
            )
        return False

    async def _receive(self, request: web.Request) -> web.Response:
        generation = self._generation
        body = await request.read()
        if self.delay:
            await asyncio.sleep(self.delay)
        with self._changed:
            if generation != self._generation:  # arrived before a clear(): belongs to no one now
                return web.Response(status=200, text="ok")
            status = self._planned.popleft() if self._planned else 200
            self._received.append(
                ReceivedCallback(request.method, request.path, dict(request.headers), body, status)
            )
            self._changed.notify_all()
        return web.Response(status=status, text="ok" if status < 400 else "error")
