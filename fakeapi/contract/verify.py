"""``fakeapi contract verify``: drive an API's canonical flow against any server and check every answer.

The contract is read from the provider (``fakeapi.providers``) and nowhere else: the wire model of
each answer by its status (``Route.answer`` for 200, ``Provider.error_model`` for errors, the
``callback_model`` for callbacks), the error table's statuses, and the ``Lifecycle`` (state order,
fields by state, timestamp units, id shape, poll pace, canonical jobs). A field the contract does
not know is an *addition* (reported, not a failure); a missing, mistyped or misplaced one is a
*violation*. Nothing is sent with ``dry_run``; at most ``max_submits`` jobs are created.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from xml.etree import ElementTree

import aiohttp
from pydantic import BaseModel, ValidationError
from yarl import URL

from fakeapi.contract.lifecycle import Job, Lifecycle
from fakeapi.errors import ErrorKind, problem
from fakeapi.providers import REGISTRY, Provider
from fakeapi.providers.base import PollRoute, SubmitRoute
from fakeapi.sink import CallbackSink

FindingKind = Literal["violation", "addition"]
ReportFormat = Literal["human", "json", "junit"]
ABSENT = "absent"
# A plausible Unix time, by unit: 2001-09-09 to 5138 in seconds, the same span in milliseconds.
UNIT_RANGES = {"s": (1e9, 1e11), "ms": (1e12, 1e14)}
UNIT_WORDS = {"s": "seconds", "ms": "milliseconds"}
# The first bytes of each media type a result file may have.
MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "video/mp4": (),  # an ISO box: 'ftyp' at offset 4
    "audio/wav": (b"RIFF",),
    "audio/x-wav": (b"RIFF",),
    "audio/wave": (b"RIFF",),
    "audio/mpeg": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"),
}
KIND_MEDIA = {"image": "image/", "video": "video/", "audio": "audio/"}
MAX_DOWNLOADS = 8
MAGIC_BYTES = 16  # what is read of each result file
REQUEST_TIMEOUT = 60.0
CONNECT_TIMEOUT = 10.0
CALLBACK_WAIT = 10.0
RETRIES = 3


@dataclass(frozen=True, slots=True)
class Finding:
    """One difference from the contract: the request that showed it, where in the body, what the
    contract expects and what was observed."""

    kind: FindingKind
    check: str
    request: str
    path: str
    expected: str
    observed: str


@dataclass(frozen=True, slots=True)
class Unreachable:
    """Why a run stopped before its end: the request no answer came to, and why, in plain words."""

    request: str
    reason: str


class UnreachableError(Exception):
    """The server (or a result file's host) could not be reached: the run stops there."""

    def __init__(self, unreachable: Unreachable) -> None:
        super().__init__(f"{unreachable.request}: {unreachable.reason}")
        self.unreachable = unreachable


@dataclass(slots=True)
class Report:
    """What a verify run found, and every request it sent (method and path)."""

    api: str
    base_url: str
    findings: list[Finding] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    #: Each job as it went: its kind, model, id and the states seen (polls, then callbacks).
    jobs: list[str] = field(default_factory=list)
    #: The requests the API answered (each answer was checked).
    answered: int = 0
    #: Where and why the run stopped early, when the server could no longer be reached.
    unreachable: Unreachable | None = None

    @property
    def violations(self) -> list[Finding]:
        """The findings that make the server drift from the contract."""
        return [f for f in self.findings if f.kind == "violation"]

    @property
    def additions(self) -> list[Finding]:
        """Fields the contract does not know: reported, not failures."""
        return [f for f in self.findings if f.kind == "addition"]

    @property
    def exit_code(self) -> int:
        """0 when the server conforms, 1 on drift (even if it went away later), 2 when it could not
        be reached before any drift was found."""
        if self.violations:
            return 1
        return 2 if self.unreachable is not None else 0

    def human(self) -> str:
        """The report for a terminal: the verdict, each job's way, each finding."""
        gone = self.unreachable
        if gone is not None and not self.answered and not self.findings:
            where = f"{self.api} at {self.base_url}"
            return f"{where}: UNREACHABLE: {gone.request}: {gone.reason}; nothing was checked"
        if self.violations:
            verdict = f"DRIFT: {len(self.violations)} violation(s)"
        elif gone is not None:
            verdict = f"UNREACHABLE after {self.answered} answer(s) with no drift"
        else:
            verdict = "conforms"
        lines = [
            f"{self.api} at {self.base_url}: {len(self.requests)} requests, {verdict}, "
            f"{len(self.additions)} addition(s)"
        ]
        lines += [f"  {job}" for job in self.jobs]
        if gone is not None:
            lines.append(f"UNREACHABLE {gone.request}: {gone.reason}")
        for f in [*self.violations, *self.additions]:
            lines.append(f"{f.kind.upper()} [{f.check}] {f.request}  {f.path}")
            lines.append(f"    expected: {f.expected}")
            lines.append(f"    observed: {f.observed}")
        return "\n".join(lines)

    def json(self) -> str:
        """The report as JSON, for machines."""
        return json.dumps(
            {
                "api": self.api,
                "base_url": self.base_url,
                "conforms": not self.violations and self.unreachable is None,
                "unreachable": None if self.unreachable is None else asdict(self.unreachable),
                "requests": self.requests,
                "jobs": self.jobs,
                "violations": [asdict(f) for f in self.violations],
                "additions": [asdict(f) for f in self.additions],
            },
            indent=2,
            ensure_ascii=False,
        )

    def junit(self) -> str:
        """A JUnit XML report: one test case per request, a failure per violation it showed, and an
        error where the server could not be reached."""
        cases = list(dict.fromkeys([*self.requests, *(f.request for f in self.findings)]))
        gone = self.unreachable
        suite = ElementTree.Element(
            "testsuite",
            name=f"fakeapi contract verify {self.api}",
            tests=str(len(cases)),
            failures=str(len({f.request for f in self.violations})),
            errors=str(int(gone is not None)),
        )
        for request in cases:
            case = ElementTree.SubElement(suite, "testcase", classname=self.api, name=request)
            if gone is not None and gone.request == request:
                error = ElementTree.SubElement(case, "error", message=gone.reason)
                error.text = f"{gone.request}: {gone.reason}; the run stopped here"
            for f in self.findings:
                if f.request != request:
                    continue
                text = f"{f.path}: expected {f.expected}; observed {f.observed}"
                if f.kind == "violation":
                    ElementTree.SubElement(case, "failure", message=f"[{f.check}] {f.path}").text = text
                else:
                    out = ElementTree.SubElement(case, "system-out")
                    out.text = f"addition [{f.check}] {text}"
        return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True)

    def render(self, form: ReportFormat) -> str:
        """The report in ``form``: human, json or junit."""
        return {"human": self.human, "json": self.json, "junit": self.junit}[form]()


