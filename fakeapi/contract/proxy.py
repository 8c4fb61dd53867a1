"""``fakeapi proxy`` and ``fakeapi contract check``: a client's traffic checked against an API's contract.

The proxy forwards each request to the upstream (the real service, or any server, the fake
included) and answers with the upstream's answer, unchanged but for the hop-by-hop headers. Bodies
are buffered, not streamed: each is checked whole, and the APIs' requests and answers are small JSON.
Each exchange is checked three ways, and each problem is a violation with a rule name:

- ``request-contract``: the request against the route's wire model, parsed as the fake parses it
  (a path no route has, no key, a body the API refuses). What the API accepts but its docs do not
  (undocumented fields, fields not to send, models it does not list) are contract notes, which the
  etiquette checker reports as ``contract-note``;
- ``answer-contract``: the answer as ``contract verify`` checks it (the route's answer model for a
  200, the error envelope for the API's error statuses, ``Retry-After`` on a 429, the lifecycle:
  the id's shape, timestamp units, fields by state, each task's states moving forward);
- the etiquette rules of ``fakeapi.etiquette`` (polling pace, ``Retry-After``, repeated submits...).

With a recording file, every exchange is written to it as one JSON line (``RecordedExchange``), its
secrets redacted; ``fakeapi contract check`` runs the same checks over such a file, offline. The
checks always read the exchange as recorded, so a recording checks as it did live.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import signal
import sys
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import IO, Any, NamedTuple
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import hdrs, web
from multidict import CIMultiDict, MultiDict
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fakeapi.catalogue import unlisted
from fakeapi.clock import Clock, SystemClock
from fakeapi.contract.verify import Answer, AnswerChecker, value_at
from fakeapi.errors import ErrorKind, FakeApiError, problem
from fakeapi.etiquette import (
    Etiquette,
    Observed,
    Point,
    Violation,
    body_digest,
    registered_lifecycles,
    retry_after,
)
from fakeapi.providers.base import AnyRoute, FormPart, Incoming, PollRoute, SubmitRoute, route_for
from fakeapi.recorder import REDACTED, iso_time, redact_header
from fakeapi.scenario.schema import EtiquetteSpec
from fakeapi.server.app import listen
from fakeapi.wire import bearer_key, compact_json, load_json

REQUEST_CONTRACT = "request-contract"
ANSWER_CONTRACT = "answer-contract"
# Headers that belong to one connection, not to the exchange (RFC 9110, 7.6.1), and those the
# proxy's own HTTP stacks set again: the bodies are forwarded decoded, whole.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
    }
)
# Keys told apart in a recording (by their order of appearance); past these, all look alike.
MAX_KEYS = 1024
# Tasks whose last state is kept, to see a task's states move forward.
MAX_TASKS = 10_000
MAX_BODY = 64 * 1024 * 1024
UPSTREAM_TIMEOUT = 300.0


class RecordingError(Exception):
    """A recording that cannot be read: the message names the file and the line."""


class RecordedViolation(BaseModel):
    """One violation as a recording keeps it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    rule: str
    message: str


class RecordedExchange(BaseModel):
    """One line of a recording: an exchange as the proxy saw it (the format shared by ``fakeapi
    proxy``, ``contract check`` and ``scenarios from-recording``).

    ``at`` is when the request came (Unix seconds), ``elapsed`` the seconds until its answer; ``path``
    is relative to the API's root (the real service's path), ``query`` the raw query string. A body
    that is a JSON object or array is kept as that value, another as text, one that is no UTF-8 text
    as base64 with ``*_body_base64`` true (present only then). Header values that are secrets are
    redacted.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    at: float = Field(ge=0, le=253_402_300_799, allow_inf_nan=False)  # up to 9999-12-31
    elapsed: float = Field(ge=0, allow_inf_nan=False)
    api: str
    method: str = Field(min_length=1)
    path: str = Field(pattern="^/")
    query: str
    request_headers: dict[str, str]
    request_body: Any
    request_body_base64: bool = False
    status: int = Field(ge=100, le=999)  # what an HTTP status line can say
    response_headers: dict[str, str]
    response_body: Any
    response_body_base64: bool = False
    violations: list[RecordedViolation]

    @field_validator("api")
    @classmethod
    def _known_api(cls, value: str) -> str:
        apis = list(registered_lifecycles())
        if value not in apis:
            raise ValueError(f"must be one of {', '.join(apis)}")
        return value

    @model_validator(mode="after")
    def _base64_bodies(self) -> RecordedExchange:
        for name in ("request_body", "response_body"):
            if getattr(self, f"{name}_base64"):
                try:
                    base64.b64decode(getattr(self, name), validate=True)
                except (TypeError, ValueError):
                    raise ValueError(f"{name} must be base64 text when {name}_base64 is true") from None
        return self

    @property
    def request_bytes(self) -> bytes:
        """The request's body as sent (a JSON value in compact form)."""
        return _body_bytes(self.request_body, self.request_body_base64)

    @property
    def response_bytes(self) -> bytes:
        """The answer's body as received (a JSON value in compact form)."""
        return _body_bytes(self.response_body, self.response_body_base64)

    def line(self) -> str:
        """The exchange as one line of a recording (no newline)."""
        flags = {"request_body_base64", "response_body_base64"}
        dropped = {name for name in flags if not getattr(self, name)}
        # ASCII: a JSON body may hold a lone surrogate (an escape JSON allows), which no UTF-8 file can.
        return json.dumps(self.model_dump(exclude=dropped), separators=(",", ":"))


