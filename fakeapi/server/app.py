"""Assembling the aiohttp app: every provider's routes, the result files, the admin API, and an
O(1) way back from a request to the provider and route that serve it."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp.web_urldispatcher import AbstractRoute

from fakeapi.contract.openapi import DOCUMENT_PATH, api_document
from fakeapi.providers.base import AnyRoute, Provider
from fakeapi.scenario.schema import LimitsSpec
from fakeapi.wire import compact_json

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FILES_PATH = "/files/{task_id}/{name}"
# What a request still being handled when the server stops gets to finish (aiohttp's default is 60 s,
# waited twice over: once for the handler, once more after cancelling it).
SHUTDOWN_GRACE = 1.0


@dataclass(frozen=True, slots=True)
class Served:
    """A provider's route as mounted."""

    provider: Provider
    route: AnyRoute


class Mounts:
    """Which provider and route serve a request: the route by the one aiohttp matched, the provider
    by the request's first path segment (a mount is one segment), matched or not."""

    def __init__(self, providers: Sequence[Provider]) -> None:
        self.providers = list(providers)
        self._by_name = {p.name: p for p in providers}
        self._by_mount = {p.mount: p for p in providers}
        self._by_route: dict[AbstractRoute, Served] = {}
        self._documents: set[AbstractRoute] = set()

    def add(self, aiohttp_route: AbstractRoute, served: Served) -> None:
        self._by_route[aiohttp_route] = served

    def add_document(self, aiohttp_route: AbstractRoute) -> None:
        """Mark a route as serving a contract document (no journal, no faults)."""
        self._documents.add(aiohttp_route)

    def is_document(self, request: web.Request) -> bool:
        """Whether the request reads an API's OpenAPI document (no API request: never journaled)."""
        return request.match_info.route in self._documents

    def served(self, request: web.Request) -> Served | None:
        return self._by_route.get(request.match_info.route)

    def provider_for(self, request: web.Request) -> Provider | None:
        """The provider under whose mount the request's path lies (matched or not)."""
        return self._by_mount.get("/" + request.path.split("/", 2)[1])

    def named(self, api: str) -> Provider:
        provider = self._by_name.get(api)
        if provider is None:
            raise KeyError(f"no API named {api!r}; mounted: {', '.join(self._by_name)}")
        return provider

    def routes_served(self, provider: Provider | None) -> str:
        chosen = [provider] if provider is not None else self.providers
        routes = [f"{r.method} {p.mount}{r.path}" for p in chosen for r in p.routes()]
        return "routes served: " + ", ".join([*routes, f"GET {FILES_PATH}"])


def build_app(
    mounts: Mounts,
    middleware: Middleware,
    handler_for: Callable[[Served], Handler],
    files: Handler,
    admin: Sequence[tuple[str, str, Handler]],
    base_url: Callable[[], str],
) -> web.Application:
    """The app: each provider route bound to its handler, each provider's OpenAPI document at
    ``{mount}/openapi.json``, the files route, the admin routes."""
    app = web.Application(middlewares=[middleware])
    for provider in mounts.providers:
        document = app.router.add_get(provider.mount + DOCUMENT_PATH, document_handler(provider, base_url))
        mounts.add_document(document)
        for route in provider.routes():
            served = Served(provider, route)
            mounted = app.router.add_route(route.method, provider.mount + route.path, handler_for(served))
            mounts.add(mounted, served)
    app.router.add_get(FILES_PATH, files)
    for method, path, handler in admin:
        app.router.add_route(method, path, handler)
    return app


def document_handler(provider: Provider, base_url: Callable[[], str]) -> Handler:
    """Serves ``provider``'s OpenAPI document, made on the first request (the port is bound by then)."""

    @functools.cache
    def document() -> bytes:
        return compact_json(api_document(provider, base_url()))

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=document(), content_type="application/json")

    return handler


async def listen(
    app: web.Application, host: str, port: int, idle_timeout: float = LimitsSpec().idle_timeout
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port`` (0 picks a free port); the runner and the port bound.

    A connection idle for ``idle_timeout`` seconds (between requests, or before the first) is closed.
    """
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        keepalive_timeout=idle_timeout,
        shutdown_timeout=SHUTDOWN_GRACE,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, runner.addresses[0][1]