@dataclass(frozen=True, slots=True)
class Options:
    """What to verify and how carefully (see ``fakeapi contract verify --help``)."""

    api: str
    base_url: str
    key: str
    model: str | None = None
    max_submits: int = 2
    timeout: float = 600.0
    poll_every: float | None = None
    callback_host: str | None = None


@dataclass(frozen=True, slots=True)
class PlannedJob:
    """A job the run will submit: its canonical job (route and body), model and estimated price
    (``None``: unknown)."""

    job: Job
    model: str
    cost: float | None


class UsageError(Exception):
    """Options that cannot be verified (exit status 2)."""


def provider_for(api: str) -> tuple[Provider, Lifecycle]:
    """The registered provider named ``api`` and its lifecycle."""
    for provider in REGISTRY.providers():
        if provider.name == api and provider.lifecycle is not None:
            return provider, provider.lifecycle
    raise UsageError(f"no API named {api!r} declares a lifecycle")


def _price(provider: Provider, model: str, body: Mapping[str, Any]) -> float | None:
    price = provider.profile.price
    return None if price is None else price(model, body, 1)


def plan(options: Options) -> list[PlannedJob]:
    """The jobs a run submits: the cheapest model of each kind (the provider's prices decide, else
    its first model), or ``options.model`` alone; never more than ``max_submits``."""
    provider, lifecycle = provider_for(options.api)
    if options.callback_host is not None and provider.callback_model is None:
        raise UsageError(f"{options.api} documents no callbacks: --callback-host does not apply")
    jobs: list[PlannedJob] = []
    if options.model is not None:
        info = provider.profile.catalogue.lookup(options.model)
        job = next((j for j in lifecycle.jobs if info is None or j.kind == info.kind), None)
        if job is None:
            raise UsageError(f"{options.api} has no canonical job for {options.model}'s kind")
        jobs.append(
            PlannedJob(job, options.model, _price(provider, options.model, job.body(options.model, None)))
        )
    else:
        for job in lifecycle.jobs:
            costs = [(_price(provider, m, job.body(m, None)), i, m) for i, m in enumerate(job.models)]
            cost, _, model = min(costs, key=lambda c: (c[0] if c[0] is not None else 0.0, c[1]))
            jobs.append(PlannedJob(job, model, cost))
    return jobs[: options.max_submits]


