"""Polling etiquette: how a client of an async-task API should behave, checked request by request.

``Etiquette`` follows one run's traffic (``observe`` each exchange as an ``Observed``) and says
which rules each request broke. The fake's pipeline builds ``Observed`` from what it already knows,
a proxy in front of a real service from what it parsed of the wire (``ContractCheck.read``). Each rule in
``RULES`` names its source: a documented fact (the page) or our inference.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit

from fakeapi.addresses import literal, never_resolved
from fakeapi.contract.lifecycle import Lifecycle
from fakeapi.providers import REGISTRY
from fakeapi.scenario.schema import EtiquetteSpec, RuleName, Scenario

Point = Literal["submit", "poll", "other"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One etiquette rule: its name, what it catches, and where the expectation comes from
    (``documented: <page>`` or ``inferred``)."""

    name: RuleName
    description: str
    source: str


RULES: Mapping[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule(
            "poll-too-fast",
            "a task polled sooner after its submit or its last poll than the API's guidance (or the "
            "scenario's poll_floor) allows; on Pixapi, an interval shorter than the one before (no back-off)",
            "documented: RixAPI every 3-10 s (docs.elkapi.com/en/guides/task); APIXO every 3-5 s "
            "(apixo.ai/docs/concepts/async-workflow; vidu-q3: wait 60-90 s, then every 5 s, "
            "apixo.ai/docs/models/video/vidu-q3); Pixapi exponential back-off "
            "(pixapi.ai/docs/guides/async-tasks); FoxAPI documents none: 5 s is inferred",
        ),
        Rule(
            "poll-after-terminal",
            "a task polled again after an answer already showed it completed or failed",
            "inferred: a terminal state never changes on any of the four APIs",
        ),
        Rule(
            "poll-other-key",
            "a task polled with another key than the one that submitted it",
            "inferred: every API scopes a task to its key (the poll is refused as not found)",
        ),
        Rule(
            "ignored-retry-after",
            "a request sent by a key before an earlier 429's Retry-After had elapsed",
            "inferred: no API documents Retry-After; the fake sends it on the 429s it makes itself",
        ),
        Rule(
            "contract-note",
            "a request the API accepts but should not get: undocumented fields, fields the docs say "
            "not to send (one violation per contract note)",
            "documented: each API's request models (fakeapi.providers), as the notes say",
        ),
        Rule(
            "unreachable-callback",
            "a callback_url that can never be reached: not http(s), no host, port 0, an unspecified "
            "address or a name reserved never to resolve (.invalid, .example, .test)",
            "inferred: URL syntax and RFC 6761; documented besides: APIXO asks for a public HTTPS "
            "receiver (apixo.ai/docs/api-reference/generate-task), FoxAPI for HTTPS and no private "
            "address (docs.foxapi.cc, the veo-3.1-fast-generate-preview page)",
        ),
        Rule(
            "repeated-submit",
            "a submit with the same body to the same route as the same key's previous accepted "
            "submit, within the scenario's repeated_submit_window: a retry that makes a second task",
            "inferred: no API documents idempotency keys, so a retried submit is a second, billed task",
        ),
    )
}
# Pixapi's docs ask to poll "with exponential backoff": each interval at least the one before.
BACKS_OFF = frozenset({"pixapi"})
# A poll of an API that asks to back off may come this much sooner than the interval before it (a
# steady or capped back-off has jitter) before it counts as not backing off.
BACK_OFF_SLACK = 0.9
# The longest Retry-After the rules hold a key to (a day); longer, or not a finite number, is ignored.
LONGEST_RETRY_AFTER = 86_400.0


class Observed(NamedTuple):
    """One exchange as the etiquette rules see it (a named tuple: the fake makes one per request,
    at a tenth of a frozen dataclass's cost).

    ``point``: what the request was (a submit, a poll of ``task_id``, anything else); ``terminal``:
    the answer showed the task ended; ``retry_after``: a 429's ``Retry-After`` in seconds;
    ``body_digest``: a digest of a submit's body; ``notes``: the contract notes the request raised.
    """

    at: float
    api: str
    key: str | None
    method: str
    point: Point
    task_id: str | None
    terminal: bool
    status: int
    retry_after: float | None
    body_digest: str | None
    callback_url: str | None
    notes: tuple[str, ...]


