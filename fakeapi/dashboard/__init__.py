"""The live dashboard at ``/_fakeapi/``: a page that shows the run as it goes and drives it.

The page (plain HTML, CSS and JavaScript shipped in this package: no build step, nothing fetched
from elsewhere) follows ``GET /_fakeapi/events``, a stream of server-sent events: each is a compact
snapshot of the run (the clock, the scenario, the newest tasks with their timelines, journal entries
and callback deliveries, their bodies cut to ``SHOWN_BODY_BYTES``, API keys redacted), or, between
them, a ``clock`` event with the clock alone (a system clock's time moves on every tick; nothing
else need have). Every ``TICK`` seconds while a page is connected, the stream looks for a change by a
cheap fingerprint of the run, builds a snapshot only when it changed and shares it with every
connected page; the request path of the APIs does no work for it.
The page's buttons call the admin API's own routes (``clock/shift``, ``tasks/{id}/complete`` ...).

Every route here sits under the admin API's prefix and passes its access rules (``Admin.dispatch``):
the page's own requests are same-origin, which the admin API accepts; a page of any other origin is
refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Sized
from dataclasses import replace
from importlib import resources
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import pydantic_core
from aiohttp import web

from fakeapi.admin import Admin, Handler, Operations, PageQuery, journal_json
from fakeapi.engine import TaskView
from fakeapi.recorder import JournalEntry, cut_text, redact_key
from fakeapi.scenario import bundled_names
from fakeapi.webhooks import DeliveryAttempt
from fakeapi.wire import compact_json

if TYPE_CHECKING:
    from collections.abc import Callable

#: How often a connected page's stream looks for a change, in seconds.
TICK = 0.2
#: A comment line sent when nothing changed for this long, in seconds (so a closed page is noticed
#: and proxies keep the stream open).
KEEPALIVE = 15.0
#: How many of the newest tasks, journal entries and deliveries a snapshot holds.
NEWEST = 50
#: How much of each request, response and callback body a snapshot holds, in bytes (``truncated``,
#: ``response_truncated`` mark a body cut); the admin API's listings have them whole.
SHOWN_BODY_BYTES = 2048
ASSETS = {
    "index.html": "text/html",
    "dashboard.css": "text/css",
    "dashboard.js": "text/javascript",
    # Linked from the page, so that the browser does not ask for /favicon.ico (a surprise).
    "favicon.svg": "image/svg+xml",
}
# The page loads only its own files and talks only to its own origin; no site may frame it (its
# buttons reset and drive the fake).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
}
T = TypeVar("T")


class Dashboard:
    """The dashboard of one server: its page, its assets and its event stream (``routes``)."""

    def __init__(self, ops: Operations, admin: Admin) -> None:
        self._ops = ops
        self._admin = admin
        self._closing = asyncio.Event()
        self._latest = _Latest(None, b"", b"", float("-inf"))

    def routes(self) -> list[tuple[str, str, Handler]]:
        """The dashboard's routes: method, path (under the admin prefix) and handler."""
        mount = self._admin.mount
        return [
            ("GET", mount + "/", self._index),
            ("GET", mount + "/dashboard/{name}", self._asset),
            ("GET", mount + "/events", self._events),
        ]

    def snapshot(self, tasks: list[TaskView] | None = None) -> dict[str, Any]:
        """The run as the page shows it: the clock, the scenario, and the newest ``NEWEST`` tasks
        (``tasks``, when already read; as ``_shown_task`` shows them), journal entries and
        deliveries (bodies cut), newest first, with their totals."""
        ops, admin = self._ops, self._admin
        engine = ops.engine
        if tasks is None:
            engine.forget_expired()  # before counting: the listing forgets them too
            tasks = _newest(admin.tasks, engine.tasks)
        return {
            "clock": admin.clock_state(),
            "seed": admin.seed(),
            "scenario": engine.scenario.description,
            "scenarios": _bundled(),
            "tasks": {
                "total": len(engine.tasks),
                "items": [self._shown_task(task) for task in tasks],
            },
            "journal": {
                "total": len(ops.recorder.journal),
                "items": [_shown_entry(entry) for entry in _newest(admin.journal, ops.recorder.journal)],
            },
            "deliveries": {
                "total": len(engine.deliveries),
                "items": [
                    _shown_attempt(attempt) for attempt in _newest(admin.deliveries, engine.deliveries)
                ],
            },
            "surprises": len(ops.recorder.surprises),
            "violations": len(ops.etiquette.violations),
        }

    def _shown_task(self, task: TaskView) -> dict[str, Any]:
        """A task as a snapshot holds it: its key redacted, with its timeline and whether it has
        ended, without its parameters (a prompt may be long; ``/_fakeapi/tasks/{id}`` has them)."""
        shown: dict[str, Any] = pydantic_core.to_jsonable_python(task)
        del shown["params"]
        shown["key"] = redact_key(task.key)
        shown["terminal"] = task.terminal
        shown["timeline"] = [{"state": state, "at": at} for state, at in self._admin.timeline(task.id)]
        return shown

    def close(self) -> None:
        """End the streams open now (the server is stopping: no page keeps it waiting)."""
        self._closing.set()
        self._closing = asyncio.Event()

    async def _index(self, request: web.Request) -> web.Response:
        return _page("index.html")

    async def _asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        files = [file for file in ASSETS if file != "index.html"]
        if name not in files:
            raise KeyError(f"the dashboard has no file {name!r}; files: {', '.join(files)}")
        return _page(name)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """The snapshots, as server-sent events: one at once, then one each time the run changes,
        until the page goes or the server stops."""
        closing = self._closing
        stream = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await stream.prepare(request)
        # The page may go away while a snapshot is on its way: then there is nothing more to send.
        with contextlib.suppress(ConnectionError):
            await self._follow(request, stream, closing)
        return stream

    async def _follow(self, request: web.Request, stream: web.StreamResponse, closing: asyncio.Event) -> None:
        """Each ``TICK``, write the snapshot when it changed, else the clock when it moved (a
        keepalive comment after a quiet while), until the connection closes or ``closing`` is set."""
        await stream.write(b"retry: 1000\n\n")
        sent, sent_clock = b"", b""
        quiet = 0.0
        while request.transport is not None and not request.transport.is_closing():
            latest = self._latest_run()
            if latest.snapshot is not sent:
                await stream.write(b"data: " + latest.snapshot + b"\n\n")
                sent, sent_clock, quiet = latest.snapshot, latest.clock, 0.0
            elif latest.clock != sent_clock:
                await stream.write(b"event: clock\ndata: " + latest.clock + b"\n\n")
                sent_clock, quiet = latest.clock, 0.0
            elif quiet >= KEEPALIVE:
                await stream.write(b": keepalive\n\n")
                quiet = 0.0
            try:
                await asyncio.wait_for(closing.wait(), TICK)
            except asyncio.TimeoutError:
                quiet += TICK
            else:
                return

    def _latest_run(self) -> _Latest:
        """The run as the pages see it now, shared by the pages within half a tick of each other; the
        snapshot is built again only when the run's fingerprint changed."""
        at = asyncio.get_running_loop().time()
        latest = self._latest
        if at - latest.at < TICK / 2:
            return latest
        ops, admin = self._ops, self._admin
        engine = ops.engine
        clock = engine.clock
        engine.forget_expired()
        tasks = _newest(admin.tasks, engine.tasks)
        fingerprint = (
            id(engine),
            id(ops.recorder),
            ops.recorder.journal.added,
            engine.deliveries.added,
            len(engine.tasks),
            len(ops.recorder.surprises),
            len(ops.etiquette.violations),
            admin.seed(),
            engine.scenario.description,
            clock.speed,
            clock.now() if clock.is_virtual else None,  # a virtual clock moves only when shifted
            [(task.id, task.state, task.progress) for task in tasks],
        )
        snapshot = latest.snapshot
        if fingerprint != latest.fingerprint:
            snapshot = compact_json(self.snapshot(tasks))
        clock_now = compact_json(self._admin.clock_state())
        self._latest = _Latest(fingerprint, snapshot, clock_now, at)
        return self._latest