def _poll_route(provider: Provider) -> PollRoute:
    return next(r for r in provider.routes() if isinstance(r, PollRoute))


def _fill(path: str, **params: str) -> str:
    for name, value in params.items():
        path = path.replace("{" + name + "}", value)
    return path


def _poll_target(poll: PollRoute, task_id: str, model: str) -> tuple[str, dict[str, str] | None]:
    """The path and query that poll ``task_id`` (made with ``model``): the id goes in the query
    parameter the poll route requires (APIXO's ``taskId``), else in its ``{task_id}``."""
    query = {poll.query[0]: task_id} if poll.query else None
    return _fill(poll.path, task_id=task_id, model=model), query


def _shown(path: str, query: Mapping[str, str] | None) -> str:
    return path + "".join(f"?{k}={v}" for k, v in (query or {}).items())


def describe_plan(options: Options) -> str:
    """What a run would send, and what it would cost, in words (``--dry-run``)."""
    provider, lifecycle = provider_for(options.api)
    jobs = plan(options)
    poll = _poll_route(provider)
    pace = options.poll_every if options.poll_every is not None else lifecycle.poll_every
    model = jobs[0].model if jobs else (lifecycle.jobs[0].models[0])
    probe_path = _shown(*_poll_target(poll, lifecycle.unknown_id, model))
    first_route = _fill(lifecycle.jobs[0].route, model=model)
    lines = [f"plan for {options.api} at {options.base_url} (dry run: nothing is sent)"]
    lines.append(
        f"  {poll.method} {probe_path} without a key: expect "
        f"{provider.errors[ErrorKind.UNAUTHORIZED].status} in the error envelope"
    )
    lines.append(f"  {poll.method} {probe_path}: expect {provider.errors[ErrorKind.NOT_FOUND].status}")
    lines.append(
        f"  POST {first_route} with an empty body: expect "
        f"{provider.errors[ErrorKind.INVALID_REQUEST].status} (creates no job)"
    )
    known = [j.cost for j in jobs if j.cost is not None]
    for job in jobs:
        cost = f"{job.cost:g} {lifecycle.price_unit}".strip() if job.cost is not None else "price unknown"
        route = _fill(job.job.route, model=job.model)
        lines.append(f"  POST {route}: one {job.job.kind} job with {job.model} ({cost})")
        polled = _shown(*_poll_target(poll, "{task_id}", job.model))
        lines.append(
            f"    then {poll.method} {polled} every {pace:g} s until a terminal state "
            f"(at most {options.timeout:g} s in all), and GET each result URL"
        )
    if options.callback_host is not None and jobs:
        lines.append(
            f"  the first job carries a callback URL on {options.callback_host}; each delivery is checked"
        )
    if len(known) == len(jobs):
        total = f"{sum(known):g} {lifecycle.price_unit}".strip()
    else:
        total = (
            "unknown (fakeapi knows no published price for "
            + ", ".join(j.model for j in jobs if j.cost is None)
            + ")"
        )
    lines.append(f"jobs: {len(jobs)} (at most --max-submits {options.max_submits}); estimated cost: {total}")
    return "\n".join(lines)


# -- reading answers ---------------------------------------------------------------------------


def value_at(data: Any, path: str) -> tuple[bool, Any]:
    """The value at a dotted path, and whether it is there."""
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return False, None
        data = data[part]
    return True, data


def _states_seen(states: Sequence[str]) -> str:
    """The states a job went through, each once however many polls saw it."""
    return " > ".join(state for state, _ in itertools.groupby(states)) or "no state seen"


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _locate(data: Any, loc: Sequence[int | str]) -> tuple[str, list[tuple[str, str]]]:
    """A pydantic error location as a JSON path in ``data``, and the union members it passed
    through (their tags are no keys of the body), each with the path it was tried at."""
    path, tags, current = "$", [], data
    for i, part in enumerate(loc):
        if isinstance(current, dict) and isinstance(part, str) and part in current:
            path, current = f"{path}.{part}", current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path, current = f"{path}[{part}]", current[part]
        elif isinstance(current, dict) and isinstance(part, str) and i == len(loc) - 1:
            path = f"{path}.{part}"
        else:
            tags.append((path, str(part)))
    return path, tags


