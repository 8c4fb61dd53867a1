"""What the fake saw in one run: the request journal, the callback delivery log and the surprises,
each bounded by the scenario's ``limits`` (entries, and bytes of the bodies kept)."""

from __future__ import annotations

import codecs
import fnmatch
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Generic, TypeVar

from fakeapi.scenario.schema import LimitsSpec
from fakeapi.webhooks import DeliveryAttempt

E = TypeVar("E")
# at, method, path, query, status, body, notes, truncated, api, key, task id, headers, response body
# (cut to the limit), response cut, state: the key, headers and response are redacted and decoded
# only when the entry is read.
JournalRow = tuple[
    float,
    str,
    str,
    str,
    int,
    str,
    tuple[str, ...],
    bool,
    str | None,
    str | None,
    str | None,
    Mapping[str, str],
    bytes,
    bool,
    str | None,
]
# Headers whose values are secrets (and any whose name has one of SECRET_WORDS in it).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "cookie", "set-cookie"})
SECRET_WORDS = ("key", "token", "secret")
REDACTED = "<redacted>"
# How many entries of the journal a failed ``JournalQuery.expect`` lists.
NEAREST = 5
# A key shown as its first 4 and last 2 characters needs this many to keep most of it hidden.
SHOWN_KEY_LENGTH = 12
NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One request the fake answered; ``notes`` are the contract notes it raised.

    ``body`` is the request body as text, cut to ``limits.logged_body_bytes`` (in UTF-8) when it was
    longer; ``truncated`` says it was. ``api`` names the API whose route or mount the request reached
    (``None``: none); ``key`` is its API key redacted (``redact_key``); ``task_id`` the task it
    created or read; ``headers`` the request's headers, secrets redacted; ``response_body`` the answer
    cut as ``body`` is (``response_truncated`` says it was); ``state`` the task's canonical state
    the answer showed.
    """

    at: float
    method: str
    path: str
    query: str
    status: int
    body: str
    notes: tuple[str, ...] = ()
    truncated: bool = False
    api: str | None = None
    key: str | None = None
    task_id: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    response_body: str = ""
    state: str | None = None
    response_truncated: bool = False


def redact_key(key: str | None) -> str | None:
    """An API key as a journal shows it: its first 4 and last 2 characters, or ``<redacted>`` when
    it is too short for that to hide most of it."""
    if key is None:
        return None
    return f"{key[:4]}…{key[-2:]}" if len(key) >= SHOWN_KEY_LENGTH else REDACTED


def redact_header(name: str, value: str, key: Callable[[str], str | None] = redact_key) -> str:
    """One header's value with its secret redacted: an ``Authorization`` keeps its scheme, its
    credential shown as ``key`` shows a key (as a journal shows it, by default)."""
    lowered = name.lower()
    if lowered == "authorization":
        scheme, _, secret = value.partition(" ")
        return f"{scheme} {key(secret.strip())}" if secret.strip() else REDACTED
    if lowered in SECRET_HEADERS or any(word in lowered for word in SECRET_WORDS):
        return REDACTED
    return value


def _entry(
    at: float,
    method: str,
    path: str,
    query: str,
    status: int,
    body: str,
    notes: tuple[str, ...],
    truncated: bool,
    api: str | None,
    key: str | None,
    task_id: str | None,
    headers: Mapping[str, str],
    response: bytes,
    response_truncated: bool,
    state: str | None,
) -> JournalEntry:
    """A journal row as the entry a reader gets: key and headers redacted, the response decoded."""
    return JournalEntry(
        at,
        method,
        path,
        query,
        status,
        body,
        notes,
        truncated,
        api,
        redact_key(key),
        task_id,
        tuple((name, redact_header(name, value)) for name, value in headers.items()),
        _decode(response, complete=not response_truncated) if response else "",
        state,
        response_truncated,
    )


@dataclass(frozen=True)
class JournalQuery:
    """Criteria on journal entries (``None``: any): ``api`` by name, ``method`` in any case,
    ``path`` exactly or as a glob (``fnmatch``), as sent or relative to the API's mount (its
    ``mounts`` entry), ``task_id`` and ``status`` exactly."""

    api: str | None = None
    method: str | None = None
    path: str | None = None
    task_id: str | None = None
    status: int | None = None
    mounts: Mapping[str, str] = field(default_factory=dict)

    def matching(self, entries: Iterable[JournalEntry]) -> list[JournalEntry]:
        """The entries that meet every criterion, in order."""
        return [entry for entry in entries if not self.misses(entry)]

    def expect(self, journal: Sequence[JournalEntry], times: int | None) -> list[JournalEntry]:
        """The entries of ``journal`` that match, if there are ``times`` of them (``None``: at least
        one); else ``AssertionError``: what was asked, how many matched, and the journal's
        ``NEAREST`` entries that miss the fewest criteria, one per line with the criteria missed."""
        __tracebackhide__ = True  # pytest shows the asserting test's line, not this one
        matched = self.matching(journal)
        if (len(matched) >= 1) if times is None else (len(matched) == times):
            return matched
        expected = "at least 1 request" if times is None else f"{times} request{'s' * (times != 1)}"
        lines = [f"expected {expected} matching {self}; {len(matched)} matched"]
        if not journal:
            lines.append("the journal is empty")
        else:
            misses = [self.misses(entry) for entry in journal]
            nearest = sorted(range(len(journal)), key=lambda i: (len(misses[i]), i))[:NEAREST]
            lines.append(f"the journal's nearest entries (of {len(journal)}):")
            for i in sorted(nearest):
                missed = (
                    f"  <- {', '.join(misses[i])} differ{'s' * (len(misses[i]) == 1)}" if misses[i] else ""
                )
                lines.append(f"  {describe(journal[i])}{missed}")
        raise AssertionError("\n".join(lines))

    def misses(self, entry: JournalEntry) -> list[str]:
        """The criteria ``entry`` does not meet, by name (none: it matches)."""
        missed = []
        if self.api is not None and entry.api != self.api:
            missed.append("api")
        if self.method is not None and entry.method != self.method.upper():
            missed.append("method")
        if self.path is not None and not self._path_matches(entry.api, entry.path):
            missed.append("path")
        if self.task_id is not None and entry.task_id != self.task_id:
            missed.append("task_id")
        if self.status is not None and entry.status != self.status:
            missed.append("status")
        return missed

    def _path_matches(self, api: str | None, path: str) -> bool:
        assert self.path is not None
        if fnmatch.fnmatchcase(path, self.path):
            return True
        mount = self.mounts.get(api) if api is not None else None
        return (
            mount is not None
            and path.startswith(mount + "/")
            and fnmatch.fnmatchcase(path[len(mount) :], self.path)
        )

    def __str__(self) -> str:
        given = {
            "api": self.api,
            "method": self.method,
            "path": self.path,
            "task_id": self.task_id,
            "status": self.status,
        }
        return (
            ", ".join(f"{name}={value!r}" for name, value in given.items() if value is not None) or "anything"
        )


def describe(entry: JournalEntry) -> str:
    """One journal entry on one line: clock time, API, method, path, status, task and state."""
    parts = [clock_time(entry.at), entry.api or "-", entry.method, entry.path, str(entry.status)]
    parts += [part for part in (entry.task_id, entry.state) if part is not None]
    return " ".join(parts)


def clock_time(at: float) -> str:
    """A clock time of day, UTC, to the millisecond: what a person reads beside the answers' times."""
    return time.strftime("%H:%M:%S", time.gmtime(at)) + _milliseconds(at)


