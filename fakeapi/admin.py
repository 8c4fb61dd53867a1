"""The admin API under ``/_fakeapi/``: the fixture's operations over HTTP, one to one.

``Admin`` is the one operations layer. ``FakeApi`` (the pytest fixture) calls its methods on the
server's loop; each route parses its JSON body into the same model and calls the same method, so a
sandbox user does with curl exactly what a test does in Python.

Admin requests are not API requests: they are not journaled, count against no rate limit and are
never surprises. They are open on a loopback address; with a token set each needs
``Authorization: Bearer TOKEN``; on any other address without a token they are refused. Whatever
the token, only requests whose ``Host`` is an IP address, ``localhost`` or an allowed name are
answered (a DNS-rebinding page always sends its own DNS name), and scenario files are read only
from the server's scenario directories. Listings are served a page at a time.

Three pages that change nothing and tell no secret are open to every client, as an orchestrator's
probe from another host needs: ``/_fakeapi/health`` (and ``/healthz``, its usual name) and the
index at ``/``, which names the APIs' mounts and the admin URLs.
"""

from __future__ import annotations

import hmac
import ipaddress
import itertools
import re
import traceback
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar

import pydantic_core
from aiohttp import hdrs, web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, ValidationError

from fakeapi import package_version
from fakeapi.bodies import Dropped, read_body
from fakeapi.clock import SystemClock
from fakeapi.contract.openapi import DOCUMENT_PATH, admin_document
from fakeapi.engine import TaskEngine, TaskView
from fakeapi.errors import ClockRefused, FakeApiError, ScenarioError, TaskStateError, validation_problems
from fakeapi.etiquette import Etiquette, Violation, strictly
from fakeapi.recorder import JournalEntry, JournalQuery, Recorder
from fakeapi.scenario import FailureReason, Scenario, ScenarioRef, merge_overrides
from fakeapi.scenario.loading import ScenarioDirs
from fakeapi.scenario.types import ApiName
from fakeapi.webhooks import DeliveryAttempt
from fakeapi.wire import bearer_key, compact_json, load_json

if TYPE_CHECKING:
    from fakeapi.providers import Provider

ADMIN_PREFIX = "/_fakeapi/"
HEALTH_PATH = "/health"
# Served on the main port beside the admin API, open to every client (see the module's docstring).
INDEX_PATH = "/"
HEALTHZ_PATH = "/healthz"
ROOT_PAGES = frozenset({INDEX_PATH, HEALTHZ_PATH})
OVERRIDDEN = " (with overrides)"
PAGE_LIMIT = 1000
MAX_PAGE_LIMIT = 10_000
MAX_SPEED = 1e6
B = TypeVar("B", bound=BaseModel)
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class AdminRoute:
    """One admin route, relative to ``Admin.mount``: the model of its JSON body or of its query."""

    method: str
    path: str
    handler: Handler
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None


class Operations(Protocol):
    """What the admin API needs of a server: the run serving now, and starting over."""

    @property
    def engine(self) -> TaskEngine: ...

    @property
    def recorder(self) -> Recorder: ...

    @property
    def etiquette(self) -> Etiquette: ...

    @property
    def base_url(self) -> str: ...

    @property
    def providers(self) -> list[Provider]: ...

    def scenario_for(self, ref: ScenarioRef | None) -> Scenario: ...

    async def reset(self, scenario: ScenarioRef | None = None, seed: int | None = None) -> None: ...


class _Body(BaseModel):
    # Built on first use, not at import: none is needed to start `fakeapi serve`.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ResetBody(_Body):
    """``reset``: start over with the current scenario; ``seed`` replaces the scenario's seed."""

    seed: int | None = None


def _scenario_ref(value: object) -> object:
    if value is None or isinstance(value, Scenario | str | dict):
        return value
    raise ValueError("a bundled scenario name, a scenario file path or a scenario mapping")


class LoadScenarioBody(_Body):
    """``load_scenario``: start over with a scenario (``None``: the current one), deep-merged with
    ``overrides`` (mappings merge key by key, anything else replaces), and ``seed``; ``strict`` turns
    strict mode on or off whatever the scenario's ``etiquette.strict`` says."""

    scenario: Annotated[Scenario | str | dict[str, Any] | None, PlainValidator(_scenario_ref)] = None
    seed: int | None = None
    overrides: dict[str, Any] | None = None
    strict: bool | None = None


class ShiftBody(_Body):
    """``clock/shift``: move the clock forward by ``seconds``."""

    seconds: float = Field(ge=0, allow_inf_nan=False)