class Violation(NamedTuple):
    """A rule a request broke, and how (reported as ``{rule}: {message}``)."""

    # A tuple: a client that keeps polling an ended task makes one per request.
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


@dataclass(slots=True)
class _Pace:
    key: str | None
    last: float
    interval: float | None = None
    ended: bool = False
    # Made once: a client that keeps polling an ended task breaks the same rule on every poll.
    after_end: Violation | None = None


def registered_lifecycles() -> dict[str, Lifecycle]:
    """Each registered API's lifecycle, by API name (the APIs whose polls the rules pace)."""
    return {p.name: p.lifecycle for p in REGISTRY.providers() if p.lifecycle is not None}


class Etiquette:
    """One run's etiquette checker: what each key and task did last, bounded by ``spec.tracked``
    (the first tracked go first), and the newest ``spec.kept`` violations (``violations``)."""

    def __init__(self, lifecycles: Mapping[str, Lifecycle], spec: EtiquetteSpec) -> None:
        self.spec = spec
        self._disabled = frozenset(spec.disabled)
        self._pace = {
            api: max(lifecycle.poll_every, spec.poll_floor) for api, lifecycle in lifecycles.items()
        }
        self._tasks: dict[tuple[str, str], _Pace] = {}
        self._submits: dict[tuple[str, str | None], tuple[float, str | None]] = {}
        self._retry_until: dict[tuple[str, str | None, Point], float] = {}
        self.violations: list[Violation] = []

    def observe(self, seen: Observed) -> list[Violation]:
        """The rules ``seen`` broke (switched-off ones left out); kept for ``violations`` too."""
        found: list[Violation] = []
        if self._retry_until:
            self._waited(seen.api, seen.key, seen.point, seen.at, seen.method, found)
        if seen.status == 429 and seen.retry_after is not None:
            self._remember(self._retry_until, (seen.api, seen.key, seen.point), seen.at + seen.retry_after)
        if seen.notes:
            found.extend(Violation("contract-note", note) for note in seen.notes)
        if seen.point == "submit":
            self._submit(seen, found)
        elif seen.point == "poll" and seen.task_id is not None and seen.status != 429:
            # A poll refused with a 429 read nothing: the client waits and asks again.
            self._poll(seen.at, seen.api, seen.key, seen.task_id, seen.terminal, found)
        return self._kept(found) if found else found

    def polled(
        self, at: float, api: str, key: str | None, method: str, task_id: str, terminal: bool
    ) -> list[Violation]:
        """``observe`` of a poll of ``task_id`` that raised no contract note and was not refused with a
        429, without building an ``Observed``: the fake's pipeline calls it on every such poll."""
        found: list[Violation] = []
        if self._retry_until:
            self._waited(api, key, "poll", at, method, found)
        self._poll(at, api, key, task_id, terminal, found)
        return self._kept(found) if found else found

    def _waited(
        self, api: str, key: str | None, point: Point, at: float, method: str, found: list[Violation]
    ) -> None:
        """Whether the key waited out the ``Retry-After`` of its last 429 at the same point (a submit
        refused for too many unfinished tasks must wait; polling those tasks meanwhile is what the
        client should do); forgotten once it has."""
        account = (api, key, point)
        until = self._retry_until.get(account)
        if until is None:
            return
        if at < until:
            found.append(
                Violation(
                    "ignored-retry-after",
                    f"{method} sent {until - at:.3g} s before the Retry-After of an earlier 429 had elapsed",
                )
            )
        else:
            del self._retry_until[account]

    def _kept(self, found: list[Violation]) -> list[Violation]:
        """``found`` without the switched-off rules, kept in ``violations`` too."""
        if self._disabled:
            found = [v for v in found if v.rule not in self._disabled]
        violations = self.violations
        violations.extend(found)
        if len(violations) > self.spec.kept:
            del violations[: -self.spec.kept]
        return found

    def _submit(self, seen: Observed, found: list[Violation]) -> None:
        if seen.callback_url is not None:
            why = unreachable(seen.callback_url)
            if why is not None:
                found.append(Violation("unreachable-callback", f"callback_url {seen.callback_url!r}: {why}"))
        if seen.status >= 400:
            return  # it made no task: sending it again is no duplicate
        account = (seen.api, seen.key)
        last = self._submits.get(account)
        window = self.spec.repeated_submit_window
        if last is not None and last[1] == seen.body_digest and seen.at - last[0] < window:
            found.append(
                Violation(
                    "repeated-submit",
                    f"the same body submitted again {seen.at - last[0]:.3g} s after the last one "
                    f"(within {window:g} s): a retry that makes a second task",
                )
            )
        self._remember(self._submits, account, (seen.at, seen.body_digest))
        if seen.task_id is not None:
            started = _Pace(seen.key, seen.at, ended=seen.terminal)
            self._remember(self._tasks, (seen.api, seen.task_id), started)

    def _poll(
        self, at: float, api: str, key: str | None, task_id: str, terminal: bool, found: list[Violation]
    ) -> None:
        pace = self._tasks.get((api, task_id))
        if pace is None:  # its submit was not seen (a proxy started late): the first poll starts the pace
            self._remember(self._tasks, (api, task_id), _Pace(key, at, ended=terminal))
            return
        if pace.key != key:
            found.append(
                Violation("poll-other-key", f"task {task_id} polled with another key than its submit's")
            )
            return
        if pace.ended:
            if pace.after_end is None:
                pace.after_end = Violation(
                    "poll-after-terminal", f"task {task_id} polled after it was shown ended"
                )
            found.append(pace.after_end)
        else:
            interval = at - pace.last
            least = self._pace.get(api, self.spec.poll_floor)
            if interval < least and not (terminal and pace.interval is None):
                since = "its submit" if pace.interval is None else "the last poll"
                found.append(
                    Violation(
                        "poll-too-fast",
                        f"task {task_id} polled {interval:.3g} s after {since}; {api} asks for at "
                        f"least {least:g} s",
                    )
                )
            elif api in BACKS_OFF and pace.interval is not None and interval < pace.interval * BACK_OFF_SLACK:
                found.append(
                    Violation(
                        "poll-too-fast",
                        f"task {task_id} polled {interval:.3g} s after the last poll, sooner than the "
                        f"{pace.interval:.3g} s before: {api} asks to back off",
                    )
                )
            pace.interval = interval
        pace.last = at
        pace.ended = pace.ended or terminal

    def _remember(self, store: dict[Any, Any], key: object, value: object) -> None:
        """Keep ``value`` as the newest entry of ``store``, which holds at most ``spec.tracked``."""
        store.pop(key, None)
        store[key] = value
        if len(store) > self.spec.tracked:
            del store[next(iter(store))]


def strictly(scenario: Scenario, strict: bool) -> Scenario:
    """``scenario`` with strict mode on or off (its ``etiquette.strict``)."""
    etiquette = scenario.etiquette.model_copy(update={"strict": strict})
    return scenario.model_copy(update={"etiquette": etiquette})


def unreachable(url: str) -> str | None:
    """Why no callback to ``url`` can ever arrive, or ``None`` when one may."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "not an http(s) URL"
    host = parts.hostname
    if not host:
        return "no host"
    if port == 0:
        return "port 0"
    address = literal(host)
    if address is not None and address.is_unspecified:
        return "the unspecified address"
    if never_resolved(host):
        return "a name reserved never to resolve"
    return None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """An answer's ``Retry-After`` in seconds (``None``: none, or not a number of seconds)."""
    try:
        seconds = float(headers.get("Retry-After", ""))
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) and seconds <= LONGEST_RETRY_AFTER else None


def body_digest(parts: Iterable[bytes]) -> str:
    """A digest of a submit (its route's path, its body's parts, in order), to tell a repeated one."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part)
    return digest.hexdigest()