def iso_time(at: float) -> str:
    """A Unix time as ISO 8601, UTC, to the millisecond (``2026-01-01T00:00:05.250Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + _milliseconds(at) + "Z"


def _milliseconds(at: float) -> str:
    return f".{int(at % 1 * 1000):03d}"


class BoundedLog(Generic[E]):
    """The newest entries of a log: at most ``entries`` of them, and at most ``body_bytes`` of
    their bodies together (the oldest go first when either is exceeded)."""

    def __init__(self, entries: int, body_bytes: int) -> None:
        self._entries: deque[E] = deque()
        self._sizes: deque[int] = deque()
        self._bytes = 0
        self._max_entries = entries
        self._max_bytes = body_bytes
        #: How many entries were ever added (those dropped since too): a change a reader can see cheaply.
        self.added = 0

    def add(self, entry: E, body_size: int) -> None:
        """Keep ``entry``, whose body takes ``body_size`` bytes, and drop the oldest beyond the caps."""
        self.added += 1
        self._entries.append(entry)
        self._sizes.append(body_size)
        self._bytes += body_size
        while len(self._sizes) > self._max_entries or self._bytes > self._max_bytes:
            self._entries.popleft()
            self._bytes -= self._sizes.popleft()

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self._sizes.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


class Journal(BoundedLog[JournalRow]):
    """The requests of a run, oldest first, as ``JournalEntry``; kept as plain rows, which cost a
    fifth of an entry to make (every request makes one; few are ever read), redacted as read."""

    def __iter__(self) -> Iterator[JournalEntry]:
        return itertools.starmap(_entry, self._entries)

    def __reversed__(self) -> Iterator[JournalEntry]:
        return itertools.starmap(_entry, reversed(self._entries))


class DeliveryLog(BoundedLog[tuple[int, DeliveryAttempt]]):
    """The callback delivery attempts of a run, bounded as ``limits`` says (``deliveries_*``), each
    body cut to ``logged_body_bytes`` and marked ``truncated``.

    Attempts run side by side and end in whatever order their receivers answer; the log keeps them
    in the order they started (``order``), so that it reads the same every run.
    """

    def __init__(self, limits: LimitsSpec) -> None:
        super().__init__(limits.deliveries_entries, limits.deliveries_bytes)
        self._body_limit = limits.logged_body_bytes
        #: Told of each attempt as it is logged (the sandbox's request log), if set.
        self.listener: Callable[[DeliveryAttempt], None] | None = None

    def append(self, attempt: DeliveryAttempt, order: int) -> None:
        """Keep ``attempt``, the ``order``-th to start, its body cut to ``logged_body_bytes`` and
        marked ``truncated``."""
        body, size, truncated = cut_text(attempt.body, self._body_limit)
        if truncated:
            attempt = replace(attempt, body=body, truncated=True)
        if self.listener is not None:
            self.listener(attempt)
        self.add((order, attempt), size)
        entries, sizes = self._entries, self._sizes
        place = len(entries) - 1
        while place > 0 and entries[place - 1][0] > order:
            place -= 1
        if place < len(entries) - 1:  # one started later has already ended: this one goes before it
            entries.insert(place, entries.pop())
            sizes.insert(place, sizes.pop())

    def __iter__(self) -> Iterator[DeliveryAttempt]:
        return (attempt for _, attempt in self._entries)

    def __reversed__(self) -> Iterator[DeliveryAttempt]:
        return (attempt for _, attempt in reversed(self._entries))


class Recorder:
    """The journal of API requests and the surprises (requests to no route, crashes) of one run,
    bounded as the run's ``limits`` say."""

    def __init__(self, limits: LimitsSpec) -> None:
        self.journal = Journal(limits.journal_entries, limits.journal_bytes)
        self.surprises: deque[str] = deque(maxlen=limits.surprises)
        self._body_limit = limits.logged_body_bytes
        self._surprise_limit = limits.surprise_bytes

    def record(
        self,
        at: float,
        method: str,
        path: str,
        query: str,
        status: int,
        body: bytes,
        notes: tuple[str, ...],
        api: str | None = None,
        key: str | None = None,
        task_id: str | None = None,
        headers: Mapping[str, str] = NO_HEADERS,
        header_bytes: int = 0,
        response: bytes = b"",
        state: str | None = None,
    ) -> None:
        """Journal one answered request, its body and ``response`` each cut to ``logged_body_bytes``;
        its path, query and headers (``header_bytes`` of them) count toward ``journal_bytes`` with
        both bodies (a request line may be 8 KiB long)."""
        limit = self._body_limit
        text, size, truncated = cut_body(body, limit) if body else ("", 0, False)
        response_truncated = len(response) > limit
        if response_truncated:
            response = response[:limit]
        size += len(path) + len(query) + header_bytes + len(response)
        self.journal.add(
            (
                at,
                method,
                path,
                query,
                status,
                text,
                notes,
                truncated,
                api,
                key,
                task_id,
                headers,
                response,
                response_truncated,
                state,
            ),
            size,
        )

    def surprise(self, text: str) -> None:
        """Keep a surprise, cut to ``surprise_bytes`` (its end then says how long it was)."""
        encoded = text.encode("utf-8", "replace")
        limit = self._surprise_limit
        if len(encoded) > limit:
            marker = f" [cut: {len(encoded)} bytes in all]"
            room = limit - len(marker)
            text = _decode_head(encoded, room) + marker if room > 0 else marker[:limit]
        self.surprises.append(text)