class MoveToBody(_Body):
    """``clock/move_to``: move the clock to Unix time ``t`` (never backwards)."""

    t: float = Field(allow_inf_nan=False)


class SpeedBody(_Body):
    """``clock/speed``: how fast the system clock runs (60: a minute of clock time per second), up to
    a million (a day in under a tenth of a second: the clock still shows every API's timestamps
    for thousands of years)."""

    speed: float = Field(gt=0, le=MAX_SPEED, allow_inf_nan=False)


class FailBody(_Body):
    """``tasks/{id}/fail``: the message and code the client sees, else the API's words for ``reason``."""

    message: str | None = None
    code: str | None = None
    reason: FailureReason = "generation_failed"


class BalanceQuery(_Body):
    """``balance``: a key's account on one API."""

    api: str
    key: str


def _rooted(path: str) -> str:
    """A path criterion that can match a request's path (which starts with ``/``)."""
    if not path.startswith(("/", "*", "?", "[")):
        raise ValueError(f"{path!r} starts with neither / nor a wildcard: it would match no request")
    return path


class RequestsQuery(_Body):
    """``requests``: the journal's entries that match every criterion given: ``api`` by name,
    ``method`` in any case, ``path`` exactly or as a glob, as sent or relative to the API's mount,
    ``task_id`` and ``status`` exactly (see ``fakeapi.recorder.JournalQuery``)."""

    api: ApiName | None = None
    method: str | None = None
    path: Annotated[str, AfterValidator(_rooted)] | None = None
    task_id: str | None = None
    status: int | None = None


class PageQuery(_Body):
    """The page of a listing (``tasks``, ``journal``, ``deliveries``, ``requests``) an HTTP request reads:
    ``limit`` items from position ``offset``, oldest first."""

    limit: int = Field(default=PAGE_LIMIT, ge=1, le=MAX_PAGE_LIMIT)
    offset: int = Field(default=0, ge=0)


class RequestsPage(RequestsQuery, PageQuery):
    """``GET /requests``' query: the criteria of ``RequestsQuery``, and the page of the matching
    entries (``PageQuery``)."""


class AdminError(Exception):
    """An admin request refused before it reached an operation (access)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def scenario_name(ref: object) -> str:
    """What the health page calls a scenario: the bundled name or the file name (no directory: the
    page is open to any host) it was loaded by, else ``custom`` (a mapping or a ``Scenario``)."""
    return Path(ref).name if isinstance(ref, str | Path) else "custom"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine."""
    address = _ip_literal(host)
    return host == "localhost" or (address is not None and address.is_loopback)


# A Host header: a bracketed IPv6 literal or a name (an IPv4 literal too), then an optional port.
HOST_HEADER = re.compile(
    r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::(?P<port>[0-9]*))?", re.ASCII
)


def host_name(value: str) -> str:
    """``value`` as an allowed host name (lower case); ``ValueError`` if it is not a bare host name."""
    match = HOST_HEADER.fullmatch(value)
    if match is None or match["name"] != value:
        raise ValueError(f"{value!r} is not a host name (give it without scheme, port or path)")
    return value.lower()


