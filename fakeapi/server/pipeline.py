"""The one request pipeline every API shares.

For a provider's route: authorize the key, check the model named in the path, read the body (JSON
or multipart), let the provider parse it, run the engine (submit, wait for a sync request's end,
poll, read the account), let the provider render the outcome. Around every request: the fault that
fires on it (if any), errors in the provider's envelope, the journal and the surprises.

Every request reaches ``Pipeline.front`` first, which serves a provider route its raw path names
exactly (``serve``); the rest (paths aiohttp's router must decode, result files, the admin API,
unknown routes) go through the router and ``Pipeline.middleware``. A request an API gets at its root
paths (on its own port, or addressed to one of its hosts) is served as if sent under its mount: the
journal shows it under the mount, which names the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import struct
import traceback
from collections.abc import Awaitable, Callable, Mapping
from http.client import responses

from aiohttp import hdrs, web
from typing_extensions import assert_never

from fakeapi.admin import HOST_HEADER, ROOT_PAGES
from fakeapi.bodies import Dropped, closing, read_body, read_form
from fakeapi.catalogue import unlisted
from fakeapi.engine import TaskEngine
from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.etiquette import Etiquette, Observed, body_digest, registered_lifecycles, retry_after
from fakeapi.etiquette import Point as EtiquettePoint
from fakeapi.providers.base import (
    AccountRoute,
    ErrorContext,
    Incoming,
    Outcome,
    Point,
    PollRoute,
    Provider,
    SubmitRoute,
)
from fakeapi.recorder import Recorder
from fakeapi.scenario.faults import FaultBase, FaultPoint
from fakeapi.server.app import FILES_PREFIX, Handler, Mounts, Served
from fakeapi.server.request_log import RequestLog
from fakeapi.wire import bearer_key

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
# The fault point of each kind of route: a synchronous request is a submit, an account read a poll.
FAULT_POINTS: dict[Point, FaultPoint] = {
    "submit": "submit",
    "sync": "submit",
    "poll": "poll",
    "account": "poll",
}
# What each kind of route is to the etiquette rules: a synchronous request is a submit.
ETIQUETTE_POINTS: dict[Point, EtiquettePoint] = {
    "submit": "submit",
    "sync": "submit",
    "poll": "poll",
    "account": "other",
}
# Result URLs by the scheme and host a submit came with: one string for all the tasks of a host.
MAX_BASE_URLS = 256
# What a browser-side client may read of an answer besides the CORS-safelisted headers.
CORS_EXPOSED = "Retry-After, Content-Range, Accept-Ranges, Content-Length"
CORS_METHODS = "GET, HEAD, POST, OPTIONS"


class Current:
    """The run being served: its engine, its recorder (bounded by the run's limits) and its
    etiquette checker (a reset swaps all three), and the event that, set when the run ends, drops
    the requests a fault holds. ``announce``, if set, is told of each etiquette violation of a
    strict run (with the request and the clock time), as it happens."""

    def __init__(self, engine: TaskEngine) -> None:
        self.engine = engine
        self.recorder = Recorder(engine.scenario.limits)
        self.etiquette = _etiquette_for(engine)
        self.stopping = asyncio.Event()
        self.announce: Callable[[float, str], None] | None = None

    def end(self) -> None:
        """End the run: requests a fault holds are dropped, synchronous requests waiting on the
        clock are answered at once (see ``TaskEngine.close``)."""
        self.stopping.set()
        self.engine.close()

    def replace(self, engine: TaskEngine) -> None:
        """End this run and serve ``engine`` with a fresh recorder."""
        self.end()
        self.engine = engine
        self.recorder = Recorder(engine.scenario.limits)
        self.etiquette = _etiquette_for(engine)
        self.stopping = asyncio.Event()


def _etiquette_for(engine: TaskEngine) -> Etiquette:
    """A fresh etiquette checker for ``engine``'s run, paced by each registered API's lifecycle."""
    return Etiquette(registered_lifecycles(), engine.scenario.etiquette)


class _Facts:
    """What handling a request learnt that the etiquette rules need (see ``Observed``)."""

    # Class-level defaults and no __init__: made on every request, most set one or two of them.
    task_id: str | None = None
    state: str | None = None  # the task's canonical state the answer shows
    before: str | None = None  # the state the answer before it showed
    terminal = False
    callback_url: str | None = None
    digest: str | None = None


class Pipeline:
    """Serves every provider route, and wraps every request (admin ones excepted) in faults,
    errors, the journal and surprise reporting."""

    def __init__(
        self,
        current: Current,
        mounts: Mounts,
        admin: Callable[[web.Request, Handler], Awaitable[web.StreamResponse]] | None,
        admin_prefix: str,
        *,
        public_url: str | None = None,
        cors: bool = False,
        log: RequestLog | None = None,
    ) -> None:
        self.current = current
        self.log = log
        self.mounts = mounts
        self._admin = admin
        self._admin_prefix = admin_prefix
        self._routed: Handler | None = None
        self.public_url = public_url
        self.cors = cors
        self._base_urls: dict[tuple[str, str], str] = {}

    # -- the front and the middleware -----------------------------------------------------------

    def front_of(self, routed: Handler) -> Handler:
        """The handler every request goes to first; ``routed`` is the app's own (router and
        middleware), for the requests ``front`` does not serve itself."""
        self._routed = routed
        return self.front_with_cors if self.cors else self.front

    def front(self, request: web.Request) -> Awaitable[web.StreamResponse]:
        """Serve a provider route the request's raw path names exactly; hand the rest to the app.

        A plain function returning the coroutine that answers: no coroutine frame of its own.
        """
        hit = self.mounts.match(request.method, request.raw_path)
        if hit is None:
            root = self.mounts.root_of(request)
            if root is not None:
                return self._front_at_root(request, root)
        # An Expect header is answered (100 Continue, or 417) by the app's handling only.
        if hit is None or hdrs.EXPECT in request.headers:
            assert self._routed is not None
            return self._routed(request)
        return self.serve(request, *hit)

    def _front_at_root(self, request: web.Request, provider: Provider) -> Awaitable[web.StreamResponse]:
        """``front`` for a request ``provider`` gets at its root paths: its routes, its document and
        its unknown routes under its mount; result files and the admin API where they always are."""
        assert self._routed is not None
        raw = request.raw_path
        if not raw.startswith("/"):  # absolute-form, as sent to a proxy: the fake is one for its hosts
            raw = request.rel_url.raw_path_qs
        # Under a mount the path names its API whichever way it came (FoxAPI's stream URLs, say).
        if raw.startswith(FILES_PREFIX) or self._is_admin(raw) or self.mounts.under_mount(raw) is not None:
            return self._routed(request)
        mounted = provider.mount + raw
        hit = self.mounts.match(request.method, mounted)
        if hit is None or hdrs.EXPECT in request.headers:
            return self._routed(request.clone(rel_url=mounted))
        return self.serve(request, *hit, path=provider.mount + request.path)

    def _is_admin(self, path: str) -> bool:
        """Whether ``path`` is the admin API's (its prefix, with or without the final slash)."""
        return path.startswith(self._admin_prefix) or path + "/" == self._admin_prefix

    async def front_with_cors(self, request: web.Request) -> web.StreamResponse:
        """``front`` for a server started with ``cors``: preflights answered, and every answer but
        the admin API's readable by a web page of any origin."""
        admin = self._is_admin(request.path)
        headers = request.headers
        if (
            request.method == "OPTIONS"
            and not admin
            and hdrs.ORIGIN in headers
            and hdrs.ACCESS_CONTROL_REQUEST_METHOD in headers
        ):
            return web.Response(
                status=204,
                headers={
                    hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: "*",
                    hdrs.ACCESS_CONTROL_ALLOW_METHODS: CORS_METHODS,
                    hdrs.ACCESS_CONTROL_ALLOW_HEADERS: headers.get(
                        hdrs.ACCESS_CONTROL_REQUEST_HEADERS, "Authorization, Content-Type"
                    ),
                    hdrs.ACCESS_CONTROL_MAX_AGE: "600",
                },
            )
        response = await self.front(request)
        if not admin and not response.prepared:
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = "*"
            response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = CORS_EXPOSED
        return response

    async def serve(
        self, request: web.Request, served: Served, params: Mapping[str, str], path: str | None = None
    ) -> web.StreamResponse:
        """A provider route's request, with its fault (if one fires), its errors and its journal;
        ``path``: the request's path under the provider's mount (default: its path as sent)."""
        current = self.current
        # The run's own, whatever a reset while a fault holds the request swaps in.
        engine, recorder, etiquette = current.engine, current.recorder, current.etiquette
        provider = served.provider
        if path is None:
            path = request.path
        # Also what the journal keeps of the request (its body, its notes), whatever the handling
        # raised. Only this frame refers to it: the request refers to nothing that refers back.
        incoming = Incoming(
            key=bearer_key(request.headers),
            settings=engine.settings(served.api),
            source=request,
            params=params,
        )
        facts = _Facts()
        # No faults is the common case: kept off every request's path.
        fault = None
        if engine.faults.faults:
            fault = engine.faults.pick(
                FAULT_POINTS[served.route.point],
                api=served.api,
                key=incoming.key,
                headers=request.headers,
                path=path.removeprefix(provider.mount),
            )
        if fault is None:
            try:
                response: web.StreamResponse = await self.handle(request, served, incoming, facts)
            except Exception as exc:
                response = closing(request, self._failed(request, exc, provider))
            contract = notes = tuple(incoming.notes) if incoming.notes else ()
        else:
            handler = functools.partial(self.handle, served=served, incoming=incoming, facts=facts)
            response = await fault.on_exchange(HttpExchange(self, request, handler, provider))
            contract = tuple(incoming.notes)
            notes = (*contract, fault.describe())
        now = engine.clock.now()
        status = response.status
        point = ETIQUETTE_POINTS[served.route.point]
        if point == "poll" and status != 429 and not contract and facts.task_id is not None:
            found = etiquette.polled(
                now, served.api, incoming.key, request.method, facts.task_id, facts.terminal
            )
        else:
            found = etiquette.observe(
                Observed(
                    now,
                    served.api,
                    incoming.key,
                    request.method,
                    point,
                    facts.task_id,
                    facts.terminal,
                    status,
                    retry_after(response.headers) if status == 429 else None,
                    facts.digest,
                    facts.callback_url,
                    contract,
                )
            )
        if found:
            # A contract note is in the journal already, as the note itself.
            noted = [f"etiquette {v.rule}: {v.message}" for v in found if v.rule != "contract-note"]
            if noted:
                notes += tuple(noted)
        recorder.record(
            now,
            request.method,
            path,
            request.query_string,
            status,
            incoming.body,
            notes,
            served.api,
            incoming.key,
            facts.task_id,
            request.headers,
            _header_bytes(request),
            _body_of(response),
            facts.state,
        )
        if self.log is not None:
            self.log.request(
                now, served.api, request.method, path, status, facts.task_id, facts.before, facts.state
            )
        if found and current.announce is not None and engine.scenario.etiquette.strict:
            for violation in found:
                current.announce(now, f"{request.method} {path} -> {status}: {violation}")
        return response

    async def routed(self, request: web.Request, served: Served) -> web.StreamResponse:
        """A provider route's request that aiohttp's router matched (see ``front``)."""
        return await self.serve(request, served, request.match_info)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Around the requests ``front`` hands to the app: the admin API, result files, unknown
        routes (and provider routes, which ``routed`` journals itself)."""
        path = request.path
        if self._admin is not None and (self._is_admin(path) or path in ROOT_PAGES):
            return closing(request, await self._admin(request, handler))
        if self.mounts.is_document(request) or self.mounts.served(request) is not None:
            return await handler(request)
        current = self.current
        engine, recorder = current.engine, current.recorder
        fault = self._download_fault(request, engine) if engine.faults.faults else None
        if fault is None:
            response = await self._answer(request, handler)
            notes: tuple[str, ...] = ()
        else:
            provider = self.mounts.provider_for(request)
            response = await fault.on_exchange(HttpExchange(self, request, handler, provider))
            notes = (fault.describe(),)
        api, task_id = self._owner(request, engine)
        now = engine.clock.now()
        recorder.record(
            now,
            request.method,
            path,
            request.query_string,
            response.status,
            b"",
            notes,
            api,
            bearer_key(request.headers),
            task_id,
            request.headers,
            _header_bytes(request),
            b"" if task_id is not None else _body_of(response),  # a result file's media is not kept
        )
        if self.log is not None:
            self.log.request(now, api, request.method, path, response.status, task_id, None, None)
        return response

    def _owner(self, request: web.Request, engine: TaskEngine) -> tuple[str | None, str | None]:
        """The API and task a request off every provider route is about: a result file's task and
        its API, else the API under whose mount the path lies."""
        if request.match_info.http_exception is None and request.path.startswith(FILES_PREFIX):
            task_id = request.match_info["task_id"]
            task = engine.tasks.get(task_id)
            return (task.api if task is not None else None), task_id
        provider = self.mounts.provider_for(request)
        return (provider.name if provider is not None else None), None

    def _download_fault(self, request: web.Request, engine: TaskEngine) -> FaultBase | None:
        if request.match_info.http_exception is not None or not request.path.startswith(FILES_PREFIX):
            return None  # no route: the request is a surprise, not a place for a fault
        task = engine.tasks.get(request.match_info["task_id"])
        api, key = (task.api, task.key) if task is not None else (None, None)
        return engine.faults.pick("download", api=api, key=key, headers=request.headers, path=request.path)

    async def _answer(
        self, request: web.Request, handler: Handler, provider: Provider | None = None
    ) -> web.StreamResponse:
        """The handler's answer, or the error it raised in the provider's envelope (``provider``, else
        the one under whose mount the request's path lies)."""
        try:
            return await handler(request)
        except Exception as exc:
            return closing(request, self._failed(request, exc, provider))

    def _failed(self, request: web.Request, exc: Exception, provider: Provider | None = None) -> web.Response:
        """The answer to a request whose handling raised ``exc``, in ``provider``'s envelope, else in
        that of the provider under whose mount its path lies (looked up only now: a request that
        succeeds never needs it)."""
        if provider is None:
            provider = self.mounts.provider_for(request)
        match exc:
            case FakeApiError():
                error = exc
            case web.HTTPRequestEntityTooLarge():
                error = FakeApiError(ErrorKind.PAYLOAD_TOO_LARGE, "the request body is too large")
            case Dropped():
                return web.Response(status=exc.status)  # recorded in the journal, never sent
            case web.HTTPNotFound() | web.HTTPMethodNotAllowed():
                kind = ErrorKind.ROUTE_NOT_FOUND
                if isinstance(exc, web.HTTPMethodNotAllowed):
                    kind = ErrorKind.METHOD_NOT_ALLOWED
                relative = request.path.removeprefix(provider.mount) if provider is not None else request.path
                self.current.recorder.surprise(
                    f"{request.method} {request.path} matched no route; {self.mounts.routes_served(provider)}"
                )
                error = FakeApiError(kind, f"Invalid URL ({request.method} {relative})")
            case _:
                trace = "".join(traceback.format_exception(exc))
                self.current.recorder.surprise(
                    f"{request.method} {request.path} raised in the fake:\n{trace}"
                )
                error = FakeApiError(ErrorKind.SERVER_ERROR, "internal error")
        return self.error(request, provider, error)

    def error(self, request: web.Request, provider: Provider | None, error: FakeApiError) -> web.Response:
        """``error`` in the provider's envelope (a plain JSON 404 off every provider's mount)."""
        if provider is None:
            return web.json_response({"error": error.message}, status=404)
        engine = self.current.engine
        context = ErrorContext(engine.settings(provider.name), engine.clock.now(), engine.random)
        status, body = provider.render_error(error, context)
        response = web.Response(body=body, status=status, content_type="application/json")
        # No API documents a header for its 429s; every one gets Retry-After, which clients honour.
        if error.retry_after:
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    def scripted_error(
        self,
        request: web.Request,
        provider: Provider | None,
        status: int,
        message: str | None,
        retry_after: int | None,
    ) -> web.Response:
        """A scripted error status: the API's own envelope where it has an error of that status,
        else the bare HTML page a gateway in front of it answers with."""
        reason = responses.get(status, "Error")
        if provider is not None:
            for kind in FAULT_KINDS.get(status, ()):
                if provider.errors[kind].status == status:
                    response = self.error(
                        request, provider, FakeApiError(kind, message or reason, retry_after=retry_after)
                    )
                    response.set_status(status)
                    return response
        page = GATEWAY_PAGE.format(phrase=f"{status} {reason}")
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return web.Response(status=status, text=page, content_type="text/html", headers=headers)

    # -- provider routes ------------------------------------------------------------------------

    def handler_for(self, served: Served) -> Handler:
        """The app's handler of a provider route (for the requests ``front`` leaves to the router)."""
        return functools.partial(self.routed, served=served)

    async def handle(
        self, request: web.Request, served: Served, incoming: Incoming, facts: _Facts
    ) -> web.Response:
        """Authorize, parse, run the engine, render: the same steps for every API; what the
        etiquette rules need to know of the request goes to ``facts``."""
        engine = self.current.engine
        provider, route = served.provider, served.route
        api, key = served.api, incoming.key
        account = engine.authorize(api, key)
        if route.model_param is not None:
            engine.check_model(api, incoming.params[route.model_param])
        match route.body:
            case "json":
                incoming.body = await read_body(request, engine.scenario.limits)
            case "multipart":
                # Another content type leaves the form empty: the provider words that error its way.
                if request.content_type == "multipart/form-data":
                    incoming.form = await read_form(request, engine.scenario.limits)
            case "none":
                pass
            case _:
                assert_never(route.body)
        match route:
            case SubmitRoute():
                body = await self._submit(provider, route, incoming, facts)
            case PollRoute():
                ref = route.parse(incoming)
                facts.task_id = ref.task_id
                task = engine.tasks.get(ref.task_id)  # the one polled, if the poll is answered
                shown = task.shown if task is not None else None
                body = engine.poll(api, ref.task_id, key, ref.model, route.render, route.check)
                if task is not None:
                    facts.before, facts.state = shown, task.shown
                    # An ended task's answer is kept with it: the very bytes just served.
                    facts.terminal = task.answer is not None and task.answer[1] is body
            case AccountRoute():
                body = route.render(account, incoming)
            case _:
                assert_never(route)
        return web.Response(body=body, content_type=route.content_type)

    async def _submit(
        self, provider: Provider, route: SubmitRoute, incoming: Incoming, facts: _Facts
    ) -> bytes:
        engine = self.current.engine
        submit = route.parse(incoming)
        facts.callback_url = submit.callback_url
        facts.digest = body_digest(
            (route.path.encode(), incoming.body, *(part.data for part in incoming.form))
        )
        size = len(incoming.body) + sum(len(part.data) for part in incoming.form)
        view = engine.submit(submit, size, self.base_url_for(incoming.headers))
        facts.task_id = view.id
        facts.state = view.state
        await engine.before_answer(view.id)
        if provider.profile.catalogue.lookup(submit.model) is None:
            incoming.note(unlisted(submit.model))  # accepted, so the scenario accepts unknown models
        waited = route.sync or submit.sync
        expected_end = None
        if waited:
            view = await engine.run_to_end(view.id)
            facts.before, facts.state = facts.state, view.state
            facts.terminal = True
            if view.state == "failed":
                raise provider.sync_failure(view)
        else:
            expected_end = engine.projected_end(engine.get(view.id))
        return route.render(Outcome(view, incoming, engine.clock.now(), waited, expected_end))

    def base_url_for(self, headers: Mapping[str, str]) -> str | None:
        """Where a client that sent ``headers`` reaches the fake (``None``: the server's own base
        URL): the public URL if set, else the scheme and host a reverse proxy says it was reached
        at (``X-Forwarded-Proto``, ``X-Forwarded-Host``, their first values), else ``Host``."""
        if self.public_url is not None:
            return self.public_url
        proto = headers.get(hdrs.X_FORWARDED_PROTO, "")
        scheme = "https" if proto.partition(",")[0].strip().lower() == "https" else "http"
        forwarded = headers.get(hdrs.X_FORWARDED_HOST)
        if forwarded:
            base = self._base_url(scheme, forwarded.partition(",")[0].strip())
            if base is not None:
                return base
        host = headers.get(hdrs.HOST)
        return self._base_url(scheme, host) if host else None

    def _base_url(self, scheme: str, host: str) -> str | None:
        """``scheme://host``, one string for every task of that host; ``None`` when ``host`` is not
        a host and port (a path, a user name, a port past 65535...): never part of a result URL."""
        base = self._base_urls.get((scheme, host))
        if base is None:
            match = HOST_HEADER.fullmatch(host)
            port = match["port"] if match is not None else None
            if match is None or (port and (len(port) > 5 or int(port) > 65535)):
                return None
            if len(self._base_urls) >= MAX_BASE_URLS:
                self._base_urls.clear()
            base = self._base_urls[scheme, host] = f"{scheme}://{host}"
        return base


class HttpExchange:
    """A fault's view of one HTTP exchange (see ``fakeapi.scenario.faults.Exchange``)."""

    def __init__(
        self, pipeline: Pipeline, request: web.Request, handler: Handler, provider: Provider | None
    ) -> None:
        self._pipeline = pipeline
        self._request = request
        self._handler = handler
        self._provider = provider
        self._stopping = pipeline.current.stopping

    async def answer(self) -> web.StreamResponse:
        # A request held until its run ended must not take effect: not in the next run (it would leak
        # into the next test), nor as the server stops (a task no one would see the answer to).
        if self._stopping.is_set():
            return self.drop()
        return await self._pipeline._answer(self._request, self._handler, self._provider)

    def error(self, status: int, message: str | None, retry_after: int | None) -> web.StreamResponse:
        return self._pipeline.scripted_error(self._request, self._provider, status, message, retry_after)

    def drop(self) -> web.StreamResponse:
        """Reset the connection; the journal records the request as status 499."""
        _abort(self._request)
        # The connection is gone; aiohttp finds nothing to write to and sends nothing.
        return web.Response(status=499)

    async def truncate(self, answer: web.StreamResponse) -> web.StreamResponse:
        body = _body_of(answer)
        stream = web.StreamResponse(status=answer.status, headers=answer.headers)
        stream.content_length = len(body)
        await stream.prepare(self._request)
        await stream.write(body[: len(body) // 2])
        _abort(self._request)
        return stream

    def malform(self, answer: web.StreamResponse) -> web.StreamResponse:
        body = _body_of(answer)
        return web.Response(
            status=answer.status, body=body[: len(body) // 2], content_type=answer.content_type
        )

    async def wait(self, seconds: float) -> None:
        # asyncio.TimeoutError, not TimeoutError: they are different classes before Python 3.11.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)


def _header_bytes(request: web.Request) -> int:
    """The bytes of a request's header names and values, which the journal keeps."""
    return sum(len(name) + len(value) for name, value in request.raw_headers)


def _body_of(answer: web.StreamResponse) -> bytes:
    body = answer.body if isinstance(answer, web.Response) else b""
    return body if isinstance(body, bytes) else b""


def _abort(request: web.Request) -> None:
    """Drop the connection with a TCP reset (SO_LINGER 0), as a crashing upstream does."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