def cut_body(raw: bytes, limit: int) -> tuple[str, int, bool]:
    """``raw`` as text of at most ``limit`` bytes in UTF-8 (undecodable bytes replaced), the bytes
    that text takes, and whether anything was cut off."""
    kept = raw[:limit]
    truncated = len(raw) > limit
    if kept.isascii():  # the common case, and the cheap one
        return kept.decode("ascii"), len(kept), truncated
    text = _decode_head(raw, limit)
    encoded = text.encode()
    if len(encoded) > limit:  # replacement characters take three bytes for one
        text, truncated = _decode_head(encoded, limit), True
        encoded = text.encode()
    return text, len(encoded), truncated


def cut_text(text: str, limit: int) -> tuple[str, int, bool]:
    """``text`` cut to at most ``limit`` bytes in UTF-8, as ``cut_body`` does."""
    if text.isascii():
        return text[:limit], min(len(text), limit), len(text) > limit
    return cut_body(text.encode("utf-8", "replace"), limit)


def _decode_head(data: bytes, limit: int) -> str:
    """The first ``limit`` bytes of ``data`` as text; a character cut in two at the end is left out."""
    return _decode(data[:limit], complete=len(data) <= limit)


def _decode(data: bytes, complete: bool) -> str:
    """``data`` as text (undecodable bytes replaced); unless ``complete``, a character cut in two at
    the end is left out."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    return decoder.decode(data, final=complete)