def _same_origin(headers: Mapping[str, str]) -> bool:
    """Whether a request carries no ``Origin`` (not from a web page), or the origin of the server it
    was sent to (the ``Host`` it names): a page this server served, the dashboard."""
    origin = headers.get(hdrs.ORIGIN)
    if origin is None:
        return True
    scheme, _, authority = origin.partition("://")
    return scheme in ("http", "https") and authority.lower() == headers.get(hdrs.HOST, "").lower()


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class Admin:
    """The fixture's operations on one server, and their routes under ``/_fakeapi``.

    Every operation must run on the server's loop (``FakeApi`` sees to it; routes run there).
    """

    mount = ADMIN_PREFIX.rstrip("/")

    def __init__(
        self,
        ops: Operations,
        *,
        host: str,
        token: str | None,
        scenario_dirs: ScenarioDirs | None = None,
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        self._ops = ops
        self._host = host
        self._token = token  # None: open on a loopback host, off elsewhere
        self.scenario_dirs = scenario_dirs if scenario_dirs is not None else ScenarioDirs()
        self.allowed_hosts = frozenset(map(host_name, allowed_hosts))
        #: The scenario serving now, as ``scenario_name`` words it (``load_scenario`` keeps it).
        self.scenario_name = "default"
        self._open_paths = frozenset({*ROOT_PAGES, self.mount + HEALTH_PATH})

    @property
    def _engine(self) -> TaskEngine:
        return self._ops.engine

    # -- operations -----------------------------------------------------------------------------

    async def reset(self, body: ResetBody) -> None:
        """Start over with the current scenario: no tasks, fresh accounts, clock and logs."""
        await self._ops.reset(None, body.seed)

    def seed(self) -> int:
        """The seed behind every id and random choice of this run."""
        return self._engine.seed

    async def load_scenario(self, body: LoadScenarioBody, name: str | None = None) -> None:
        """Start over with a scenario (bundled name, path, mapping or ``Scenario``), overrides, seed;
        ``name``: what the health page calls it (default: as ``scenario_name`` words ``body``'s)."""
        scenario = body.scenario
        if name is None:
            name = self.scenario_name if scenario is None else scenario_name(scenario)
        if body.overrides:
            scenario = merge_overrides(self._ops.scenario_for(scenario), body.overrides)
            name = name.removesuffix(OVERRIDDEN) + OVERRIDDEN
        if body.strict is not None:
            scenario = strictly(self._ops.scenario_for(scenario), body.strict)
        await self._ops.reset(scenario, body.seed)
        self.scenario_name = name

    def clock_state(self) -> dict[str, Any]:
        """The clock as ``GET /_fakeapi/clock`` shows it: ``now``, ``speed`` and ``virtual``."""
        clock = self._engine.clock
        return {"now": clock.now(), "speed": clock.speed, "virtual": clock.is_virtual}

    def now(self) -> float:
        """The clock's time, in Unix seconds."""
        return self._engine.clock.now()

    async def shift(self, body: ShiftBody) -> None:
        """Move time forward; every transition and callback due on the way runs first, in order."""
        await self._engine.shift(body.seconds)
        self._engine.wakeup()  # a system clock's event runner recomputes its wait

    async def move_to(self, body: MoveToBody) -> None:
        """Move time to Unix time ``t`` (never backwards), as ``shift`` does."""
        await self._engine.advance_to(body.t)
        self._engine.wakeup()

    def set_speed(self, body: SpeedBody) -> None:
        """Change how fast the system clock runs, from now on; a virtual clock has no speed."""
        clock = self._engine.clock
        if not isinstance(clock, SystemClock):
            raise ClockRefused(
                "the clock is virtual: it stands still until shifted, so it has no speed "
                "(speed applies to the system clock of `fakeapi serve`)"
            )
        clock.set_speed(body.speed)
        self._engine.wakeup()

    def tasks(self, page: PageQuery | None = None) -> list[TaskView]:
        """Every task kept (or one page of them), as it stands now (reading does not count as a
        poll); tasks past ``limits.task_ttl`` are forgotten first."""
        engine = self._engine
        engine.forget_expired()
        return [engine.view(t) for t in _window(engine.tasks.values(), page)]

    def task(self, task_id: str) -> TaskView:
        """One task as it stands now (``KeyError`` for an unknown id)."""
        engine = self._engine
        return engine.view(engine.get(task_id))

    def timeline(self, task_id: str) -> list[tuple[str, float]]:
        """The canonical states a task has entered so far, with their clock times."""
        engine = self._engine
        return engine.timeline(engine.get(task_id))

    def complete(self, task_id: str) -> TaskView:
        """Finish a task successfully now."""
        return self._engine.complete(task_id)

    def fail(self, task_id: str, body: FailBody) -> TaskView:
        """Fail a task now with ``body``'s message and code, or the API's words for its reason."""
        return self._engine.fail(task_id, body.message, body.code, body.reason)

    def journal(self, page: PageQuery | None = None) -> list[JournalEntry]:
        """Every API request answered since the last reset (or one page of them), oldest first."""
        return _window(self._ops.recorder.journal, page)

    def journal_query(self, query: RequestsQuery) -> JournalQuery:
        """``query`` as criteria on journal entries, which know each API's mount (a path may be
        given relative to it)."""
        mounts = {provider.name: provider.mount for provider in self._ops.providers}
        return JournalQuery(**query.model_dump(include=set(RequestsQuery.model_fields)), mounts=mounts)

    def requests(self, query: RequestsQuery) -> list[JournalEntry]:
        """The journal's entries that match ``query``, oldest first."""
        return self.journal_query(query).matching(self._ops.recorder.journal)

    def deliveries(self, page: PageQuery | None = None) -> list[DeliveryAttempt]:
        """Every callback delivery attempt since the last reset (or one page of them), oldest first."""
        return _window(self._engine.deliveries, page)

    def surprises(self) -> list[str]:
        """Requests to no route, and crashes in the fake, since the last reset."""
        return list(self._ops.recorder.surprises)

    def clear_surprises(self) -> None:
        """Forget the surprises seen so far (once a test has been told of them)."""
        self._ops.recorder.surprises.clear()

    def violations(self) -> list[Violation]:
        """The etiquette rules the clients broke since the last reset, oldest first (the newest
        ``etiquette.kept`` of them)."""
        return list(self._ops.etiquette.violations)

    def clear_violations(self) -> None:
        """Forget the violations seen so far (once a test has been told of them)."""
        self._ops.etiquette.violations.clear()

    def health(self) -> dict[str, object]:
        """The server's state in brief, for an orchestrator's probe or a person: ``status`` (always
        ``ok``: a server that answers is up), the package ``version``, the ``clock`` (``virtual`` or
        ``system``) and its ``speed``, the ``scenario`` serving and how many ``tasks`` it keeps."""
        engine = self._engine
        clock = engine.clock
        return {
            "status": "ok",
            "version": package_version(),
            "clock": "virtual" if clock.is_virtual else "system",
            "speed": clock.speed,
            "scenario": self.scenario_name,
            "tasks": len(engine.tasks),
        }

    def index(self) -> dict[str, object]:
        """What the main port serves and where (paths on it): each API's mount and OpenAPI
        document, the dashboard, the health page and the admin API's document."""
        return {
            "service": "fakeapi",
            "version": package_version(),
            "apis": {
                provider.name: {"url": provider.mount + "/", "openapi": provider.mount + DOCUMENT_PATH}
                for provider in self._ops.providers
            },
            "dashboard": ADMIN_PREFIX,
            "health": self.mount + HEALTH_PATH,
            "admin_openapi": self.mount + DOCUMENT_PATH,
        }

    def balance(self, query: BalanceQuery) -> float | None:
        """A key's remaining balance on an API (``None``: unlimited)."""
        engine = self._engine
        if query.api not in engine.profiles:
            raise KeyError(f"no API named {query.api!r}; APIs: {', '.join(engine.profiles)}")
        return engine.accounts.authenticate(query.api, query.key).balance

    # -- HTTP -----------------------------------------------------------------------------------

    def routes(self) -> list[AdminRoute]:
        """The routes, relative to ``mount``."""
        return [
            AdminRoute("POST", "/reset", self._reset, body=ResetBody),
            AdminRoute("GET", "/seed", self._seed),
            AdminRoute("POST", "/load_scenario", self._load_scenario, body=LoadScenarioBody),
            AdminRoute("GET", "/clock", self._clock),
            AdminRoute("POST", "/clock/shift", self._shift, body=ShiftBody),
            AdminRoute("POST", "/clock/move_to", self._move_to, body=MoveToBody),
            AdminRoute("POST", "/clock/speed", self._speed, body=SpeedBody),
            AdminRoute("GET", "/tasks", self._tasks, query=PageQuery),
            AdminRoute("GET", "/tasks/{task_id}", self._task),
            AdminRoute("POST", "/tasks/{task_id}/complete", self._complete),
            AdminRoute("POST", "/tasks/{task_id}/fail", self._fail, body=FailBody),
            AdminRoute("GET", "/journal", self._journal, query=PageQuery),
            AdminRoute("GET", "/requests", self._requests, query=RequestsPage),
            AdminRoute("GET", "/deliveries", self._deliveries, query=PageQuery),
            AdminRoute("GET", "/balance", self._balance, query=BalanceQuery),
            AdminRoute("GET", "/surprises", self._surprises),
            AdminRoute("GET", "/violations", self._violations),
            AdminRoute("GET", DOCUMENT_PATH, self._document),
            AdminRoute("GET", HEALTH_PATH, self._health),
        ]

    def root_routes(self) -> list[AdminRoute]:
        """The pages served at the main port's root, outside ``mount``: the index and ``/healthz``."""
        return [AdminRoute("GET", INDEX_PATH, self._index), AdminRoute("GET", HEALTHZ_PATH, self._health)]

    async def dispatch(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Answer an admin request: access first, then the route; every error is JSON, never a 500
        with a traceback (a crash is reported as a surprise instead)."""
        try:
            if request.path not in self._open_paths:
                self._check_host(request)
                self._check_access(request)
            return await handler(request)
        except AdminError as exc:
            response = _error(exc.status, str(exc))
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
            return response
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
            if request.path in self._open_paths:  # open to anyone: it names no other route
                return _error(
                    exc.status, f"{request.method} {request.path}: {exc.reason}; this page answers GET"
                )
            served = ", ".join(f"{r.method} {self.mount}{r.path}" for r in self.routes())
            return _error(exc.status, f"{request.method} {request.path}: {exc.reason}; routes: {served}")
        except web.HTTPRequestEntityTooLarge as exc:
            return _error(exc.status, "the request body is too large")
        except Dropped as exc:
            return _error(exc.status, str(exc))  # the connection is gone: never sent
        except ValidationError as exc:
            return _error(400, validation_problems(exc))
        except (ScenarioError, ValueError, FakeApiError) as exc:
            return _error(400, str(exc))
        except KeyError as exc:
            return _error(404, str(exc.args[0]))
        except TaskStateError as exc:
            return _error(409, str(exc))
        except Exception:
            self._ops.recorder.surprise(
                f"{request.method} {request.path} raised in the fake:\n{traceback.format_exc()}"
            )
            return _error(500, "internal error in the fake (reported as a surprise)")

    def _check_host(self, request: web.Request) -> None:
        header = request.headers.get(hdrs.HOST)
        match = HOST_HEADER.fullmatch(header) if header is not None else None
        if match is not None:
            host = (match["ipv6"] or match["name"]).lower()
            if host == "localhost" or _ip_literal(host) is not None or host in self.allowed_hosts:
                return
        given = "no Host header" if header is None else f"Host {header!r}"
        raise AdminError(
            403,
            f"the admin API answers only requests addressed to an IP address, localhost or a host name "
            f"allowed with --allowed-host NAME (FakeServer(allowed_hosts=[...])), not {given}: "
            "a web page rebinding a DNS name to this server must not drive it; to use this name, start "
            "the server with --allowed-host and the name",
        )

    def _check_access(self, request: web.Request) -> None:
        token = self._token
        if token is None and not _same_origin(request.headers):
            # A web page in the user's browser may post to 127.0.0.1 without a CORS preflight;
            # curl, scripts and tests send no Origin, the dashboard its own (this server's). With a
            # token, the header itself needs one.
            raise AdminError(
                403, "the admin API refuses requests from web pages of other origins (they carry Origin)"
            )
        if token is None:
            if not is_loopback(self._host):
                raise AdminError(
                    403,
                    f"the admin API is off: the server listens on {self._host!r}, not a loopback "
                    "address, and has no admin token; start it with --admin-token TOKEN "
                    "(FakeServer(admin_token=...)) and send Authorization: Bearer TOKEN",
                )
            return
        given = bearer_key(request.headers)
        # A header's bytes that are not UTF-8 come as surrogate escapes: compared, never refused as 400.
        if given is None or not hmac.compare_digest(given.encode(errors="surrogateescape"), token.encode()):
            raise AdminError(401, "the admin API needs Authorization: Bearer <the server's admin token>")

    async def _body(self, request: web.Request, model: type[B]) -> B:
        """The request's JSON body (none at all: ``{}``) validated by ``model``."""
        if not request.can_read_body:
            return model.model_validate({})
        return model.model_validate(load_json(await read_body(request, self._engine.scenario.limits)))

    async def _reset(self, request: web.Request) -> web.Response:
        await self.reset(await self._body(request, ResetBody))
        return _answer({"seed": self.seed()})

    async def _seed(self, request: web.Request) -> web.Response:
        return _answer({"seed": self.seed()})

    async def _load_scenario(self, request: web.Request) -> web.Response:
        body = await self._body(request, LoadScenarioBody)
        name = None
        if isinstance(body.scenario, str):  # over HTTP, files only from the scenario directories
            name = body.scenario
            body = body.model_copy(update={"scenario": self.scenario_dirs.load(body.scenario)})
        await self.load_scenario(body, name)
        return _answer({"seed": self.seed()})

    async def _clock(self, request: web.Request) -> web.Response:
        return _answer(self.clock_state())

    async def _shift(self, request: web.Request) -> web.Response:
        await self.shift(await self._body(request, ShiftBody))
        return await self._clock(request)

    async def _move_to(self, request: web.Request) -> web.Response:
        await self.move_to(await self._body(request, MoveToBody))
        return await self._clock(request)

    async def _speed(self, request: web.Request) -> web.Response:
        self.set_speed(await self._body(request, SpeedBody))
        return await self._clock(request)

    async def _tasks(self, request: web.Request) -> web.Response:
        page = _page(request)
        return _listing(request, page, self.tasks(page), len(self._engine.tasks))

    async def _task(self, request: web.Request) -> web.Response:
        task_id = request.match_info["task_id"]
        view = pydantic_core.to_jsonable_python(self.task(task_id))
        timeline = [{"state": state, "at": at} for state, at in self.timeline(task_id)]
        return _answer({**view, "timeline": timeline})

    async def _complete(self, request: web.Request) -> web.Response:
        return _answer(self.complete(request.match_info["task_id"]))

    async def _fail(self, request: web.Request) -> web.Response:
        body = await self._body(request, FailBody)
        return _answer(self.fail(request.match_info["task_id"], body))

    async def _journal(self, request: web.Request) -> web.Response:
        page = _page(request)
        entries = [journal_json(entry) for entry in self.journal(page)]
        return _listing(request, page, entries, len(self._ops.recorder.journal))

    async def _requests(self, request: web.Request) -> web.Response:
        asked = RequestsPage.model_validate(_once(request))  # the criteria and the page
        matching = self.requests(asked)
        entries = [journal_json(entry) for entry in _window(matching, asked)]
        return _listing(request, asked, entries, len(matching))

    async def _deliveries(self, request: web.Request) -> web.Response:
        page = _page(request)
        return _listing(request, page, self.deliveries(page), len(self._engine.deliveries))

    async def _surprises(self, request: web.Request) -> web.Response:
        return _answer(self.surprises())

    async def _violations(self, request: web.Request) -> web.Response:
        return _answer([violation._asdict() for violation in self.violations()])

    async def _document(self, request: web.Request) -> web.Response:
        return _answer(admin_document(self.routes(), self._ops.base_url + self.mount))

    async def _health(self, request: web.Request) -> web.Response:
        return _answer(self.health())

    async def _index(self, request: web.Request) -> web.Response:
        return _answer(self.index())

    async def _balance(self, request: web.Request) -> web.Response:
        query = BalanceQuery.model_validate(dict(request.query))
        return _answer({"api": query.api, "key": query.key, "balance": self.balance(query)})


def _page(request: web.Request) -> PageQuery:
    """The page a listing request asks for in its query (each parameter at most once)."""
    return PageQuery.model_validate(_once(request))


def _once(request: web.Request) -> dict[str, str]:
    """A request's query parameters; ``ValueError`` if one is given more than once."""
    query = request.query
    repeated = sorted({key for key in query if len(query.getall(key)) > 1})
    if repeated:
        raise ValueError(f"give {', '.join(repeated)} once")
    return dict(query)


class _Listing(Protocol[T_co]):
    """What a listing pages through: the tasks, the journal, the delivery log."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[T_co]: ...

    def __reversed__(self) -> Iterator[T_co]: ...


def _window(items: _Listing[T], page: PageQuery | None) -> list[T]:
    """``items`` (``None``: all), or the page of them, walked to (from the nearer end: the newest
    page, which the dashboard reads five times a second, is the last) but not copied before it."""
    if page is None:
        return list(items)
    size = len(items)
    if page.offset >= size:
        return []
    end = min(size, page.offset + page.limit)
    if size - end < page.offset:
        window = list(itertools.islice(reversed(items), size - end, size - page.offset))
        window.reverse()
        return window
    return list(itertools.islice(items, page.offset, end))


def _listing(request: web.Request, page: PageQuery, items: list[T], total: int) -> web.Response:
    """A page of a listing: a JSON list, the total in ``X-Total-Count`` and, while more remain,
    the next page's URL in ``Link`` (RFC 8288)."""
    response = _answer(items)
    response.headers["X-Total-Count"] = str(total)
    following = page.offset + page.limit
    if following < total:
        url = request.url.update_query(limit=page.limit, offset=following)  # its criteria kept
        response.headers[hdrs.LINK] = f'<{url}>; rel="next"'
    return response


def journal_json(entry: JournalEntry) -> dict[str, Any]:
    """A journal entry as JSON: its fields, the headers as an object (a repeated header's values
    joined with ``, ``, as HTTP reads them)."""
    fields: dict[str, Any] = pydantic_core.to_jsonable_python(entry)
    headers: dict[str, str] = {}
    for name, value in entry.headers:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    fields["headers"] = headers
    return fields


def _answer(value: object) -> web.Response:
    return web.Response(body=compact_json(value), content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    return web.Response(
        body=compact_json({"error": {"message": message}}), status=status, content_type="application/json"
    )
