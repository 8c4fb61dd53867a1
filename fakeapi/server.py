"""The HTTP server: every provider mounted on one aiohttp app, in the caller's loop or a thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from http.client import responses
from pathlib import Path
from typing import Any, Literal, TypeVar

from aiohttp import web

from fakeapi.admin import ADMIN_PREFIX, Admin
from fakeapi.clock import Clock, ManualClock, SystemClock
from fakeapi.engine import JournalEntry, TaskEngine
from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.faults import apply, describe, drop
from fakeapi.http import BODY, ENGINE, NOTES, EngineRef, Provider, bearer_key, listen
from fakeapi.media import CONTENT_TYPES, file_for, image_size
from fakeapi.providers import all_providers
from fakeapi.scenario import Fault, Scenario, load_scenario, validate_scenario
from fakeapi.webhooks import HttpSender

T = TypeVar("T")
ClockMode = Literal["virtual", "system"]
ScenarioRef = Scenario | str | Path | dict[str, Any]
MAX_BODY = 32 * 1024 * 1024
GATEWAY_PAGE = (
    "<html>\r\n<head><title>{phrase}</title></head>\r\n<body>\r\n<center><h1>{phrase}</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
# Which error a scripted status is shown as: the first of these the API answers with that status.
FAULT_KINDS: dict[int, tuple[ErrorKind, ...]] = {
    400: (ErrorKind.INVALID_REQUEST, ErrorKind.MALFORMED_BODY),
    401: (ErrorKind.UNAUTHORIZED,),
    402: (ErrorKind.INSUFFICIENT_CREDITS,),
    403: (ErrorKind.INSUFFICIENT_CREDITS,),
    404: (ErrorKind.NOT_FOUND,),
    405: (ErrorKind.METHOD_NOT_ALLOWED,),
    413: (ErrorKind.PAYLOAD_TOO_LARGE,),
    422: (ErrorKind.PROMPT_REJECTED, ErrorKind.INVALID_REQUEST),
    429: (ErrorKind.RATE_LIMITED,),
    500: (ErrorKind.SERVER_ERROR,),
    503: (ErrorKind.UNAVAILABLE,),
}
JOURNALED_BODY = 64 * 1024


def resolve_scenario(ref: ScenarioRef) -> Scenario:
    """A scenario from a bundled name, a path, a dict of settings, or a ``Scenario``."""
    if isinstance(ref, Scenario):
        return ref
    if isinstance(ref, dict):
        return validate_scenario(ref)
    return load_scenario(ref)


class FakeServer:
    """The fake: an aiohttp app serving every emulated API, and the engine behind it.

    Run it in your own loop with ``await server.start()`` / ``await server.stop()`` (or
    ``async with``), or in a background thread with ``BackgroundServer``.
    """

    def __init__(
        self,
        scenario: ScenarioRef = "default",
        *,
        seed: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: ClockMode | None = None,
        speed: float | None = None,
        admin_token: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.providers: list[Provider] = all_providers()
        self.surprises: list[str] = []
        self.admin_token = admin_token  # None: the admin API is open on loopback, off elsewhere
        self.admin = Admin(self)
        self._clock_mode = clock
        self._speed = speed
        self._sender = HttpSender()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()  # ends the waits of requests a fault holds open (stop, reset)
        self._runner: web.AppRunner | None = None
        self._events: asyncio.Task[None] | None = None
        self._ref = EngineRef(self._build(resolve_scenario(scenario), seed))

    @property
    def engine(self) -> TaskEngine:
        """The engine serving requests now (a reset replaces it)."""
        return self._ref.engine

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    def url_for(self, api: str) -> str:
        """The base URL a client of ``api`` (``rixapi``, ...) is configured with."""
        for provider in self.providers:
            if provider.profile.name == api:
                return self.base_url + provider.mount
        names = ", ".join(p.profile.name for p in self.providers)
        raise KeyError(f"no API named {api!r}; mounted: {names}")

    async def start(self) -> None:
        """Bind the socket and start serving (port 0 picks a free port)."""
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY)
        app[ENGINE] = self._ref
        for provider in self.providers:
            for route in provider.routes():
                app.router.add_route(route.method, provider.mount + route.path, route.handler)
        app.router.add_get("/files/{task_id}/{name}", self._serve_file)
        for route in self.admin.routes():
            app.router.add_route(route.method, self.admin.mount + route.path, route.handler)
        self._runner, self.port = await listen(app, self.host, self.port)
        self.engine.base_url = self.base_url
        self._start_events()

    async def stop(self) -> None:
        """Stop serving and close the callback sender."""
        await self._stop_events()
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self._sender.close()

    async def __aenter__(self) -> FakeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def scenario_for(self, ref: ScenarioRef | None) -> Scenario:
        """The scenario ``ref`` names (see ``resolve_scenario``); ``None``: the one running now."""
        return self.engine.scenario if ref is None else resolve_scenario(ref)

    async def reset(self, scenario: ScenarioRef | None = None, seed: int | None = None) -> None:
        """Start over: a fresh engine (tasks, accounts, clock, logs) for this or the same scenario."""
        await self._stop_events()
        self._stopping.set()
        self._stopping = asyncio.Event()
        chosen = self.scenario_for(scenario)
        self._ref.engine = self._build(chosen, seed)
        self.engine.base_url = self.base_url
        self.surprises.clear()
        self._start_events()

    def _build(self, scenario: Scenario, seed: int | None) -> TaskEngine:
        engine = TaskEngine(
            scenario,
            self._make_clock(scenario),
            {p.profile.name: p.profile for p in self.providers},
            self._sender,
            seed=seed,
            base_url=self.base_url,
        )
        engine.wakeup = self._wake.set
        return engine

    def _make_clock(self, scenario: Scenario) -> Clock:
        mode = self._clock_mode or scenario.clock.mode or "system"
        if mode == "virtual":
            return ManualClock(scenario.clock.start_seconds)
        start = scenario.clock.start_seconds if scenario.clock.mode == "system" else None
        return SystemClock(self._speed or scenario.clock.speed, start)

    def _start_events(self) -> None:
        if self._runner is not None:
            self._events = asyncio.get_running_loop().create_task(self._run_events())

    async def _stop_events(self) -> None:
        if self._events is not None:
            self._events.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._events
            self._events = None

    async def _run_events(self) -> None:
        while True:
            engine = self.engine
            self._wake.clear()
            await engine.run_due()
            due = engine.next_due()
            now = engine.clock.now()
            if due is not None and due <= now:
                continue
            wait = None if due is None or engine.clock.is_virtual else (due - now) / engine.clock.speed
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def _provider_for(self, path: str) -> Provider | None:
        for provider in self.providers:
            if path == provider.mount or path.startswith(provider.mount + "/"):
                return provider
        return None

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX) or request.path == ADMIN_PREFIX.rstrip("/"):
            return await self.admin.dispatch(request, handler)
        engine = self.engine
        fault = self._fault_for(request)
        if fault is None:
            response = await self._answer(request, handler)
        else:
            response = await apply(
                fault,
                request,
                lambda: self._answer_for(engine, request, handler),
                lambda status, message, retry_after: self._fault_error(request, status, message, retry_after),
                self._stopping,
            )
            request.setdefault(NOTES, []).append(describe(fault))
        raw: bytes = request.get(BODY, b"")
        engine.journal.append(
            JournalEntry(
                at=engine.clock.now(),
                method=request.method,
                path=request.path,
                query=request.query_string,
                status=response.status,
                body=raw[:JOURNALED_BODY].decode("utf-8", "replace"),
                notes=tuple(request.get(NOTES, ())),
            )
        )
        return response

    def _fault_for(self, request: web.Request) -> Fault | None:
        if not self.engine.faults.faults:
            return None  # the common case, kept off every request's path
        if request.match_info.http_exception is not None:
            return None  # no route: the request is a surprise, not a place for a fault
        if request.path.startswith("/files/"):
            task = self.engine.tasks.get(request.match_info.get("task_id", ""))
            api, key = (task.api, task.key) if task is not None else (None, None)
            return self.engine.faults.pick(
                "download", api=api, key=key, headers=request.headers, path=request.path
            )
        provider = self._provider_for(request.path)
        if provider is None:
            return None
        return self.engine.faults.pick(
            "submit" if request.method == "POST" else "poll",
            api=provider.profile.name,
            key=bearer_key(request),
            headers=request.headers,
            path=self._api_path(request.path),
        )

    def _fault_error(
        self, request: web.Request, status: int, message: str | None, retry_after: int | None
    ) -> web.Response:
        """A scripted error status: the API's own envelope where it has an error of that status,
        else the bare HTML page a gateway in front of it answers with."""
        reason = responses.get(status, "Error")
        for kind in FAULT_KINDS.get(status, ()) if self._provider_for(request.path) is not None else ():
            response = self._error(request, FakeApiError(kind, message or reason, retry_after=retry_after))
            if response.status == status:
                return response
        phrase = f"{status} {reason}"
        page = GATEWAY_PAGE.format(phrase=phrase)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return web.Response(status=status, text=page, content_type="text/html", headers=headers)

    async def _answer_for(
        self,
        engine: TaskEngine,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Answer a request a fault held back, unless the fake was reset meanwhile: a request from
        before a reset must not reach the new run (it would leak into the next test)."""
        if self.engine is not engine:
            return drop(request)
        return await self._answer(request, handler)

    async def _answer(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            response = await handler(request)
        except FakeApiError as error:
            response = self._error(request, error)
        except web.HTTPRequestEntityTooLarge:
            too_large = FakeApiError(ErrorKind.PAYLOAD_TOO_LARGE, "the request body is too large")
            response = self._error(request, too_large)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
            kind = ErrorKind.ROUTE_NOT_FOUND
            if isinstance(exc, web.HTTPMethodNotAllowed):
                kind = ErrorKind.METHOD_NOT_ALLOWED
            response = self._error(
                request, FakeApiError(kind, f"Invalid URL ({request.method} {self._api_path(request.path)})")
            )
            self.surprises.append(
                f"{request.method} {request.path} matched no route; {self._expected(request.path)}"
            )
        except Exception:
            self.surprises.append(
                f"{request.method} {request.path} raised in the fake:\n{traceback.format_exc()}"
            )
            response = self._error(request, FakeApiError(ErrorKind.SERVER_ERROR, "internal error"))
        return response

    def _api_path(self, path: str) -> str:
        provider = self._provider_for(path)
        return path.removeprefix(provider.mount) if provider is not None else path

    def _error(self, request: web.Request, error: FakeApiError) -> web.Response:
        provider = self._provider_for(request.path)
        if provider is None:
            return web.json_response({"error": error.message}, status=404)
        response = provider.error_response(error, self.engine)
        # No API documents a header for its 429s; every one gets Retry-After, which clients honour.
        if error.retry_after:
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    def _expected(self, path: str) -> str:
        provider = self._provider_for(path)
        chosen = [provider] if provider is not None else self.providers
        routes = [f"{r.method} {p.mount}{r.path}" for p in chosen if p is not None for r in p.routes()]
        return "routes served: " + ", ".join([*routes, "GET /files/{task_id}/{name}"])

    async def _serve_file(self, request: web.Request) -> web.Response:
        engine = self.engine
        task = engine.tasks.get(request.match_info["task_id"])
        index, _, ext = request.match_info["name"].partition(".")
        if task is None or not index.isdigit() or ext not in CONTENT_TYPES:
            return web.Response(status=404, text="Not Found")
        view = engine.view(task)
        if view.state != "succeeded" or int(index) >= len(view.outputs):
            return web.Response(status=404, text="Not Found")
        if engine.result_expired(view):
            # Gone from storage, as object storage answers for a deleted object.
            return web.Response(status=404, text="Not Found")
        size = image_size(task.params.get("size"))
        return web.Response(body=file_for(task.id, ext, size), content_type=CONTENT_TYPES[ext])


class BackgroundServer:
    """A ``FakeServer`` running in a thread with its own event loop.

    Sync code (and async code on another loop) drives it through ``call`` and ``run``; every engine
    mutation happens on the server's loop.
    """

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fakeapi", daemon=True)

    def start(self) -> BackgroundServer:
        self._thread.start()
        self.run(self.server.start())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self.run(self.server.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self.loop.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 60.0) -> T:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop from another loop, without blocking that loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def call(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the server's loop and return its result."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def invoke() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(invoke)
        return future.result(timeout=60)