class _Latest(NamedTuple):
    """The run as the pages saw it last: its fingerprint, snapshot and clock (as sent), and when
    (the loop's time)."""

    fingerprint: object
    snapshot: bytes
    clock: bytes
    at: float


def _shown_entry(entry: JournalEntry) -> dict[str, Any]:
    """A journal entry as the admin API's listings show it, with its bodies cut to
    ``SHOWN_BODY_BYTES``."""
    body, _, cut = cut_text(entry.body, SHOWN_BODY_BYTES)
    response, _, response_cut = cut_text(entry.response_body, SHOWN_BODY_BYTES)
    if cut or response_cut:
        entry = replace(
            entry,
            body=body,
            truncated=entry.truncated or cut,
            response_body=response,
            response_truncated=entry.response_truncated or response_cut,
        )
    return journal_json(entry)


def _shown_attempt(attempt: DeliveryAttempt) -> DeliveryAttempt:
    """A callback delivery attempt with its body cut to ``SHOWN_BODY_BYTES``."""
    body, _, cut = cut_text(attempt.body, SHOWN_BODY_BYTES)
    return replace(attempt, body=body, truncated=True) if cut else attempt


def _newest(read: Callable[[PageQuery], list[T]], items: Sized) -> list[T]:
    """The newest ``NEWEST`` of a listing (``read`` gives a page of it, oldest first), newest first."""
    start = max(0, len(items) - NEWEST)
    return read(PageQuery(offset=start, limit=NEWEST))[::-1]


@functools.cache
def _bundled() -> list[str]:
    return bundled_names()


@functools.cache
def _asset_bytes(name: str) -> bytes:
    return resources.files(__name__).joinpath(name).read_bytes()


def _page(name: str) -> web.Response:
    return web.Response(
        body=_asset_bytes(name), content_type=ASSETS[name], charset="utf-8", headers=PAGE_HEADERS
    )