def schema_findings(request: str, model: type[BaseModel], raw: bytes, data: Any) -> list[Finding]:
    """``raw`` against ``model``: unknown fields as additions, anything else as violations. Where
    a union's members all fail, only the member that came closest is reported."""
    try:
        model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    else:
        return []
    located = [(_locate(data, e["loc"]), e) for e in errors]
    tried: dict[str, dict[str, int]] = {}
    for (_, tags), _e in located:
        for at, tag in tags:
            tried.setdefault(at, {}).setdefault(tag, 0)
            tried[at][tag] += 1
    closest = {
        at: min(counts, key=lambda t: (counts[t], list(counts).index(t))) for at, counts in tried.items()
    }
    findings: list[Finding] = []
    for (path, tags), error in located:
        if any(closest[at] != tag for at, tag in tags):
            continue
        if error["type"] == "extra_forbidden":
            findings.append(
                Finding(
                    "addition",
                    "schema",
                    request,
                    path,
                    f"no such field in {model.__name__}",
                    _show(error["input"]),
                )
            )
        elif error["type"] == "missing":
            findings.append(Finding("violation", "schema", request, path, "a required field", ABSENT))
        else:
            findings.append(
                Finding("violation", "schema", request, path, problem(error).message, _show(error["input"]))
            )
    return list(dict.fromkeys(findings))


def _diff(expected: Any, observed: Any, path: str = "$") -> list[tuple[str, str, str]]:
    """Where two JSON values differ: (path, expected, observed)."""
    if isinstance(expected, dict) and isinstance(observed, dict):
        out: list[tuple[str, str, str]] = []
        for key in dict.fromkeys([*expected, *observed]):
            if key not in observed:
                out.append((f"{path}.{key}", _show(expected[key]), ABSENT))
            elif key not in expected:
                out.append((f"{path}.{key}", ABSENT, _show(observed[key])))
            else:
                out += _diff(expected[key], observed[key], f"{path}.{key}")
        return out
    if isinstance(expected, list) and isinstance(observed, list) and len(expected) == len(observed):
        return [
            d
            for i, (e, o) in enumerate(zip(expected, observed, strict=True))
            for d in _diff(e, o, f"{path}[{i}]")
        ]
    if type(expected) is not type(observed) or expected != observed:
        return [(path, _show(expected), _show(observed))]
    return []


@dataclass(frozen=True, slots=True)
class NoAnswer:
    """Why a request got no answer."""

    reason: str
    #: Connecting failed, or nothing came in time: asking again would only wait again.
    final: bool
    #: The server could not be reached (or dropped the connection), rather than answering garbage.
    unreachable: bool


def no_answer(exc: Exception, url: str, timeout: aiohttp.ClientTimeout) -> NoAnswer:
    """What ``exc``, raised asking ``url`` within ``timeout``, says in plain words."""
    if not isinstance(exc, aiohttp.ClientConnectionError | asyncio.TimeoutError | TimeoutError):
        return NoAnswer(f"{type(exc).__name__}: {exc}", final=False, unreachable=False)
    target = URL(url)
    address = f"{target.host}:{target.port}"
    cannot = f"cannot connect to {address}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return NoAnswer(f"{cannot}: name not resolved", final=True, unreachable=True)
    if isinstance(exc, aiohttp.ClientSSLError):
        cause = (
            exc.certificate_error
            if isinstance(exc, aiohttp.ClientConnectorCertificateError)
            else exc.os_error
        )
        detail = getattr(cause, "verify_message", None) or getattr(cause, "reason", None) or str(cause)
        return NoAnswer(f"{cannot}: TLS failure ({str(detail).rstrip('.')})", final=True, unreachable=True)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return NoAnswer(f"{cannot}: no connection within {timeout.connect:g} s", final=True, unreachable=True)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return NoAnswer(f"{cannot}: {_os_words(exc)}", final=True, unreachable=True)
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):  # the same class from Python 3.11
        return NoAnswer(f"{address} sent no answer within {timeout.total:g} s", final=True, unreachable=True)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return NoAnswer(f"{address} closed the connection without answering", final=False, unreachable=True)
    return NoAnswer(f"{address}: {_os_words(exc)}", final=False, unreachable=True)


def _os_words(exc: Exception) -> str:
    """An OS error in its plain words ('connection refused'), without asyncio's details."""
    errno = exc.errno if isinstance(exc, OSError) else None
    return os.strerror(errno).lower() if errno else str(exc)


@dataclass(slots=True)
class Answer:
    """One answer: the request that got it, its status, headers and body (JSON, or ``None``)."""

    request: str
    status: int
    headers: Mapping[str, str]
    raw: bytes
    data: Any


