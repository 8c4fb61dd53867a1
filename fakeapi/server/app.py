"""Assembling the aiohttp app: every provider's routes, the result files, the admin API, and an
O(1) way back from a request to the provider and route that serve it.

A provider route named exactly by a request's raw path is found by two dictionary lookups and
served without aiohttp's router and middleware (``Mounts.match``, ``listen``'s ``front``): polls
and submits are what clients send most, and the router and middleware took a fifth of a poll.

Each API is also served at its real root paths (``/api/v1/...`` rather than ``/apixo/api/v1/...``) to
a request on a port of its own (``add_site``, ``Mounts.bind_port``) or addressed to one of its host
names (``Provider.hosts``, ``Mounts.add_host``): ``Mounts.root_of`` names the API such a request is for.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import cast

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware
from aiohttp.web_urldispatcher import AbstractRoute

from fakeapi.admin import host_name
from fakeapi.contract.openapi import DOCUMENT_PATH, api_document
from fakeapi.providers.base import AnyRoute, Provider
from fakeapi.scenario.schema import LimitsSpec
from fakeapi.wire import compact_json

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FILES_PATH = "/files/{task_id}/{name}"
FILES_PREFIX = "/files/"
# What a request still being handled when the server stops gets to finish (aiohttp's default is 60 s,
# waited twice over: once for the handler, once more after cancelling it).
SHUTDOWN_GRACE = 1.0
NO_PARAMS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Served:
    """A provider's route as mounted; ``api`` is the provider's name."""

    provider: Provider
    route: AnyRoute
    api: str


class Mounts:
    """Which provider and route serve a request: the route by the one aiohttp matched, the provider
    by the request's first path segment (a mount is one segment), matched or not; and which API a
    request reaches at its root paths, by the port it came to or the host it names."""

    def __init__(self, providers: Sequence[Provider]) -> None:
        self.providers = list(providers)
        self._by_name = {p.name: p for p in providers}
        self._by_mount = {p.mount: p for p in providers}
        self._by_host: dict[str, Provider] = {}
        self._by_port: dict[int, Provider] = {}
        self._port_of: dict[str, int] = {}
        for provider in providers:
            for name in provider.hosts:
                self.add_host(provider.name, name)
        self._by_route: dict[AbstractRoute, Served] = {}
        self._documents: set[AbstractRoute] = set()
        # By method: the routes of a fixed path by path, and those whose path ends in its one
        # parameter by the path before that parameter's segment.
        self._index: dict[str, tuple[dict[str, Served], dict[str, tuple[Served, str]]]] = {}

    def add(self, aiohttp_route: AbstractRoute, served: Served) -> None:
        self._by_route[aiohttp_route] = served
        static, ending = self._index.setdefault(served.route.method, ({}, {}))
        path = served.provider.mount + served.route.path
        head, brace, param = path.partition("{")
        if not brace:
            static[path] = served
        # One plain parameter ending the path; one with a pattern ("{id:[0-9]+}") is left to the router.
        elif head.endswith("/") and param.endswith("}") and not any(c in param for c in "/{:"):
            ending[head[:-1]] = (served, param[:-1])

    def match(self, method: str, raw_path: str) -> tuple[Served, Mapping[str, str]] | None:
        """The provider route a request's raw path names exactly, and its path parameters; ``None``
        for anything else: aiohttp's router then decides, as it does for every path with a
        percent-escape (which it decodes), a dot segment, a brace, a fragment or other than ASCII."""
        index = self._index.get(method)
        if index is None:
            return None
        static, ending = index
        if "#" in raw_path:
            return None
        path = raw_path.partition("?")[0] if "?" in raw_path else raw_path
        served = static.get(path)
        if served is not None:
            return served, NO_PARAMS
        head, _, last = path.rpartition("/")
        found = ending.get(head)
        if (
            found is None
            or last in ("", ".", "..")
            or not last.isascii()
            or "%" in last
            or "{" in last
            or "}" in last
        ):
            return None
        return found[0], {found[1]: last}

    def add_host(self, api: str, name: str) -> None:
        """Serve ``api`` at its root paths to requests whose ``Host`` is ``name`` (any port; a final
        dot aside, as requests are matched); ``ValueError`` if ``name`` is not a bare host name."""
        provider = self.named(api)
        name = host_name(name.rstrip(".") or name)
        taken = self._by_host.setdefault(name, provider)
        if taken is not provider:
            raise ValueError(f"host {name!r} already routes to {taken.name}, not {api}")

    def bind_port(self, port: int, api: str) -> None:
        """Serve ``api`` at its root paths to every request that comes to ``port``."""
        provider = self.named(api)
        # A restarted server binds new ports: the old one must route nothing any more.
        self._by_port.pop(self._port_of.get(provider.name, -1), None)
        self._by_port[port] = provider
        self._port_of[provider.name] = port

    def port_of(self, api: str) -> int | None:
        """The port of ``api``'s own (``None``: it has none)."""
        return self._port_of.get(self.named(api).name)

    def root_of(self, request: web.Request) -> Provider | None:
        """The API a request reaches at its root paths: the one whose port it came to, else the one
        whose host name its ``Host`` header names (port and a final dot aside, in any case), or for a
        request in absolute form (sent to a proxy), the host its target names (RFC 9112, 3.2.2)."""
        if self._by_port and request.transport is not None:
            address = request.transport.get_extra_info("sockname")
            provider = self._by_port.get(address[1]) if address else None
            if provider is not None:
                return provider
        raw = request.raw_path
        if raw.startswith("/"):
            host = request.headers.get(hdrs.HOST)
        else:  # scheme://user@host:port/path
            host = raw.partition("://")[2].partition("/")[0].rpartition("@")[2]
        if not host or not self._by_host:
            return None
        return self._by_host.get(host.partition(":")[0].rstrip(".").lower())

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
        return self.under_mount(request.path)

    def under_mount(self, path: str) -> Provider | None:
        """The provider under whose mount ``path`` lies (a path as sent, or decoded)."""
        return self._by_mount.get("/" + path.partition("?")[0].split("/", 2)[1])

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
    reached: Callable[[web.Request, Provider], str],
) -> web.Application:
    """The app: each provider route bound to its handler, each provider's OpenAPI document at
    ``{mount}/openapi.json`` (``reached``: the URL a request reached the fake at, see
    ``document_handler``), the files route, the admin routes."""
    app = web.Application(middlewares=[middleware])
    for provider in mounts.providers:
        document = app.router.add_get(
            provider.mount + DOCUMENT_PATH, document_handler(provider, reached, mounts)
        )
        mounts.add_document(document)
        for route in provider.routes():
            served = Served(provider, route, provider.name)
            mounted = app.router.add_route(route.method, provider.mount + route.path, handler_for(served))
            mounts.add(mounted, served)
    app.router.add_get(FILES_PATH, files)
    for method, path, handler in admin:
        app.router.add_route(method, path, handler)
    return app


