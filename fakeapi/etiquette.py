"""STAND-IN for the strict branch's etiquette checker, with its shared interface (common16.md): only
so that the proxy branch type-checks and its tests run before strict is merged; the lead keeps
strict's module and drops this one."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, Literal, NamedTuple

from fakeapi.contract.lifecycle import Lifecycle
from fakeapi.providers.base import PollRoute, Provider, SubmitRoute
from fakeapi.scenario.schema import EtiquetteSpec


class Observed(NamedTuple):
    """One request as the etiquette rules see it."""

    at: float
    api: str
    key: str | None
    method: str
    point: Literal["submit", "poll", "other"]
    task_id: str | None
    terminal: bool
    status: int
    retry_after: float | None
    body_digest: str | None
    callback_url: str | None
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Violation:
    """A rule a client broke."""

    rule: str
    message: str


@dataclass(frozen=True)
class Rule:
    """A rule: its name, what it catches, its source."""

    name: str
    description: str
    source: str


RULES: Mapping[str, Rule] = {
    name: Rule(name, name, "inferred")
    for name in (
        "poll-too-fast",
        "poll-after-terminal",
        "poll-other-key",
        "ignored-retry-after",
        "contract-note",
        "unreachable-callback",
        "repeated-submit",
    )
}


class Etiquette:
    """The rules' state over a run of requests."""

    def __init__(self, lifecycles: Mapping[str, Lifecycle], spec: EtiquetteSpec) -> None:
        self.lifecycles = lifecycles
        self.spec = spec
        self.owners: dict[str, str | None] = {}
        self.last_poll: dict[str, float] = {}
        self.ended: set[str] = set()
        self.blocked: dict[str | None, float] = {}
        self.submits: dict[tuple[str | None, str], float] = {}

    def observe(self, seen: Observed) -> list[Violation]:
        """The rules ``seen`` breaks."""
        out: list[Violation] = [Violation("contract-note", note) for note in seen.notes]
        until = self.blocked.get(seen.key)
        if until is not None and seen.at < until:
            out.append(Violation("ignored-retry-after", f"sent {until - seen.at:g} s before Retry-After"))
        if seen.retry_after is not None:
            self.blocked[seen.key] = seen.at + seen.retry_after
        if seen.point == "submit" and seen.body_digest is not None:
            last = self.submits.get((seen.key, seen.body_digest))
            if last is not None and seen.at - last < self.spec.repeat_window:
                out.append(Violation("repeated-submit", f"the same body again after {seen.at - last:g} s"))
            self.submits[seen.key, seen.body_digest] = seen.at
        if seen.task_id is None:
            return [v for v in out if v.rule not in self.spec.off]
        if seen.point == "submit" and seen.status == 200:
            self.owners[seen.task_id] = seen.key
        if seen.point == "poll":
            owner = self.owners.get(seen.task_id, seen.key)
            if owner != seen.key:
                out.append(Violation("poll-other-key", f"task {seen.task_id} is another key's"))
            if seen.task_id in self.ended:
                out.append(Violation("poll-after-terminal", f"task {seen.task_id} had already ended"))
            last = self.last_poll.get(seen.task_id)
            pace = max(self.lifecycles[seen.api].poll_every, self.spec.poll_floor)
            if last is not None and seen.at - last < pace:
                out.append(
                    Violation("poll-too-fast", f"{seen.at - last:g} s after the last poll, not {pace:g}")
                )
            self.last_poll[seen.task_id] = seen.at
        if seen.terminal:
            self.ended.add(seen.task_id)
        return [v for v in out if v.rule not in self.spec.off]


def observed_from_wire(
    provider: Provider,
    at: float,
    method: str,
    path: str,
    key: str | None,
    request_body: bytes,
    status: int,
    response_headers: Mapping[str, str],
    response_body: bytes,
) -> Observed:
    """``Observed`` from an exchange on the wire."""
    lifecycle = provider.lifecycle
    point: Literal["submit", "poll", "other"] = "other"
    for route in provider.routes():
        head = route.path.split("{")[0]
        if route.method == method and (path == route.path or ("{" in route.path and path.startswith(head))):
            point = (
                "submit"
                if isinstance(route, SubmitRoute)
                else "poll"
                if isinstance(route, PollRoute)
                else "other"
            )
    data: Any = None
    with contextlib.suppress(ValueError):
        data = json.loads(response_body)
    task_id = state = None
    if lifecycle is not None and status == 200:
        task_id, state = _get(data, lifecycle.task_id), _get(data, lifecycle.status)
    retry = response_headers.get("Retry-After")
    try:
        body: Any = json.loads(request_body) if point == "submit" else None
    except ValueError:
        body = None
    return Observed(
        at=at,
        api=provider.name,
        key=key,
        method=method,
        point=point,
        task_id=task_id if isinstance(task_id, str) else None,
        terminal=lifecycle is not None and state in lifecycle.terminal,
        status=status,
        retry_after=float(retry) if status == 429 and retry is not None else None,
        body_digest=sha256(request_body).hexdigest() if point == "submit" else None,
        callback_url=body.get("callback_url") if isinstance(body, dict) else None,
        notes=(),
    )


def _get(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data