class AnswerChecker:
    """The checks of answers against an API's contract (statuses, bodies, the lifecycle), each
    finding added to ``report``; ``fakeapi proxy`` runs them on the answers it forwards."""

    def __init__(self, api: str, base_url: str) -> None:
        self.provider, self.lifecycle = provider_for(api)
        self.report = Report(api, base_url)

    def add(
        self, kind: FindingKind, check: str, request: str, path: str, expected: str, observed: str
    ) -> None:
        """Record one finding."""
        self.report.findings.append(Finding(kind, check, request, path, expected, observed))

    def check_body(self, answer: Answer, model: type[BaseModel]) -> None:
        """The answer's body against ``model``."""
        if answer.data is None:
            shown = f"{answer.headers.get('Content-Type', '')}: {_show(answer.raw[:80].decode('latin-1'))}"
            self.add("violation", "schema", answer.request, "$", f"a JSON {model.__name__}", shown)
            return
        self.report.findings += schema_findings(answer.request, model, answer.raw, answer.data)

    def check_retry_after(self, answer: Answer) -> None:
        """A 429 says when to come back (a violation if it has no ``Retry-After``)."""
        if answer.status == 429 and "Retry-After" not in answer.headers:
            expected = "a Retry-After header on a 429"
            self.add("violation", "headers", answer.request, "Retry-After", expected, ABSENT)

    def check_status(self, answer: Answer, expected: int, check: str) -> bool:
        """Whether the answer has the ``expected`` status (a violation if not)."""
        if answer.status == expected:
            return True
        self.add("violation", check, answer.request, "HTTP status", str(expected), str(answer.status))
        return False

    def check_task(self, request: str, data: Any, task_id: str | None) -> str | None:
        """The lifecycle checks of one answer that shows a task's state (id, timestamps, fields
        by state); its state word, if the contract knows it."""
        lc = self.lifecycle
        found, state = value_at(data, lc.status)
        if not found:
            return None
        self.check_id(request, data, task_id)
        self.check_units(request, data)
        if state not in lc.order:
            return None  # the schema check reports the unknown word
        for rule in lc.fields:
            found, value = value_at(data, rule.path)
            present = found and value is not None
            if present and state not in rule.only:
                expected = f"absent while {state} (only when {' or '.join(sorted(rule.only))})"
                self.add("violation", "lifecycle", request, f"$.{rule.path}", expected, _show(value))
            elif not present and state in rule.required:
                self.add("violation", "lifecycle", request, f"$.{rule.path}", f"present when {state}", ABSENT)
        return str(state)

    def check_id(self, request: str, data: Any, task_id: str | None) -> None:
        """The id has the API's shape, and is the submitted task's (``task_id``, once known)."""
        lc = self.lifecycle
        found, seen_id = value_at(data, lc.task_id)
        if not found or not isinstance(seen_id, str):
            return
        if not re.fullmatch(lc.id_pattern, seen_id):
            expected = f"an id matching {lc.id_pattern}"
            self.add("violation", "id", request, f"$.{lc.task_id}", expected, _show(seen_id))
        elif task_id is not None and seen_id != task_id:
            self.add("violation", "id", request, f"$.{lc.task_id}", _show(task_id), _show(seen_id))

    def check_units(self, request: str, data: Any) -> None:
        """Each timestamp is a plausible Unix time in its unit (a time in ms where s is due is not)."""
        for path, unit in self.lifecycle.timestamps.items():
            found, value = value_at(data, path)
            if not found or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            low, high = UNIT_RANGES[unit]
            if not low <= value < high:
                other = next((u for u, (lo, hi) in UNIT_RANGES.items() if lo <= value < hi), None)
                looks = f" (a Unix time in {UNIT_WORDS[other]})" if other else ""
                expected = f"a Unix time in {UNIT_WORDS[unit]}"
                self.add("violation", "units", request, f"$.{path}", expected, f"{value}{looks}")

    def rank(self, state: str) -> int:
        """Where ``state`` comes in the API's order (the terminal states share a place)."""
        order = self.lifecycle.order
        first_terminal = min(order.index(s) for s in self.lifecycle.terminal)
        return min(order.index(state), first_terminal)

    def check_order(self, request: str, states: list[str], state: str | None) -> None:
        """``state`` comes at or after the last of ``states`` (then joins them)."""
        if state is None:
            return
        if states and self.rank(state) < self.rank(states[-1]):
            self.add(
                "violation",
                "lifecycle",
                request,
                f"$.{self.lifecycle.status}",
                f"{states[-1]!r} or a later state",
                _show(state),
            )
        states.append(state)