def body_value(raw: bytes) -> tuple[Any, bool]:
    """A body as a recording keeps it: its JSON value (an object or array), else its text, else its
    base64; and whether it is base64."""
    if raw.lstrip()[:1] in (b"{", b"["):
        try:
            return load_json(raw), False
        except FakeApiError:
            pass  # not JSON after all: kept as it came
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), True


def _body_bytes(value: Any, is_base64: bool) -> bytes:
    if is_base64:
        return base64.b64decode(value)
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else compact_json(value)


def read_recording(path: Path) -> Iterator[tuple[int, RecordedExchange]]:
    """Each exchange of a recording with its line number; ``RecordingError`` at the first line
    that is not one (blank lines are skipped)."""
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read it ({exc.strerror})") from None
    with stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                yield number, RecordedExchange.model_validate_json(line)
            except ValidationError as exc:
                found = problem(exc.errors(include_url=False)[0])
                at = ".".join(map(str, found.path))
                raise RecordingError(
                    f"{path}:{number}: not a recorded exchange: {at + ': ' if at else ''}{found.message}"
                ) from None


class Redactor:
    """Redacts secret header values: each API key becomes ``<redacted N>`` (N: its order of
    appearance), so that a recording still tells one key's requests from another's."""

    def __init__(self) -> None:
        self._keys: dict[str, int] = {}

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` with their secrets redacted."""
        return {name: self.value(name, value) for name, value in headers.items()}

    def value(self, name: str, value: str) -> str:
        """One header's value, redacted if the header holds a secret."""
        return redact_header(name, value, self._key)

    def _key(self, secret: str) -> str:
        number = self._keys.get(secret)
        if number is None:
            if len(self._keys) >= MAX_KEYS:
                return REDACTED
            number = self._keys[secret] = len(self._keys) + 1
        return f"<redacted {number}>"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A recorded request as a provider's parser reads it (``fakeapi.providers.base.RawRequest``)."""

    query: Mapping[str, str]
    headers: Mapping[str, str]
    content_type: str


class Parsed(NamedTuple):
    """What parsing a request as the fake does found: what the API refuses in it (``None``:
    nothing), whether it asked to wait for its task's end, the task a poll asks for, the callback
    URL a submit gives."""

    problem: str | None = None
    waited: bool = False
    polled: str | None = None
    callback_url: str | None = None


class ContractCheck:
    """The checks of one API's exchanges, in the order they happened (the etiquette rules and the
    lifecycle's order keep state between them)."""

    def __init__(self, api: str, spec: EtiquetteSpec | None = None) -> None:
        self.answers = AnswerChecker(api, "")
        self.provider = self.answers.provider
        lifecycle = self.provider.lifecycle
        assert lifecycle is not None, f"{api} declares no lifecycle"  # RecordedExchange admits no other
        self.lifecycle = lifecycle
        self.settings = self.provider.settings_model()
        self.routes = sorted(self.provider.routes(), key=lambda r: "{" in r.path)  # fixed paths first
        self.error_statuses = {row.status for row in self.provider.errors.values()}
        self.etiquette = Etiquette(registered_lifecycles(), spec or EtiquetteSpec())
        self.last_states: OrderedDict[str, list[str]] = OrderedDict()

    def check(self, exchange: RecordedExchange) -> list[Violation]:
        """The violations ``exchange`` shows: the contract's, then the etiquette's."""
        observed, found = self.read(exchange)
        return found + self.etiquette.observe(observed)

    def read(self, exchange: RecordedExchange) -> tuple[Observed, list[Violation]]:
        """``exchange`` as the etiquette rules see it, and what it shows against the contract (its
        request's problems, then its answer's); the request and the answer are each parsed once."""
        found: list[Violation] = []
        headers = CIMultiDict(exchange.request_headers)
        key = bearer_key(headers)
        notes: list[str] = []
        parsed = Parsed()
        hit = route_for(self.routes, exchange.method, exchange.path)
        route, params = hit if hit is not None else (None, {})
        if route is None:
            found.append(
                Violation(
                    REQUEST_CONTRACT, f"{exchange.method} {exchange.path} is no route of {self.provider.name}"
                )
            )
        else:
            if key is None:
                status = self.provider.errors[ErrorKind.UNAUTHORIZED].status
                found.append(
                    Violation(
                        REQUEST_CONTRACT, f"no API key (Authorization: Bearer ...): the API answers {status}"
                    )
                )
            parsed = self.parse(exchange, route, params, key, headers, notes)
            if parsed.problem is not None:
                found.append(Violation(REQUEST_CONTRACT, parsed.problem))
        try:
            data = load_json(exchange.response_bytes)
        except FakeApiError:
            data = None
        observed = self.observed(exchange, route, params, key, parsed, data, tuple(notes))
        found += self.answer_problems(exchange, route, parsed, data, observed.task_id)
        return observed, found

    def observed(
        self,
        exchange: RecordedExchange,
        route: AnyRoute | None,
        params: dict[str, str],
        key: str | None,
        parsed: Parsed,
        data: Any,
        notes: tuple[str, ...],
    ) -> Observed:
        """The exchange as the etiquette rules see it: a submit's or a poll's, its task (a submit's
        from the answer, a poll's the one it asks for, also when the answer shows none: another key's
        404), whether the answer shows the task's end."""
        ok = exchange.status < 400
        point: Point = "other"
        task_id: str | None = None
        terminal = False
        digest = None
        if isinstance(route, SubmitRoute):
            point = "submit"
            # Only a synchronous answer is the end, as the fake counts it: an async submit's answer
            # may show a state that ended without the results a poll brings.
            terminal = route.sync and ok
            digest = body_digest((route.path.encode(), exchange.request_bytes))
            shown, value = value_at(data, self.lifecycle.task_id)
            task_id = str(value) if ok and shown and value is not None else None
        elif isinstance(route, PollRoute):
            point = "poll"
            task_id = parsed.polled or params.get("task_id")
            shown, state = value_at(data, self.lifecycle.status)
            terminal = ok and shown and state in self.lifecycle.terminal
        return Observed(
            at=exchange.at,
            api=self.provider.name,
            key=key,
            method=exchange.method,
            point=point,
            task_id=task_id,
            terminal=terminal,
            status=exchange.status,
            retry_after=(
                retry_after(CIMultiDict(exchange.response_headers)) if exchange.status == 429 else None
            ),
            body_digest=digest,
            callback_url=parsed.callback_url,
            notes=notes,
        )

    def parse(
        self,
        exchange: RecordedExchange,
        route: AnyRoute,
        params: dict[str, str],
        key: str | None,
        headers: CIMultiDict[str],
        notes: list[str],
    ) -> Parsed:
        """Parse the request as the fake does; its contract notes go to ``notes``."""
        catalogue = self.provider.profile.catalogue
        if route.model_param is not None and catalogue.lookup(params[route.model_param]) is None:
            notes.append(unlisted(params[route.model_param]))
        content_type = headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
        body = exchange.request_bytes
        incoming = Incoming(
            key=key,
            settings=self.settings,
            source=RecordedRequest(
                MultiDict(parse_qsl(exchange.query, keep_blank_values=True)),
                headers,
                content_type.partition(";")[0].strip().lower(),
            ),
            params=params,
            body=body,
            form=_form(content_type, body) if route.body == "multipart" else (),
            notes=notes,
        )
        try:
            if isinstance(route, SubmitRoute):
                submit = route.parse(incoming)
                if route.model_param is None and catalogue.lookup(submit.model) is None:
                    notes.append(unlisted(submit.model))
                return Parsed(waited=route.sync or submit.sync, callback_url=submit.callback_url)
            if isinstance(route, PollRoute):
                return Parsed(polled=route.parse(incoming).task_id)
        except FakeApiError as exc:
            return Parsed(problem=f"the API refuses it ({exc.kind.value}): {exc.message}")
        return Parsed()

    def answer_problems(
        self,
        exchange: RecordedExchange,
        route: AnyRoute | None,
        parsed: Parsed,
        data: Any,
        task_id: str | None,
    ) -> list[Violation]:
        """What ``contract verify`` finds in the answer (``data``: its JSON, ``None`` if it is none):
        violations only (a field the contract does not know is an addition, which the real API may
        add at any time). ``task_id``: the exchange's task."""
        checker = self.answers
        request = f"{exchange.method} {exchange.path}"
        answer = Answer(
            request, exchange.status, CIMultiDict(exchange.response_headers), exchange.response_bytes, data
        )
        checker.check_retry_after(answer)
        if answer.status == 200 and route is not None and route.content_type == "application/json":
            model = route.answer
            if parsed.waited and isinstance(route, SubmitRoute) and route.waited_answer is not None:
                model = route.waited_answer
            checker.check_body(answer, model)
            if data is not None:
                state = checker.check_task(request, data, parsed.polled)
                self.check_order(request, state, task_id)
        elif answer.status in self.error_statuses and route is not None:
            checker.check_body(answer, self.provider.error_model)
        findings = checker.report.findings
        found = [
            Violation(ANSWER_CONTRACT, f"[{f.check}] {f.path}: expected {f.expected}, observed {f.observed}")
            for f in findings
            if f.kind == "violation"
        ]
        findings.clear()
        return found

    def check_order(self, request: str, state: str | None, task_id: str | None) -> None:
        """The task's state comes at or after the last one seen of it."""
        if state is None or task_id is None:
            return
        states = self.last_states.pop(task_id, [])
        self.answers.check_order(request, states, state)
        self.last_states[task_id] = states[-1:]
        if len(self.last_states) > MAX_TASKS:
            self.last_states.popitem(last=False)


def _form(content_type: str, body: bytes) -> tuple[FormPart, ...]:
    """The named parts of a multipart/form-data body (none if it is not one)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("utf-8", "replace")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return ()
    parts = []
    for part in message.walk():
        if part is message:
            continue
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            data = part.get_payload(decode=True)
            parts.append(FormPart(name, part.get_filename(), data if isinstance(data, bytes) else b""))
    return tuple(parts)


class Tally:
    """What a run saw: exchanges, and violations by rule."""

    def __init__(self) -> None:
        self.exchanges = 0
        self.rules: Counter[str] = Counter()

    def count(self, found: list[Violation]) -> None:
        """Count one exchange and its violations."""
        self.exchanges += 1
        self.rules.update(f.rule for f in found)

    def summary(self) -> str:
        """The run in one line."""
        total = sum(self.rules.values())
        if not total:
            return f"{self.exchanges} exchange(s), no violations"
        by_rule = ", ".join(f"{rule} {n}" for rule, n in sorted(self.rules.items()))
        return f"{self.exchanges} exchange(s), {total} violation(s): {by_rule}"


def violation_line(exchange: RecordedExchange, found: Violation) -> str:
    """One violation as the proxy prints it: time, method, path, ``{rule}: {message}``."""
    stamp = iso_time(exchange.at)
    target = exchange.path + (f"?{exchange.query}" if exchange.query else "")
    return f"{stamp} {exchange.method} {target} {found.rule}: {found.message}"


class ValidatingProxy:
    """Forwards one API's traffic to ``upstream`` (the API's root URL), checking each exchange.

    Each violation goes to ``emit`` as it happens (``violation_line``); with ``record``, each
    exchange is appended to that file as a line of a recording. ``clock`` dates the exchanges
    (default: the system's). Run it with ``await start()`` / ``await stop()``.
    """

    def __init__(
        self,
        api: str,
        upstream: str,
        *,
        record: Path | None = None,
        clock: Clock | None = None,
        spec: EtiquetteSpec | None = None,
        emit: Callable[[str], None] = print,
    ) -> None:
        self.api = api
        self.upstream = upstream.rstrip("/")
        self.checks = ContractCheck(api, spec)
        self.clock = clock or SystemClock()
        self.emit = emit
        self.tally = Tally()
        self.redactor = Redactor()
        self.record_path = record
        self._record: IO[str] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.host = "127.0.0.1"

    @property
    def base_url(self) -> str:
        """Where clients reach the proxy."""
        return f"http://{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0: a free port); ``OSError`` if it cannot."""
        if self.record_path is not None:
            self._record = self.record_path.open("w", encoding="utf-8")
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT))
        try:
            self._runner, self.port = await listen(app, host, port)
        except OSError:
            await self.stop()
            raise
        self.host = host

    async def stop(self) -> None:
        """Stop listening, close the recording."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._record is not None:
            self._record.close()
            self._record = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Forward one request, check the exchange, answer with the upstream's answer."""
        assert self._session is not None
        at = self.clock.now()
        body = await request.read()
        try:
            async with self._session.request(
                request.method,
                self.upstream + request.raw_path,
                data=body if body else None,
                headers=_forwarded(request.headers),
                allow_redirects=False,
            ) as answer:
                raw = await answer.read()
                status, answer_headers = answer.status, answer.headers
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.emit(f"{request.method} {request.path_qs}: no answer from {self.upstream}: {exc!r}")
            return web.Response(status=502, text=f"fakeapi proxy: no answer from {self.upstream}\n")
        request_body, request_base64 = body_value(body)
        response_body, response_base64 = body_value(raw)
        exchange = RecordedExchange(
            at=at,
            elapsed=max(0.0, self.clock.now() - at),
            api=self.api,
            method=request.method,
            path=request.path,
            query=request.query_string,
            request_headers=self.redactor.headers(request.headers),
            request_body=request_body,
            request_body_base64=request_base64,
            status=status,
            response_headers=self.redactor.headers(answer_headers),
            response_body=response_body,
            response_body_base64=response_base64,
            violations=[],
        )
        try:
            found = self.checks.check(exchange)
        except Exception as exc:  # a bug in a check must not keep the answer from the client
            self.emit(f"{exchange.method} {exchange.path}: checking failed: {exc!r}")
            found = []
        self.tally.count(found)
        for item in found:
            self.emit(violation_line(exchange, item))
        if self._record is not None:
            exchange.violations = [RecordedViolation(rule=f.rule, message=f.message) for f in found]
            self._record.write(exchange.line() + "\n")
            self._record.flush()
        return web.Response(body=raw, status=status, headers=_forwarded(answer_headers))


def _forwarded(headers: Mapping[str, str]) -> CIMultiDict[str]:
    return CIMultiDict((name, value) for name, value in headers.items() if name.lower() not in HOP_BY_HOP)


# -- command line ------------------------------------------------------------------------------


def run_proxy(args: argparse.Namespace) -> int:
    """``fakeapi proxy``: serve until Ctrl-C or SIGTERM, then print the summary."""
    from fakeapi.server import loops

    return loops.run(_proxy(args))


async def _proxy(args: argparse.Namespace) -> int:
    proxy = ValidatingProxy(args.api, args.upstream, record=args.record, emit=_print)
    try:
        await proxy.start(args.host, args.port)
    except OSError as exc:
        where = f"write {exc.filename}" if exc.filename else f"listen on {args.host}:{args.port}"
        print(f"fakeapi proxy: cannot {where}: {exc.strerror}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    recording = f", recording to {args.record}" if args.record is not None else ""
    _print(f"fakeapi proxy: {args.api} at {proxy.base_url} -> {proxy.upstream}{recording}")
    _print("Press Ctrl-C to stop.")
    await stop.wait()
    await proxy.stop()
    _print(f"fakeapi proxy stopped: {proxy.tally.summary()}")
    return 0


def _print(line: str) -> None:
    print(line, flush=True)


def run_check(args: argparse.Namespace) -> int:
    """``fakeapi contract check``: 0 when the recording shows no violation, 1 when it does, 2 when
    it cannot be read."""
    path: Path = args.recording
    checks: dict[str, ContractCheck] = {}
    tally = Tally()
    lines: list[str] = []
    violations: list[dict[str, Any]] = []
    try:
        for number, exchange in read_recording(path):
            check = checks.get(exchange.api)
            if check is None:
                check = checks[exchange.api] = ContractCheck(exchange.api)
            found = check.check(exchange)
            tally.count(found)
            for item in found:
                lines.append(f"{path}:{number}: {violation_line(exchange, item)}")
                violations.append(
                    {
                        "line": number,
                        "at": exchange.at,
                        "method": exchange.method,
                        "path": exchange.path,
                        "rule": item.rule,
                        "message": item.message,
                    }
                )
    except RecordingError as exc:
        print(f"fakeapi contract check: {exc}", file=sys.stderr)
        return 2
    if args.report == "json":
        document = {
            "recording": str(path),
            "exchanges": tally.exchanges,
            "violations": violations,
            "by_rule": dict(sorted(tally.rules.items())),
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print("\n".join([*lines, f"{path}: {tally.summary()}"]))
    return 1 if violations else 0