def document_handler(
    provider: Provider, reached: Callable[[web.Request, Provider], str], mounts: Mounts
) -> Handler:
    """Serves ``provider``'s OpenAPI document, whose server is where the request was sent, as its
    result URLs are: ``reached(request, provider)`` (the public URL, a reverse proxy's forwarded host,
    the ``Host``...), then the API's mount, or nothing when the request reached the API at its root
    paths (its port, its host)."""

    @functools.lru_cache(maxsize=16)
    def document(base: str, at_root: bool) -> bytes:
        made = api_document(provider, base)
        if at_root:
            made["servers"] = [{"url": base}]
        return compact_json(made)

    async def handler(request: web.Request) -> web.Response:
        body = document(reached(request, provider), mounts.root_of(request) is provider)
        return web.Response(body=body, content_type="application/json")

    return handler


async def listen(
    app: web.Application,
    host: str,
    port: int,
    idle_timeout: float = LimitsSpec().idle_timeout,
    front: Callable[[Handler], Handler] | None = None,
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port`` (0 picks a free port); the runner and the port bound.

    A connection idle for ``idle_timeout`` seconds (between requests, or before the first) is closed.
    ``front``, given the app's own request handler (its router and middleware), returns the handler
    every request goes to first.
    """
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        keepalive_timeout=idle_timeout,
        shutdown_timeout=SHUTDOWN_GRACE,
    )
    await runner.setup()
    server = runner.server
    if front is not None and server is not None:
        # The runner's request factory is the app's: every request is a web.Request.
        routed = cast(Handler, server.request_handler)
        server.request_handler = cast(
            Callable[[web.BaseRequest], Awaitable[web.StreamResponse]], front(routed)
        )
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound: int = runner.addresses[0][1]
    return runner, bound


async def add_site(runner: web.AppRunner, host: str, port: int) -> int:
    """Serve ``runner``'s app on ``host:port`` too (0 picks a free port); the port bound."""
    bound = len(runner.addresses)
    site = web.TCPSite(runner, host, port)
    await site.start()
    address: int = runner.addresses[bound][1]
    return address