class Verifier(AnswerChecker):
    """One run: the session, the contract and what was found so far."""

    def __init__(self, options: Options, session: aiohttp.ClientSession) -> None:
        super().__init__(options.api, options.base_url.rstrip("/"))
        self.options = options
        self.http = session
        self.base = options.base_url.rstrip("/")
        self.deadline = time.monotonic() + options.timeout
        self.pace = options.poll_every if options.poll_every is not None else self.lifecycle.poll_every
        # Each request within the run's --timeout too (0 would turn aiohttp's timeouts off).
        bound = max(options.timeout, 0.001)
        self.timeout = aiohttp.ClientTimeout(
            total=min(REQUEST_TIMEOUT, bound), connect=min(CONNECT_TIMEOUT, bound)
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        key: bool = True,
        body: Any = None,
        query: Mapping[str, str] | None = None,
    ) -> Answer | None:
        """One request to the API; ``None`` (a violation recorded) when the answer was no HTTP.

        A 429 is asked again after its ``Retry-After`` (it created nothing), and so is a GET that
        got a 5xx, a broken answer or a dropped connection, after the poll pace; a submit that got
        a 5xx never is (it may have created a job). Up to ``RETRIES`` times, within the run's time.
        A server that cannot be reached raises ``UnreachableError`` (at once when it cannot be
        connected to or does not answer in time).
        """
        for attempt in range(RETRIES + 1):
            answer = await self.send(method, path, key=key, body=body, query=query)
            if isinstance(answer, NoAnswer):
                again = method == "GET" and not answer.final
            else:
                again = answer.status == 429 or (method == "GET" and answer.status >= 500)
            if not again or attempt == RETRIES or self.remaining() <= 0:
                break
            wait = _retry_after(answer, self.pace) if isinstance(answer, Answer) else self.pace
            await asyncio.sleep(min(wait, self.remaining()))
        if isinstance(answer, Answer):
            return answer
        if answer.unreachable:
            raise UnreachableError(Unreachable(f"{method} {path}", answer.reason))
        self.add("violation", "http", f"{method} {path}", "$", "an HTTP answer", answer.reason)
        return None

    async def send(
        self, method: str, path: str, *, key: bool, body: Any, query: Mapping[str, str] | None
    ) -> Answer | NoAnswer:
        """One attempt: the answer, or why none came."""
        request = f"{method} {path}"
        self.report.requests.append(request)
        headers = {"Authorization": f"Bearer {self.options.key}"} if key else {}
        try:
            async with self.http.request(
                method,
                self.base + path,
                json=body,
                params=query,
                headers=headers,
                timeout=self.timeout,
            ) as response:
                raw = await response.read()
                status, answer_headers = response.status, dict(response.headers)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:  # not TimeoutError before 3.11
            return no_answer(exc, self.base + path, self.timeout)
        self.report.answered += 1
        answer = Answer(request, status, answer_headers, raw, json_or_none(raw))
        self.check_retry_after(answer)
        return answer

    # -- the flow ------------------------------------------------------------------------------

    async def probe_errors(self, model: str) -> None:
        """A missing key, an unknown task and an invalid body: each the API's status and envelope."""
        provider, lc = self.provider, self.lifecycle
        poll = _poll_route(provider)
        path, query = _poll_target(poll, lc.unknown_id, model)
        probes = [
            (ErrorKind.UNAUTHORIZED, await self.call(poll.method, path, key=False, query=query)),
            (ErrorKind.NOT_FOUND, await self.call(poll.method, path, query=query)),
            (
                ErrorKind.INVALID_REQUEST,
                await self.call("POST", _fill(lc.jobs[0].route, model=model), body={}),
            ),
        ]
        for kind, answer in probes:
            if answer is not None and self.check_status(answer, provider.errors[kind].status, "error"):
                self.check_body(answer, provider.error_model)

    async def run_job(self, planned: PlannedJob, sink: CallbackSink | None) -> None:
        """Submit one job, follow it to its end, download its results, check its callbacks."""
        lc, provider = self.lifecycle, self.provider
        route = next(
            r for r in provider.routes() if isinstance(r, SubmitRoute) and r.path == planned.job.route
        )
        path = _fill(route.path, model=planned.model)
        body = planned.job.body(planned.model, sink.url if sink is not None else None)
        submitted = await self.call(route.method, path, body=body)
        if submitted is None or not self.check_status(submitted, 200, "status"):
            return
        self.check_body(submitted, route.answer)
        found, task_id = value_at(submitted.data, lc.task_id)
        if not found or not isinstance(task_id, str):
            return  # the schema check has said what is missing
        poll = _poll_route(provider)
        states: list[str] = []
        seen: dict[str, Any] = {}
        state = self.check_task(submitted.request, submitted.data, None)
        self.check_order(submitted.request, states, state)
        if state is not None and route.answer is poll.answer:
            seen[state] = submitted.data
        job = f"{planned.job.kind} job {planned.model} {task_id}"
        try:
            final = await self.poll_until_terminal(poll, task_id, planned.model, states, seen)
            files = await self.download(final, planned.job) if final is not None else 0
        except UnreachableError:
            self.report.jobs.append(f"{job}: {_states_seen(states)}; then unreachable")
            raise
        journey = f"{job}: {_states_seen(states)}, {files} result file(s)"
        if sink is not None:
            delivered = await self.check_callbacks(sink, task_id, seen, ended=final is not None)
            journey += f"; callbacks: {' > '.join(delivered) or 'none'}"
        self.report.jobs.append(journey)

    async def poll_until_terminal(
        self, poll: PollRoute, task_id: str, model: str, states: list[str], seen: dict[str, Any]
    ) -> Answer | None:
        """Poll at the pace until a terminal state (its answer) or the deadline (``None``); each
        answer is checked, its state added to ``states`` and, the first time, to ``seen``."""
        path, query = _poll_target(poll, task_id, model)
        while True:
            answer = await self.call(poll.method, path, query=query)
            if answer is None:
                return None
            if not self.check_status(answer, 200, "status"):
                return None
            self.check_body(answer, poll.answer)
            if not value_at(answer.data, self.lifecycle.status)[0]:
                return None  # no state to follow: the schema check has reported it
            state = self.check_task(answer.request, answer.data, task_id)
            self.check_order(answer.request, states, state)
            if state is not None:
                seen[state] = answer.data
            if state in self.lifecycle.terminal:
                return answer
            if self.remaining() <= 0:
                expected = f"a terminal state within {self.options.timeout:g} s"
                self.add(
                    "violation",
                    "lifecycle",
                    answer.request,
                    f"$.{self.lifecycle.status}",
                    expected,
                    _show(state),
                )
                return None
            await asyncio.sleep(min(self.pace, self.remaining()))

    def remaining(self) -> float:
        """Seconds left of the run's ``--timeout``."""
        return max(0.0, self.deadline - time.monotonic())

    async def download(self, final: Answer, job: Job) -> int:
        """Fetch each result file: the task's media type, and the bytes a file of that type begins
        with; how many were fetched."""
        try:
            urls = [u for u in self.lifecycle.result_urls(final.data) if isinstance(u, str)]
        except (AttributeError, TypeError, ValueError, KeyError):
            return 0  # a malformed result field: the schema check reports it
        for url in urls[:MAX_DOWNLOADS]:
            request = f"GET {url}"
            self.report.requests.append(request)
            try:
                async with self.http.get(url, timeout=self.timeout) as response:
                    status, content_type = response.status, response.content_type
                    head = b""
                    while len(head) < MAGIC_BYTES and (
                        more := await response.content.read(MAGIC_BYTES - len(head))
                    ):
                        head += more
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                missing = no_answer(exc, url, self.timeout)
                # On the API's own server the server has gone; elsewhere the API gave a dead link.
                if missing.unreachable and URL(url).origin() == URL(self.base).origin():
                    raise UnreachableError(Unreachable(request, missing.reason)) from None
                self.add("violation", "result", request, "$", "a downloadable file", missing.reason)
                continue
            if status != 200:
                self.add("violation", "result", request, "HTTP status", "200", str(status))
                continue
            family = KIND_MEDIA.get(job.kind)
            if family is not None and not content_type.startswith(family):
                self.add("violation", "result", request, "Content-Type", f"{family}*", content_type)
            elif content_type not in MAGIC:
                self.add(
                    "addition", "result", request, "Content-Type", "a type verify can check", content_type
                )
            elif not _magic_matches(content_type, head):
                self.add(
                    "violation",
                    "result",
                    request,
                    "body",
                    f"the first bytes of {content_type}",
                    _show(head.hex()),
                )
        return len(urls[:MAX_DOWNLOADS])

    async def check_callbacks(
        self, sink: CallbackSink, task_id: str, seen: dict[str, Any], ended: bool
    ) -> list[str]:
        """Each delivery against the callback model, the lifecycle, the API's callback policy
        (terminal states only, or every change) and the poll answer of the same state."""
        lc, model = self.lifecycle, self.provider.callback_model
        assert model is not None  # plan() refuses a callback host for an API without callbacks
        policy = self.provider.profile.callbacks
        wait_until = time.monotonic() + min(CALLBACK_WAIT, max(self.remaining(), 1.0))
        while ended and not any(_state_of(r.body, lc) in lc.terminal for r in sink.received):
            if time.monotonic() >= wait_until:
                expected = "a delivery of the terminal state"
                self.add("violation", "callback", f"POST {sink.url}", "$", expected, "none received")
                break
            await asyncio.sleep(0.02)
        states: list[str] = []
        for index, delivery in enumerate(sink.received, 1):
            request = f"callback #{index} POST {delivery.path}"
            self.report.requests.append(request)
            data = json_or_none(delivery.body)
            if data is None:
                shown = _show(delivery.body[:80].decode("latin-1"))
                self.add("violation", "callback", request, "$", f"a JSON {model.__name__}", shown)
                continue
            self.report.findings += schema_findings(request, model, delivery.body, data)
            state = self.check_task(request, data, task_id)
            if state is not None and policy.on == "terminal" and state not in lc.terminal:
                self.add(
                    "violation", "callback", request, f"$.{lc.status}", "terminal states only", _show(state)
                )
            self.check_order(request, states, state)
            if state in seen:
                for path, expected, observed in _diff(seen[state], data):
                    self.add(
                        "violation", "callback", request, path, f"{expected} (as the poll answered)", observed
                    )
        if policy.on == "every_change":
            for state in [s for s in seen if s not in states]:
                self.add(
                    "violation",
                    "callback",
                    f"POST {sink.url}",
                    f"$.{lc.status}",
                    f"a delivery of {state!r}",
                    "none received",
                )
        return states


