"""``FakeServer``: the public façade over the parts of the server (app, pipeline, files, runner)."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from aiohttp import web

from fakeapi.admin import ADMIN_PREFIX, Admin, is_loopback, scenario_name
from fakeapi.clock import Clock, ManualClock, SystemClock
from fakeapi.dashboard import Dashboard
from fakeapi.engine import TaskEngine
from fakeapi.etiquette import Etiquette
from fakeapi.providers import REGISTRY, Provider
from fakeapi.recorder import Recorder
from fakeapi.scenario import Scenario, ScenarioRef, resolve_scenario
from fakeapi.scenario.loading import ScenarioDirs
from fakeapi.server.app import Mounts, add_site, build_app, listen
from fakeapi.server.files import files_handler
from fakeapi.server.pipeline import Current, Pipeline
from fakeapi.server.request_log import RequestLog
from fakeapi.server.runner import EventRunner
from fakeapi.server.sender import HttpSender

ClockMode = Literal["virtual", "system"]


class FakeServer:
    """The fake: an aiohttp app serving every registered API, and the engine behind it.

    Run it in your own loop with ``await server.start()`` / ``await server.stop()`` (or
    ``async with``), or in a background thread with ``BackgroundServer``. ``providers`` defaults
    to every API in ``fakeapi.providers.REGISTRY``.

    The admin API loads scenario files by path only from ``scenario_dirs`` (default: the current
    directory), and answers only requests addressed to an IP address, ``localhost`` or one of
    ``allowed_hosts``.

    Every API is served under its mount (``url_for``) and, at its real root paths, to requests
    addressed to one of its hosts (``Provider.hosts`` and ``api_hosts``, e.g. ``{"apixo":
    ["apixo.test"]}``) and on a port of its own if ``api_ports`` gives it one (0: a free port;
    ``root_url_for``). Result URLs begin with ``public_url`` if given, else with the scheme and
    host the submit was sent to. ``cors`` answers browsers' preflights and lets web pages of any
    origin read every answer but the admin API's. ``request_log``, if given, is told of every API
    request and callback delivery attempt (``fakeapi serve``'s per-request lines).
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
        scenario_dirs: Sequence[str | Path] | None = None,
        allowed_hosts: Sequence[str] = (),
        providers: list[Provider] | None = None,
        api_ports: Mapping[str, int] | None = None,
        api_hosts: Mapping[str, Sequence[str]] | None = None,
        public_url: str | None = None,
        cors: bool = False,
        request_log: RequestLog | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.mounts = Mounts(REGISTRY.providers() if providers is None else providers)
        self.api_ports = dict(api_ports or {})
        for api, api_port in self.api_ports.items():
            self.mounts.named(api)  # an unknown API fails here, not once the server starts
            if not 0 <= api_port <= 65535:
                raise ValueError(f"api_ports: {api}'s port {api_port} is no port number (0 to 65535)")
        for api, names in (api_hosts or {}).items():
            for name in names:
                self.mounts.add_host(api, name)
        if public_url is not None and not public_url.startswith(("http://", "https://")):
            raise ValueError(f"public_url must be an http:// or https:// URL, not {public_url!r}")
        self.public_url = public_url.rstrip("/") if public_url is not None else None
        self.admin_token = admin_token  # None: the admin API is open on loopback, off elsewhere
        self.admin = Admin(
            self,
            host=host,
            token=admin_token,
            scenario_dirs=ScenarioDirs(scenario_dirs),
            allowed_hosts=allowed_hosts,
        )
        self.dashboard = Dashboard(self, self.admin)
        self._loopback = is_loopback(host)
        self._clock_mode = clock
        self._speed = speed
        self._request_log = request_log
        self._runner: web.AppRunner | None = None
        self._events = EventRunner(lambda: self.current.engine)
        resolved = resolve_scenario(scenario)
        if speed is not None and (clock or resolved.clock.mode) == "virtual":
            raise ValueError(
                f"speed {speed:g} for a virtual clock, which stands still until shifted: give a speed "
                "only to the system clock (clock='system', or a scenario whose clock.mode is not virtual)"
            )
        engine, self._sender = self._build(resolved, seed)
        self.current = Current(engine)
        self._pipeline = Pipeline(
            self.current,
            self.mounts,
            self.admin.dispatch,
            ADMIN_PREFIX,
            public_url=self.public_url,
            cors=cors,
            log=request_log,
        )
        self.admin.scenario_name = scenario_name(scenario)

    @property
    def providers(self) -> list[Provider]:
        """The APIs this server serves."""
        return self.mounts.providers

    @property
    def engine(self) -> TaskEngine:
        """The engine serving requests now (a reset replaces it)."""
        return self.current.engine

    @property
    def recorder(self) -> Recorder:
        """The journal and surprises of the run serving now."""
        return self.current.recorder

    @property
    def etiquette(self) -> Etiquette:
        """The etiquette checker of the run serving now."""
        return self.current.etiquette

    @property
    def base_url(self) -> str:
        return self._url_of(self.port)

    def _url_of(self, port: int) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{port}"

    @property
    def result_base_url(self) -> str:
        """What result URLs begin with when the request does not say where it was sent."""
        return self.public_url or self.base_url

    def url_for(self, api: str) -> str:
        """The base URL a client of ``api`` (``rixapi``, ...) is configured with."""
        return self.base_url + self.mounts.named(api).mount

    def root_url_for(self, api: str) -> str:
        """The root URL of ``api``'s own port (given by ``api_ports``), where it serves its real paths,
        e.g. ``http://127.0.0.1:8002`` for a client whose base URL is ``https://api.apixo.ai``."""
        port = self.mounts.port_of(api)
        if port is None:
            raise KeyError(f"{api} has no port of its own (serving? given by api_ports?)")
        return self._url_of(port)

    def _reached(self, request: web.Request, provider: Provider) -> str:
        """The URL a request reached the fake at (see ``Pipeline.base_url_for``); without a ``Host``
        (HTTP/1.0), the server's own address: its main port, or ``provider``'s own port when the
        request came there."""
        base = self._pipeline.base_url_for(request.headers)
        if base is not None:
            return base
        port = self.mounts.port_of(provider.name)
        address = request.transport.get_extra_info("sockname") if request.transport is not None else None
        return self._url_of(port) if port is not None and address and address[1] == port else self.base_url

    async def start(self) -> None:
        """Bind the socket and start serving (port 0 picks a free port)."""
        app = build_app(
            self.mounts,
            self._pipeline.middleware,
            self._pipeline.handler_for,
            files_handler(lambda: self.current.engine),
            [
                *((r.method, self.admin.mount + r.path, r.handler) for r in self.admin.routes()),
                *((r.method, r.path, r.handler) for r in self.admin.root_routes()),
                *self.dashboard.routes(),
            ],
            self._reached,
        )
        # Server-wide, so taken from the scenario served at start (a reset does not change it).
        idle_timeout = self.engine.scenario.limits.idle_timeout
        runner, self.port = await listen(app, self.host, self.port, idle_timeout, self._pipeline.front_of)
        try:
            for api, port in self.api_ports.items():
                self.mounts.bind_port(await add_site(runner, self.host, port), api)
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.engine.base_url = self.result_base_url
        self._events.start()

    async def stop(self) -> None:
        """Stop serving, in seconds whatever is pending, and close the callback sender.

        Requests a fault holds are dropped without taking effect; synchronous requests waiting on
        the system clock are answered at once with the API's 503; callbacks still due are not sent;
        any other request gets ``SHUTDOWN_GRACE`` to finish. All the state is in memory and is gone.
        """
        self.dashboard.close()
        await self._end_run()
        await self._events.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

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
        engine, sender = self._build(self.scenario_for(scenario), seed)  # a bad scenario stops nothing
        await self._end_run()
        self._sender = sender
        self.current.replace(engine)
        if self._runner is not None:
            self._events.start()

    async def _end_run(self) -> None:
        """End the run serving now: drop the requests a fault holds, answer waiting synchronous
        requests, pause the event runner, drop the deliveries in flight and close the sender."""
        self.current.end()
        await self._events.pause()
        await self.engine.aclose()
        await self._sender.close()

    def _build(self, scenario: Scenario, seed: int | None) -> tuple[TaskEngine, HttpSender]:
        block_private = scenario.webhooks.block_private
        sender = HttpSender(
            answer_bytes=scenario.limits.callback_answer_bytes,
            block_private=not self._loopback if block_private is None else block_private,
        )
        engine = TaskEngine(
            scenario,
            self._make_clock(scenario),
            {p.name: p.profile for p in self.providers},
            sender,
            seed=seed,
            base_url=self.result_base_url,
        )
        engine.wakeup = self._events.wake.set
        if self._request_log is not None:
            engine.deliveries.listener = self._request_log.delivery
        # Weakly: an engine that refers to itself is freed only by a collector pass (see _weakly).
        engine.on_surprise = functools.partial(self._surprise, weakref.ref(engine))
        return engine, sender

    def _surprise(self, engine: weakref.ref[TaskEngine], text: str) -> None:
        # A run that has ended (a delivery cancelled late, say) must not report into the next one.
        if self.current.engine is engine():
            self.current.recorder.surprise(text)

    def _make_clock(self, scenario: Scenario) -> Clock:
        mode = self._clock_mode or scenario.clock.mode or "system"
        if mode == "virtual":
            return ManualClock(scenario.clock.start_seconds)
        start = scenario.clock.start_seconds if scenario.clock.mode == "system" else None
        return SystemClock(self._speed or scenario.clock.speed, start)
