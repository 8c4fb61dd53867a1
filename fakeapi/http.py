"""HTTP plumbing shared by the providers: the current engine, bearer keys, bodies, JSON answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from fakeapi.accounts import Account
from fakeapi.engine import ApiProfile, TaskEngine
from fakeapi.errors import ErrorKind, FakeApiError, FieldRule

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class EngineRef:
    """The engine the server is running now; a reset swaps it, handlers read it per request."""

    def __init__(self, engine: TaskEngine) -> None:
        self.engine = engine


ENGINE = web.AppKey("fakeapi.engine", EngineRef)
BODY = web.RequestKey("fakeapi.body", bytes)
NOTES = web.RequestKey("fakeapi.notes", list[str])


@dataclass(frozen=True, slots=True)
class Route:
    """One route of a provider, relative to its mount point."""

    method: str
    path: str
    handler: Handler


class Provider(Protocol):
    """An emulated API: its profile, its routes, and how it words every error."""

    profile: ApiProfile
    mount: str

    def routes(self) -> list[Route]: ...

    def error_response(self, error: FakeApiError, engine: TaskEngine) -> web.Response:
        """The error in the API's envelope and status (the server adds ``Retry-After``)."""
        ...


def engine_of(request: web.Request) -> TaskEngine:
    return request.app[ENGINE].engine


def bearer_key(request: web.Request) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, or ``None``."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


def authorize(request: web.Request, api: str) -> tuple[TaskEngine, str | None, Account]:
    """The engine, the bearer key and its account on ``api``; the request counts against its rate."""
    engine = engine_of(request)
    key = bearer_key(request)
    return engine, key, engine.authorize(api, key)


def note(request: web.Request, text: str) -> None:
    """Record a contract note: something the real API accepts silently that the client should not rely on."""
    notes = request.get(NOTES)
    if notes is None:
        notes = request[NOTES] = []
    notes.append(text)


async def read_json(request: web.Request) -> Any:
    """The request body parsed as JSON; malformed JSON is a ``malformed_body``."""
    raw = await request.read()
    request[BODY] = raw
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FakeApiError(ErrorKind.MALFORMED_BODY, f"the request body is not valid JSON: {exc}") from None


def parse_body(model: type[M], data: Any, *prefix: str, missing: str | None = None) -> M:
    """Validate a JSON body; the first problem becomes an ``invalid_request`` naming its field.

    ``prefix`` is the path of ``data`` inside the body; ``missing``, a format with ``{field}``,
    words a missing field the API's own way.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        rule = first.get("ctx", {}).get("error")
        loc = (rule.field,) if isinstance(rule, FieldRule) else first["loc"]
        field = ".".join([*prefix, *(str(p) for p in loc)])
        if missing is not None and first["type"] == "missing":
            message = missing.format(field=field)
        else:
            reason = str(rule) if isinstance(rule, FieldRule) else first["msg"]
            message = f"{field}: {reason}" if field else reason
        raise FakeApiError(ErrorKind.INVALID_REQUEST, message, param=field or None) from None


def compact_json(data: Any) -> bytes:
    """``data`` as compact UTF-8 JSON, the way the real APIs send it."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def json_number(value: float) -> float | int:
    """A money amount for JSON: whole numbers without ``.0``, others to six decimals."""
    rounded = round(value, 6)
    return int(rounded) if rounded.is_integer() else rounded


def json_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json")


async def listen(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port`` (0 picks a free port); the runner and the port bound."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    server = site._server
    assert isinstance(server, asyncio.base_events.Server)
    return runner, server.sockets[0].getsockname()[1]