def json_or_none(raw: bytes) -> Any:
    """``raw`` as JSON, or ``None`` when it is none."""
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _state_of(raw: bytes, lifecycle: Lifecycle) -> Any:
    return value_at(json_or_none(raw), lifecycle.status)[1]


def _retry_after(answer: Answer, default: float) -> float:
    try:
        return max(0.0, float(answer.headers.get("Retry-After", default)))
    except ValueError:
        return default


def _magic_matches(content_type: str, head: bytes) -> bool:
    if content_type == "video/mp4":
        return head[4:8] == b"ftyp"
    if content_type == "image/webp":
        return head.startswith(b"RIFF") and head[8:12] == b"WEBP"
    if content_type.startswith("audio/") and head.startswith(b"RIFF"):
        return head[8:12] == b"WAVE"
    return head.startswith(MAGIC[content_type])


async def verify(options: Options) -> Report:
    """Run the API's canonical flow against ``options.base_url`` and check every answer."""
    jobs = plan(options)
    _, lifecycle = provider_for(options.api)
    # The receiver first: an address it cannot listen on is a usage error, before anything is sent.
    sink = CallbackSink(options.callback_host) if options.callback_host is not None else None
    if sink is not None:
        try:
            await sink.start()
        except OSError as exc:
            raise UsageError(
                f"--callback-host {options.callback_host}: cannot listen there ({exc.strerror}); "
                "give an address of this machine that the server can reach"
            ) from None
    try:
        async with aiohttp.ClientSession() as session:
            verifier = Verifier(options, session)
            try:
                await verifier.probe_errors(jobs[0].model if jobs else lifecycle.jobs[0].models[0])
                for index, job in enumerate(jobs):
                    await verifier.run_job(job, sink if index == 0 else None)
            except UnreachableError as exc:
                verifier.report.unreachable = exc.unreachable
    finally:
        if sink is not None:
            await sink.stop()
    return verifier.report


# -- command line ------------------------------------------------------------------------------


def run_verify(args: argparse.Namespace) -> int:
    """``fakeapi contract verify``: 0 when the server conforms, 1 on drift, 2 on a usage error or
    when the server could not be reached (before any drift was found)."""
    options = Options(
        api=args.api,
        base_url=args.base_url,
        key=args.key or "",
        model=args.model,
        max_submits=args.max_submits,
        timeout=args.timeout,
        poll_every=args.poll_every,
        callback_host=args.callback_host,
    )
    try:
        if args.dry_run:
            print(describe_plan(options))
            return 0
        if not options.key:
            raise UsageError("--key (or $FAKEAPI_VERIFY_KEY) is required unless --dry-run")
        plan(options)
        report = asyncio.run(verify(options))
    except UsageError as exc:
        print(f"fakeapi contract verify: {exc}", file=sys.stderr)
        return 2
    print(report.render(args.report))
    gone = report.unreachable
    if gone is not None and args.report != "human":  # the machine's report is in a file; say it in the log
        print(
            f"fakeapi contract verify: {options.api} at {options.base_url}: stopped at {gone.request}: "
            f"{gone.reason}",
            file=sys.stderr,
        )
    return report.exit_code
