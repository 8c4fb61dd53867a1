"""The provider boundary: everything an emulated API declares, and the little it does.

A provider is data plus two kinds of pure function. The data: its profile (name, ids, catalogue,
callback policy, settings model, prices), its mount, its routes (each with its point and the wire
models of its bodies), its error table and error envelope model, its callback body model. The
functions: ``parse`` (a request, as ``Incoming``, to a ``SubmitRequest`` or a ``TaskRef``) and
``render`` (an ``Outcome``, an account or an error to bytes). Everything between, authorizing,
running the engine, waiting for synchronous requests, faults, journaling, lives in the server's
one request pipeline; a provider imports no aiohttp.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple, Protocol, TypeVar
from urllib.parse import unquote

from pydantic import BaseModel

from fakeapi.accounts import Account
from fakeapi.engine import ApiProfile, SubmitRequest, TaskView
from fakeapi.errors import ErrorKind, FakeApiError
from fakeapi.randomness import Randomness
from fakeapi.scenario.schema import ApiSettings, FailureSpec
from fakeapi.scenario.types import FailureReason
from fakeapi.wire import load_json

if TYPE_CHECKING:
    from fakeapi.contract.lifecycle import Lifecycle

Point = Literal["submit", "sync", "poll", "account"]
BodyFormat = Literal["json", "multipart", "none"]


@dataclass(frozen=True, slots=True)
class FormPart:
    """One part of a multipart/form-data body."""

    name: str
    filename: str | None
    data: bytes

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


class RawRequest(Protocol):
    """What ``Incoming`` reads of the server's request (aiohttp's ``web.Request`` is one)."""

    @property
    def query(self) -> Mapping[str, str]: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content_type(self) -> str: ...


@dataclass(slots=True)
class Incoming:
    """One request as a provider sees it: no HTTP library, just what the request says.

    ``params`` are the path's parameters (``{task_id}``...); ``form`` holds the parts of a
    multipart body (routes whose ``body`` is ``"multipart"``); ``settings`` is the API's part of the
    running scenario. ``note`` records a contract note (something the real API accepts silently that a
    client should not rely on) in the journal. The query and headers are read from the request
    only when a provider asks (a poll seldom does).
    """

    key: str | None
    settings: ApiSettings
    source: RawRequest
    params: Mapping[str, str]
    body: bytes = b""
    form: tuple[FormPart, ...] = ()
    notes: list[str] = field(default_factory=list)

    @property
    def query(self) -> Mapping[str, str]:
        return self.source.query

    @property
    def headers(self) -> Mapping[str, str]:
        return self.source.headers

    @property
    def content_type(self) -> str:
        return self.source.content_type

    def json(self) -> Any:
        """The body as JSON (malformed JSON is the API's ``malformed_body`` error)."""
        return load_json(self.body)

    def note(self, text: str) -> None:
        self.notes.append(text)


class TaskRef(NamedTuple):
    """Which task a poll asks for; ``model``, for APIs that name it when polling, must match."""

    task_id: str
    model: str | None = None


def task_in_path(request: Incoming) -> TaskRef:
    """The task a poll names in its path's ``{task_id}``."""
    return TaskRef(request.params["task_id"])


def path_params(template: str, path: str) -> dict[str, str] | None:
    """The parameters a route's path ``template`` (``/v1/task/{task_id}``) finds in a request's
    ``path`` (each segment percent-decoded, as the server's router decodes it); ``None``: no match.
    For what reads requests outside the server: the proxy, recordings."""
    expected, actual = template.split("/"), path.split("/")
    if len(expected) != len(actual):
        return None
    params: dict[str, str] = {}
    for want, part in zip(expected, actual, strict=True):
        if want.startswith("{") and want.endswith("}") and part:
            params[want[1:-1]] = unquote(part)
        elif want != part:
            return None
    return params


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a submit or sync route renders: the task now, the request, whether the request waited
    for the task's end, and (submits) when the task is expected to end if only time moves it."""

    view: TaskView
    request: Incoming
    now: float
    waited: bool = False
    expected_end: float | None = None


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """What rendering an error may use besides the error: the API's settings, the clock's time and
    the run's seeded randomness (request ids)."""

    settings: ApiSettings
    now: float
    random: Randomness


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """One route, relative to the provider's mount, and the wire models of its bodies.

    ``request`` is the model of the body it takes (``body`` says how it comes); ``answer`` the model
    of its 200 answer. ``model_param`` names a path parameter holding the model, which the pipeline
    checks against the catalogue before anything else (an unknown model is the API's error first).
    ``query`` names the query parameters the route requires; ``content_type`` is its 200 answer's.
    """

    method: str
    path: str
    answer: type[BaseModel]
    request: type[BaseModel] | None = None
    body: BodyFormat = "none"
    model_param: str | None = None
    query: tuple[str, ...] = ()
    content_type: str = "application/json"


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitRoute(Route):
    """Creates a task; a ``sync`` route (or a request whose ``SubmitRequest.sync`` is set) answers
    only when the task has ended, and a failed task is the API's error."""

    parse: Callable[[Incoming], SubmitRequest]
    render: Callable[[Outcome], bytes]
    sync: bool = False
    #: The model of the answer when a flag in the body made the request wait (e.g. FoxAPI's ``sync``).
    waited_answer: type[BaseModel] | None = None

    @property
    def point(self) -> Point:
        return "sync" if self.sync else "submit"


@dataclass(frozen=True, slots=True, kw_only=True)
class PollRoute(Route):
    """Reads a task as its owner polls it.

    ``render`` depends on nothing but the task's view and the API's settings: an ended task's view
    no longer changes, so the server renders its answer once and serves those bytes to every poll.
    ``check``, for a route that serves only some tasks (FoxAPI's event streams), raises the API's
    error for a task it does not serve; such a read is refused before it counts as a poll.
    """

    parse: Callable[[Incoming], TaskRef]
    render: Callable[[TaskView, ApiSettings], bytes]
    check: Callable[[TaskView], None] | None = None

    @property
    def point(self) -> Point:
        return "poll"


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountRoute(Route):
    """Answers about the key's account (its balance)."""

    render: Callable[[Account, Incoming], bytes]

    @property
    def point(self) -> Point:
        return "account"


AnyRoute = SubmitRoute | PollRoute | AccountRoute
R = TypeVar("R", bound=Route)


def route_for(routes: Iterable[R], method: str, path: str) -> tuple[R, dict[str, str]] | None:
    """The first of ``routes`` that ``method`` and ``path`` (its query aside) name, and the path's
    parameters (``path_params``)."""
    for route in routes:
        if route.method == method and (params := path_params(route.path, path)) is not None:
            return route, params
    return None


class ErrorRow(Protocol):
    """A row of an error table: whatever the API answers for a kind of error, status first."""

    @property
    def status(self) -> int: ...


# How a synchronous request's failed task is answered, by the error the same problem gets at submit.
SYNC_FAILURES: dict[FailureReason, ErrorKind] = {
    "content_violation": ErrorKind.PROMPT_REJECTED,
    "nsfw": ErrorKind.PROMPT_REJECTED,
    "input_image_sensitive": ErrorKind.PROMPT_REJECTED,
    "prohibited_content": ErrorKind.PROMPT_REJECTED,
    "invalid_prompt": ErrorKind.PROMPT_REJECTED,
    "model_unavailable": ErrorKind.UNAVAILABLE,
}


class Provider(ABC):
    """An emulated API. Subclass it, fill in the class attributes, and register an instance with
    ``fakeapi.providers.REGISTRY.register``."""

    profile: ClassVar[ApiProfile]
    mount: ClassVar[str]
    #: The real service's host names: a request addressed to one reaches the API at its root paths.
    hosts: ClassVar[tuple[str, ...]] = ()
    #: Every ``ErrorKind`` to what the API answers for it (the registry refuses a missing row).
    errors: ClassVar[Mapping[ErrorKind, ErrorRow]]
    #: The wire model of the API's error bodies.
    error_model: ClassVar[type[BaseModel]]
    #: The wire model of its callback bodies (``None``: the API documents no callbacks).
    callback_model: ClassVar[type[BaseModel] | None] = None
    #: What its task answers promise beyond their models, for ``fakeapi contract verify``.
    lifecycle: ClassVar[Lifecycle | None] = None

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def settings_model(self) -> type[ApiSettings]:
        return self.profile.settings

    @abstractmethod
    def routes(self) -> Sequence[AnyRoute]:
        """The API's routes, relative to ``mount``."""

    @abstractmethod
    def render_error(self, error: FakeApiError, context: ErrorContext) -> tuple[int, bytes]:
        """The error as the API answers it: its status and its JSON body (the server adds
        ``Retry-After`` when the error has one)."""

    def sync_failure(self, view: TaskView) -> FakeApiError:
        """The error a synchronous request answers when its task failed."""
        error = view.error or FailureSpec()
        return FakeApiError(SYNC_FAILURES.get(error.reason, ErrorKind.SERVER_ERROR), error.text())


def provider_problems(provider: Provider) -> list[str]:
    """What is wrong with a provider's declarations (an empty list: nothing)."""
    problems = [
        f"{provider.name}: no error row for {kind.value}" for kind in ErrorKind if kind not in provider.errors
    ]
    if not provider.mount.startswith("/") or "/" in provider.mount[1:] or provider.mount == "/":
        problems.append(f"{provider.name}: mount {provider.mount!r} must be one path segment, e.g. '/myapi'")
    seen: set[tuple[str, str]] = set()
    for route in provider.routes():
        if (route.method, route.path) in seen:
            problems.append(f"{provider.name}: {route.method} {route.path} is declared twice")
        seen.add((route.method, route.path))
    return problems
